"""Upstream faults become problem+json with the request id: 502 (refused, garbage, cut short),
503 (no targets, pool exhausted), 504 (read timeout); a down target is skipped while another is up."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .wire import RawClient, get, route_config, wait_for


def refused_address() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def assert_problem(response: Any, status: int, request_id: str | None = None) -> None:
    assert response.status == status, response.body
    assert response.header("content-type") == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.header("x-request-id")
    if request_id is not None:
        assert body["request_id"] == request_id


async def ask(port: int, data: bytes, within: float = 5.0) -> Any:
    client = await RawClient.connect(port)
    try:
        return await client.request(data, within=within)
    finally:
        await client.close()


async def test_refused_connection_is_502() -> None:
    async with run_gateway(route_config(refused_address())) as gw:
        response = await ask(gw.port, get("/", extra="X-Request-Id: my-request-0001\r\n"))
        assert_problem(response, 502, "my-request-0001")
        assert "127.0.0.1" not in response.body.decode()  # which target failed is for the log only


@contextlib.asynccontextmanager
async def raw_upstream(reply: bytes) -> AsyncIterator[str]:
    """An upstream that reads a request head and answers with exactly ``reply``, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed without a byte
        b"HELLO WORLD\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\nContent-Le",  # cut in the head
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",  # ambiguous framing
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",  # unasked
    ],
    ids=["empty", "garbage", "cut-head", "two-lengths", "unasked-101"],
)
async def test_broken_upstream_answers_are_502(reply: bytes) -> None:
    async with raw_upstream(reply) as address, run_gateway(route_config(address)) as gw:
        assert_problem(await ask(gw.port, get("/")), 502)


async def test_response_cut_mid_body_aborts_the_client_connection() -> None:
    """Once the head is relayed the status cannot change: the client sees a truncated body and a
    closed connection, never a clean end that would pass for the whole response."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"
    async with raw_upstream(reply) as address, run_gateway(route_config(address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(get("/"))
        head = await client.read_head()
        assert head.status == 200
        assert head.header("content-length") == "100"
        rest = b""
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(5):
                while chunk := await client.reader.read(1000):
                    rest += chunk
        assert rest == b"only part"
        await client.close()


async def test_upstream_without_targets_is_503() -> None:
    config = {"upstreams": {"svc": {"targets": []}}, "routes": [{"path": "/", "upstream": "svc"}]}
    async with run_gateway(config) as gw:
        client = await RawClient.connect(gw.port)
        for _ in range(2):  # a gateway answer: the connection stays usable
            assert_problem(await client.request(get("/")), 503)
        await client.close()


async def test_pool_exhausted_is_503_after_the_acquire_timeout() -> None:
    gate = asyncio.Event()

    async def slow(request: UpstreamRequest) -> UpstreamResponse:
        await gate.wait()
        return UpstreamResponse(body=b"finally")

    async with (
        upstream_server(slow) as up,
        run_gateway(
            route_config(up.address, options={"pool": {"max_connections": 1, "acquire_timeout": "200ms"}})
        ) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
    ):
        first = asyncio.create_task(client.get("/first"))
        await wait_for(lambda: len(up.requests) == 1)  # /first holds the only connection
        started = time.monotonic()
        second = await client.get("/second")
        waited = time.monotonic() - started
        assert second.status_code == 503
        assert second.headers["content-type"] == "application/problem+json"
        assert second.json()["request_id"] == second.headers["x-request-id"]
        assert 0.2 <= waited < 2
        gate.set()
        assert (await first).status_code == 200
        assert [r.target for r in up.requests] == ["/first"]
        assert up.connections == 1


async def test_waiting_for_a_pooled_connection_succeeds_when_one_is_released() -> None:
    async def quick(request: UpstreamRequest) -> UpstreamResponse:
        await asyncio.sleep(0.05)
        return UpstreamResponse(body=b"ok")

    async with (
        upstream_server(quick) as up,
        run_gateway(route_config(up.address, options={"pool": {"max_connections": 1}})) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
    ):
        responses = await asyncio.gather(*(client.get(f"/{i}") for i in range(5)))
        assert [r.status_code for r in responses] == [200] * 5
        assert up.connections == 1


async def test_read_timeout_is_504() -> None:
    """The one socket test of the read timeout (the pool puts its connections on the sweeper, the
    exchange renders 504); its rules are tested on a fake clock in
    tests/protocol/test_upstream_connection_timeouts.py."""
    never = asyncio.Event()

    async def hangs(request: UpstreamRequest) -> UpstreamResponse:
        await never.wait()
        return UpstreamResponse()

    async with (
        upstream_server(hangs) as up,
        run_gateway(route_config(up.address, options={"timeouts": {"read": "300ms"}})) as gw,
    ):
        started = time.monotonic()
        response = await ask(gw.port, get("/", extra="X-Request-Id: slow-request-01\r\n"))
        assert_problem(response, 504, "slow-request-01")
        assert 0.3 <= time.monotonic() - started < 1.5
        never.set()


async def test_down_target_is_skipped_while_another_is_up() -> None:
    async with upstream_server() as up, run_gateway(route_config([refused_address(), up.address])) as gw:
        client = await RawClient.connect(gw.port)
        for i in range(10):
            response = await client.request(get(f"/{i}"))
            assert response.status == 200, response.body
        await client.close()
        assert len(up.requests) == 10
        pools = gw.gateway.upstreams["svc"].pools
        assert not pools[0].available  # marked down by the failed connect
        assert pools[0].failures == 1  # and tried once only: the balancer skipped it afterwards


async def test_all_targets_down_is_502() -> None:
    async with run_gateway(route_config([refused_address(), refused_address()])) as gw:
        client = await RawClient.connect(gw.port)
        for _ in range(3):
            assert_problem(await client.request(get("/")), 502)
        await client.close()


async def test_unanswered_idempotent_request_is_replayed_on_another_target_but_a_post_is_not() -> None:
    """A target that closes without a byte of answer (a crashed replica): GETs are replayed to the
    healthy target, a POST may have been acted on and gets 502."""
    async with (
        raw_upstream(b"") as dead,
        upstream_server() as alive,
        run_gateway(route_config([dead, alive.address])) as gw,
    ):
        gets = [await ask(gw.port, get("/")) for _ in range(6)]
        post = b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n"
        posts = [await ask(gw.port, post) for _ in range(4)]
    assert [r.status for r in gets] == [200] * 6
    assert sorted(r.status for r in posts) == [200, 200, 502, 502]
