"""Response compression over real sockets: a gateway in this loop, an upstream on loopback, a raw
client that reads the encoded bytes and decodes them with Python's own decoders."""

from __future__ import annotations

import gzip
import random
from collections.abc import AsyncIterator, Callable

import brotli
import pytest
import zstandard
from compression_wire import config, connected, get
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

rng = random.Random(7)
WORDS = [b"catalog", b"order", b"price", b"user", b"stock", b"widget", b"gadget", b"42"]
PAGE = b"".join(b"<li>%s %s</li>\n" % (rng.choice(WORDS), rng.choice(WORDS)) for _ in range(5000))
JSON = b'{"items": [' + b",".join(b'{"id": %d}' % i for i in range(3000)) + b"]}"


def zstd_decode(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstd_decode,
}


async def origin(request: UpstreamRequest) -> UpstreamResponse:
    path = request.target
    html = [("Content-Type", "text/html; charset=utf-8")]
    if path == "/page":
        return UpstreamResponse(headers=[*html, ("ETag", '"p1"'), ("Vary", "Origin")], body=PAGE)
    if path == "/json":
        return UpstreamResponse(headers=[("Content-Type", "application/json")], body=JSON)
    if path == "/stream":

        async def parts() -> AsyncIterator[bytes]:
            for i in range(0, len(PAGE), 7000):
                yield PAGE[i : i + 7000]

        return UpstreamResponse(headers=html, body=parts(), chunked=True)
    if path == "/close-delimited":

        async def tail() -> AsyncIterator[bytes]:
            yield PAGE[:20000]
            yield PAGE[20000:]

        return UpstreamResponse(headers=html, body=tail(), close=True)
    if path == "/small":
        return UpstreamResponse(headers=html, body=b"<p>tiny</p>")
    if path == "/png":
        return UpstreamResponse(headers=[("Content-Type", "image/png")], body=PAGE)
    if path == "/encoded":
        return UpstreamResponse(headers=[*html, ("Content-Encoding", "gzip")], body=gzip.compress(PAGE))
    if path == "/no-transform":
        return UpstreamResponse(headers=[*html, ("Cache-Control", "no-transform")], body=PAGE)
    if path == "/partial":
        return UpstreamResponse(206, [*html, ("Content-Range", f"bytes 0-99/{len(PAGE)}")], PAGE[:100])
    if path == "/no-content":
        return UpstreamResponse(204, html)
    if path == "/not-modified":
        return UpstreamResponse(304, [*html, ("ETag", '"p1"')])
    return UpstreamResponse(404, html, b"<p>no such page</p>" * 100)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_each_coding_decodes_to_the_upstreams_bytes(coding: str) -> None:
    async with (  # one connection for all three: the framing stayed in step
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        for path, body in (("/page", PAGE), ("/json", JSON), ("/stream", PAGE)):
            response = await client.request(get(path, accept=coding))
            assert response.status == 200
            assert response.header("content-encoding") == coding
            assert response.chunked and response.header("content-length") is None
            assert len(response.body) < len(body) / 3
            assert DECODE[coding](response.body) == body


async def test_q_values_choose_the_coding() -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        cases = [
            ("gzip, deflate, br, zstd", "zstd"),
            ("gzip;q=1, br;q=0.9, zstd;q=0.8", "gzip"),
            ("br;q=0.5, *;q=0.1", "br"),
            ("zstd;q=0, br;q=0, *", "gzip"),
            ("identity;q=1, gzip;q=0.5", None),
            ("deflate", None),
            (None, None),
        ]
        for accept, expected in cases:
            response = await client.request(get("/page", accept=accept))
            assert response.header("content-encoding") == expected, accept
            assert response.header("vary") == "Origin, Accept-Encoding"
            if expected is None:
                assert response.body == PAGE
                assert response.header("etag") == '"p1"'  # the identity body keeps its strong ETag
            else:
                assert DECODE[expected](response.body) == PAGE
                assert response.header("etag") == 'W/"p1"'


async def test_the_server_preference_is_configurable() -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address, encodings=["gzip", "br"])) as gw,
        connected(gw.port) as client,
    ):
        assert (await client.request(get("/page"))).header("content-encoding") == "gzip"
        assert (await client.request(get("/page", accept="zstd"))).header("content-encoding") is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/small", 200),
        ("/png", 200),
        ("/encoded", 200),
        ("/no-transform", 200),
        ("/partial", 206),
        ("/no-content", 204),
        ("/not-modified", 304),
    ],
)
async def test_nothing_is_done_for(path: str, status: int) -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(get(path))
        assert response.status == status
        assert response.header("vary") is None
        if path == "/encoded":
            assert response.header("content-encoding") == "gzip"  # the upstream's, untouched
            assert gzip.decompress(response.body) == PAGE
        else:
            assert response.header("content-encoding") is None
        if status == 200 and path != "/encoded":
            assert response.header("content-length") == str(len(response.body))


async def test_head_gets_the_upstreams_head() -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(get("/page", method="HEAD"), head_only=True)
        assert response.status == 200
        assert response.header("content-encoding") is None
        assert response.header("content-length") == str(len(PAGE))
        assert (await client.request(get("/page"))).header("content-encoding") == "zstd"  # in step


async def test_an_error_page_is_compressed_too() -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(get("/missing", accept="gzip"))
        assert response.status == 404 and response.header("content-encoding") == "gzip"
        assert gzip.decompress(response.body) == b"<p>no such page</p>" * 100


@pytest.mark.parametrize("path", ["/page", "/close-delimited"])
async def test_http10_clients_get_a_close_delimited_body(path: str) -> None:
    async with (
        upstream_server(origin) as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(get(path, accept="gzip", version="1.0"))
        assert response.header("content-encoding") == "gzip"
        assert response.header("transfer-encoding") is None and response.header("content-length") is None
        assert gzip.decompress(response.body) == PAGE  # read to the close
        assert await client.closed_by_peer()


async def test_a_route_turns_it_off_or_changes_it() -> None:
    async with upstream_server(origin) as up:
        settings = {
            "upstreams": {"svc": {"targets": [up.address]}},
            "compression": {"encodings": ["gzip"]},
            "routes": [
                {"path": "/page", "upstream": "svc", "compression": False},
                {"path": "/json", "upstream": "svc", "compression": {"encodings": ["br"]}},
                {"path": "/", "upstream": "svc"},
            ],
        }
        async with run_gateway(settings) as gw, connected(gw.port) as client:
            off = await client.request(get("/page"))
            assert off.header("content-encoding") is None and off.header("vary") == "Origin"
            assert (await client.request(get("/json"))).header("content-encoding") == "br"
            assert (await client.request(get("/stream"))).header("content-encoding") == "gzip"


async def test_without_config_nothing_is_compressed() -> None:
    async with upstream_server(origin) as up:
        plain = {
            "upstreams": {"svc": {"targets": [up.address]}},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
        async with run_gateway(plain) as gw, connected(gw.port) as client:
            response = await client.request(get("/page"))
            assert response.header("content-encoding") is None and response.body == PAGE


async def test_a_websocket_upgrade_passes_untouched() -> None:
    """101 is never compressed: the tunnel carries the frames as they are, both ways."""

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with (
            run_gateway(config(f"http://127.0.0.1:{port}", min_size=0)) as gw,
            connect(f"ws://127.0.0.1:{gw.port}/ws", additional_headers={"Accept-Encoding": "gzip"}) as ws,
        ):
            assert ws.response is not None and ws.response.headers.get("Content-Encoding") is None
            text = PAGE[:50_000].decode()
            await ws.send(text)
            assert await ws.recv() == text
