"""The gateway's tracer: compiled from ``tracing:`` at load, asked once per request for its context.

Rules:
- A valid incoming ``traceparent`` is continued when ``trust_incoming`` allows it for this peer:
  ``all``, or ``trusted_proxies`` and the socket peer is one. An untrusted one starts a new trace
  that *links* to it (so the caller's trace can still be found), with our own sampling decision.
- Whatever happens, the upstream gets a ``traceparent`` naming the gateway's client span; a
  request not sampled gets ``-00`` flags and records nothing.
- A tracer outlives reloads that keep the same ``tracing:`` (its export thread and queue are handed
  over, like pools are); a changed section builds a new one and the old one flushes and stops.
"""

from __future__ import annotations

from collections.abc import Callable

from portway.config.tracing import Tracing
from portway.contract import RequestHead
from portway.tracing.context import SpanContext, extract
from portway.tracing.export import Exporter, OtlpExporter, SpanQueue
from portway.tracing.sampler import Sampler
from portway.tracing.spans import SpanRecord


class Tracer:
    def __init__(
        self,
        config: Tracing,
        is_trusted: Callable[[str], bool],
        scheme: str = "http",
        exporter: Exporter | None = None,
    ) -> None:
        self.config = config
        self.sampler = Sampler(config.sample_ratio)
        self.scheme = scheme
        self._trust = config.trust_incoming
        self._is_trusted = is_trusted
        if exporter is None:
            exporter = OtlpExporter(config.traces_url, config.service_name, config.headers, config.timeout)
        self.queue = SpanQueue(
            exporter,
            queue_size=config.queue_size,
            batch_size=config.batch_size,
            flush_interval=config.flush_interval,
        )

    def __repr__(self) -> str:
        return f"<Tracer {self.config.traces_url} ratio={self.config.sample_ratio} {self.queue!r}>"

    def parents(self, head: RequestHead) -> tuple[SpanContext | None, SpanContext | None]:
        """``(parent, linked)``: the context to continue, or the untrusted one to link to."""
        if self._trust == "none":
            return None, None
        found = extract(head.headers)
        if found is None or self._trust == "all" or self._is_trusted(head.client_ip):
            return found, None
        return None, found

    def finish(self, span: SpanRecord) -> None:
        self.queue.put(span)

    def stop(self) -> None:
        """Export what is queued and end the thread, without waiting (a reload runs on the loop)."""
        self.queue.stop()

    def join(self, timeout: float = 2.0) -> None:
        self.queue.join(timeout)
