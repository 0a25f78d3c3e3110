"""Span export off the event loop: a bounded queue the hot path appends to, and one daemon thread that
batches it into OTLP/HTTP protobuf requests (:mod:`portway.tracing.otlp`).

Rules:
- The hot path only appends to a deque (atomic under the GIL). A full queue drops the span and
  counts it in ``portway_trace_spans_dropped_total{reason="queue_full"}``: a collector that is down
  or slow costs dropped spans, never latency.
- The thread wakes every ``flush_interval``, or as soon as a batch is full, and exports in batches
  of ``batch_size``. A failed export (refused, unreachable, timed out after ``timeout``) drops its
  batch and counts it (``reason="export_failed"``); a batch is tried once, so the queue keeps moving.
- :meth:`stop` asks the thread to export what is queued and end; :meth:`join` waits for it (at
  shutdown), bounded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from prometheus_client import Counter

from portway.tracing.otlp import Encoder, OtlpHttp
from portway.tracing.spans import SpanRecord

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
    """Batches of :class:`SpanRecord` → one OTLP/HTTP protobuf request each (:mod:`portway.tracing.otlp`)."""

    def __init__(self, url: str, service_name: str, headers: dict[str, str], timeout: float) -> None:
        from portway import __version__

        self.encoder = Encoder(service_name, __version__)
        self.http = OtlpHttp(url, headers, timeout)

    def __repr__(self) -> str:
        return f"<OtlpExporter {self.http.url}>"

    def __call__(self, batch: Sequence[SpanRecord]) -> bool:
        return self.http.post(self.encoder.request(batch))
