"""The cache and compression on one route: compression's response hook runs first (it is last in
the chain's order), so the cache stores each encoded variant under its ``Vary: Accept-Encoding``
and a hit is served encoded without compressing again."""

from __future__ import annotations

import gzip

import zstandard
from gateway.wire import route_config

from portway.testing import UpstreamResponse, run_gateway, upstream_server

from .cache_support import Origin, fetch

TEXT = b"portway " * 512  # 4 KB of text: over compression's minimum size


async def test_each_encoding_is_a_stored_variant_and_a_hit_is_not_compressed_again() -> None:
    origin = Origin(
        lambda r, n: UpstreamResponse(
            headers=[("Cache-Control", "max-age=60"), ("Content-Type", "text/plain"), ("ETag", '"v1"')],
            body=TEXT,
        )
    )
    config = route_config("", {"path": "/", "cache": {}}, compression={})
    async with upstream_server(origin) as up:
        config["upstreams"]["svc"]["targets"] = [up.address]
        async with run_gateway(config) as gw:
            first = await fetch(gw.port, "/t", "Accept-Encoding: gzip\r\n")
            hit = await fetch(gw.port, "/t", "Accept-Encoding: gzip\r\n")
            other = await fetch(gw.port, "/t", "Accept-Encoding: zstd\r\n")
            plain = await fetch(gw.port, "/t")
            plain_hit = await fetch(gw.port, "/t")
    assert first.header("content-encoding") == "gzip" and gzip.decompress(first.body) == TEXT
    assert "accept-encoding" in (first.header("vary") or "").lower()
    assert first.header("etag") == 'W/"v1"'  # an encoded body is not byte-identical: weak
    assert (hit.header("cache-status") or "").startswith("portway; hit")
    assert hit.body == first.body and hit.header("content-encoding") == "gzip"
    assert other.header("content-encoding") == "zstd"
    assert zstandard.ZstdDecompressor().decompressobj().decompress(other.body) == TEXT
    assert plain.body == TEXT and plain.header("content-encoding") is None
    assert plain_hit.body == TEXT and (plain_hit.header("cache-status") or "").startswith("portway; hit")
    assert origin.count("/t") == 3  # one upstream request per variant: gzip, zstd, identity
