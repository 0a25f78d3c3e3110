"""The Store contract, run against every store: the in-process one and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from rate_limit_support import REDIS_URL, Ctx, delete_prefix, run

from portway.config.security import RateLimitRule, RateLimitStore
from portway.policies.base import Denial
from portway.policies.rate_limit import MemoryStore, RateLimit, Store
from portway.policies.rate_limit.redis_store import RedisStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.aclose()
        return
    redis = RedisStore(RateLimitStore(backend="redis", redis_url=REDIS_URL, prefix=redis_prefix))
    yield redis
    await redis.aclose()
    await delete_prefix(redis_prefix)


@pytest.mark.parametrize("algorithm", ["gcra", "sliding_window"])
async def test_burst_is_exactly_the_limit_with_headers(store: Store, algorithm: str) -> None:
    policy = RateLimit(RateLimitRule(limit=5, per=60, algorithm=algorithm), store, route="api")  # type: ignore[arg-type]
    contexts = [Ctx() for _ in range(7)]
    results = [await run(policy, ctx) for ctx in contexts]
    assert results[:5] == [None] * 5
    assert all(isinstance(r, Denial) and r.status == 429 for r in results[5:])
    assert [dict(c.response_headers)[b"ratelimit"] for c in contexts] == [
        b'"5-per-1m";r=4;t=%d' % (12 if algorithm == "gcra" else 60),
        b'"5-per-1m";r=3;t=%d' % (24 if algorithm == "gcra" else 60),
        b'"5-per-1m";r=2;t=%d' % (36 if algorithm == "gcra" else 60),
        b'"5-per-1m";r=1;t=%d' % (48 if algorithm == "gcra" else 60),
        b'"5-per-1m";r=0;t=60',
        b'"5-per-1m";r=0;t=60',
        b'"5-per-1m";r=0;t=60',
    ]
    retry = dict(results[5].headers)[b"retry-after"]  # type: ignore[union-attr]
    assert retry == (b"12" if algorithm == "gcra" else b"60")
    assert dict(contexts[0].response_headers)[b"ratelimit-policy"] == b'"5-per-1m";q=5;w=60'


async def test_a_refusal_by_one_limit_charges_none(store: Store) -> None:
    hourly = RateLimitRule(limit=3, per=3600, algorithm="sliding_window")
    policy = RateLimit([RateLimitRule(limit=2, per=60), hourly], store, route="api")
    assert [await run(policy) is None for _ in range(5)] == [True, True, False, False, False]
    # The same buckets (same route and rule positions) under a looser first rule: the hour's rule
    # saw only the two admitted requests, so it has one left.
    looser_first = RateLimitRule(limit=100, per=60, algorithm="sliding_window")  # its own bucket
    looser = RateLimit([looser_first, hourly], store, route="api")
    ctx = Ctx()
    assert await run(looser, ctx) is None
    assert ctx.response_headers[1] == (b"ratelimit", b'"3-per-1h";r=0;t=3600')
    assert isinstance(await run(looser), Denial)


async def test_quota_comes_back_after_the_interval(store: Store) -> None:
    # Generous margins (a 0.5 s interval) so a loaded machine cannot make this flaky.
    policy = RateLimit(RateLimitRule(limit=2, per=1), store, route="api")
    assert [await run(policy) is None for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0.55)  # one interval later, one more
    assert [await run(policy) is None for _ in range(2)] == [True, False]


async def test_clients_are_independent(store: Store) -> None:
    policy = RateLimit(RateLimitRule(limit=1, per=60, algorithm="sliding_window"), store, route="api")
    assert await run(policy, Ctx(client_ip="10.0.0.1")) is None
    assert await run(policy, Ctx(client_ip="2001:db8::1")) is None
    assert isinstance(await run(policy, Ctx(client_ip="10.0.0.1")), Denial)
