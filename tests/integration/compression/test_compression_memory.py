"""A 100 MB response compressed on its way through a gateway process: the client decodes it
piece by piece to the same bytes, and the gateway's peak RSS hardly moves (never the whole body)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zstandard
from compression_wire import config, connected, get, memory_kb

from portway.testing import UpstreamRequest, UpstreamResponse, gateway_process, upstream_server

MB = 1024 * 1024
SIZE = 100 * MB


def _base() -> bytes:
    line = b"GET /api/products/%d 200 user=%d\n"
    out = bytearray()
    n = 0
    while len(out) < MB:
        out += line % ((n * 7919) % 100_000, n)
        n += 1
    return bytes(out[:MB])


BASE = _base()


def block(i: int) -> bytes:
    """1 MB of log-like text, numbered so that no two blocks are the same."""
    return b"%08d" % i + BASE[8:]


async def download(request: UpstreamRequest) -> UpstreamResponse:
    if request.target != "/download":
        return UpstreamResponse(headers=[("Content-Type", "text/plain")], body=b"ok")

    async def body() -> AsyncIterator[bytes]:
        for i in range(SIZE // MB):
            yield block(i)

    return UpstreamResponse(
        headers=[("Content-Type", "text/plain"), ("Content-Length", str(SIZE))], body=body()
    )


@pytest.mark.timeout(150)
@pytest.mark.parametrize("coding", ["zstd", "gzip"])
async def test_100mb_compressed_in_constant_memory(coding: str, tmp_path: Path) -> None:
    expected = hashlib.sha256()
    for i in range(SIZE // MB):
        expected.update(block(i))
    async with (
        upstream_server(download, keep_body=False) as up,
        gateway_process(config(up.address), tmp_path) as gw,
    ):
        async with connected(gw.port) as client:
            assert (await client.request(get("/warm-up"))).status == 200
            before = memory_kb(gw.pid)["VmRSS"]

            await client.send(get("/download", accept=coding))
            response = await client.head(within=10)
            assert response.header("content-encoding") == coding
            decoder = (
                zstandard.ZstdDecompressor().decompressobj()
                if coding == "zstd"
                else zlib.decompressobj(16 + zlib.MAX_WBITS)
            )
            got = hashlib.sha256()
            received = decoded = 0
            async for piece in client.pieces(response, within=120):
                received += len(piece)
                plain = decoder.decompress(piece)
                decoded += len(plain)
                got.update(plain)
            assert decoded == SIZE and got.hexdigest() == expected.hexdigest()
            assert received < SIZE / 4
            assert (await client.request(get("/after"))).status == 200  # still in step

        growth_mb = (memory_kb(gw.pid)["VmHWM"] - before) / 1024
        assert growth_mb < 50, f"gateway RSS grew {growth_mb:.1f} MB compressing 100 MB"
