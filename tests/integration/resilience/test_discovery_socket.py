"""Discovery through a real gateway: `http://localhost:PORT` expands to its address with the system
resolver, then a test resolver's changing answer adds and removes a replica on 127.0.0.2."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from portway.testing import UpstreamServer, echo, run_gateway, upstream_server


async def test_a_hostname_target_follows_its_addresses_and_keeps_the_pools_that_stay() -> None:
    async with upstream_server() as first:
        port = first.port
        second = UpstreamServer(echo, keep_body=True)  # the same port on another loopback address
        second.server = await asyncio.start_server(second._serve, "127.0.0.2", port)
        config = {
            "upstreams": {"svc": {"targets": [f"http://localhost:{port}"], "discovery": {"interval": "1h"}}},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
        try:
            async with (
                run_gateway(config) as gw,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as http,
            ):
                up = gw.gateway.upstreams["svc"]
                await up.refresh()  # the system resolver: localhost is 127.0.0.1 here
                assert [p.target.address for p in up.pools] == [f"http://127.0.0.1:{port}"]
                kept = up.pools[0]
                assert (await http.get("/a")).status_code == 200

                async def both(host: str, port: int) -> list[str]:
                    return ["127.0.0.1", "127.0.0.2"]

                up.resolver = both
                assert await up.refresh() is True
                assert up.pools[0] is kept and kept.open == 1  # its kept-alive connection survived
                statuses = [(await http.get(f"/b{i}")).status_code for i in range(10)]

                async def gone(host: str, port: int) -> list[str]:
                    raise OSError("Temporary failure in name resolution")

                up.resolver = gone
                assert await up.refresh() is False  # the last good answer stays
                assert len(up.pools) == 2

                async def moved(host: str, port: int) -> list[str]:
                    return ["127.0.0.2"]

                up.resolver = moved
                assert await up.refresh() is True
                after = [(await http.get(f"/c{i}")).status_code for i in range(5)]
                assert kept.retired and [p.target.address for p in up.pools] == [f"http://127.0.0.2:{port}"]
                metrics = gw.exposition().decode()
        finally:
            second.server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await second.server.wait_closed()
    assert statuses == [200] * 10 and after == [200] * 5
    assert [r.target for r in first.requests] == ["/a", "/b0", "/b2", "/b4", "/b6", "/b8"]
    assert [r.target for r in second.requests] == [
        "/b1",
        "/b3",
        "/b5",
        "/b7",
        "/b9",
        *(f"/c{i}" for i in range(5)),
    ]
    assert all(r.header("host") == f"localhost:{port}" for r in first.requests + second.requests)
    assert 'portway_upstream_resolve_failures_total{host="localhost",upstream="svc"} 1.0' in metrics
