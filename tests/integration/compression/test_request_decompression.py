"""Request bodies decoded for the upstream when configured, over real sockets: the upstream gets
the plain body (chunked, no Content-Encoding); a bomb gets 413 problem+json and the upstream never
gets a whole request; without the setting the body goes up as sent."""

from __future__ import annotations

import gzip
import json

import brotli
import pytest
import zstandard
from compression_wire import config, connected

from portway.testing import run_gateway, upstream_server

BODY = json.dumps([{"id": i, "name": f"product {i}", "tags": ["a", "b"]} for i in range(2000)]).encode()
ENCODE = {
    "gzip": lambda data: gzip.compress(data, compresslevel=6),
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def post(body: bytes, coding: str | None, chunked: bool = False) -> bytes:
    head = "POST /items HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
    if coding is not None:
        head += f"Content-Encoding: {coding}\r\n"
    if chunked:
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n%b\r\n0\r\n\r\n" % (
            len(body),
            body,
        )
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
async def test_the_upstream_gets_the_decoded_body(coding: str, chunked: bool) -> None:
    async with (
        upstream_server() as up,
        run_gateway(config(up.address, decompress={})) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(post(ENCODE[coding](BODY), coding, chunked))
        assert response.status == 200
        seen = up.requests[-1]
        assert seen.body == BODY
        assert seen.header("content-encoding") is None
        assert seen.header("content-length") is None and seen.header("transfer-encoding") == "chunked"
        assert seen.header("content-type") == "application/json"


async def test_without_the_setting_the_body_goes_up_as_sent() -> None:
    encoded = gzip.compress(BODY)
    async with (
        upstream_server() as up,
        run_gateway(config(up.address)) as gw,
        connected(gw.port) as client,
    ):
        assert (await client.request(post(encoded, "gzip"))).status == 200
        seen = up.requests[-1]
        assert seen.body == encoded and seen.header("content-encoding") == "gzip"
        assert seen.header("content-length") == str(len(encoded))


async def test_a_coding_not_configured_goes_up_as_sent() -> None:
    encoded = brotli.compress(BODY)
    settings = config("", decompress={"encodings": ["gzip"]})
    async with upstream_server() as up:
        settings["upstreams"] = {"svc": {"targets": [up.address]}}
        async with run_gateway(settings) as gw, connected(gw.port) as client:
            assert (await client.request(post(encoded, "br"))).status == 200
            assert up.requests[-1].body == encoded
            assert up.requests[-1].header("content-encoding") == "br"


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_a_bomb_is_refused_with_413_and_the_upstream_never_gets_it(coding: str) -> None:
    bomb = ENCODE[coding](bytes(64 * 1024 * 1024))
    settings = config("", decompress={"max_size": "1MB", "max_ratio": 1_000_000})
    async with upstream_server() as up:
        settings["upstreams"] = {"svc": {"targets": [up.address]}}
        async with (
            run_gateway(settings) as gw,
            connected(gw.port) as client,
        ):
            response = await client.request(post(bomb, coding))
            assert response.status == 413
            assert response.header("content-type") == "application/problem+json"
            problem = json.loads(response.body)
            assert problem["status"] == 413
            assert "larger than 1048576 bytes" in problem["detail"]
            # and the gateway serves on
            async with connected(gw.port) as again:
                assert (await again.request(post(gzip.compress(b"[]"), "gzip"))).status == 200
        assert [r.body for r in up.requests] == [b"[]"]  # the bomb never arrived whole


async def test_a_ratio_past_the_limit_is_refused() -> None:
    bomb = gzip.compress(bytes(5 * 1024 * 1024))  # about 1000:1
    async with (
        upstream_server() as up,
        run_gateway(config(up.address, decompress={})) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(post(bomb, "gzip"))
        assert response.status == 413
        assert "more than 100 times its size" in json.loads(response.body)["detail"]
    assert up.requests == []


async def test_a_body_not_in_its_coding_is_a_400() -> None:
    async with (
        upstream_server() as up,
        run_gateway(config(up.address, decompress={})) as gw,
        connected(gw.port) as client,
    ):
        response = await client.request(post(b"plain text, not gzip at all", "gzip"))
        assert response.status == 400
        assert json.loads(response.body)["detail"] == "the request body is not valid gzip"
        truncated = gzip.compress(BODY)[:-20]
        async with connected(gw.port) as again:
            response = await again.request(post(truncated, "gzip"))
            assert response.status == 400
            assert "ends inside its gzip stream" in json.loads(response.body)["detail"]
    assert up.requests == []
