"""Parent-based sampling with a ratio for new traces (OpenTelemetry's ``ParentBased(TraceIdRatioBased)``).

Rules:
- A continued trace keeps its parent's decision (the ``sampled`` flag of its ``traceparent``).
- A new trace is kept when the low 64 bits of its trace id fall under ``ratio * 2**64``: the same
  rule as the SDK's ``TraceIdRatioBased``, so every service on the trace that samples by ratio agrees.
"""

from __future__ import annotations

from portway.tracing.context import SpanContext

_SPACE = 1 << 64
_LOW = _SPACE - 1


class Sampler:
    __slots__ = ("ratio", "threshold")

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self.threshold = round(ratio * _SPACE)

    def __repr__(self) -> str:
        return f"<Sampler parent-based ratio={self.ratio}>"

    def sampled(self, trace_id: int, parent: SpanContext | None) -> bool:
        if parent is not None:
            return parent.sampled
        return (trace_id & _LOW) < self.threshold
