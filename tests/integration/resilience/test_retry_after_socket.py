"""An upstream's 503 with Retry-After keeps that target out for that long, through a real gateway."""

from __future__ import annotations

import httpx
from resilience_support import config

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server


async def test_a_503_with_retry_after_keeps_the_target_out_and_others_take_the_traffic() -> None:
    answered = 0

    async def once_busy(request: UpstreamRequest) -> UpstreamResponse:
        nonlocal answered
        answered += 1
        if answered == 1:
            return UpstreamResponse(503, [("Retry-After", "30")], b"come back later")
        return UpstreamResponse(body=b"ok")

    async with (
        upstream_server(once_busy) as busy,
        upstream_server() as a,
        upstream_server() as b,
        run_gateway(config([busy.address, a.address, b.address])) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as http,
    ):
        first = await http.get("/0")
        statuses = [(await http.get(f"/{i}")).status_code for i in range(1, 31)]
        health = gw.gateway.upstreams["svc"].pools[0].snapshot()["health"]
    assert first.status_code == 503 and first.headers["retry-after"] == "30"  # relayed as it was
    assert statuses == [200] * 30
    assert len(busy.requests) == 1  # avoided after its Retry-After
    assert len(a.requests) == len(b.requests) == 15
    assert health["state"] == "deferred" and 29.0 < health["back_in"] <= 30.0  # type: ignore[index]
