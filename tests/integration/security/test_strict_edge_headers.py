"""A strict edge, header families the gateway owns (DESIGN.md §1): h2c upgrades, identity headers,
forwarding headers and path/method overrides from a client never reach the upstream, in any case
or ``_`` spelling; the gateway sets its own forwarding values; a WebSocket upgrade still passes."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from portway.testing import UpstreamRequest, run_gateway

from .support import jwt_config, token
from .test_strict_edge import assert_problem, edge, exchange, header_names, request


def spellings(name: str) -> list[str]:
    return [name, name.upper(), name.lower(), name.replace("-", "_"), name.lower().replace("-", "_")]


def forwarded(up_requests: list[UpstreamRequest]) -> UpstreamRequest:
    (seen,) = up_requests
    return seen


# -- h2c -----------------------------------------------------------------------------------------

H2C = {
    "upgrade-h2c": [
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
    ],
    "upgrade-H2C": [
        "Connection: upgrade, http2-settings",
        "Upgrade: H2C",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
    ],
    "upgrade-h2c-no-settings": ["Connection: Upgrade", "Upgrade: h2c"],
    "upgrade-list": ["Connection: Upgrade", "Upgrade: h2c, websocket"],
    "upgrade-list-last": ["Connection: Upgrade", "Upgrade: foo, h2c"],
    "upgrade-without-connection": ["Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__"],
    "settings-alone": ["HTTP2-Settings: AAMAAABkAAQAAP__"],
    "settings-underscore": ["HTTP2_Settings: AAMAAABkAAQAAP__"],
    "h2c-in-connection-only": ["Connection: h2c", "Upgrade: h2c"],
}


@pytest.mark.parametrize("lines", H2C.values(), ids=H2C.keys())
async def test_h2c_upgrades_are_never_forwarded(lines: list[str]) -> None:
    """Refused, or forwarded as a plain request: either way the upstream never sees ``h2c`` or
    ``HTTP2-Settings`` (an h2c upgrade through a proxy is the h2c-smuggling tunnel)."""
    async with edge() as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", *lines, "Connection: close"))
        assert answer.status != 101, answer.headers
        if answer.status >= 400:
            assert_problem(answer, 400)
        for seen in up.requests:
            assert "http2-settings" not in header_names(seen), seen.headers
            assert not any("h2c" in value.lower() for _, value in seen.headers), seen.headers


async def test_websocket_upgrades_still_pass() -> None:
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        async for message in ws:
            await ws.send(message)

    async with serve(handler, "127.0.0.1", 0) as server:
        address = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        config = {"upstreams": {"svc": {"targets": [address]}}, "routes": [{"path": "/", "upstream": "svc"}]}
        async with run_gateway(config) as gw, connect(f"ws://127.0.0.1:{gw.port}/ws") as ws:
            await ws.send("ping")
            async with asyncio.timeout(3):
                assert await ws.recv() == "ping"
    assert paths == ["/ws"]


# -- identity headers by family ------------------------------------------------------------------

# X-Tenant-Id is a configured claim header (CLAIM_HEADERS), outside the fixed families
IDENTITY = [
    *("X-User-Anything", "X-User-Id", "X-User-Email", "X-User-Tenant-Id"),
    *("X-Consumer", "X-Consumer-Foo", "X-Consumer-Id"),
    *("X-Portway-Whatever", "X-Portway-Identity", "X-Portway-Trusted"),
    "X-Tenant-Id",
]
CLAIM_HEADERS = {"sub": "X-User-Id", "tenant": "X-Tenant-Id"}


@pytest.mark.parametrize("name", IDENTITY)
@pytest.mark.parametrize("authenticated", [False, True], ids=["public", "with-token"])
async def test_identity_headers_by_family_are_dropped(name: str, authenticated: bool) -> None:
    lines = [f"{spelling}: evil" for spelling in spellings(name)]
    if authenticated:
        lines.append(f"Authorization: Bearer {token(tenant='t-1')}")
    auth = {"jwt": jwt_config(claims_to_headers=CLAIM_HEADERS)}
    routes = [{"path": "/", "upstream": "svc", "auth": "optional"}]
    async with edge(routes=routes, auth=auth) as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", *lines, "Connection: close"))
        assert answer.status == 200, answer.body
    seen = forwarded(up.requests)
    # none of the client's values arrives, under any spelling
    assert not any(value == "evil" for _, value in seen.headers), seen.headers
    # and no underscore spelling of a family name at all (the gateway only ever sets dashes)
    family = ("x-user-", "x-consumer", "x-portway-", "x-tenant-id")
    assert not any("_" in n and n.lower().replace("_", "-").startswith(family) for n, _ in seen.headers)


# -- forwarding headers ---------------------------------------------------------------------------

FORWARDING = [
    *("X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix"),
    *("X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Anything", "X-Real-IP", "Forwarded"),
]
EVIL = {
    "X-Forwarded-For": "6.6.6.6",
    "X-Real-IP": "6.6.6.6",
    "Forwarded": "for=6.6.6.6;host=evil;proto=https",
}


@pytest.mark.parametrize("name", FORWARDING)
async def test_forwarding_headers_from_an_untrusted_client_are_replaced(name: str) -> None:
    value = EVIL.get(name, "evil")
    lines = [f"{spelling}: {value}" for spelling in spellings(name)]
    async with edge() as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", *lines, "Connection: close"))
        assert answer.status == 200, answer.body
    seen = forwarded(up.requests)
    assert not any(value in v for _, v in seen.headers), seen.headers
    assert not any("_" in n and n.lower().startswith(("x_forwarded", "x_real")) for n, _ in seen.headers)
    # the gateway's own values: the peer it saw, the Host it was asked for, the scheme it serves
    assert seen.header_all("x-forwarded-for") == ["127.0.0.1"]
    assert seen.header_all("x-forwarded-proto") in ([], ["http"])
    assert seen.header_all("x-forwarded-host") in ([], ["gw"])
    assert seen.header_all("x-real-ip") in ([], ["127.0.0.1"])


# -- path and method overrides -------------------------------------------------------------------

OVERRIDES = {
    "X-Original-URL": "/admin", "X-Rewrite-URL": "/admin", "X-Original-URI": "/admin",
    "X-Forwarded-URI": "/admin", "X-Forwarded-Path": "/admin", "X-Envoy-Original-Path": "/admin",
    "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "DELETE", "X-Method-Override": "DELETE",
}  # fmt: skip


@pytest.mark.parametrize("name", OVERRIDES)
async def test_path_and_method_overrides_are_never_forwarded(name: str) -> None:
    lines = [f"{spelling}: {OVERRIDES[name]}" for spelling in spellings(name)]
    async with edge() as (up, port):
        answer = await exchange(
            port, request("POST /x HTTP/1.1", *lines, "Content-Length: 0", "Connection: close")
        )
        assert answer.status == 200, answer.body
    seen = forwarded(up.requests)
    assert name.lower() not in header_names(seen), seen.headers
    assert seen.method == "POST" and seen.target == "/x"
