"""W3C Trace Context (https://www.w3.org/TR/trace-context/): ``traceparent`` and ``tracestate``.

Bytes in, values out; nothing here raises on client input.

Rules:
- ``traceparent`` is ``version-traceid-parentid-flags`` in lower-case hex. Version ``ff`` is
  invalid; version ``00`` has exactly four fields; a later version may carry more fields after a
  ``-``, and its first four are read as version 00's. An all-zero trace id or parent id, upper-case
  hex, or any other shape is invalid: the request then starts a new trace (never an error).
- Two ``traceparent`` headers make the context invalid (the spec: a receiver cannot tell which).
- ``tracestate`` is passed on only with a valid ``traceparent``, several headers joined with
  ``,``, when it is at most 512 bytes of at most 32 list members of printable ASCII; else dropped.
"""

from __future__ import annotations

import random

_HEX = frozenset(b"0123456789abcdef")
MAX_TRACESTATE = 512
MAX_TRACESTATE_MEMBERS = 32
SAMPLED = 0x01

# Ids need to be unique, not secret: the Mersenne Twister's getrandbits is ~10x cheaper per call
# than os.urandom, and the SDK's own RandomIdGenerator uses it too.
_bits = random.getrandbits


class SpanContext:
    """A remote parent: the ids and flags read from ``traceparent`` and the raw ``tracestate``."""

    __slots__ = ("flags", "span_id", "trace_id", "tracestate")

    def __init__(self, trace_id: int, span_id: int, flags: int, tracestate: bytes = b"") -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.flags = flags
        self.tracestate = tracestate

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    def __repr__(self) -> str:
        return f"<SpanContext {self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}>"


def parse_traceparent(value: bytes) -> SpanContext | None:
    """The context ``value`` names, or None when it is not a valid ``traceparent``."""
    value = value.strip(b" \t")
    if len(value) < 55 or value[2:3] != b"-" or value[35:36] != b"-" or value[52:53] != b"-":
        return None
    version = value[:2]
    if version == b"ff" or not _is_hex(version):
        return None
    if len(value) > 55 and (version == b"00" or value[55:56] != b"-"):
        return None
    trace, parent, flags = value[3:35], value[36:52], value[53:55]
    if not (_is_hex(trace) and _is_hex(parent) and _is_hex(flags)):
        return None
    trace_id, span_id = int(trace, 16), int(parent, 16)
    if not trace_id or not span_id:
        return None
    # A later version's flags may hold bits version 00 does not know: only `sampled` is kept.
    return SpanContext(trace_id, span_id, int(flags, 16) & SAMPLED)


def valid_tracestate(value: bytes) -> bool:
    if len(value) > MAX_TRACESTATE or any(c < 0x20 or c > 0x7E for c in value):
        return False
    members = [m for m in value.split(b",") if m.strip(b" \t")]
    if len(members) > MAX_TRACESTATE_MEMBERS:
        return False
    return all(b"=" in m and m.strip(b" \t").partition(b"=")[0] for m in members)


def extract(headers: list[tuple[bytes, bytes]]) -> SpanContext | None:
    """The remote parent of a request, from its (lower-cased) headers."""
    traceparent: bytes | None = None
    tracestate: list[bytes] = []
    for name, value in headers:
        if name == b"traceparent":
            if traceparent is not None:
                return None
            traceparent = value
        elif name == b"tracestate":
            tracestate.append(value)
    if traceparent is None:
        return None
    parent = parse_traceparent(traceparent)
    if parent is not None and tracestate:
        joined = b",".join(tracestate)
        if valid_tracestate(joined):
            parent.tracestate = joined
    return parent


def traceparent(trace_id: int, span_id: int, sampled: bool) -> bytes:
    return b"00-%032x-%016x-%s" % (trace_id, span_id, b"01" if sampled else b"00")


def new_trace_id() -> int:
    return _bits(128) or 1  # zero is the invalid id


def new_span_id() -> int:
    return _bits(64) or 1


def _is_hex(data: bytes) -> bool:
    return all(c in _HEX for c in data)
