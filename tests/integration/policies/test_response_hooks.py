"""Policies on the way back: a policy's ``response`` hook sees the upstream's response head before
it is sent on. CORS uses it so the route's answer replaces an upstream's own CORS headers (two
``Access-Control-Allow-Origin`` values make a browser reject the response)."""

from __future__ import annotations

import httpx

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

ORIGIN = "https://shop.example"


async def upstream_with_its_own_cors(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(
        headers=[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Credentials", "false"),
            ("Access-Control-Expose-Headers", "X-Internal"),
            ("Content-Type", "text/plain"),
        ],
        body=b"ok",
    )


def config(address: str) -> dict[str, object]:
    return {
        "upstreams": {"svc": {"targets": [address]}},
        "routes": [
            {
                "path": "/api/",
                "upstream": "svc",
                "cors": {"origins": [ORIGIN], "credentials": True, "expose_headers": ["X-Request-Id"]},
            }
        ],
    }


async def test_the_routes_cors_answer_replaces_the_upstreams() -> None:
    async with (
        upstream_server(upstream_with_its_own_cors) as up,
        run_gateway(config(up.address)) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
    ):
        allowed = await client.get("/api/x", headers={"Origin": ORIGIN})
        other = await client.get("/api/x", headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200 and allowed.text == "ok"
    assert allowed.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert allowed.headers.get_list("access-control-allow-credentials") == ["true"]
    assert allowed.headers.get_list("access-control-expose-headers") == ["X-Request-Id"]
    assert allowed.headers["content-type"] == "text/plain"  # the rest of the head is untouched
    # Not an allowed origin: the gateway adds nothing, and leaves the upstream's answer as it was.
    assert other.headers.get_list("access-control-allow-origin") == ["*"]
