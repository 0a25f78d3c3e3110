"""Decoding request bodies (``compression.decompress``), a request-side body filter.

Rules:
- Only a body whose ``Content-Encoding`` is one configured coding is decoded; any other (none,
  ``deflate``, two codings stacked) goes to the upstream as sent, for it to judge.
- Output is produced in bounded steps and counted as it is made, so a bomb is stopped when it
  passes the limit, not after it has filled memory: past ``max_size`` decoded bytes, or past 64 KB
  and more than ``max_ratio`` times the bytes received, the request is refused with 413.
- A body that is not valid in its coding, or ends inside it, is refused with 400.
- Concatenated gzip members and zstd frames are one body (RFC 1952 §2.2, RFC 8878 §3).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import brotli
import zstandard

from portway.config.compression import Decompress
from portway.contract import RequestHead
from portway.errors import ClientError

_STEP = 64 * 1024  # decoded bytes per step
_RATIO_GRACE = 64 * 1024  # small bodies compress very well and are harmless: no ratio check below
_ZSTD_MAX_OUT_PER_BYTE = 32 * 1024  # an RLE block: 4 input bytes, 128 KB out
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659; a larger frame is refused, not given the memory


class _Decoder(Protocol):
    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        """Decoded pieces of ``data``; ``budget`` bounds how much a single piece may hold."""
        ...

    def finished(self) -> bool: ...


class _Gzip:
    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        while data:
            if self._zlib.eof:  # another member follows
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            yield self._zlib.decompress(data, _STEP)
            # what the step limit left over, or what follows the member's end
            data = self._zlib.unconsumed_tail or (self._zlib.unused_data if self._zlib.eof else b"")

    def finished(self) -> bool:
        return self._zlib.eof


class _Brotli:
    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()

    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        process: Callable[..., bytes] = self._brotli.process  # output_buffer_limit: not in the stubs
        yield process(data, output_buffer_limit=_STEP)
        # Input taken, output maybe held back: drain it step by step (can_accept_more_data() says
        # True as soon as the input is consumed, so the loop ends on an empty piece instead).
        while not self._brotli.is_finished():
            piece = process(b"", output_buffer_limit=_STEP)
            if not piece:
                break
            yield piece

    def finished(self) -> bool:
        return self._brotli.is_finished()


class _Zstd:
    def __init__(self) -> None:
        self._zstd = self._frame()

    @staticmethod
    def _frame() -> zstandard.ZstdDecompressionObj:
        return zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW).decompressobj()

    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        # decompressobj() has no output limit: feed it slices small enough that even the most
        # compressible input cannot decode to more than the budget left (2 MB past it at worst:
        # the smallest slice, 64 bytes of RLE blocks).
        view = memoryview(data)
        start = 0
        while start < len(view):
            if self._zstd.eof:  # another frame follows
                rest = self._zstd.unused_data + bytes(view[start:])
                self._zstd = self._frame()
                yield from self.feed(rest, budget)
                return
            size = max(64, budget // _ZSTD_MAX_OUT_PER_BYTE)
            piece = self._zstd.decompress(view[start : start + size])
            budget -= len(piece)
            start += size
            yield piece
        if self._zstd.eof and self._zstd.unused_data:  # the next frame began in the last slice
            rest, self._zstd = self._zstd.unused_data, self._frame()
            yield from self.feed(rest, budget)

    def finished(self) -> bool:
        return self._zstd.eof


_DECODERS: dict[str, Callable[[], _Decoder]] = {"gzip": _Gzip, "br": _Brotli, "zstd": _Zstd}
_DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError)


class BodyDecoder:
    """One request body on its way to the upstream, decoded (a BodyFilter that may raise ClientError)."""

    __slots__ = ("_coding", "_decoder", "_max_ratio", "_max_size", "decoded", "received")

    def __init__(self, coding: str, decoder: _Decoder, max_size: int, max_ratio: float) -> None:
        self._coding = coding
        self._decoder = decoder
        self._max_size = max_size
        self._max_ratio = max_ratio
        self.received = 0
        self.decoded = 0

    def _allowed(self) -> int:
        return min(self._max_size, max(_RATIO_GRACE, int(self.received * self._max_ratio)))

    def data(self, chunk: bytes) -> bytes:
        self.received += len(chunk)
        pieces = []
        try:
            for piece in self._decoder.feed(chunk, self._allowed() - self.decoded):
                self.decoded += len(piece)
                if self.decoded > self._allowed():
                    raise self._too_large()
                pieces.append(piece)
        except _DECODE_ERRORS:
            raise ClientError(400, f"the request body is not valid {self._coding}") from None
        return b"".join(pieces)

    def _too_large(self) -> ClientError:
        if self.decoded > self._max_size:
            return ClientError(413, f"the decoded request body is larger than {self._max_size} bytes")
        return ClientError(413, f"the request body decodes to more than {self._max_ratio:g} times its size")

    def end(self) -> bytes:
        if not self._decoder.finished():
            raise ClientError(400, f"the request body ends inside its {self._coding} stream")
        return b""

    def abort(self) -> None:
        pass  # the decoder holds nothing outside itself


class Decompression:
    """The compiled ``decompress`` config: which request bodies to decode, within which limits."""

    def __init__(self, config: Decompress) -> None:
        self.codings = frozenset(config.encodings)
        self.max_size = config.max_size
        self.max_ratio = config.max_ratio

    def decoder_for(self, head: RequestHead) -> BodyDecoder | None:
        """A decoder for this request's body, or None to send it on as it is."""
        value = None
        for name, header in head.headers:
            if name == b"content-encoding":
                if value is not None:
                    return None  # two codings stacked: not ours to unwrap
                value = header
        if value is None:
            return None
        coding = value.strip().lower().decode("latin-1")
        if coding not in self.codings:
            return None
        return BodyDecoder(coding, _DECODERS[coding](), self.max_size, self.max_ratio)
