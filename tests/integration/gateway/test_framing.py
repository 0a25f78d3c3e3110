"""Ambiguous or unsupported framing is refused with the status framing.py documents, the connection
is closed, and nothing reaches the upstream (request smuggling needs the two sides to disagree)."""

from __future__ import annotations

import pytest

from portway.testing import run_gateway, upstream_server

from .wire import RawClient, parse_all, raw_exchange, route_config

POST = b"POST /x HTTP/1.1\r\nHost: gw\r\n"

CASES = {
    "cl-and-te": (POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "te-and-cl": (POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    "duplicate-cl-same": (POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    "duplicate-cl-different": (POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    "cl-list": (POST + b"Content-Length: 5, 5\r\n\r\nhello", 400),
    "cl-not-a-number": (POST + b"Content-Length: abc\r\n\r\n", 400),
    "cl-negative": (POST + b"Content-Length: -1\r\n\r\n", 400),
    "cl-plus": (POST + b"Content-Length: +5\r\n\r\nhello", 400),
    "cl-hex": (POST + b"Content-Length: 0x5\r\n\r\nhello", 400),
    "cl-overflow": (POST + b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    "chunk-size-invalid": (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-size-negative": (POST + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-size-overflow": (
        POST + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "chunk-data-overrun": (POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 400),
    "obs-fold": (b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: a\r\n b\r\n\r\n", 400),
    "obs-fold-tab": (b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: a\r\n\tb\r\n\r\n", 400),
    "bare-lf": (b"GET /x HTTP/1.1\nHost: gw\n\n", 400),
    "bare-lf-one-header": (b"GET /x HTTP/1.1\r\nHost: gw\nX-A: b\r\n\r\n", 400),
    "bare-cr": (b"GET /x HTTP/1.1\r\nHost: gw\rX-A: b\r\n\r\n", 400),
    "space-before-colon": (b"GET /x HTTP/1.1\r\nHost : gw\r\n\r\n", 400),
    "te-space-before-colon": (
        POST + b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello",
        400,
    ),
    "te-gzip-chunked": (POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    "te-gzip": (POST + b"Transfer-Encoding: gzip\r\n\r\n", 501),
    # llhttp refuses chunked applied twice before our check sees it
    "te-chunked-chunked": (POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    "te-identity": (POST + b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", 400),
    "te-in-http10": (b"POST /x HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "no-host": (b"GET /x HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    "two-hosts": (b"GET /x HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n", 400),
    "two-hosts-same": (b"GET /x HTTP/1.1\r\nHost: gw\r\nHost: gw\r\n\r\n", 400),
    "http-2-0": (b"GET /x HTTP/2.0\r\nHost: gw\r\n\r\n", 505),
    "http-1-2": (b"GET /x HTTP/1.2\r\nHost: gw\r\n\r\n", 400),  # llhttp: not a version it knows
    "http-0-9": (b"GET /x\r\n\r\n", 400),  # no version: not an HTTP/1.x request line
    "expect-unknown": (b"GET /x HTTP/1.1\r\nHost: gw\r\nExpect: 200-ok\r\n\r\n", 417),
    "upgrade-with-body": (
        b"POST /x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 34\r\n\r\n"
        b"GET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n",
        400,
    ),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405),
    "nul-in-header": (b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n", 400),
    "invalid-header-name": (b"GET /x HTTP/1.1\r\nHost: gw\r\nX(A): b\r\n\r\n", 400),
    "invalid-method": (b"G@T /x HTTP/1.1\r\nHost: gw\r\n\r\n", 400),
    "garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),
}


@pytest.mark.parametrize(("data", "status"), CASES.values(), ids=CASES.keys())
async def test_refused_closed_and_never_forwarded(data: bytes, status: int) -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        answer = await raw_exchange(gw.port, data)
        responses = parse_all(answer)
        assert len(responses) == 1, answer  # one answer, then the gateway closed the connection
        response = responses[0]
        assert response.status == status, answer
        assert response.header("connection") == "close"
        assert response.header("content-type") == "application/problem+json"
        body = response.json()
        assert body["status"] == status
        assert body["request_id"] == response.header("x-request-id")
        # A well-formed request afterwards is the only thing the upstream ever sees.
        client = await RawClient.connect(gw.port)
        try:
            assert (await client.request(b"GET /after HTTP/1.1\r\nHost: gw\r\n\r\n")).status == 200
        finally:
            await client.close()
        assert [r.target for r in up.requests] == ["/after"]


@pytest.mark.parametrize(
    ("data", "status"),
    [CASES["cl-and-te"], CASES["invalid-header-name"], CASES["two-hosts"], CASES["chunk-size-invalid"]],
)
async def test_refusal_after_a_good_request_on_a_warm_connection(data: bytes, status: int) -> None:
    """The bad request follows a good one on the same connection, with the upstream pool warm."""
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        try:
            assert (await client.request(b"GET /first HTTP/1.1\r\nHost: gw\r\n\r\n")).status == 200
            response = await client.request(data)
            assert response.status == status
            assert response.closes
            assert await client.closed_by_peer()
        finally:
            await client.close()
        assert [r.target for r in up.requests] == ["/first"]


async def test_smuggled_request_in_body_is_not_a_second_request() -> None:
    """The classic CL.TE smuggle: whatever follows the refusal is never parsed as a request."""
    smuggle = (
        b"POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: gw\r\n\r\n"
    )
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        responses = parse_all(await raw_exchange(gw.port, smuggle))
        assert [r.status for r in responses] == [400]
        assert up.requests == []
