"""The response-hook seam (policies/base.py): a hook may edit the reply's status and headers and
return a body filter the body streams through. Tested with small policies added to the chain's
order table, over real sockets, as the cache and compression policies use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from portway.config.models import GatewayConfig, Route
from portway.policies import chain
from portway.policies.base import BodyFilter, Context, Policy, PolicyResult, Reply
from portway.policies.chain import SharedPolicyState
from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .wire import RawClient, get, route_config


class Upper:
    """Uppercases the body, which changes nothing of its length but proves every byte passed."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def data(self, chunk: bytes) -> bytes:
        return chunk.upper()

    def end(self) -> bytes:
        self.log.append("upper end")
        return b""

    def abort(self) -> None:
        self.log.append("upper abort")


class Bracket:
    """Holds everything back and sends it at the end between brackets: a length-changing filter
    whose data() returns nothing, as a compressor's does while it fills a block."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.kept: list[bytes] = []

    def data(self, chunk: bytes) -> bytes:
        self.kept.append(chunk)
        return b""

    def end(self) -> bytes:
        self.log.append("bracket end")
        return b"[" + b"".join(self.kept) + b"]"

    def abort(self) -> None:
        self.log.append("bracket abort")


class Failing:
    def data(self, chunk: bytes) -> bytes:
        raise RuntimeError("filter bug")

    def end(self) -> bytes:
        return b""

    def abort(self) -> None:
        pass


class Seam:
    """A test policy: the request's ``x-filter`` header names the filters its response gets."""

    name = "seam"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def request(self, ctx: Context) -> PolicyResult:
        return None

    def response(self, ctx: Context, reply: Reply) -> BodyFilter | None:
        wanted = (ctx.head.header(b"x-filter") or b"").decode()
        if wanted == "stored" and reply.status == 304:  # what a cache does with a validated entry
            reply.status, reply.reason = 200, b"OK"
            reply.headers = [(b"content-length", b"6"), (b"x-from", b"store")]
            return _Stored(b"stored")
        if wanted == "upper":
            return Upper(self.log)
        if wanted == "bracket":
            reply.headers = [(n, v) for n, v in reply.headers if n.lower() != b"content-length"]
            return Bracket(self.log)
        if wanted == "fail":
            return Failing()
        return None


class Second(Seam):
    """A second policy so that two filters chain: its hook runs first (response hooks run in
    reverse order), so the body is uppercased before it is bracketed."""

    def response(self, ctx: Context, reply: Reply) -> BodyFilter | None:
        if ctx.head.header(b"x-filter") == b"both":
            return Upper(self.log)
        return None


class Outer(Seam):
    def response(self, ctx: Context, reply: Reply) -> BodyFilter | None:
        if ctx.head.header(b"x-filter") == b"both":
            reply.headers = [(n, v) for n, v in reply.headers if n.lower() != b"content-length"]
            return Bracket(self.log)
        return super().response(ctx, reply)


class _Stored:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def data(self, chunk: bytes) -> bytes:
        return b""  # the 304 has no body; the stored one replaces it

    def end(self) -> bytes:
        return self.body

    def abort(self) -> None:
        pass


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    events: list[str] = []

    def outer(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy:
        return Outer(events)

    def second(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy:
        return Second(events)

    monkeypatch.setattr(chain, "ORDER", (*chain.ORDER, ("outer", outer), ("second", second)))
    yield events


async def origin(request: UpstreamRequest) -> UpstreamResponse:
    if request.target == "/validated":
        return UpstreamResponse(304, [("ETag", '"v1"')])
    if request.target == "/short":  # says 100 bytes, sends 5 and closes: a body that fails midway
        return UpstreamResponse(headers=[("Content-Length", "100")], body=b"hello", close=True)
    if request.target == "/stream":

        async def parts() -> AsyncIterator[bytes]:
            for part in (b"one ", b"two ", b"three"):
                yield part

        return UpstreamResponse(body=parts(), chunked=True)
    return UpstreamResponse(headers=[("Content-Type", "text/plain")], body=b"hello world")


def _get(path: str, wanted: str, version: str = "1.1") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: gw\r\nX-Filter: {wanted}\r\n\r\n".encode()


async def test_a_filter_sees_every_byte_and_keeps_the_framing(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        plain = await client.request(_get("/", "upper"))
        assert (plain.status, plain.body, plain.header("content-length")) == (200, b"HELLO WORLD", "11")
        streamed = await client.request(_get("/stream", "upper"))
        assert streamed.chunked and streamed.body == b"ONE TWO THREE"
        assert log == ["upper end", "upper end"]
        assert (await client.request(get("/"))).body == b"hello world"  # no filter asked, none run
        await client.close()


async def test_a_length_changing_filter_is_rechunked_or_close_delimited(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(_get("/", "bracket"))
        assert response.chunked and not response.has_header("content-length")
        assert response.body == b"[hello world]"
        assert not response.closes  # re-chunked, so the connection is kept
        await client.close()

        old = await RawClient.connect(gw.port)
        response = await old.request(_get("/", "bracket", version="1.0"))
        assert response.body == b"[hello world]" and not response.chunked  # ends at the close
        assert await old.closed_by_peer()
        await old.close()


async def test_filters_chain_in_hook_order(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(_get("/stream", "both"))
        assert response.body == b"[ONE TWO THREE]"
        assert log == ["upper end", "bracket end"]
        await client.close()


async def test_a_hook_may_turn_a_304_into_a_stored_200(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(_get("/validated", "stored"))
        assert (response.status, response.body, response.header("x-from")) == (200, b"stored", "store")
        assert (await client.request(_get("/validated", "none"))).status == 304  # and on, kept alive
        await client.close()


async def test_a_body_that_fails_midway_aborts_its_filter(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(_get("/short", "bracket"))
        head = await client.read_head()
        assert head.status == 200
        assert await client.closed_by_peer()
        assert log == ["bracket abort"]
        await client.close()


async def test_a_failing_filter_aborts_that_response_only(log: list[str]) -> None:
    async with upstream_server(origin) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(_get("/", "fail"))
        assert await client.closed_by_peer()
        await client.close()
        again = await RawClient.connect(gw.port)
        assert (await again.request(get("/"))).body == b"hello world"
        await again.close()
