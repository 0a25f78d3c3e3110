"""Streaming compressors for ``gzip`` (zlib), ``br`` (brotli) and ``zstd`` (zstandard), each a
:class:`~portway.policies.base.BodyFilter`.

Rules:
- Constant memory: a compressor holds its window and nothing else; the body is never gathered.
- Every chunk is flushed (zlib ``Z_SYNC_FLUSH``, brotli ``flush``, zstd ``FLUSH_BLOCK``): what the
  upstream sent is on its way to the client at once, so a stream (server-sent events, a long poll)
  is not held back waiting for a block to fill. The cost is a few bytes per chunk; upstream reads
  are up to 256 KB, so the ratio hardly moves (bench/compress.py measures it).
- Windows are bounded for the client's sake as much as ours: zstd at most 8 MB (RFC 9659: what an
  HTTP client must be able to decode), brotli 4 MB (lgwin 22, its default), gzip 32 KB.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import brotli
import zstandard

from portway.config.compression import LEVEL_RANGES
from portway.policies.base import BodyFilter

_ZSTD_MAX_WINDOW_LOG = 23  # 8 MB: RFC 9659 §3


class Gzip:
    __slots__ = ("_zlib",)

    def __init__(self, level: int) -> None:
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing

    def data(self, chunk: bytes) -> bytes:
        return self._zlib.compress(chunk) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def end(self) -> bytes:
        return self._zlib.flush(zlib.Z_FINISH)

    def abort(self) -> None:
        pass  # nothing kept outside the compressor, which goes with this object


class Brotli:
    __slots__ = ("_brotli", "_flush")

    def __init__(self, level: int) -> None:
        self._brotli = brotli.Compressor(quality=level)
        self._flush: Callable[[], bytes] = self._brotli.flush  # type: ignore[attr-defined]  # not in the stubs

    def data(self, chunk: bytes) -> bytes:
        return self._brotli.process(chunk) + self._flush()

    def end(self) -> bytes:
        return self._brotli.finish()

    def abort(self) -> None:
        pass


class Zstd:
    __slots__ = ("_zstd",)

    def __init__(self, params: zstandard.ZstdCompressionParameters) -> None:
        # A compressor of its own: a compressobj() runs on its ZstdCompressor's one context, so two
        # responses sharing one compressor would interleave into each other's frames.
        self._zstd = zstandard.ZstdCompressor(compression_params=params).compressobj()

    def data(self, chunk: bytes) -> bytes:
        return self._zstd.compress(chunk) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def end(self) -> bytes:
        return self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)

    def abort(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Encoding:
    """One coding as compiled from config: its token and a factory of fresh compressors."""

    token: bytes  # as written in Content-Encoding
    level: int
    new: Callable[[], BodyFilter]


def encoding(name: str, level: int) -> Encoding:
    """The compiled coding ``name`` at ``level``; ValueError for a level the coding does not have."""
    low, high = LEVEL_RANGES[name]
    if not low <= level <= high:
        raise ValueError(f"{name} level must be from {low} to {high}, got {level}")
    if name == "gzip":
        return Encoding(b"gzip", level, lambda: Gzip(level))
    if name == "br":
        return Encoding(b"br", level, lambda: Brotli(level))
    params = zstandard.ZstdCompressionParameters.from_level(level)
    if params.window_log > _ZSTD_MAX_WINDOW_LOG:
        params = zstandard.ZstdCompressionParameters.from_level(level, window_log=_ZSTD_MAX_WINDOW_LOG)
    return Encoding(b"zstd", level, lambda: Zstd(params))
