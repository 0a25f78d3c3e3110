"""Protocol limits: 431 (header bytes, header count), 414 (request line), 413 (declared, streamed and
per-route bodies), and one 408 over real sockets to prove the sweeper is wired to client connections.
The timeouts themselves (slow head, slow body, body deadline between chunks, keep-alive idle close)
are tested on a fake clock in tests/protocol/test_http_connection_timeouts.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from portway.testing import UpstreamServer, run_gateway, upstream_server

from .wire import RawClient, parse_all, raw_exchange, route_config

LIMITS = {
    "max_request_line": "1KB",
    "max_header_bytes": "2KB",
    "max_headers": 10,
    "max_body": "4KB",
    "header_timeout": "300ms",
    "body_timeout": "300ms",
    "keepalive_timeout": "300ms",
}


@contextlib.asynccontextmanager
async def setup(**route: Any) -> AsyncIterator[tuple[UpstreamServer, int]]:
    async with upstream_server() as up:
        config = route_config(up.address, {"path": "/", **route}, limits=LIMITS)
        async with run_gateway(config) as gw:
            yield up, gw.port


def assert_refused(answer: bytes, status: int) -> None:
    responses = parse_all(answer)
    assert [r.status for r in responses] == [status], answer
    assert responses[0].header("connection") == "close"
    assert responses[0].json()["request_id"] == responses[0].header("x-request-id")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        # header bytes: one big header, or many medium ones
        (b"GET / HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: gw\r\n" + b"X-Medium: %b\r\n" % (b"a" * 400) * 6 + b"\r\n", 431),
        # header count: Host + 10 more
        (b"GET / HTTP/1.1\r\nHost: gw\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(10)) + b"\r\n", 431),
        # request line
        (b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\nHost: gw\r\n\r\n", 414),
        (b"GET /?" + b"q" * 1100 + b" HTTP/1.1\r\nHost: gw\r\n\r\n", 414),
        # a declared body over the limit is refused from the head alone
        (b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000000000\r\n\r\n", 413),
    ],
    ids=["header-bytes", "header-bytes-many", "header-count", "request-line", "query", "cl", "cl-huge"],
)
async def test_limit_refusals_are_never_forwarded(data: bytes, status: int) -> None:
    async with setup() as (up, port):
        assert_refused(await raw_exchange(port, data), status)
        assert up.requests == []
        assert up.connections == 0


async def test_exactly_at_the_header_count_limit_passes() -> None:
    async with setup() as (_, port):
        data = b"GET / HTTP/1.1\r\nHost: gw\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(9)) + b"\r\n"
        client = await RawClient.connect(port)
        assert (await client.request(data)).status == 200
        await client.close()


async def test_endless_header_is_cut_off_before_it_ends() -> None:
    """A header that never ends is refused once the head passes the limits, not buffered forever."""
    async with setup() as (up, port):
        client = await RawClient.connect(port)
        await client.send(b"GET / HTTP/1.1\r\nHost: gw\r\nX-Endless: ")
        refused = None
        for _ in range(200):  # 200 x 512 bytes = 100 KB, far above the 3 KB of head allowed
            try:
                await client.send(b"a" * 512)
            except ConnectionError:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.001):
                    refused = await client.read_response()
            if refused is not None:
                break
        if refused is None:
            refused = await client.read_response()
        assert refused.status == 431
        assert refused.closes
        await client.close()
        assert up.requests == []


async def test_declared_body_over_the_limit_is_refused_before_the_upstream_sees_a_byte() -> None:
    async with setup() as (up, port):
        client = await RawClient.connect(port)
        # The head alone earns the 413; the client never had to send its body.
        response = await client.request(b"PUT /u HTTP/1.1\r\nHost: gw\r\nContent-Length: 4097\r\n\r\n")
        assert response.status == 413
        assert response.closes
        assert await client.closed_by_peer()
        await client.close()
        assert up.connections == 0


async def test_body_at_the_limit_passes() -> None:
    async with setup() as (up, port):
        client = await RawClient.connect(port)
        body = b"b" * 4096
        response = await client.request(b"PUT /u HTTP/1.1\r\nHost: gw\r\nContent-Length: 4096\r\n\r\n" + body)
        assert response.status == 200
        await client.close()
        assert up.requests[0].body == body


async def test_chunked_body_over_the_limit_is_413_and_never_completes_upstream() -> None:
    async with setup() as (up, port):
        client = await RawClient.connect(port)
        await client.send(b"POST /c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
        response = None
        with contextlib.suppress(ConnectionError):
            for _ in range(10):  # 10 x 1 KB: the limit is 4 KB
                await client.send(b"400\r\n" + b"c" * 1024 + b"\r\n")
        response = await client.read_response()
        assert response.status == 413
        assert response.closes
        assert await client.closed_by_peer()
        await client.close()
        assert up.requests == []  # the upstream saw at most a truncated body, never a request


async def test_route_max_body_declared_keeps_the_connection() -> None:
    async with setup(max_body=100) as (up, port):
        client = await RawClient.connect(port)
        response = await client.request(
            b"POST /r HTTP/1.1\r\nHost: gw\r\nContent-Length: 200\r\n\r\n" + b"x" * 200
        )
        assert response.status == 413
        assert response.header("content-type") == "application/problem+json"
        # a small body is read and dropped, so the connection serves the next request
        again = await client.request(b"POST /r HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc")
        assert again.status == 200
        await client.close()
        assert [(r.target, r.body) for r in up.requests] == [("/r", b"abc")]


async def test_route_max_body_chunked() -> None:
    async with setup(max_body=100) as (up, port):
        client = await RawClient.connect(port)
        await client.send(b"POST /r HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(3):
                await client.send(b"40\r\n" + b"c" * 64 + b"\r\n")
        response = await client.read_response()
        assert response.status == 413
        assert response.closes
        await client.close()
        assert up.requests == []


async def test_silent_connection_gets_408_and_is_closed() -> None:
    """The one socket test of a client timeout: the running server sweeps its connections."""
    async with setup() as (_up, port):
        client = await RawClient.connect(port)
        started = time.monotonic()
        response = await client.read_response(within=3)
        assert response.status == 408
        assert await client.closed_by_peer(within=3)
        assert 0.3 <= time.monotonic() - started < 1.5
        await client.close()


async def test_default_limits_are_those_documented() -> None:
    from portway.config.models import Limits

    limits = Limits()
    assert (limits.max_request_line, limits.max_header_bytes, limits.max_headers) == (8192, 32768, 100)
    assert limits.max_body == 10 * 1024 * 1024
    assert (limits.header_timeout, limits.body_timeout, limits.keepalive_timeout) == (10.0, 30.0, 75.0)
