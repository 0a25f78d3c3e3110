"""`balance: ewma` through a real gateway: one replica of three answering in 200 ms gets few requests."""

from __future__ import annotations

import asyncio

import httpx
from resilience_support import config

from portway.testing import UpstreamRequest, UpstreamResponse, echo, run_gateway, upstream_server


async def test_a_slow_replica_of_three_gets_under_ten_percent_of_the_requests() -> None:
    async def slow(request: UpstreamRequest) -> UpstreamResponse:
        await asyncio.sleep(0.2)  # the scenario itself: a replica that answers in 200 ms
        return await echo(request)

    async with (
        upstream_server(slow) as sluggish,
        upstream_server() as a,
        upstream_server() as b,
        run_gateway(config([sluggish.address, a.address, b.address], balance="ewma")) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as http,
    ):
        semaphore = asyncio.Semaphore(6)

        async def one(i: int) -> int:
            async with semaphore:
                return (await http.get(f"/{i}")).status_code

        statuses = await asyncio.gather(*(one(i) for i in range(300)))
    assert statuses == [200] * 300
    assert len(sluggish.requests) < 0.1 * 300, (len(sluggish.requests), len(a.requests), len(b.requests))
    assert len(a.requests) > 100 and len(b.requests) > 100
