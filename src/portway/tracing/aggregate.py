"""The exchange of an aggregate route on a traced gateway: the server span as for any route, and
each call's ``traceparent`` a child of it (the calls share the server span as their parent: no
client span is recorded per call)."""

from __future__ import annotations

from portway.forward.aggregate.exchange import Aggregating
from portway.tracing.context import traceparent
from portway.tracing.exchange import TracedExchange

Header = tuple[bytes, bytes]


class TracedAggregateExchange(Aggregating, TracedExchange):
    __slots__ = ("task",)

    def call_headers(self) -> list[Header]:
        parent = traceparent(self.trace, self.span_id, self.sampled)
        headers = [*self.upstream_headers, (b"traceparent", parent)]
        if self.tracestate:
            headers.append((b"tracestate", self.tracestate))
        return headers
