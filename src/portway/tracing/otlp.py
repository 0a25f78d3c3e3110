"""OTLP/HTTP protobuf: :class:`SpanRecord`s → an ``ExportTraceServiceRequest`` body, and its POST.

The protobuf is written by hand (the wire format of opentelemetry-proto's ``trace.proto``, v1):
the SDK's encoder spends ~100 µs per span building ``ReadableSpan``s and message objects, ours
~8 µs (measured in docs/tracing.md), and this runs under the same GIL as the event loop. Tests
decode every body with ``opentelemetry-proto`` itself (tests/integration/tracing/receiver.py).

Rules:
- One request per batch: one ResourceSpans (``service.name``, ``service.version``), one ScopeSpans
  (``portway``), the spans in the order given.
- One try per batch with ``timeout`` for the whole exchange; a 2xx is success, anything else (an
  error status, a refused connection, a timeout) fails the batch: the queue counts it dropped.
- The connection is kept alive between batches and opened again after any failure.
"""

from __future__ import annotations

import http.client
import ssl
import struct
from collections.abc import Sequence
from urllib.parse import urlsplit

from portway.tracing.spans import CLIENT, SpanRecord

_KIND = {CLIENT: 3, "server": 2}  # SpanKind: SERVER = 2, CLIENT = 3
_STATUS_ERROR = 2


_SMALL = [bytes((n,)) for n in range(128)]  # one-byte varints: most lengths and tags


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    n = len(payload)
    return _varint(number << 3 | 2) + (_SMALL[n] if n < 0x80 else _varint(n)) + payload


def _fixed64(number: int, value: int) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<Q", value)


def _value(value: str | int | bool | float) -> bytes:
    """An AnyValue: string 1, bool 2, int 3 (two's complement varint), double 4."""
    if isinstance(value, str):
        return _field(1, value.encode("utf-8", "replace"))
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    return b"\x21" + struct.pack("<d", value)


class Encoder:
    def __init__(self, service_name: str, version: str) -> None:
        self._resource = _field(
            1, self._attributes({"service.name": service_name, "service.version": version})
        )
        self._scope = _field(1, _field(1, b"portway") + _field(2, version.encode()))
        self._keys: dict[str, bytes] = {}  # attribute key → its encoded field: names repeat

    def _attributes(self, attributes: dict[str, str | int]) -> bytes:
        return b"".join(
            _field(1, _field(1, k.encode()) + _field(2, _value(v))) for k, v in attributes.items()
        )

    def _key_values(self, number: int, attributes: dict[str, str | int]) -> bytes:
        keys = self._keys
        tag = _varint(number << 3 | 2)
        parts = []
        for key, value in attributes.items():
            encoded = keys.get(key)
            if encoded is None:
                encoded = keys[key] = _field(1, key.encode())
            if type(value) is str:  # the common case, inline: AnyValue{string_value} in KeyValue.value
                raw = value.encode("utf-8", "replace")
                n = len(raw)
                any_value = (b"\x0a" + _SMALL[n] + raw) if n < 0x80 else _field(1, raw)
            else:
                any_value = _value(value)
            n = len(any_value)
            pair = encoded + b"\x12" + (_SMALL[n] if n < 0x80 else _varint(n)) + any_value
            n = len(pair)
            parts.append(tag + (_SMALL[n] if n < 0x80 else _varint(n)) + pair)
        return b"".join(parts)

    def span(self, span: SpanRecord) -> bytes:
        parts = [
            b"\x0a\x10" + span.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + span.span_id.to_bytes(8, "big"),
        ]
        if span.tracestate:
            parts.append(_field(3, span.tracestate))
        if span.parent_id:
            parts.append(b"\x22\x08" + span.parent_id.to_bytes(8, "big"))
        parts += (
            _field(5, span.name.encode("utf-8", "replace")),
            b"\x30" + _varint(_KIND[span.kind]),
            _fixed64(7, span.start_ns),
            _fixed64(8, span.end_ns),
            self._key_values(9, span.attributes),
        )
        for name, at, attributes in span.events:
            event = _fixed64(1, at) + _field(2, name.encode()) + self._key_values(3, attributes)
            parts.append(_field(11, event))
        for trace_id, span_id in span.links:
            parts.append(
                _field(
                    13, b"\x0a\x10" + trace_id.to_bytes(16, "big") + b"\x12\x08" + span_id.to_bytes(8, "big")
                )
            )
        if span.error:
            parts.append(_field(15, _field(2, span.error.encode("utf-8", "replace")) + b"\x18\x02"))
        return _field(2, b"".join(parts))

    def request(self, spans: Sequence[SpanRecord]) -> bytes:
        scope_spans = _field(2, self._scope + b"".join(self.span(s) for s in spans))
        return _field(1, self._resource + scope_spans)


class OtlpHttp:
    """POSTs encoded batches to one OTLP/HTTP traces URL (``http`` or ``https``)."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(url)
        self.url = url
        self._secure = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._secure else 80)
        self._path = parts.path or "/"
        self._headers = {"content-type": "application/x-protobuf", "user-agent": "portway", **headers}
        self._timeout = timeout
        self._context = ssl.create_default_context() if self._secure else None
        self._connection: http.client.HTTPConnection | None = None

    def __repr__(self) -> str:
        return f"<OtlpHttp {self.url}>"

    def post(self, body: bytes) -> bool:
        connection = self._connection
        if connection is None:
            if self._context is not None:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._connection = connection
        try:
            connection.request("POST", self._path, body, self._headers)
            response = connection.getresponse()
            response.read()
            ok = 200 <= response.status < 300
            if response.will_close or not ok:
                self._close()
            return ok
        except (OSError, http.client.HTTPException):
            self._close()
            return False

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
