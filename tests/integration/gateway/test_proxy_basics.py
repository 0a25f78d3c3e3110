"""Routing, rewrite, header handling and keep-alive reuse, end to end over loopback."""

from __future__ import annotations

import json

import httpx

from portway.testing import run_gateway, upstream_server


def _config(upstream_address: str, **route: object) -> dict[str, object]:
    return {
        "upstreams": {"svc": {"targets": [upstream_address]}},
        "routes": [{"path": "/api/users/", "upstream": "svc", "rewrite": "/users/"} | route],
    }


async def test_prefix_rewrite_keeps_query_and_body() -> None:
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address)) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
    ):
        response = await client.post("/api/users/1?x=1&y=%20", content=b"hello")
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["target"] == "/users/1?x=1&y=%20"
    assert seen["body_size"] == 5
    assert response.headers["x-request-id"]


async def test_unknown_route_is_problem_json_404() -> None:
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address)) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
    ):
        response = await client.get("/elsewhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"]
    assert up.requests == []


async def test_keep_alive_reuses_one_upstream_connection() -> None:
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address)) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
    ):
        for _ in range(50):
            assert (await client.get("/api/users/")).status_code == 200
    assert len(up.requests) == 50
    assert up.connections == 1


async def test_hop_by_hop_and_connection_named_headers_are_removed() -> None:
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address)) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
    ):
        response = await client.get(
            "/api/users/",
            headers={"Connection": "keep-alive, X-Secret", "X-Secret": "s", "TE": "trailers",
                     "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic x", "X-Kept": "yes"},
        )  # fmt: skip
    names = {k.lower() for k, _ in json.loads(response.content)["headers"]}
    assert "x-secret" not in names
    assert {"te", "keep-alive", "proxy-authorization"}.isdisjoint(names)
    assert "x-kept" in names
    assert up.requests[0].header("x-forwarded-for") == "127.0.0.1"


async def test_admin_metrics_count_requests_by_route_and_status_across_a_reload() -> None:
    async with upstream_server() as up, run_gateway(_config(up.address) | {"admin": "127.0.0.1:0"}) as gw:
        assert gw.admin is not None
        admin_port = gw.admin.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
            for _ in range(3):
                await client.get("/api/users/1")
            await client.get("/nowhere")
            assert gw.reload(gw.config)
            await client.get("/api/users/2")
            metrics = (await client.get(f"http://127.0.0.1:{admin_port}/metrics")).text
    assert 'portway_requests_total{route="/api/users/",status="200"} 4.0' in metrics
    assert 'portway_request_duration_seconds_count{route="/api/users/"} 4.0' in metrics
    assert 'portway_request_duration_seconds_bucket{le="+Inf",route="/api/users/"} 4.0' in metrics
