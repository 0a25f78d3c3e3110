"""Aggregate routes over real loopback upstreams: one JSON answer from parallel calls, partial
when some fail, a 502 problem when none answer or the answer would be too large, and what each
upstream saw of the request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt

from portway.testing import UpstreamRequest, UpstreamResponse, UpstreamServer, run_gateway, upstream_server

SECRET = "aggregate-secret-" + "s" * 47
SIGNING_KEY = "aggregate-identity-key-" + "k" * 41
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def token(sub: str = "alice") -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")


def json_response(document: Any, status: int = 200) -> UpstreamResponse:
    return UpstreamResponse(status, [("Content-Type", "application/json")], json.dumps(document).encode())


async def users(request: UpstreamRequest) -> UpstreamResponse:
    name = request.target.rsplit("/", 1)[-1]
    return json_response({"user": {"id": name, "name": name.title()}, "source": "users"})


async def orders(request: UpstreamRequest) -> UpstreamResponse:
    return json_response({"orders": [{"id": 7}], "user": {"orders": 1}, "source": "orders"})


async def failing(request: UpstreamRequest) -> UpstreamResponse:
    return json_response({"error": "boom"}, status=500)


@contextlib.contextmanager
def refused_address() -> Iterator[str]:
    """A loopback port bound but not listening: every connect is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def hanging() -> AsyncIterator[UpstreamServer]:
    """An upstream that reads the request and answers only when the test is over."""
    release = asyncio.Event()

    async def handler(request: UpstreamRequest) -> UpstreamResponse:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await release.wait()
        return json_response({"late": True})

    async with upstream_server(handler) as up:
        try:
            yield up
        finally:
            release.set()


def config(addresses: dict[str, str], mode: str = "merge", **aggregate: Any) -> dict[str, Any]:
    calls = [
        {"upstream": "users", "path": "/users/${claims.sub}", "key": "user", "timeout": "2s"},
        {"upstream": "orders", "path": "/orders?user=${claims.sub}", "key": "orders", "timeout": "2s"},
    ]
    return {
        "auth": {
            "jwt": {"algorithms": ["HS256"], "secret": SECRET},
            "identity": {"signing_key": SIGNING_KEY},
        },
        "upstreams": {name: {"targets": [address]} for name, address in addresses.items()},
        "routes": [{"path": "/api/me", "aggregate": {"mode": mode, "calls": calls} | aggregate}],
    }


@contextlib.asynccontextmanager
async def behind_gateway(
    first: Any, second: Any, mode: str = "merge", **aggregate: Any
) -> AsyncIterator[tuple[int, UpstreamServer, UpstreamServer]]:
    """Two upstreams (users, orders) with these handlers behind an aggregate route."""
    async with (
        upstream_server(first) as u,
        upstream_server(second) as o,
        run_gateway(config({"users": u.address, "orders": o.address}, mode, **aggregate)) as gw,
    ):
        yield gw.port, u, o


async def get(port: int, method: str = "GET", **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        return await client.request(
            method, "/api/me", headers={"Authorization": f"Bearer {token()}", **headers}
        )


async def test_merge_deep_merges_the_calls_in_config_order() -> None:
    async with behind_gateway(users, orders) as (port, _, _):
        response = await get(port)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "x-portway-partial" not in response.headers
    assert response.json() == {
        "user": {"id": "alice", "name": "Alice", "orders": 1},
        "orders": [{"id": 7}],
        "source": "orders",  # the later call wins a conflict, whichever answered first
    }


async def test_group_puts_each_answer_under_its_key() -> None:
    async with behind_gateway(users, orders, mode="group") as (port, _, _):
        response = await get(port)
        head = await get(port, "HEAD")
    assert response.json() == {
        "user": {"user": {"id": "alice", "name": "Alice"}, "source": "users"},
        "orders": {"orders": [{"id": 7}], "user": {"orders": 1}, "source": "orders"},
    }
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(response.content))


async def test_a_call_past_its_timeout_makes_the_answer_partial() -> None:
    async with upstream_server(users) as u, hanging() as slow:
        cfg = config({"users": u.address, "orders": slow.address})
        cfg["routes"][0]["aggregate"]["calls"][1]["timeout"] = "200ms"
        async with run_gateway(cfg) as gw:
            response = await get(gw.port)
            pool = gw.gateway.upstreams["orders"].pools[0]
            given_up = (pool.open, pool.busy)
    assert response.status_code == 200
    assert response.headers["x-portway-partial"] == "orders"
    assert response.json() == {
        "user": {"id": "alice", "name": "Alice"},
        "source": "users",
        "_partial": ["orders"],
    }
    assert len(slow.requests) == 1  # the call was made, and given up on:
    assert given_up == (0, 0)  # its connection closed, not left busy until the upstream answers


async def test_a_call_answering_500_makes_the_answer_partial() -> None:
    async with behind_gateway(users, failing, mode="group") as (port, _, _):
        response = await get(port)
    assert response.status_code == 200
    assert response.headers["x-portway-partial"] == "orders"
    assert response.json() == {
        "user": {"user": {"id": "alice", "name": "Alice"}, "source": "users"},
        "_partial": ["orders"],
    }


async def test_a_non_json_answer_makes_the_answer_partial() -> None:
    async def html(request: UpstreamRequest) -> UpstreamResponse:
        return UpstreamResponse(headers=[("Content-Type", "text/html")], body=b"<h1>hi</h1>")

    async with behind_gateway(html, orders) as (port, _, _):
        response = await get(port)
    assert response.headers["x-portway-partial"] == "user"
    assert response.json()["_partial"] == ["user"]


async def test_every_call_down_is_a_502_problem() -> None:
    with refused_address() as down_a, refused_address() as down_b:
        async with run_gateway(config({"users": down_a, "orders": down_b})) as gw:
            response = await get(gw.port)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "none of the aggregated upstream calls answered"


async def test_an_answer_over_max_bytes_is_a_502_problem() -> None:
    async def big(request: UpstreamRequest) -> UpstreamResponse:
        return json_response({"blob": "x" * 4096})

    async with behind_gateway(big, orders, max_bytes="1KB") as (port, _, o):
        response = await get(port)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the aggregated response is larger than the route allows"
    assert len(o.requests) == 1  # the calls were made: the answer, not a call, was too large


async def test_each_call_carries_the_identity_request_id_and_trace_but_no_client_headers() -> None:
    async with behind_gateway(users, orders) as (port, u, o):
        response = await get(
            port, traceparent=TRACEPARENT, cookie="session=secret", **{"X-User-Id": "mallory"}
        )
    assert response.status_code == 200
    (to_users,) = u.requests
    (to_orders,) = o.requests
    assert (to_users.method, to_users.target) == ("GET", "/users/alice")
    assert (to_orders.method, to_orders.target) == ("GET", "/orders?user=alice")
    for seen in (to_users, to_orders):
        assert seen.header_all("x-user-id") == ["alice"]
        assert seen.header("x-portway-identity")
        assert seen.header_all("x-request-id") == [response.headers["x-request-id"]]
        assert seen.header_all("traceparent") == [TRACEPARENT]
        assert seen.header("cookie") is None and seen.header("authorization") is None
        assert seen.header_all("x-forwarded-for") == ["127.0.0.1"]


async def test_a_subject_is_one_encoded_path_segment() -> None:
    async with behind_gateway(users, orders) as (port, u, o):
        await get(port, Authorization=f"Bearer {token('../admin?x=1')}")
    assert u.requests[0].target == "/users/..%2Fadmin%3Fx%3D1"
    assert o.requests[0].target == "/orders?user=..%2Fadmin%3Fx%3D1"


async def test_only_get_and_head_are_routed() -> None:
    async with behind_gateway(users, orders) as (port, u, o):
        response = await get(port, "POST")
    assert response.status_code == 405
    assert not u.requests and not o.requests


async def test_with_tracing_each_call_continues_the_trace_from_the_gateways_span() -> None:
    async with upstream_server(users) as u, upstream_server(orders) as o:
        with refused_address() as collector:
            cfg = config({"users": u.address, "orders": o.address})
            cfg["tracing"] = {"endpoint": collector, "timeout": "200ms"}  # spans dropped: not asserted here
            async with run_gateway(cfg) as gw:
                response = await get(gw.port, traceparent=TRACEPARENT)
    assert response.status_code == 200
    parents = {seen.header("traceparent") for seen in (*u.requests, *o.requests)}
    assert len(parents) == 1
    (parent,) = parents
    assert parent is not None
    version, trace, span, flags = parent.split("-")
    assert (version, trace, flags) == ("00", TRACEPARENT.split("-")[1], "01")
    assert span != TRACEPARENT.split("-")[2]  # the gateway's server span, child of the client's


async def test_calls_reuse_the_pools_keep_alive_connections() -> None:
    async with behind_gateway(users, orders) as (port, u, o):
        first = await get(port)
        second = await get(port)
    assert first.status_code == second.status_code == 200
    assert len(u.requests) == 2 and u.requests[0].connection == u.requests[1].connection
    assert u.connections == 1 and o.connections == 1


async def test_the_routes_response_transforms_apply_to_the_answer() -> None:
    async with upstream_server(users) as u, upstream_server(failing) as f:
        cfg = config({"users": u.address, "orders": f.address})
        cfg["routes"][0]["headers"] = {
            "response": {"set": {"Cache-Control": "private, no-store"}, "add": {"X-Caller": "${claims.sub}"}}
        }
        async with run_gateway(cfg) as gw:
            response = await get(gw.port)
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-caller"] == "alice"
    assert response.headers["x-portway-partial"] == "orders"


async def test_a_client_that_leaves_ends_the_calls_and_frees_their_connections() -> None:
    async with upstream_server(users) as u, hanging() as slow:
        cfg = config({"users": u.address, "orders": slow.address})
        cfg["routes"][0]["aggregate"]["calls"][1]["timeout"] = "30s"
        async with run_gateway(cfg) as gw:
            pool = gw.gateway.upstreams["orders"].pools[0]
            _, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(
                f"GET /api/me HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token()}\r\n\r\n".encode()
            )
            await writer.drain()
            await wait_until(lambda: len(slow.requests) == 1 and pool.busy == 1)
            # A reset, not a half-close: a half-closed client still gets its answer.
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            # The calls end with the client: the slow one's connection is closed well before its 30s.
            await wait_until(lambda: pool.open == 0 and pool.busy == 0)


async def wait_until(predicate: Any, within: float = 5.0) -> None:
    """Poll a state no event reports, with a deadline."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - pool counts report no event
            await asyncio.sleep(0.01)
