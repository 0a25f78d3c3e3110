"""Header transforms over real loopback sockets: raw request bytes in, what the upstream saw and
the response bytes the client got out."""

from __future__ import annotations

import asyncio
import time

import jwt

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

SECRET = "transform-secret-" + "s" * 47


def token(**claims: object) -> str:
    return jwt.encode({"sub": "alice", "exp": int(time.time()) + 300, **claims}, SECRET, algorithm="HS256")


async def leaky(request: UpstreamRequest) -> UpstreamResponse:
    headers = [("Server", "secret/1.0"), ("X-Frame-Options", "SAMEORIGIN"), ("Content-Type", "text/plain")]
    return UpstreamResponse(headers=headers, body=b"ok")


def config(address: str) -> dict[str, object]:
    return {
        "auth": {"jwt": {"algorithms": ["HS256"], "secret": SECRET}},
        "upstreams": {"svc": {"targets": [address]}},
        "routes": [
            {
                "path": "/api/",
                "upstream": "svc",
                "name": "api",
                "auth": "optional",
                "headers": {
                    "request": {
                        "remove": ["X-Debug"],
                        "set": {
                            "X-Env": "prod",
                            "X-Caller": "${claims.sub}",
                            "X-Note": "${claims.note}",
                            "X-Seen": "${route} ${method} ${path} ${host} ${header.X-Keep}",
                            "X-Id": "${request_id}",
                        },
                        "add": {"X-Keep": "gw"},
                    },
                    "response": {
                        "remove": ["Server"],
                        "set": {"X-Frame-Options": "DENY"},
                        "add": {"X-Served-For": "${client_ip}"},
                    },
                },
            }
        ],
    }


async def exchange(port: int, data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The response's header lines (name lower-cased) and body, for exactly the bytes sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")[1:]
            headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(b":") for line in lines)]
            length = int(dict(headers)[b"content-length"])
            body = await reader.readexactly(length)
    finally:
        writer.close()
    return headers, body


def request(*lines: str) -> bytes:
    return (
        "GET /api/items?page=2 HTTP/1.1\r\nHost: shop.example\r\n"
        + "".join(f"{h}\r\n" for h in lines)
        + "\r\n"
    ).encode()


async def test_request_and_response_edits_on_the_wire() -> None:
    async with upstream_server(leaky) as up, run_gateway(config(up.address)) as gw:
        headers, body = await exchange(
            gw.port,
            request(
                f"Authorization: Bearer {token(note='vip')}",
                "X-Debug: 1",
                "X_Debug: 2",
                "X-Env: client",
                "X-Caller: forged",
                "X-Keep: k",
            ),
        )
    seen = up.requests[0]
    assert seen.header_all("x-debug") == [] and seen.header_all("x_debug") == []
    assert seen.header_all("x-env") == ["prod"]
    assert seen.header_all("x-caller") == ["alice"]
    assert seen.header_all("x-note") == ["vip"]
    assert seen.header_all("x-seen") == ["api GET /api/items shop.example k"]
    assert seen.header_all("x-keep") == ["k", "gw"]
    response_id = dict(headers)[b"x-request-id"].decode()
    assert seen.header_all("x-id") == [response_id]
    assert body == b"ok"
    names = [name for name, _ in headers]
    assert b"server" not in names
    assert [v for n, v in headers if n == b"x-frame-options"] == [b"DENY"]
    assert [v for n, v in headers if n == b"x-served-for"] == [b"127.0.0.1"]


async def test_an_anonymous_caller_gets_nothing_where_the_identity_would_be() -> None:
    async with upstream_server(leaky) as up, run_gateway(config(up.address)) as gw:
        await exchange(gw.port, request("X-Caller: forged", "X-Note: forged"))
    seen = up.requests[0]
    assert seen.header_all("x-caller") == [] and seen.header_all("x-note") == []
    assert seen.header_all("x-env") == ["prod"]


async def test_a_claim_that_would_inject_a_header_is_dropped() -> None:
    async with upstream_server(leaky) as up, run_gateway(config(up.address)) as gw:
        headers, _ = await exchange(
            gw.port, request(f"Authorization: Bearer {token(note='a' + chr(13) + chr(10) + 'X-Admin: 1')}")
        )
    seen = up.requests[0]
    assert dict(headers).get(b"x-frame-options") == b"DENY"  # the request went through
    assert seen.header_all("x-note") == [] and seen.header_all("x-admin") == []
    assert seen.header_all("x-caller") == ["alice"]


async def test_the_gateway_wide_default_applies_where_a_route_has_none() -> None:
    async with upstream_server(leaky) as up:
        routes = [{"path": "/a/", "upstream": "svc"}, {"path": "/b/", "upstream": "svc", "headers": False}]
        cfg = {
            "upstreams": {"svc": {"targets": [up.address]}},
            "headers": {"response": {"remove": ["Server"]}},
            "routes": routes,
        }
        async with run_gateway(cfg) as gw:
            with_default, _ = await exchange(gw.port, b"GET /a/x HTTP/1.1\r\nHost: gw\r\n\r\n")
            turned_off, _ = await exchange(gw.port, b"GET /b/x HTTP/1.1\r\nHost: gw\r\n\r\n")
    assert b"server" not in dict(with_default)
    assert dict(turned_off)[b"server"] == b"secret/1.0"
