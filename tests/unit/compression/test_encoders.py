"""Each streaming compressor decodes to the original bytes with Python's own decoders, and each
chunk is flushed: the bytes out so far decode to the bytes in so far (what makes streaming work)."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard

from portway.compression.encoders import encoding


def text(size: int, seed: int = 1) -> bytes:
    """Compressible but not trivial: JSON-ish lines of random words."""
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"order", b"price", b"stock", b"user"]
    out = bytearray()
    while len(out) < size:
        out += b'{"%s": %d, "%s": "%s"}\n' % (
            rng.choice(words),
            rng.randrange(10**6),
            rng.choice(words),
            rng.choice(words),
        )
    return bytes(out[:size])


def zstd_decode(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstd_decode,
}


class Prefix:
    """An incremental decoder of each coding, to read what has been flushed so far."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "gzip":
            self.z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "br":
            self.b = brotli.Decompressor()
        else:
            self.s = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.name == "gzip":
            return self.z.decompress(data)
        if self.name == "br":
            return self.b.process(data)
        return self.s.decompress(data)


@pytest.mark.parametrize("name", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("level", ["low", "high"])
def test_round_trip_through_the_standard_decoder(name: str, level: str) -> None:
    low, high = {"gzip": (1, 9), "br": (0, 11), "zstd": (1, 19)}[name]
    body = text(300_000)
    encoder = encoding(name, low if level == "low" else high).new()
    out = b"".join(encoder.data(body[i : i + 16_384]) for i in range(0, len(body), 16_384))
    out += encoder.end()
    assert DECODERS[name](out) == body
    assert len(out) < len(body) / 3


@pytest.mark.parametrize("name", ["gzip", "br", "zstd"])
def test_every_chunk_is_flushed(name: str) -> None:
    encoder = encoding(name, 3).new()
    reader = Prefix(name)
    sent = b""
    for part in (b"data: one\n\n", b"data: two\n\n", text(5000, seed=2)):
        sent += part
        out = encoder.data(part)
        assert out, "a flushed chunk always yields bytes"
        assert reader.feed(out) == part  # everything sent so far can be decoded now
    reader.feed(encoder.end())


@pytest.mark.parametrize("name", ["gzip", "br", "zstd"])
def test_an_empty_body_is_a_valid_stream(name: str) -> None:
    assert DECODERS[name](encoding(name, 1).new().end()) == b""


@pytest.mark.parametrize(
    ("name", "level"), [("gzip", 0), ("gzip", 10), ("br", 12), ("zstd", 20), ("zstd", 0)]
)
def test_levels_outside_the_range_are_refused(name: str, level: int) -> None:
    with pytest.raises(ValueError, match=f"{name} level must be from"):
        encoding(name, level)


def test_zstd_streams_are_independent() -> None:
    """Two responses compressed at once must not share a zstd context."""
    compiled = encoding("zstd", 3)
    first, second = compiled.new(), compiled.new()
    a, b = text(50_000, seed=3), text(50_000, seed=4)
    out_a = first.data(a[:25_000])
    out_b = second.data(b[:25_000])
    out_a += first.data(a[25_000:]) + first.end()
    out_b += second.data(b[25_000:]) + second.end()
    assert (zstd_decode(out_a), zstd_decode(out_b)) == (a, b)


def test_zstd_window_stays_within_what_http_clients_must_decode() -> None:
    """RFC 9659: 8 MB; a decoder limited to it accepts the highest level's output."""
    encoder = encoding("zstd", 19).new()
    body = text(200_000)
    out = encoder.data(body) + encoder.end()
    params = zstandard.get_frame_parameters(out)
    assert params.window_size <= 8 * 1024 * 1024
    assert zstandard.ZstdDecompressor(max_window_size=8 * 1024 * 1024).decompressobj().decompress(out) == body
