"""A cache hit leaves the gateway as a miss does: through the response hooks of the policies before
the cache (CORS, header transforms), so an answer does not change with where it came from."""

from __future__ import annotations

from gateway.wire import route_config

from portway.testing import UpstreamResponse, run_gateway, upstream_server

from .cache_support import Origin, fetch


async def test_a_hit_gets_the_response_transforms_and_cors_edits_a_miss_gets() -> None:
    origin = Origin(
        lambda r, n: UpstreamResponse(
            headers=[
                ("Cache-Control", "max-age=60"),
                ("Server", "origin/1.0"),
                ("Access-Control-Allow-Origin", "*"),  # the gateway owns CORS: never passed on
            ],
            body=b"payload",
        )
    )
    route = {
        "path": "/",
        "cache": {},
        "headers": {"response": {"remove": ["Server"], "add": {"X-Request": "${request_id}"}}},
    }
    config = route_config("", route, cors={"origins": ["https://app.example"]})
    async with upstream_server(origin) as up:
        config["upstreams"]["svc"]["targets"] = [up.address]
        async with run_gateway(config) as gw:
            asked = "Origin: https://app.example\r\nX-Request-Id: req-miss-1\r\n"
            miss = await fetch(gw.port, "/c", asked)
            hit = await fetch(gw.port, "/c", asked.replace("req-miss-1", "req-hit-2"))
    assert origin.count("/c") == 1
    assert (hit.header("cache-status") or "").startswith("portway; hit")
    for response, request_id in ((miss, "req-miss-1"), (hit, "req-hit-2")):
        assert response.body == b"payload"
        assert response.header("server") is None  # removed by the transform, on the hit too
        assert response.header("x-request") == request_id  # rendered for this request, not stored
        assert response.header_all("access-control-allow-origin") == ["https://app.example"]
