"""The response cache over real sockets: a gateway in front of a counting origin. Staleness is made
with the origin's ``Age`` header (a response older than its lifetime on arrival), never by sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

from gateway.wire import wait_for

from portway import cache
from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .cache_support import Origin, RawClient, cached_config, fetch, get


def body_of(request: UpstreamRequest, n: int) -> bytes:
    return f"{request.target} #{n}".encode()


@contextlib.asynccontextmanager
async def gateway(origin: Origin, rule: dict[str, Any] | None = None) -> AsyncIterator[int]:
    async with upstream_server(origin) as up, run_gateway(cached_config(up.address, rule)) as gw:
        yield gw.port


async def test_a_fresh_response_is_served_from_the_cache_with_age_and_cache_status() -> None:
    origin = Origin(
        lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=body_of(r, n))
    )
    async with gateway(origin) as port:
        first = await fetch(port, "/a")
        assert first.body == b"/a #1"
        assert first.header("cache-status") == "portway; fwd=uri-miss; fwd-status=200; stored"
        second = await fetch(port, "/a")
        assert second.body == b"/a #1" and origin.count("/a") == 1
        status = second.header("cache-status") or ""
        assert status.startswith("portway; hit; ttl=") and 58 <= int(status.rpartition("=")[2]) <= 60
        assert second.header("age") in ("0", "1")
        assert (await fetch(port, "/a?x=1")).body == b"/a?x=1 #1"  # the query is part of the key
        head = await fetch(port, "/a", method="HEAD")
        assert head.status == 200 and head.header("content-length") == "5" and origin.count("/a") == 1


async def test_what_may_not_be_stored_is_not() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        cc = {"/private": "private, max-age=60", "/no-store": "no-store", "/public": "public, max-age=60"}
        return UpstreamResponse(headers=[("Cache-Control", cc.get(request.target, "max-age=60"))], body=b"x")

    origin = Origin(reply)
    async with gateway(origin) as port:
        for path in ("/private", "/no-store"):
            await fetch(port, path)
            again = await fetch(port, path)
            assert origin.count(path) == 2
            assert f"detail={path[1:]}" in (again.header("cache-status") or "")
        # With credentials only what the response explicitly shares (RFC 9111 §3.5).
        auth = "Authorization: Bearer t\r\n"
        await fetch(port, "/auth", auth)
        refused = await fetch(port, "/auth", auth)
        assert origin.count("/auth") == 2 and "detail=authorization" in (refused.header("cache-status") or "")
        await fetch(port, "/public", auth)
        assert (await fetch(port, "/public", auth)).body == b"x" and origin.count("/public") == 1


async def test_revalidation_merges_the_304_into_the_stored_response() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        if request.header("if-none-match") == '"v1"':
            return UpstreamResponse(
                304, [("ETag", '"v1"'), ("Cache-Control", "max-age=60"), ("X-Version", str(n))]
            )
        headers = [("ETag", '"v1"'), ("Cache-Control", "max-age=0"), ("X-Version", "1")]
        return UpstreamResponse(headers=[*headers, ("Content-Type", "text/plain")], body=b"the body")

    origin = Origin(reply)
    async with gateway(origin) as port:
        assert (await fetch(port, "/r")).header("x-version") == "1"
        # stale at once (max-age=0): sent upstream with our validator, the client's own held back
        again = await fetch(port, "/r", 'If-None-Match: "other"\r\n')
        sent = origin.requests[-1]
        assert sent.header("if-none-match") == '"v1"'
        assert (again.status, again.body, again.header("x-version")) == (200, b"the body", "2")
        assert again.header("content-type") == "text/plain"
        assert again.header("cache-status") == "portway; fwd=stale; fwd-status=304"
        # the merged headers made it fresh for 60s: a hit, and the client's matching validator a 304
        third = await fetch(port, "/r")
        assert (third.body, third.header("x-version"), origin.count("/r")) == (b"the body", "2", 2)
        conditional = await fetch(port, "/r", 'If-None-Match: W/"v1"\r\n')
        assert conditional.status == 304 and conditional.body == b"" and origin.count("/r") == 2


async def test_vary_keeps_one_variant_per_request_value() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        language = request.header("accept-language") or "none"
        headers = [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")]
        return UpstreamResponse(headers=headers, body=f"{language} #{n}".encode())

    origin = Origin(reply)
    async with gateway(origin) as port:
        assert (await fetch(port, "/v", "Accept-Language: en\r\n")).body == b"en #1"
        missed = await fetch(port, "/v", "Accept-Language: fr\r\n")
        assert missed.body == b"fr #2" and "fwd=vary-miss" in (missed.header("cache-status") or "")
        assert (await fetch(port, "/v", "Accept-Language: en\r\n")).body == b"en #1"
        assert (await fetch(port, "/v", "Accept-Language: fr\r\n")).body == b"fr #2"
        assert (await fetch(port, "/v")).body == b"none #3"
        assert origin.count("/v") == 3


async def test_stale_while_revalidate_serves_stale_and_revalidates_once_in_the_background() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        if request.header("if-none-match") == '"v1"':
            return UpstreamResponse(304, [("ETag", '"v1"'), ("Cache-Control", "max-age=600"), ("Age", "0")])
        cc = "max-age=1, stale-while-revalidate=600"
        return UpstreamResponse(headers=[("Cache-Control", cc), ("Age", "30"), ("ETag", '"v1"')], body=b"old")

    origin = Origin(reply)
    async with gateway(origin) as port:
        await fetch(port, "/s")
        origin.release.clear()  # hold the background revalidation until the stale answers are in
        stale = [await fetch(port, "/s") for _ in range(3)]
        assert {r.body for r in stale} == {b"old"}
        assert all("hit; ttl=-" in (r.header("cache-status") or "") for r in stale)
        await wait_for(lambda: origin.count("/s") == 2)  # one background request for three stale hits
        origin.release.set()
        revalidation = origin.requests[-1]
        assert revalidation.header("if-none-match") == '"v1"'

        async def refreshed() -> bool:  # the merged 304 said max-age=600
            status = (await fetch(port, "/s")).header("cache-status") or ""
            found = re.match(r"portway; hit; ttl=(\d+)$", status)
            return found is not None and int(found.group(1)) > 500

        async with asyncio.timeout(5):
            while not await refreshed():  # noqa: ASYNC110 - the store is written when the 304 lands
                await asyncio.sleep(0.01)
        assert origin.count("/s") == 2


async def test_stale_if_error_serves_the_stored_response_while_the_upstream_fails_or_is_down() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        if n > 1 and request.target == "/error":
            return UpstreamResponse(503, body=b"down", close=True)
        cc = "max-age=1, must-revalidate" if request.target == "/strict" else "max-age=1, stale-if-error=600"
        # Connection: close, so that no pooled connection outlives the upstream below
        return UpstreamResponse(headers=[("Cache-Control", cc), ("Age", "30")], body=b"stored", close=True)

    origin = Origin(reply)
    upstream = upstream_server(origin)
    up = await upstream.__aenter__()
    try:
        async with run_gateway(cached_config(up.address)) as gw:
            for path in ("/down", "/error", "/strict"):
                assert (await fetch(gw.port, path)).body == b"stored"
            answered = await fetch(gw.port, "/error")  # the upstream answers 503
            assert (answered.status, answered.body) == (200, b"stored")
            assert "fwd-status=503; detail=stale-if-error" in (answered.header("cache-status") or "")
            await upstream.__aexit__(None, None, None)  # the upstream is gone; the gateway stays
            down = await fetch(gw.port, "/down")
            assert (down.status, down.body) == (200, b"stored")
            assert "detail=stale-if-error" in (down.header("cache-status") or "")
            strict = await fetch(gw.port, "/strict")  # must-revalidate: never stale, the error shows
            assert strict.status == 502 and strict.header("content-type") == "application/problem+json"
    finally:
        await upstream.__aexit__(None, None, None)


async def test_fifty_concurrent_misses_make_one_upstream_request() -> None:
    origin = Origin(lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=b"once"))
    origin.release.clear()
    async with upstream_server(origin) as up, run_gateway(cached_config(up.address)) as gw:
        inflight = gw.gateway.policy_state.cache().inflight
        clients = [await RawClient.connect(gw.port) for _ in range(50)]
        for client in clients:
            await client.send(get("/c"))
        await wait_for(lambda: inflight.waiting == 49 and origin.count("/c") == 1)
        origin.release.set()
        responses = [await client.read_response() for client in clients]
        for client in clients:
            await client.close()
        assert {r.body for r in responses} == {b"once"} and origin.count("/c") == 1
        statuses = sorted(r.header("cache-status") or "" for r in responses)
        assert sum("detail=collapsed" in s for s in statuses) == 49
        assert cache.stats(gw.gateway)["collapsed"] == 49


async def test_an_unsafe_method_invalidates_its_uri_and_same_origin_locations() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        if request.method == "POST":
            return UpstreamResponse(
                201, [("Location", "/items/2"), ("Content-Location", "http://evil/items/3")]
            )
        if request.method == "DELETE":
            return UpstreamResponse(500)
        return UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=body_of(request, n))

    origin = Origin(reply)
    async with gateway(origin) as port:
        for path in ("/items", "/items/2"):
            await fetch(port, path)
            assert (await fetch(port, path)).body == f"{path} #1".encode()
        posted = await fetch(port, "/items", "Content-Length: 0\r\n", method="POST")
        assert posted.status == 201
        assert (await fetch(port, "/items")).body == b"/items #2"
        assert (await fetch(port, "/items/2")).body == b"/items/2 #2"
        await fetch(port, "/items", "Content-Length: 0\r\n", method="DELETE")  # an error invalidates nothing
        assert (await fetch(port, "/items")).body == b"/items #2"


async def test_ten_thousand_keys_stay_under_the_memory_bound() -> None:
    body = b"x" * 1024
    origin = Origin(lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=600")], body=body))
    bound = 256 * 1024
    async with upstream_server(origin) as up:
        config = cached_config(up.address, defaults={"store": {"max_bytes": bound}, "max_object": "64KB"})
        async with run_gateway(config) as gw:
            client = await RawClient.connect(gw.port)
            for i in range(10_000):
                assert (await client.request(get(f"/k/{i}"))).status == 200
            figures = cache.stats(gw.gateway)
            newest = await client.request(get("/k/9999"))
            oldest = await client.request(get("/k/0"))
            await client.close()
    assert figures["bytes"] <= bound
    # each entry costs its 1KB body, its headers and the fixed overhead: about 200 fit
    assert 150 < figures["entries"] < 256 and figures["evictions"] == 10_000 - figures["entries"]
    assert "hit" in (newest.header("cache-status") or "")
    assert "fwd=uri-miss" in (oldest.header("cache-status") or "")


async def test_purge_by_key_and_by_prefix() -> None:
    origin = Origin(
        lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=body_of(r, n))
    )
    async with upstream_server(origin) as up, run_gateway(cached_config(up.address)) as gw:
        for path in ("/p/1", "/p/2", "/q"):
            await fetch(gw.port, path)
        assert await cache.purge(gw.gateway, key="gw/q") == 1
        assert await cache.purge(gw.gateway, prefix="gw/p/") == 2
        for path in ("/p/1", "/p/2", "/q"):
            assert (await fetch(gw.port, path)).body == f"{path} #2".encode()


async def test_request_directives() -> None:
    origin = Origin(
        lambda r, n: UpstreamResponse(
            headers=[("Cache-Control", "max-age=60"), ("Age", "20")], body=body_of(r, n)
        )
    )
    async with gateway(origin) as port:
        only = await fetch(port, "/d", "Cache-Control: only-if-cached\r\n")
        assert only.status == 504 and origin.count("/d") == 0
        await fetch(port, "/d")
        assert (await fetch(port, "/d", "Cache-Control: only-if-cached\r\n")).body == b"/d #1"
        assert (await fetch(port, "/d", "Cache-Control: max-age=10\r\n")).body == b"/d #2"  # too old for it
        assert (await fetch(port, "/d", "Cache-Control: min-fresh=50\r\n")).body == b"/d #3"
        assert (await fetch(port, "/d", "Cache-Control: no-cache\r\n")).body == b"/d #4"
        assert (await fetch(port, "/d", "Pragma: no-cache\r\n")).body == b"/d #4"  # deprecated, ignored
        assert origin.requests[-1].header("surrogate-capability") == 'portway="Surrogate/1.0"'


async def test_a_body_over_max_object_streams_through_uncached() -> None:
    big = b"y" * 200_000

    async def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(0, len(big), 50_000):
                yield big[i : i + 50_000]

        return UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=parts(), chunked=True)

    origin = Origin(reply)
    async with gateway(origin, {"max_object": "64KB"}) as port:
        for _ in range(2):
            assert (await fetch(port, "/big")).body == big
        assert origin.count("/big") == 2


async def test_key_headers_and_ranges_from_a_stored_response() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        tenant = request.header("x-tenant") or "-"
        return UpstreamResponse(
            headers=[("Cache-Control", "max-age=60")], body=f"{tenant}:0123456789".encode()
        )

    origin = Origin(reply)
    async with gateway(origin, {"key_headers": ["X-Tenant"]}) as port:
        assert (await fetch(port, "/t", "X-Tenant: a\r\n")).body == b"a:0123456789"
        assert (await fetch(port, "/t", "X-Tenant: b\r\n")).body == b"b:0123456789"
        assert (await fetch(port, "/t", "X-Tenant: a\r\n")).body == b"a:0123456789"
        assert origin.count("/t") == 2
        part = await fetch(port, "/t", "X-Tenant: a\r\nRange: bytes=2-5\r\n")
        assert (part.status, part.body, part.header("content-range")) == (206, b"0123", "bytes 2-5/12")
        beyond = await fetch(port, "/t", "X-Tenant: a\r\nRange: bytes=50-\r\n")
        assert beyond.status == 416 and beyond.header("content-range") == "bytes */12"
        assert origin.count("/t") == 2


async def test_fields_named_by_no_cache_or_private_are_withheld_the_rest_is_reused() -> None:
    def reply(request: UpstreamRequest, n: int) -> UpstreamResponse:
        headers = [
            ("Cache-Control", 'no-cache="A", private="B", max-age=60'),
            ("A", "1"),
            ("B", "2"),
            ("C", "3"),
        ]
        return UpstreamResponse(headers=headers, body=body_of(request, n))

    origin = Origin(reply)
    async with gateway(origin) as port:
        first = await fetch(port, "/w")
        assert (first.header("a"), first.header("b"), first.header("c")) == ("1", "2", "3")
        hit = await fetch(port, "/w")
        assert hit.body == b"/w #1" and origin.count("/w") == 1
        assert (hit.header("a"), hit.header("b"), hit.header("c")) == (None, None, "3")


async def test_followers_go_on_when_the_leaders_client_goes() -> None:
    origin = Origin(lambda r, n: UpstreamResponse(headers=[("Cache-Control", "max-age=60")], body=b"late"))
    origin.release.clear()
    async with (
        upstream_server(origin) as up,
        run_gateway(cached_config(up.address, {"collapse_wait": "60s"})) as gw,
    ):
        inflight = gw.gateway.policy_state.cache().inflight
        leader = await RawClient.connect(gw.port)
        await leader.send(get("/gone"))
        await wait_for(lambda: origin.count("/gone") == 1)
        followers = [await RawClient.connect(gw.port) for _ in range(3)]
        for client in followers:
            await client.send(get("/gone"))
        await wait_for(lambda: inflight.waiting == 3)
        # the leader's client resets its connection (a FIN alone may be a half-close, and the
        # server keeps answering it): the gateway hears of it at once
        raw = leader.writer.get_extra_info("socket")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        leader.writer.transport.abort()
        # released at once, not after the 60 s wait: each goes upstream itself
        await wait_for(lambda: inflight.waiting == 0 and origin.count("/gone") == 4)
        origin.release.set()
        responses = [await client.read_response() for client in followers]
        for client in followers:
            await client.close()
        assert {r.body for r in responses} == {b"late"}
