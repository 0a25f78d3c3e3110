"""Bodies stream both ways: 200 MB through a gateway process whose RSS stays flat, chunked requests
forwarded chunked, close-delimited bodies re-framed for the client's version, HEAD/204/304 framing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .wire import RawClient, gateway_process, get, memory_kb, route_config

MB = 1024 * 1024
BIG = 200 * MB
CHUNK = b"\xa5" * MB


async def big_download(request: UpstreamRequest) -> UpstreamResponse:
    if request.target != "/download":
        return UpstreamResponse(body=b"ok")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(BIG // MB):
            yield CHUNK

    return UpstreamResponse(headers=[("Content-Length", str(BIG))], body=body())


@pytest.mark.timeout(90)
async def test_200mb_each_way_through_a_gateway_process_in_constant_memory(tmp_path: Path) -> None:
    async with upstream_server(big_download, keep_body=False) as up:
        config = route_config(up.address, limits={"max_body": "1GB"})
        async with gateway_process(config, tmp_path) as gw:
            client = await RawClient.connect(gw.port)
            assert (await client.request(get("/warm-up"))).status == 200
            before = memory_kb(gw.pid)["VmRSS"]

            # upload: 200 MB with Content-Length, written as fast as the gateway takes it
            await client.send(b"PUT /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n" % BIG)
            for _ in range(BIG // MB):
                await client.send(CHUNK)
            response = await client.read_response(within=60)
            assert response.status == 200
            assert up.requests[-1].body_size == BIG

            # download: 200 MB, read in pieces and dropped
            await client.send(get("/download"))
            head = await client.read_head(within=10)
            assert head.status == 200
            assert head.header("content-length") == str(BIG)
            received = 0
            async with asyncio.timeout(60):
                while received < BIG:
                    data = await client.reader.read(MB)
                    assert data, "connection closed early"
                    received += len(data)
            assert received == BIG
            assert (await client.request(get("/after"))).status == 200  # still in step
            await client.close()

            peak = memory_kb(gw.pid)["VmHWM"]
            growth_mb = (peak - before) / 1024
            assert growth_mb < 50, f"gateway RSS grew {growth_mb:.1f} MB moving 400 MB"


async def test_slow_reader_download_is_held_back_not_buffered() -> None:
    """Backpressure in process: with a client that stops reading, the gateway stops reading the
    upstream instead of buffering the body (the upstream's writes stall)."""
    produced = 0
    stalled = asyncio.Event()

    async def endless(request: UpstreamRequest) -> UpstreamResponse:
        async def body() -> AsyncIterator[bytes]:
            nonlocal produced
            while produced < 64 * MB:
                produced += len(CHUNK)
                yield CHUNK
            stalled.set()

        return UpstreamResponse(body=body(), chunked=True)

    async with upstream_server(endless) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(get("/"))
        assert (await client.read_head()).status == 200
        # the client reads nothing more; give the pipeline time to fill every buffer on the way
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await stalled.wait()
        assert not stalled.is_set()
        assert produced < 32 * MB, f"{produced / MB:.0f} MB produced for a client that reads nothing"
        await client.close()


async def test_chunked_request_is_forwarded_chunked() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(b"POST /c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
        await client.send(b"5\r\nhello\r\n")
        await client.send(b"1;ext=1\r\n \r\n6\r\nworld!\r\n")
        response = await client.request(b"0\r\n\r\n")
        assert response.status == 200
        await client.close()
        seen = up.requests[0]
        assert seen.header_all("transfer-encoding") == ["chunked"]
        assert seen.header("content-length") is None
        assert seen.body == b"hello world!"


async def test_chunked_request_with_trailers() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        head = b"POST /c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
        data = head + b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
        assert (await client.request(data)).status == 200
        assert (await client.request(get("/next"))).status == 200  # framing stayed in step
        await client.close()
        assert up.requests[0].body == b"abc"
        assert [r.target for r in up.requests] == ["/c", "/next"]


def close_delimited(request: UpstreamRequest) -> UpstreamResponse:
    async def body() -> AsyncIterator[bytes]:
        for part in (b"close-", b"delimited ", b"body"):
            yield part

    return UpstreamResponse(body=body(), chunked=False, close=True)


async def close_delimited_handler(request: UpstreamRequest) -> UpstreamResponse:
    return close_delimited(request)


async def chunked_handler(request: UpstreamRequest) -> UpstreamResponse:
    async def body() -> AsyncIterator[bytes]:
        for part in (b"close-", b"delimited ", b"body"):
            yield part

    return UpstreamResponse(body=body(), chunked=True)


@pytest.mark.parametrize(
    "handler", [close_delimited_handler, chunked_handler], ids=["close-delimited", "chunked"]
)
async def test_unsized_body_is_rechunked_for_http11(handler: object) -> None:
    async with upstream_server(handler) as up, run_gateway(route_config(up.address)) as gw:  # type: ignore[arg-type]
        client = await RawClient.connect(gw.port)
        for _ in range(2):  # and the client connection is kept alive
            response = await client.request(get("/"))
            assert response.status == 200
            assert response.chunked
            assert not response.closes
            assert response.body == b"close-delimited body"
        await client.close()


@pytest.mark.parametrize(
    "handler", [close_delimited_handler, chunked_handler], ids=["close-delimited", "chunked"]
)
async def test_unsized_body_is_close_delimited_for_http10(handler: object) -> None:
    async with upstream_server(handler) as up, run_gateway(route_config(up.address)) as gw:  # type: ignore[arg-type]
        client = await RawClient.connect(gw.port)
        response = await client.request(b"GET / HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n")
        assert response.status == 200
        assert not response.has_header("transfer-encoding")
        assert response.closes
        assert response.body == b"close-delimited body"  # read to EOF
        await client.close()


async def test_http10_client_with_sized_body_is_served() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(b"GET /ten HTTP/1.0\r\n\r\n")
        assert response.status == 200
        assert response.json()["target"] == "/ten"
        assert await client.closed_by_peer()  # 1.0 without keep-alive: closed after the response
        await client.close()


async def head_handler(request: UpstreamRequest) -> UpstreamResponse:
    if request.target == "/chunked":

        async def never_sent() -> AsyncIterator[bytes]:
            yield b"a HEAD response has no body"

        return UpstreamResponse(body=never_sent(), chunked=True)
    return UpstreamResponse(body=b"x" * 1000)  # the harness sends no body to a HEAD


async def test_head_has_no_body_and_keep_alive_goes_on() -> None:
    async with upstream_server(head_handler) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        for target in ("/sized", "/chunked", "/sized"):
            response = await client.request(
                f"HEAD {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode(), head_only=True
            )
            assert response.status == 200
        first = await client.request(b"HEAD /sized HTTP/1.1\r\nHost: gw\r\n\r\n", head_only=True)
        assert first.header("content-length") == "1000"  # the length a GET would have
        # no body bytes followed any HEAD response: the next response parses cleanly
        after = await client.request(get("/x"))
        assert (after.status, after.body) == (200, b"x" * 1000)
        await client.close()
        assert [r.method for r in up.requests] == ["HEAD"] * 4 + ["GET"]
        assert up.connections == 1


async def no_body_statuses(request: UpstreamRequest) -> UpstreamResponse:
    if request.target == "/204":
        return UpstreamResponse(status=204, headers=[("Content-Length", "0")])
    if request.target == "/304":
        # a 304 may carry the Content-Length of the representation it stands for, with no body
        return UpstreamResponse(status=304, headers=[("ETag", '"v1"'), ("Content-Length", "1234")])
    return UpstreamResponse(body=b"plain")


@pytest.mark.parametrize("status", [204, 304])
async def test_204_and_304_have_no_body(status: int) -> None:
    async with upstream_server(no_body_statuses) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        for _ in range(2):
            await client.send(get(f"/{status}"))
            response = await client.read_head()
            assert response.status == status
            assert not response.chunked
            if status == 304:
                assert response.header("etag") == '"v1"'
        after = await client.request(get("/plain"))
        assert (after.status, after.body) == (200, b"plain")
        await client.close()
        assert up.connections == 1
