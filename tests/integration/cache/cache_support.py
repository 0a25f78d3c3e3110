"""An origin for the cache tests that counts what reaches it, and a config with one cached route."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.wire import RawClient, RawResponse, get, route_config

from portway.testing import UpstreamRequest, UpstreamResponse

__all__ = ["Origin", "RawClient", "RawResponse", "cached_config", "fetch", "get"]

Reply = Callable[[UpstreamRequest, int], Awaitable[UpstreamResponse] | UpstreamResponse]


class Origin:
    """Answers with ``reply(request, n)`` (n: the 1-based count of this method on this path) and keeps every
    request it got, so a test asserts what the cache sent upstream, not just what came back."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[UpstreamRequest] = []
        self.release = asyncio.Event()
        self.release.set()

    def count(self, target: str, method: str = "GET") -> int:
        return sum(1 for r in self.requests if r.target == target and r.method == method)

    async def __call__(self, request: UpstreamRequest) -> UpstreamResponse:
        self.requests.append(request)
        await self.release.wait()
        result = self.reply(request, self.count(request.target, request.method))
        if isinstance(result, UpstreamResponse):
            return result
        return await result


def cached_config(
    address: str, rule: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One catch-all route with ``cache: rule``; ``defaults`` is the top-level ``cache:``."""
    return route_config(
        address, {"path": "/", "cache": rule or {}}, **({"cache": defaults} if defaults else {})
    )


async def fetch(port: int, path: str, extra: str = "", method: str = "GET") -> RawResponse:
    client = await RawClient.connect(port)
    try:
        data = f"{method} {path} HTTP/1.1\r\nHost: gw\r\n{extra}\r\n".encode("latin-1")
        return await client.request(data, head_only=method == "HEAD")
    finally:
        await client.close()
