"""Span export off the event loop: a bounded queue the hot path appends to, and one daemon thread that
batches it into OTLP/HTTP protobuf requests (the SDK's ``OTLPSpanExporter``).

Rules:
- The hot path only appends to a deque (atomic under the GIL). A full queue drops the span and
  counts it in ``portway_trace_spans_dropped_total{reason="queue_full"}``: a collector that is down
  or slow costs dropped spans, never latency.
- The thread wakes every ``flush_interval``, or as soon as a batch is full, and exports in batches
  of ``batch_size``. A failed export (refused, unreachable, timed out after ``timeout``) drops its
  batch and counts it (``reason="export_failed"``); nothing is retried past the exporter's own
  retries within ``timeout``, so the queue keeps moving.
- :meth:`stop` asks the thread to export what is queued and end; :meth:`join` waits for it (at
  shutdown), bounded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from prometheus_client import Counter

from portway.tracing.spans import CLIENT, SpanRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import TraceState

log = logging.getLogger("portway.tracing")

SPANS_DROPPED = Counter(
    "portway_trace_spans_dropped",
    "Spans the gateway made but could not hand to the OTLP collector, by reason",
    ["reason"],
)
SPANS_EXPORTED = Counter("portway_trace_spans_exported", "Spans accepted by the OTLP collector")
_QUEUE_FULL = SPANS_DROPPED.labels("queue_full")
_EXPORT_FAILED = SPANS_DROPPED.labels("export_failed")


class Exporter(Protocol):
    """What the thread calls with a batch: True when the collector took it."""

    def __call__(self, batch: Sequence[SpanRecord]) -> bool: ...


class SpanQueue:
    def __init__(
        self, exporter: Exporter, *, queue_size: int, batch_size: int, flush_interval: float
    ) -> None:
        self.exporter = exporter
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._spans: deque[SpanRecord] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="portway-trace-export", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<SpanQueue {len(self._spans)}/{self.queue_size} queued>"

    def put(self, span: SpanRecord) -> None:
        spans = self._spans
        if len(spans) >= self.queue_size:
            _QUEUE_FULL.inc()
            return
        spans.append(span)
        if len(spans) == self.batch_size:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def join(self, timeout: float) -> None:
        self.stop()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        spans = self._spans
        while spans:
            batch = [spans.popleft() for _ in range(min(self.batch_size, len(spans)))]
            try:
                ok = self.exporter(batch)
            except Exception:  # an exporter bug must not end the thread: the next batch may go
                log.exception("span export failed")
                ok = False
            if ok:
                SPANS_EXPORTED.inc(len(batch))
            else:
                _EXPORT_FAILED.inc(len(batch))
            if not ok and not self._stopping:
                return  # wait a flush interval before the next try: the collector is in trouble


class OtlpExporter:
    """Batches of :class:`SpanRecord` → ``ReadableSpan`` → the SDK's OTLP/HTTP protobuf exporter."""

    def __init__(self, url: str, service_name: str, headers: dict[str, str], timeout: float) -> None:
        # Imported here: a gateway without tracing never loads the SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import SpanExportResult
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from portway import __version__

        self._success = SpanExportResult.SUCCESS
        self._exporter = OTLPSpanExporter(endpoint=url, headers=headers, timeout=timeout)
        self._resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self._scope = InstrumentationScope("portway", __version__)

    def __call__(self, batch: Sequence[SpanRecord]) -> bool:
        return bool(self._exporter.export([self.readable(s) for s in batch]) is self._success)

    def readable(self, span: SpanRecord) -> ReadableSpan:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceFlags
        from opentelemetry.trace import SpanContext as OtelContext

        sampled = TraceFlags(TraceFlags.SAMPLED)
        state = _trace_state(span.tracestate)
        context = OtelContext(span.trace_id, span.span_id, True, sampled, state)
        parent = OtelContext(span.trace_id, span.parent_id, True, sampled, state) if span.parent_id else None
        return ReadableSpan(
            name=span.name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=span.attributes,
            events=[Event(name, attrs, ts) for name, ts, attrs in span.events],
            links=[Link(OtelContext(t, s, True)) for t, s in span.links],
            kind=SpanKind.CLIENT if span.kind == CLIENT else SpanKind.SERVER,
            status=Status(StatusCode.ERROR, span.error) if span.error else Status(StatusCode.UNSET),
            start_time=span.start_ns,
            end_time=span.end_ns,
            instrumentation_scope=self._scope,
        )



def _trace_state(raw: bytes) -> TraceState | None:
    from opentelemetry.trace import TraceState

    if not raw:
        return None
    try:
        return TraceState.from_header([raw.decode("ascii")])
    except Exception:  # validated as W3C asks; the SDK is stricter on keys: keep the span, drop it
        return None
