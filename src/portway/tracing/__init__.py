"""OpenTelemetry tracing of the data plane (docs/tracing.md): W3C trace context in and out, a server
span per request and a client span per upstream attempt, exported over OTLP/HTTP off the loop."""

from portway.tracing.exchange import TracedExchange
from portway.tracing.tracer import Tracer

__all__ = ["TracedExchange", "Tracer"]
