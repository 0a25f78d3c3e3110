"""The Redis store against the real server: exact counts across two gateways, server-side expiry,
script reloading, and what happens when Redis is down or hangs."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from rate_limit_support import REDIS_URL, Ctx, delete_prefix, run
from redis.asyncio import Redis

from portway.config.security import RateLimitRule, RateLimitStore
from portway.policies.base import Denial
from portway.policies.rate_limit import RateLimit
from portway.policies.rate_limit.redis_store import RedisStore


def errors_total() -> float:
    return REGISTRY.get_sample_value("portway_ratelimit_store_errors_total") or 0.0


@pytest.fixture
async def gateways(redis_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two independent stores (two gateway processes, as far as Redis can tell)."""
    config = RateLimitStore(backend="redis", redis_url=REDIS_URL, prefix=redis_prefix, timeout=2.0)
    one, two = RedisStore(config), RedisStore(config)
    yield one, two
    await one.aclose()
    await two.aclose()
    await delete_prefix(redis_prefix)


@pytest.mark.redis
@pytest.mark.parametrize(("algorithm", "per"), [("sliding_window", "1m"), ("gcra", "1h")])
async def test_two_gateways_admit_exactly_the_limit_between_them(
    gateways: tuple[RedisStore, RedisStore], algorithm: str, per: str
) -> None:
    rule = RateLimitRule(limit=100, per=per, algorithm=algorithm, key="route")  # type: ignore[arg-type]
    policies = [RateLimit(rule, store, route="api") for store in gateways]
    results = await asyncio.gather(
        *(run(policies[i % 2], Ctx(client_ip=f"10.0.{i // 256}.{i % 256}")) for i in range(150))
    )
    admitted = [i for i, r in enumerate(results) if r is None]
    refused = [r for r in results if r is not None]
    assert len(admitted) == 100
    assert {i % 2 for i in admitted} == {0, 1}  # both gateways admitted some
    assert all(isinstance(r, Denial) and r.status == 429 for r in refused)


@pytest.mark.redis
async def test_buckets_expire_in_redis(gateways: tuple[RedisStore, RedisStore], redis_prefix: str) -> None:
    store = gateways[0]
    gcra = RateLimit(RateLimitRule(limit=10, per=60), store, route="g")
    window = RateLimit(RateLimitRule(limit=10, per=30, algorithm="sliding_window"), store, route="w")
    await run(gcra)
    await run(window)
    client = Redis.from_url(REDIS_URL)
    try:
        assert 0 < await client.pttl(f"{redis_prefix}g:0g:i:10.0.0.1") <= 6_000  # one interval
        assert 29_000 < await client.pttl(f"{redis_prefix}w:0w:i:10.0.0.1") <= 30_000
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_the_script_is_loaded_again_after_a_flush(gateways: tuple[RedisStore, RedisStore]) -> None:
    policy = RateLimit(RateLimitRule(limit=2, per=60), gateways[0], route="api")
    assert await run(policy) is None
    client = Redis.from_url(REDIS_URL)
    try:
        await client.script_flush()
    finally:
        await client.aclose()
    assert await run(policy) is None
    assert isinstance(await run(policy), Denial)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("on_error", "status"), [("open", None), ("closed", 503)])
async def test_redis_down(on_error: str, status: int | None, caplog: pytest.LogCaptureFixture) -> None:
    config = RateLimitStore(
        backend="redis",
        redis_url=f"redis://:hunter2@127.0.0.1:{closed_port()}/0",
        on_error=on_error,  # type: ignore[arg-type]
    )
    store = RedisStore(config)
    policy = RateLimit(RateLimitRule(limit=1, per=60), store, route="api")
    before = errors_total()
    try:
        with caplog.at_level(logging.WARNING, logger="portway.ratelimit"):
            results = [await run(policy) for _ in range(5)]
    finally:
        await store.aclose()
    assert [r if r is None else r.status for r in results] == [status] * 5
    assert errors_total() == before + 5
    assert len(caplog.records) == 1  # one line for the outage, not one per request
    assert ("letting requests through" if on_error == "open" else "answering 503") in caplog.text
    assert "127.0.0.1" in caplog.text and "hunter2" not in caplog.text  # the URL's password is not logged


async def test_a_hanging_redis_times_out() -> None:
    # A socket that listens but never accepts: the kernel completes the connection and takes the
    # command, nobody answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        config = RateLimitStore(backend="redis", redis_url=f"redis://127.0.0.1:{port}/0", timeout=0.1)
        store = RedisStore(config)
        policy = RateLimit(RateLimitRule(limit=1, per=60), store, route="api")
        before = errors_total()
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            assert await run(policy) is None  # on_error: open
            assert loop.time() - started < 0.5
        finally:
            await store.aclose()
    assert errors_total() == before + 1
