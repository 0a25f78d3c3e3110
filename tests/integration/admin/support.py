"""A gateway started from a config *file* (so POST /reload has one to read), with its admin API on
127.0.0.1:0, and small helpers to call it. Everything binds loopback and is drained on exit."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from portway.admin.purge import Purge
from portway.config import load_config
from portway.runtime import RunningServer, start
from portway.testing import UpstreamRequest, UpstreamResponse

BASE = {"listen": "127.0.0.1:0", "access_log": {"enabled": False}, "shutdown_grace": "2s"}


def write_config(path: Path, config: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(BASE | config, indent=2))  # JSON is YAML
    tmp.replace(path)


@dataclass
class Admin:
    running: RunningServer
    path: Path
    http: httpx.AsyncClient  # based at the admin listener
    proxy: httpx.AsyncClient  # based at the gateway's listener


@contextlib.asynccontextmanager
async def admin_gateway(
    config: dict[str, Any],
    tmp_path: Path,
    *,
    purger: Callable[[Purge], Awaitable[int]] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[Admin]:
    path = tmp_path / "portway.yaml"
    write_config(path, {"admin": "127.0.0.1:0"} | config)
    running = await start(load_config(path), path, purger=purger)
    try:
        assert running.admin is not None
        admin_port = running.admin.sockets[0].getsockname()[1]
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin_port}", timeout=10, headers=headers) as http,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}", timeout=10) as proxy,
        ):
            yield Admin(running, path, http, proxy)
    finally:
        await running.drain()


def one_upstream(target: str, **extra: Any) -> dict[str, Any]:
    return {"upstreams": {"svc": {"targets": [target]}}, "routes": [{"path": "/", "upstream": "svc"}]} | extra


def answering(code: int) -> Callable[[UpstreamRequest], Awaitable[UpstreamResponse]]:
    async def handler(request: UpstreamRequest) -> UpstreamResponse:
        return UpstreamResponse(code, [], f"{code} from upstream".encode())

    return handler
