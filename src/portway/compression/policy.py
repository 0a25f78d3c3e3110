"""The compression policy: responses encoded for the client, request bodies decoded for the upstream.

Response rules (docs/compression.md):
- Nothing is done for: HEAD; 1xx (101 included), 204, 206, 304; a ``Content-Range``; a body already
  encoded (any ``Content-Encoding``); ``Cache-Control: no-transform`` (RFC 9110 §7.7); a
  ``Content-Type`` not in ``types`` (or none); a ``Content-Length`` below ``min_size``. A body of
  unknown length is compressed.
- A response that passes those checks varies with ``Accept-Encoding`` whatever this client sent,
  so ``Vary: Accept-Encoding`` is added (merged into the upstream's ``Vary``) even when
  negotiation (negotiate.py) picks identity: a cache must not serve this client's copy to another.
- Encoded: ``Content-Encoding`` set, ``Content-Length`` dropped (the exchange re-chunks, or
  close-delimits for HTTP/1.0), a strong ``ETag`` weakened (``W/``: the bytes differ, the
  representation is the same, RFC 9110 §8.8.1), ``Accept-Ranges`` dropped (a range of the encoded
  body cannot be asked for; ranges of the identity body would not match what was sent).

Request rules: with ``decompress`` set, a body in one of its codings is decoded on its way up
(decompress.py); the exchange then drops ``Content-Encoding`` and sends the body chunked.
"""

from __future__ import annotations

from portway.compression.decompress import Decompression
from portway.compression.encoders import Encoding, encoding
from portway.compression.media_types import MediaTypes
from portway.compression.negotiate import choose
from portway.config.compression import DEFAULT_LEVELS, Coding
from portway.config.compression import Compression as CompressionConfig
from portway.policies.base import BodyFilter, Context, PolicyResult, Reply

_NOT_FOR = frozenset({204, 206, 304})
_VARY_VALUE = b"Accept-Encoding"


def _no_transform(value: bytes) -> bool:
    return any(d.partition(b"=")[0].strip().lower() == b"no-transform" for d in value.split(b","))


def _varies_on_encoding(value: bytes) -> bool:
    return any(t.strip().lower() in (b"accept-encoding", b"*") for t in value.split(b","))


def _accept_encoding(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The request's Accept-Encoding, its field lines joined as one list (RFC 9110 §5.3)."""
    values = [value for name, value in headers if name == b"accept-encoding"]
    if not values:
        return None
    return values[0] if len(values) == 1 else b", ".join(values)


class Compression:
    """One route's compression, compiled from its (merged) config."""

    name = "compression"

    def __init__(self, config: CompressionConfig) -> None:
        levels: dict[Coding, int] = {**DEFAULT_LEVELS, **config.levels}
        self.encodings: dict[bytes, Encoding] = {}
        for name in config.encodings:
            compiled = encoding(name, levels[name])
            self.encodings[compiled.token] = compiled
        self.offered = tuple(self.encodings)
        self.types = MediaTypes(config.types)
        self.min_size = config.min_size
        self.decompression = Decompression(config.decompress) if config.decompress else None

    def __repr__(self) -> str:
        offered = ", ".join(f"{e.token.decode()}:{e.level}" for e in self.encodings.values())
        return f"<Compression {offered} min_size={self.min_size}>"

    def request(self, ctx: Context) -> PolicyResult:
        if self.decompression is not None and ctx.head.has_body:
            ctx.request_filter = self.decompression.decoder_for(ctx.head)
        return None

    def response(self, ctx: Context, reply: Reply) -> BodyFilter | None:
        head = ctx.head
        status = reply.status
        if head.method == "HEAD" or status < 200 or status in _NOT_FOR:
            return None
        headers = reply.headers
        eligible_type = False
        vary = -1
        for index, (name, value) in enumerate(headers):
            lname = name.lower()
            if lname == b"content-type":
                eligible_type = value in self.types
            elif lname == b"content-length":
                if int(value) < self.min_size:  # (llhttp checked it is a number)
                    return None
            elif lname in (b"content-encoding", b"content-range"):
                return None
            elif lname == b"cache-control":
                if _no_transform(value):
                    return None
            elif lname == b"vary" and vary < 0:
                vary = index
        if not eligible_type:
            return None
        if vary < 0:
            headers.append((b"vary", _VARY_VALUE))
        elif not _varies_on_encoding(headers[vary][1]):
            name, value = headers[vary]
            headers[vary] = (name, value + b", " + _VARY_VALUE if value.strip() else _VARY_VALUE)
        coding = choose(_accept_encoding(head.headers), self.offered)
        if coding is None:
            return None
        chosen = self.encodings[coding]
        edited: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            lname = name.lower()
            if lname in (b"content-length", b"accept-ranges"):
                continue
            if lname == b"etag" and value.startswith(b'"'):
                value = b"W/" + value
            edited.append((name, value))
        edited.append((b"content-encoding", chosen.token))
        reply.headers = edited
        return chosen.new()
