"""One validation path (DESIGN.md §2): build everything `portway run` builds, bind nothing.

`portway check` and `portway run` both call :func:`build_all` after loading the file, so a config
that checks also runs. Rules:
- the gateway is built by exactly one call, :func:`_construct`, on a loop that is never run; the
  rate-limit store is opened (a bad Redis URL fails here) and everything is closed again;
- whatever building raises becomes a :class:`ConfigError` with the file, line and key path:
  :class:`ConfigValueError` carries its key; a ConfigError from the policy chain names its key
  path; anything else is located by rebuilding with parts of the config left out until the part
  that fails is found (only on failure, so a good config pays for one build);
- the access log's file is checked for writing without being created.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from portway.config.errors import ConfigError, ConfigValueError, parse_path
from portway.config.loader import locate
from portway.config.models import GatewayConfig
from portway.config.security import AuthConfig

if TYPE_CHECKING:
    from portway.gateway import Gateway
    from portway.server.tls import TlsContexts

Loc = tuple[int | str, ...]


def build_all(config: GatewayConfig, path: str | Path) -> None:
    """Raise :class:`ConfigError` listing what `portway run` would fail on, with lines."""
    from portway.server.tls import build_contexts  # certificates and keys, read as run reads them

    tls = build_contexts(config, str(path))  # once: every build below reuses them
    problems = _access_log(config)
    loop = asyncio.new_event_loop()
    try:
        failure = _try_build(config, path, loop, tls)
        if isinstance(failure, BaseException):
            problems += _explain(failure, config, path, loop, tls)
        elif failure:
            problems += failure
    finally:
        loop.close()
    if problems:
        raise locate(path, problems)


def _construct(
    config: GatewayConfig, path: str | Path, loop: asyncio.AbstractEventLoop, tls: TlsContexts
) -> Gateway:
    """The only place the gateway is built for validation: keep it like runtime.py's ``start``."""
    from portway.gateway import Gateway  # the data plane: imported only when a config is valid
    from portway.sweeper import Sweeper

    return Gateway(config, Sweeper(loop), None, source=str(path), tls=tls)


def _try_build(
    config: GatewayConfig, path: str | Path, loop: asyncio.AbstractEventLoop, tls: TlsContexts
) -> list[tuple[Loc, str]] | Exception:
    """Build, open the store, close all: the store's own problems, or what building raised."""
    try:
        gateway = _construct(config, path, loop, tls)
    except Exception as exc:  # every failure is reported; none may escape as a traceback
        return exc
    problems: list[tuple[Loc, str]] = []
    try:
        gateway.policy_state.store  # noqa: B018 -- opening it is the check (lazy property)
    except Exception as exc:
        problems.append((("rate_limit_store",), _plain(exc)))
    finally:
        gateway.retire()
        try:
            loop.run_until_complete(gateway.policy_state.aclose())
        except Exception as exc:  # closing a client that never connected: nothing to report
            problems.append((("rate_limit_store",), f"cannot be closed: {_plain(exc)}"))
    return problems


def _explain(
    exc: Exception, config: GatewayConfig, path: str | Path, loop: asyncio.AbstractEventLoop, tls: TlsContexts
) -> list[tuple[Loc, str]]:
    if isinstance(exc, ConfigValueError):
        return [(exc.loc, exc.message)]
    if isinstance(exc, ConfigError):
        return [(parse_path(p.path), p.message) for p in exc.problems]
    return [(_culprit(config, path, loop, tls), _plain(exc))]


def _culprit(
    config: GatewayConfig, path: str | Path, loop: asyncio.AbstractEventLoop, tls: TlsContexts
) -> Loc:
    """The smallest part of the config that fails to build: a route (the first prefix of the route
    list that fails ends with it), else an upstream or an auth section, else the whole file."""

    def fails(**parts: object) -> bool:
        return isinstance(_try_build(config.model_copy(update=parts), path, loop, tls), BaseException)

    routes = config.routes
    if not fails(routes=[]):
        low, high = 1, len(routes)  # routes[:high] fails, routes[:low - 1] builds
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if fails(routes=routes[:middle]) else (middle + 1, high)
        return ("routes", high - 1)
    bare = {"routes": [], "upstreams": {}, "auth": AuthConfig()}
    if fails(**bare):
        return ()
    for name, upstream in config.upstreams.items():
        if fails(**(bare | {"upstreams": {name: upstream}})):
            return ("upstreams", name)
    for section in ("jwt", "api_keys", "identity"):
        auth = AuthConfig(**{section: getattr(config.auth, section)})
        if fails(**(bare | {"auth": auth})):
            return ("auth", section)
    return ()


def _access_log(config: GatewayConfig) -> list[tuple[Loc, str]]:
    """`run` opens the log for appending; check that it could without creating the file."""
    log = config.access_log
    if not log.enabled or log.path == "stdout":
        return []
    target = Path(log.path)
    if target.is_dir():
        problem = f"{target} is a directory"
    elif target.exists():
        problem = "" if os.access(target, os.W_OK) else f"{target} is not writable"
    elif not target.parent.is_dir():
        problem = f"the directory {target.parent} does not exist"
    else:
        problem = (
            "" if os.access(target.parent, os.W_OK) else f"the directory {target.parent} is not writable"
        )
    return [(("access_log", "path"), f"cannot write the access log: {problem}")] if problem else []


def _plain(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = ["build_all"]
