"""Header rules in both directions: hop-by-hop removal (RFC 9110 §7.6.1 and those named in
``Connection``), X-Forwarded-*, and the request id (kept when safe, replaced otherwise, generated
when absent; the same id upstream, in the response and in problem+json bodies)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, UpstreamServer, run_gateway, upstream_server

from .wire import RawClient, get, route_config

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@contextlib.asynccontextmanager
async def setup(handler: Any = None, **extra: Any) -> AsyncIterator[tuple[UpstreamServer, RawClient]]:
    kwargs = {"handler": handler} if handler is not None else {}
    async with upstream_server(**kwargs) as up, run_gateway(route_config(up.address, **extra)) as gw:
        client = await RawClient.connect(gw.port)
        try:
            yield up, client
        finally:
            await client.close()


def request(*headers: str, target: str = "/h", host: str = "public.example") -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def names(up_request: UpstreamRequest) -> set[str]:
    return {k.lower() for k, _ in up_request.headers}


# -- request direction -------------------------------------------------------------------------


async def test_request_hop_by_hop_headers_are_removed() -> None:
    async with setup() as (up, client):
        response = await client.request(
            request(
                "Connection: keep-alive, X-Secret, x-other",
                "Connection: X-Third",
                "X-Secret: s",
                "X-Other: o",
                "X-Third: t",
                "TE: trailers",
                "Keep-Alive: timeout=5",
                "Upgrade: h2c",  # without Connection: upgrade this is no upgrade request
                "Trailer: X-Checksum",
                "Proxy-Authorization: Basic eDp5",
                "Proxy-Connection: keep-alive",
                "Forwarded: for=6.6.6.6",
                "X-Kept: yes",
                "Accept: */*",
            )
        )
        assert response.status == 200
        seen = names(up.requests[0])
        removed = {"connection", "x-secret", "x-other", "x-third", "te", "keep-alive", "upgrade", "trailer"}
        removed |= {"proxy-authorization", "proxy-connection", "forwarded"}
        assert seen.isdisjoint(removed), seen & removed
        assert {"x-kept", "accept", "host", "x-request-id", "x-forwarded-for"} <= seen
        assert up.requests[0].header_all("x-kept") == ["yes"]


async def test_client_connection_close_is_not_forwarded_and_upstream_stays_pooled() -> None:
    async with setup() as (up, client):
        response = await client.request(request("Connection: close"))
        assert response.status == 200
        assert response.closes
        assert await client.closed_by_peer()
        assert "connection" not in names(up.requests[0])
    # the upstream connection was kept for reuse: one connection, still open until shutdown
    assert up.connections == 1


async def test_gateway_set_headers_cannot_be_smuggled_by_the_client() -> None:
    async with setup() as (up, client):
        await client.request(
            request(
                "X-Forwarded-For: 6.6.6.6",
                "X-Forwarded-Proto: https",
                "X-Forwarded-Host: evil.example",
                "X-Request-Id: first-id-0001",
                "X-Request-Id: second-id-0002",
            )
        )
        seen = up.requests[0]
        assert seen.header_all("x-forwarded-for") == ["127.0.0.1"]
        assert seen.header_all("x-forwarded-proto") == ["http"]
        assert seen.header_all("x-forwarded-host") == ["public.example"]
        assert seen.header_all("x-request-id") == ["first-id-0001"]
        assert len(seen.header_all("host")) == 1


# -- response direction ------------------------------------------------------------------------


async def hop_by_hop_response(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(
        headers=[
            ("Connection", "X-Internal, X-Debug"),
            ("X-Internal", "secret"),
            ("X-Debug", "1"),
            ("Keep-Alive", "timeout=5, max=100"),
            ("Proxy-Authenticate", "Basic"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "h2c"),
            ("X-Request-Id", "upstream-made-id"),
            ("X-Public", "ok"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ],
        body=b"hello",
    )


async def test_response_hop_by_hop_headers_are_removed() -> None:
    async with setup(hop_by_hop_response) as (_, client):
        response = await client.request(request())
        assert response.status == 200
        assert response.body == b"hello"
        got = {k.lower() for k, _ in response.headers}
        for name in ("x-internal", "x-debug", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
            assert name not in got, name
        assert response.header_all("x-public") == ["ok"]
        assert response.header_all("set-cookie") == ["a=1", "b=2"]  # repeated headers stay repeated
        # the upstream's id is replaced by the gateway's
        assert response.header_all("x-request-id") != ["upstream-made-id"]
        assert len(response.header_all("x-request-id")) == 1
        assert not response.has_header("connection")  # client keep-alive is the gateway's business
        assert (await client.request(request())).status == 200


async def upstream_closes(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(body=b"bye", close=True)


async def test_upstream_connection_close_does_not_close_the_client() -> None:
    async with setup(upstream_closes) as (up, client):
        for _ in range(3):
            response = await client.request(request())
            assert response.status == 200
            assert response.body == b"bye"
            assert not response.closes
        assert up.connections == 3  # and the upstream got a fresh connection each time


# -- X-Forwarded-* -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "sent", "expected_xff", "expected_proto"),
    [
        (None, [], "127.0.0.1", "http"),
        (None, ["X-Forwarded-For: 1.2.3.4", "X-Forwarded-Proto: https"], "127.0.0.1", "http"),
        (["10.0.0.0/8"], ["X-Forwarded-For: 1.2.3.4"], "127.0.0.1", "http"),
        (["127.0.0.1/32"], [], "127.0.0.1", "http"),
        (
            ["127.0.0.0/8"],
            ["X-Forwarded-For: 1.2.3.4", "X-Forwarded-Proto: https"],
            "1.2.3.4, 127.0.0.1",
            "https",
        ),
        (
            ["127.0.0.1"],
            ["X-Forwarded-For: 1.2.3.4, 10.0.0.1", "X-Forwarded-For: 5.6.7.8"],
            "1.2.3.4, 10.0.0.1, 5.6.7.8, 127.0.0.1",
            "http",
        ),
    ],
    ids=["none", "untrusted-replaced", "other-network", "trusted-no-xff", "trusted-appended", "trusted-many"],
)
async def test_x_forwarded(
    trusted: list[str] | None, sent: list[str], expected_xff: str, expected_proto: str
) -> None:
    extra = {"trusted_proxies": trusted} if trusted is not None else {}
    async with setup(**extra) as (up, client):
        assert (await client.request(request(*sent, host="shop.example:8443"))).status == 200
        seen = up.requests[0]
        assert seen.header_all("x-forwarded-for") == [expected_xff]
        assert seen.header_all("x-forwarded-proto") == [expected_proto]
        assert seen.header_all("x-forwarded-host") == ["shop.example:8443"]


# -- request id --------------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["abcdefgh", "req-123_ABC.def:456", "a" * 64, "0123456789abcdef" * 4])
async def test_safe_client_request_id_is_kept_and_echoed(client_id: str) -> None:
    async with setup() as (up, client):
        response = await client.request(request(f"X-Request-Id: {client_id}"))
        assert response.header_all("x-request-id") == [client_id]
        assert up.requests[0].header_all("x-request-id") == [client_id]
        # and in a problem+json the gateway makes
        missing = await client.request(request(f"X-Request-Id: {client_id}", target="/../nope%2F"))
        assert missing.status == 400
        assert missing.header_all("x-request-id") == [client_id]
        assert missing.json()["request_id"] == client_id


@pytest.mark.parametrize(
    "client_id",
    [
        "short",
        "a" * 65,
        "has space inside",
        "slash/inside/id",
        "<script>x</script>",
        'quote"inside',
        "ünicode-id-1",
        "",
    ],
)
async def test_unsafe_client_request_id_is_replaced(client_id: str) -> None:
    async with setup() as (up, client):
        raw = request("X-Request-Id: PLACEHOLDER").replace(b"PLACEHOLDER", client_id.encode())
        response = await client.request(raw)
        assert response.status == 200
        new_id = response.header("x-request-id")
        assert new_id is not None and HEX_ID.match(new_id)
        assert up.requests[0].header_all("x-request-id") == [new_id]
        if client_id:
            assert all(client_id not in v for _, v in up.requests[0].headers)


async def test_generated_ids_are_unique_and_consistent() -> None:
    async with setup() as (up, client):
        ids = []
        for _ in range(20):
            response = await client.request(request())
            ids.append(response.header("x-request-id"))
        assert all(i is not None and HEX_ID.match(i) for i in ids)
        assert len(set(ids)) == 20
        assert [r.header("x-request-id") for r in up.requests] == ids
        problem = await client.request(request(target="/x%00"))
        assert problem.json()["request_id"] == problem.header("x-request-id")
        assert problem.header("x-request-id") not in ids


async def test_upgrade_header_without_an_upgrade_answer_keeps_the_connection_usable() -> None:
    """An h2c upgrade offer the upstream ignores is answered normally; the next request still works."""
    async with setup() as (up, client):
        offer = request(
            "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__"
        )
        response = await client.request(offer)
        assert response.status == 200
        assert (await client.request(request(target="/second"))).status == 200
        # and with the next request in the same write as the offer
        await client.send(offer + request(target="/third"))
        assert (await client.read_response()).status == 200
        assert (await client.read_response()).status == 200
        assert [r.target for r in up.requests] == ["/h", "/second", "/h", "/third"]


async def test_upgrade_offer_answered_by_the_gateway_keeps_the_connection_usable() -> None:
    """An upgrade offer the gateway itself answers (405: the route takes GET only) must not wedge
    the connection. (A 400 would end it: see test_strict_edge.py.)"""
    async with (
        upstream_server() as up,
        run_gateway(route_config(up.address, {"path": "/", "methods": ["GET"]})) as gw,
    ):
        client = await RawClient.connect(gw.port)
        offer = request("Connection: Upgrade", "Upgrade: websocket").replace(b"GET ", b"DELETE ", 1)
        response = await client.request(offer)
        assert response.status == 405
        assert (await client.request(request(target="/second"))).status == 200
        await client.send(offer + request(target="/third"))
        assert (await client.read_response()).status == 405
        assert (await client.read_response()).status == 200
        await client.close()
        assert [r.target for r in up.requests] == ["/second", "/third"]


async def test_proxy_request_header_is_never_forwarded() -> None:
    """httpoxy (CVE-2016-5385): a `Proxy:` header becomes HTTP_PROXY in CGI-style back ends."""
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        try:
            response = await client.request(get("/api/x", extra="Proxy: http://evil.example:3128\r\n"))
        finally:
            await client.close()
    assert response.status == 200
    assert up.requests[0].header("proxy") is None
