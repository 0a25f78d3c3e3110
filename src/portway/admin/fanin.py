"""The admin API of ``portway run --workers N``: every worker's status and metrics in one answer,
and a reload or purge done by every worker.

Design (why not elsewhere): each worker serves the plain admin app on a private unix socket in a
run directory only the gateway's user can enter (0700, made by the supervisor); worker 0 also binds
the configured admin listener and answers it from :class:`WorkersSource`, which asks the workers
over their sockets. The supervisor stays what it is, a small synchronous loop of ``os.wait`` that
forks and replaces workers: giving it an event loop to serve HTTP would mean forking from inside
a running loop. Worker 0 is replaced like any other worker; while it restarts (half a second) the
admin listener is down, and a worker that does not answer in time is listed with its error and
left out of the sums (``totals.answering`` says how many were counted).

Routes, the config and its version are the same in every worker and are read locally; upstream
state (health, breakers, pools) is each worker's own: /upstreams shows worker 0's, /metrics every
worker's (gauges labelled ``worker``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

import httpx

from portway.admin.merge_metrics import merge_expositions
from portway.admin.purge import Purge
from portway.admin.source import LocalSource, NoCache, ReloadOutcome
from portway.admin.workers import WorkerSet

TIMEOUT = 2.0  # per worker: a worker this slow to report is itself news


class WorkerUnreachable(Exception):
    pass


async def _ask(socket_path: str, method: str, path: str, body: bytes = b"") -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://worker", timeout=TIMEOUT
        ) as client:
            return await client.request(method, path, content=body)
    except httpx.HTTPError as exc:
        raise WorkerUnreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None


class WorkersSource:
    def __init__(self, local: LocalSource, workers: WorkerSet) -> None:
        self.local = local
        self.workers = workers
        # httpx logs every request at INFO: one line per worker per scrape would drown the log.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    @property
    def draining(self) -> bool:
        return self.local.draining

    async def config_document(self) -> dict[str, object]:
        return await self.local.config_document()

    def routes(self) -> list[dict[str, object]]:
        return self.local.routes()

    def upstreams(self) -> dict[str, object]:
        return self.local.upstreams()

    async def _each(
        self, method: str, path: str, body: bytes = b""
    ) -> list[httpx.Response | WorkerUnreachable]:
        calls = [_ask(sock, method, path, body) for sock in self.workers.sockets]
        results = await asyncio.gather(*calls, return_exceptions=True)
        out: list[httpx.Response | WorkerUnreachable] = []
        for result in results:
            if isinstance(result, httpx.Response | WorkerUnreachable):
                out.append(result)
            elif isinstance(result, BaseException):
                raise result  # a bug, not an unreachable worker
        return out

    async def status(self) -> dict[str, object]:
        workers: list[dict[str, object]] = []
        for index, result in enumerate(await self._each("GET", "/status")):
            if isinstance(result, WorkerUnreachable) or result.status_code != 200:
                workers.append({"worker": index, "error": _error(result)})
            else:
                workers.append({"worker": index, **result.json()})
        answering = [w for w in workers if "error" not in w]
        totals = {
            "workers": len(workers),
            "answering": len(answering),
            "requests": sum(int(w.get("requests", 0)) for w in answering),  # type: ignore[call-overload]
            "connections": sum(int(w.get("connections", 0)) for w in answering),  # type: ignore[call-overload]
            "reloads": sum(int(w.get("reloads", 0)) for w in answering),  # type: ignore[call-overload]
            "versions": sorted({str(w.get("version")) for w in answering}),  # one, once all reloaded
        }
        version = await self.local.version()
        return {"pid": os.getpid(), "version": version, "workers": workers, "totals": totals}

    async def metrics(self) -> bytes:
        texts, answering = [], 0
        for index, result in enumerate(await self._each("GET", "/metrics")):
            if isinstance(result, httpx.Response) and result.status_code == 200:
                texts.append((index, result.text))
                answering += 1
        own = (
            "# HELP portway_workers Worker processes of this gateway, by whether they answered this scrape\n"
            "# TYPE portway_workers gauge\n"
            f'portway_workers{{state="answering"}} {answering}\n'
            f'portway_workers{{state="unreachable"}} {len(self.workers.sockets) - answering}\n'
        )
        return merge_expositions(texts) + own.encode()

    async def reload(self) -> ReloadOutcome:
        # This worker first: a config it refuses is refused for all, and nothing else changes.
        first = await self.local.reload()
        if first.version is None:
            return ReloadOutcome(None, first.errors, [{"worker": self.workers.index, "errors": first.errors}])
        workers: list[dict[str, object]] = [{"worker": self.workers.index, "version": first.version}]
        others = [i for i in range(len(self.workers.sockets)) if i != self.workers.index]
        results = await asyncio.gather(*(_reload(self.workers.sockets[i]) for i in others))
        errors: list[dict[str, object]] = []
        for index, result in zip(others, results, strict=True):
            workers.append({"worker": index, **result})
            if "version" not in result or result["version"] is None:
                errors += [{**e, "worker": index} for e in result.get("errors", [])]  # type: ignore[attr-defined]
        workers.sort(key=lambda w: int(w["worker"]))  # type: ignore[call-overload]
        if errors or any("error" in w for w in workers):
            return ReloadOutcome(None, errors, workers)
        return ReloadOutcome(first.version, [], workers)

    async def purge(self, purge: Purge) -> dict[str, object]:
        body = json.dumps(purge.as_dict()).encode()
        purged, missing, failed = 0, 0, []
        for index, result in enumerate(await self._each("POST", "/cache/purge", body)):
            if isinstance(result, httpx.Response) and result.status_code == 200:
                purged += int(result.json().get("purged", 0))
            elif isinstance(result, httpx.Response) and result.status_code == 404:
                missing += 1
            else:
                failed.append({"worker": index, "error": _error(result)})
        if missing == len(self.workers.sockets):
            raise NoCache
        return {**purge.as_dict(), "purged": purged, **({"failed": failed} if failed else {})}


async def _reload(socket_path: str) -> dict[str, object]:
    try:
        response = await _ask(socket_path, "POST", "/reload")
    except WorkerUnreachable as exc:
        return {"error": str(exc)}
    doc = response.json()
    if response.status_code == 200:
        return {"version": doc.get("version")}
    return {"errors": doc.get("errors", []), **({} if "errors" in doc else {"error": _error(response)})}


def _error(result: httpx.Response | WorkerUnreachable) -> str:
    if isinstance(result, WorkerUnreachable):
        return str(result)
    try:
        detail = result.json().get("detail", "")
    except ValueError:
        detail = ""
    return f"{result.status_code} {detail}".strip()
