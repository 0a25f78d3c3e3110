"""Scripted upstreams and helpers for the resilience fault tests (127.0.0.1 only, bounded)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

from portway.testing import UpstreamRequest, UpstreamResponse


def refused_address() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def config(targets: list[str], routes: list[dict[str, Any]] | None = None, **upstream: Any) -> dict[str, Any]:
    return {
        "upstreams": {"svc": {"targets": targets} | upstream},
        "routes": [{"upstream": "svc"} | r for r in routes] if routes else [{"path": "/", "upstream": "svc"}],
    }


def status(code: int, headers: list[tuple[str, str]] | None = None) -> Callable[..., Any]:
    async def handler(request: UpstreamRequest) -> UpstreamResponse:
        return UpstreamResponse(code, headers or [], f"{code} from upstream".encode())

    return handler


async def wait_for(predicate: Callable[[], bool], within: float = 5.0, every: float = 0.02) -> float:
    """Poll until ``predicate()`` holds; return how long it took (fails after ``within``)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)
    return time.monotonic() - started
