"""Shared by the store tests: a minimal policy context, running a policy to its answer, and a Redis
key prefix per test that is deleted afterwards."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from portway.policies.base import Denial, Identity
from portway.policies.rate_limit import RateLimit
from portway.server.request import RequestHead

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


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"test:portway:rl:{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
