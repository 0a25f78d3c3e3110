"""Where the admin API's documents come from: :class:`LocalSource` reads this process
(:class:`Observed`, the running server), :class:`~portway.admin.fanin.WorkersSource` every worker
of ``portway run --workers N``. The app (admin/app.py) serves either through :class:`AdminSource`.

What is the same in every worker (the routes, the config and its version) is read locally; what
each worker has of its own (status, metrics) and what each must do (reload, purge) is async, so a
source may ask other processes.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Protocol

from portway.admin.purge import Purge, Purger
from portway.admin.redact import redact
from portway.admin.version import config_version
from portway.config import ConfigError, GatewayConfig


class Observed(Protocol):
    """What the running server (runtime.RunningServer) offers the admin API."""

    @property
    def draining(self) -> bool: ...

    @property
    def config(self) -> GatewayConfig: ...

    def snapshot(self) -> dict[str, object]: ...
    def exposition(self) -> bytes: ...
    def route_table(self) -> list[dict[str, object]]: ...
    def try_reload(self) -> ConfigError | None:
        """Reload from the config file as SIGHUP does: the problems that kept the old config, or None."""
        ...


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    version: str | None  # the running config's version after it (None when refused)
    errors: list[dict[str, object]] = field(default_factory=list)  # {file, line, path, message}
    workers: list[dict[str, object]] = field(default_factory=list)  # per worker, when fanned out


class NoCache(Exception):
    """No response cache is configured: there is nothing to purge."""


class AdminSource(Protocol):
    @property
    def draining(self) -> bool: ...

    async def config_document(self) -> dict[str, object]: ...
    def routes(self) -> list[dict[str, object]]: ...
    def upstreams(self) -> dict[str, object]: ...
    async def status(self) -> dict[str, object]: ...
    async def metrics(self) -> bytes: ...
    async def reload(self) -> ReloadOutcome: ...
    async def purge(self, purge: Purge) -> dict[str, object]:
        """What was purged; raises :class:`NoCache` without a cache."""
        ...


class LocalSource:
    def __init__(self, observed: Observed, purger: Purger | None = None) -> None:
        self.observed = observed
        self.purger = purger
        self._described: tuple[GatewayConfig, object, str] | None = None

    @property
    def draining(self) -> bool:
        return self.observed.draining

    async def _describe(self) -> tuple[object, str]:
        """The redacted config and its version, computed once per config (a reload is a new one),
        in a thread: the version's scrypt takes tens of milliseconds the event loop must not wait."""
        config = self.observed.config
        if self._described is None or self._described[0] is not config:
            redacted, removed = redact(config.model_dump(mode="json"))
            version = await asyncio.to_thread(config_version, redacted, removed)
            self._described = (config, redacted, version)
        return self._described[1], self._described[2]

    async def version(self) -> str:
        return (await self._describe())[1]

    async def config_document(self) -> dict[str, object]:
        redacted, version = await self._describe()
        return {"version": version, "config": redacted}

    def routes(self) -> list[dict[str, object]]:
        return self.observed.route_table()

    def upstreams(self) -> dict[str, object]:
        snapshot = self.observed.snapshot()
        pools: dict[str, list[dict[str, object]]] = snapshot["upstreams"]  # type: ignore[assignment]
        summaries: dict[str, dict[str, object]] = snapshot["upstream_state"]  # type: ignore[assignment]
        return {
            name: {**summaries.get(name, {}), "targets": [_target(pool) for pool in targets]}
            for name, targets in pools.items()
        }

    async def status(self) -> dict[str, object]:
        return {"pid": os.getpid(), "version": await self.version(), **self.observed.snapshot()}

    async def metrics(self) -> bytes:
        return self.observed.exposition()

    async def reload(self) -> ReloadOutcome:
        refused = self.observed.try_reload()
        if refused is None:
            return ReloadOutcome(await self.version())
        errors: list[dict[str, object]] = [
            {"file": p.file, "line": p.line, "path": p.path, "message": p.message} for p in refused.problems
        ]
        return ReloadOutcome(None, errors)

    async def purge(self, purge: Purge) -> dict[str, object]:
        if self.purger is None:
            raise NoCache
        return {**purge.as_dict(), "purged": await self.purger(purge)}


def _target(pool: dict[str, object]) -> dict[str, object]:
    """One target as /upstreams shows it, from its pool's snapshot (upstream/pool.py)."""
    open_, idle, busy, waiting = (int(pool.get(k, 0)) for k in ("open", "idle", "busy", "waiting"))  # type: ignore[call-overload]
    return {
        "address": pool["target"],
        "up": pool["up"],
        "health": pool["health"],  # state, ejections (outlier and checks), back_in when timed
        "breaker": pool.get("breaker"),  # state, opened; null without a breaker
        "connect_failures": pool["failures"],
        "pool": {"open": open_, "idle": idle, "busy": busy, "waiting": waiting},
        # A request holds a connection that is busy or still connecting, or waits for one.
        "in_flight": open_ - idle + waiting,
    }
