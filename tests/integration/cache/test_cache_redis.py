"""The Redis store: two gateway processes share one cache, purge reaches Redis, and an outage
degrades to no caching (a log line and a metric), never to an error for the client."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gateway.wire import wait_for
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from portway import cache
from portway.testing import UpstreamResponse, gateway_process, run_gateway, upstream_server

from .cache_support import Origin, cached_config, fetch

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.redis


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"test:portway:cache:{uuid.uuid4().hex}:"
    yield name
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def redis_keys(prefix: str) -> list[bytes]:
    client = Redis.from_url(REDIS_URL)
    try:
        return sorted([key async for key in client.scan_iter(match=prefix + "*")])
    finally:
        await client.aclose()


def origin_of(body: bytes = b"shared") -> Origin:
    return Origin(
        lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=body + b"%d" % n)
    )


async def test_two_gateway_processes_share_the_cache(tmp_path: Path, prefix: str) -> None:
    origin = origin_of()
    store = {"store": {"backend": "redis", "redis_url": REDIS_URL, "prefix": prefix}}
    async with upstream_server(origin) as up:
        config = cached_config(up.address, defaults=store)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            gateway_process(config, tmp_path / "a") as one,
            gateway_process(config, tmp_path / "b") as two,
        ):
            first = await fetch(one.port, "/s")
            assert first.body == b"shared1" and "stored" in (first.header("cache-status") or "")
            await wait_for_keys(prefix, 1)
            assert await redis_keys(prefix) == [f"{prefix}gw/s".encode()]
            # the other process has never seen this URL: its answer comes from Redis
            second = await fetch(two.port, "/s")
            assert second.body == b"shared1" and origin.count("/s") == 1
            assert (second.header("cache-status") or "").startswith("portway; hit")


async def test_purge_reaches_redis(prefix: str) -> None:
    origin = origin_of()
    store = {"store": {"backend": "redis", "redis_url": REDIS_URL, "prefix": prefix}}
    async with upstream_server(origin) as up, run_gateway(cached_config(up.address, defaults=store)) as gw:
        for path in ("/p/1", "/p/2", "/q"):
            await fetch(gw.port, path)
        await wait_for_keys(prefix, 3)
        assert await cache.purge(gw.gateway, prefix="gw/p/") == 2
        assert await redis_keys(prefix) == [f"{prefix}gw/q".encode()]
        assert (await fetch(gw.port, "/p/1")).body == b"shared2"
        assert (await fetch(gw.port, "/q")).body == b"shared1"


async def wait_for_keys(prefix: str, count: int) -> None:
    async with asyncio.timeout(5):
        while len(await redis_keys(prefix)) < count:  # noqa: ASYNC110 - writes follow the responses
            await asyncio.sleep(0.01)


async def test_a_redis_outage_is_no_caching_with_a_log_line_and_a_metric(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as holder:  # a port nothing listens on: connections are refused at once
        holder.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{holder.getsockname()[1]}/0"
    before = REGISTRY.get_sample_value("portway_cache_store_errors_total") or 0.0
    origin = origin_of()
    store = {"store": {"backend": "redis", "redis_url": dead}}
    caplog.set_level(logging.WARNING, "portway.cache")
    async with upstream_server(origin) as up, run_gateway(cached_config(up.address, defaults=store)) as gw:
        answers = [await fetch(gw.port, "/o") for _ in range(3)]
        assert [a.status for a in answers] == [200, 200, 200]
        assert [a.body for a in answers] == [b"shared1", b"shared2", b"shared3"]
        assert all(
            "fwd=miss" in (a.header("cache-status") or "") or a.header("cache-status") is None
            for a in answers
        )
        await wait_for(
            lambda: (REGISTRY.get_sample_value("portway_cache_store_errors_total") or 0) >= before + 3
        )
    lines = [r.getMessage() for r in caplog.records if "cache store" in r.getMessage()]
    assert len(lines) == 1 and "serving without the cache" in lines[0]  # once, not per request
