"""Shared by the store tests: a minimal policy context, running a policy to its answer, and
deleting a test's Redis keys."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from redis.asyncio import Redis

from portway.contract import RequestHead
from portway.policies.base import Denial, Identity
from portway.policies.rate_limit import RateLimit

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Ctx:
    client_ip: str = "10.0.0.1"
    route_name: str = "api"
    identity: Identity | None = None
    head: RequestHead = field(
        default_factory=lambda: RequestHead("GET", b"/", "1.1", [], True, False, "10.0.0.1", 1, 0.0)
    )
    upstream_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


async def run(policy: RateLimit, ctx: Ctx | None = None) -> Denial | None:
    result = policy.request(ctx or Ctx())  # type: ignore[arg-type]
    if inspect.isawaitable(result):
        return await result
    return result  # type: ignore[return-value]


async def delete_prefix(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
