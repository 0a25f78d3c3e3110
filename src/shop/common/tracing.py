"""OpenTelemetry in a shop service: the gateway's trace continues through FastAPI, SQLAlchemy, outgoing
httpx calls, and across events (docs/tracing.md).

On only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``<SERVICE>_OTEL_EXPORTER_OTLP_ENDPOINT``) names a
collector, as the OpenTelemetry SDKs read it: a base URL that gets ``/v1/traces``. ``portway up``
hands its environment to every replica, so one variable points the gateway and the services at it.

Rules:
- A request's server span continues the caller's ``traceparent`` (the gateway's client span).
- An event carries the ``traceparent`` of the span that was current when it was published (the
  request's, or the handler's that published it): :func:`traceparent`, called by ``Envelope.wrap``.
- A consumer's span (kind CONSUMER, ``{topic} process``) is a child of that context *and* links to
  it (:func:`consuming`), so the saga is one trace, and each hop says which message started it.
- Spans without a parent are kept only for entry points (a request, a consumed event): the outbox
  relay's and the event log's polling queries would otherwise each start a trace of their own.
- Health, readiness and metrics probes are not traced (they come every few seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

    from shop.common.db import Database
    from shop.common.settings import Settings

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
UNTRACED_PATHS = "/health,/ready,/metrics"
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def traces_url(endpoint: str) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL: the traces path is appended to it."""
    return endpoint.rstrip("/") + TRACES_PATH


def instrument(app: FastAPI, settings: Settings, db: Database) -> bool:
    """Trace this service when an OTLP endpoint is configured; returns whether it is traced."""
    global _provider, _tracer
    endpoint = settings.get("OTEL_EXPORTER_OTLP_ENDPOINT").strip()
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    name = settings.get("OTEL_SERVICE_NAME") or settings.service
    provider = TracerProvider(
        resource=Resource.create({"service.name": name, "service.namespace": "shop"}),
        sampler=ParentBased(root=_EntryPoints()),
    )
    # BatchSpanProcessor: a bounded queue and its own thread; OTEL_BSP_* tune it as usual.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=UNTRACED_PATHS, exclude_spans=["receive", "send"]
    )
    instrumentor = SQLAlchemyInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:  # one per process: the first service's
        # skip_dep_check: its declared range stops below SQLAlchemy 2.1, whose engine events it uses unchanged
        instrumentor.instrument(engine=db.engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(tracer_provider=provider)
    _provider, _tracer = provider, provider.get_tracer("shop.events")
    log.info("tracing to %s as %s", traces_url(endpoint), name)
    return True


def shutdown() -> None:
    """Export the spans still queued (bounded by the exporter's timeout)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def traceparent() -> str | None:
    """The ``traceparent`` of the current span, for an event published now; None when untraced."""
    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def consuming(topic: str, group: str, message_id: str, parent: str | None) -> Iterator[None]:
    """The span of one event handled by ``group``: a child of, and linked to, its publisher's."""
    tracer = _tracer
    if tracer is None:
        yield
        return
    context = _propagator.extract({"traceparent": parent}) if parent else None
    remote = trace.get_current_span(context).get_span_context() if context is not None else None
    links = [Link(remote)] if remote is not None and remote.is_valid else []
    attributes = {
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "messaging.message.id": message_id,
    }
    with tracer.start_as_current_span(
        f"{topic} process", context=context, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    ):
        yield


class _EntryPoints(Sampler):
    """The root sampler: a trace may start at a request or an event, never at a background query."""

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        keep = kind in (SpanKind.SERVER, SpanKind.CONSUMER)
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE if keep else Decision.DROP, attributes if keep else None
        )

    def get_description(self) -> str:
        return "EntryPoints"
