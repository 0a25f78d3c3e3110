"""A finished span as the hot path records it: plain slots, no SDK objects, no context variables.

The exporter thread (:mod:`portway.tracing.export`) turns these into the SDK's ``ReadableSpan``s
and the OTLP protobuf; building them there keeps that work off the event loop.
"""

from __future__ import annotations

SERVER, CLIENT = "server", "client"


class SpanRecord:
    __slots__ = (
        "attributes", "end_ns", "error", "events", "kind", "links", "name", "parent_id", "span_id",
        "start_ns", "trace_id", "tracestate",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        kind: str,
        trace_id: int,
        span_id: int,
        parent_id: int,
        start_ns: int,
        attributes: dict[str, str | int],
    ) -> None:
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id  # 0: a root span
        self.start_ns = start_ns
        self.end_ns = 0
        self.attributes = attributes
        self.events: list[tuple[str, int, dict[str, str | int]]] = []
        self.links: list[tuple[int, int]] = []  # (trace id, span id) of a context not continued
        self.error = ""  # the span's status is ERROR with this description when set
        self.tracestate = b""

    def __repr__(self) -> str:
        return f"<SpanRecord {self.kind} {self.name!r} {self.trace_id:032x}/{self.span_id:016x}>"
