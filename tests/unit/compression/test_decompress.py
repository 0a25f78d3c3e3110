"""Request-body decoding: bytes in, bytes out; bombs stopped at the limit, bad streams refused."""

from __future__ import annotations

import gzip

import brotli
import pytest
import zstandard

from portway.compression.decompress import Decompression
from portway.config.compression import Decompress
from portway.contract import RequestHead
from portway.errors import ClientError

ENCODE = {
    "gzip": lambda data: gzip.compress(data, compresslevel=6),
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
BODY = b"".join(b'{"id": %d, "name": "widget %d", "tags": ["a", "b"]}\n' % (i, i * 7) for i in range(3000))
MB = 1024 * 1024


def head(*codings: str) -> RequestHead:
    headers = [(b"content-encoding", c.encode()) for c in codings]
    request = RequestHead("POST", b"/", "1.1", headers, True, False, "127.0.0.1", 1, 0.0)
    request.content_length = 10
    return request


def decoding(coding: str, **limits: object) -> Decompression:
    return Decompression(Decompress.model_validate(limits))


def feed(decompression: Decompression, coding: str, data: bytes, step: int = 4096) -> bytes:
    decoder = decompression.decoder_for(head(coding))
    assert decoder is not None
    out = b"".join(decoder.data(data[i : i + step]) for i in range(0, len(data), step))
    return out + decoder.end()


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("step", [1, 1000, 1 << 20])
def test_a_body_decodes_whatever_its_chunking(coding: str, step: int) -> None:
    assert feed(decoding(coding, max_ratio=1000), coding, ENCODE[coding](BODY), step) == BODY


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_concatenated_members_are_one_body(coding: str) -> None:
    data = ENCODE[coding](b"first ") + ENCODE[coding](b"second")
    assert feed(decoding(coding), coding, data, step=7) == b"first second"


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_bomb_is_stopped_at_the_size_limit(coding: str) -> None:
    bomb = ENCODE[coding](bytes(40 * MB))  # tens of bytes to tens of KB
    decoder = decoding(coding, max_size="4MB", max_ratio=10**9).decoder_for(head(coding))
    assert decoder is not None
    with pytest.raises(ClientError) as refused:
        for i in range(0, len(bomb), 65536):
            decoder.data(bomb[i : i + 65536])
    assert refused.value.status == 413
    assert "larger than 4194304 bytes" in refused.value.detail
    assert decoder.decoded <= 4 * MB + 2 * MB  # stopped within a step or two of the limit


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_bomb_is_stopped_at_the_ratio_limit(coding: str) -> None:
    bomb = ENCODE[coding](bytes(20 * MB))
    decoder = decoding(coding, max_size="1GB", max_ratio=100).decoder_for(head(coding))
    assert decoder is not None
    with pytest.raises(ClientError) as refused:
        decoder.data(bomb)
    assert refused.value.status == 413
    assert "more than 100 times its size" in refused.value.detail
    assert decoder.decoded <= max(64 * 1024, 100 * len(bomb)) + 2 * MB


def test_small_bodies_pass_the_ratio_check() -> None:
    """Under 64 KB decoded the ratio is not checked: a short JSON document compresses very well."""
    small = b"x" * 60_000
    assert feed(decoding("gzip", max_ratio=2), "gzip", gzip.compress(small)) == small


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_stream_that_stops_short_is_refused(coding: str) -> None:
    data = ENCODE[coding](BODY)
    decoder = decoding(coding, max_ratio=1000).decoder_for(head(coding))
    assert decoder is not None
    decoder.data(data[: len(data) // 2])
    with pytest.raises(ClientError) as refused:
        decoder.end()
    assert (refused.value.status, refused.value.detail) == (
        400,
        f"the request body ends inside its {coding} stream",
    )


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_bytes_not_in_the_coding_are_refused(coding: str) -> None:
    decoder = decoding(coding).decoder_for(head(coding))
    assert decoder is not None
    with pytest.raises(ClientError) as refused:
        decoder.data(b"this is not compressed at all, just text" * 10)
        decoder.end()
    assert refused.value.status == 400


def test_only_one_configured_coding_is_decoded() -> None:
    only_gzip = decoding("gzip", encodings=["gzip"])
    assert only_gzip.decoder_for(head("gzip")) is not None
    assert only_gzip.decoder_for(head("GZIP ")) is not None
    assert only_gzip.decoder_for(head("br")) is None  # not configured: sent on as it is
    assert only_gzip.decoder_for(head("deflate")) is None
    assert only_gzip.decoder_for(head()) is None
    assert only_gzip.decoder_for(head("gzip", "gzip")) is None  # stacked: the upstream's to judge
