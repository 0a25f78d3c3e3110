"""The hand-written OTLP protobuf, decoded by opentelemetry-proto itself: data in, data out."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from portway.tracing.otlp import Encoder
from portway.tracing.spans import CLIENT, SERVER, SpanRecord


def value(any_value: object) -> object:
    kind = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(any_value, kind)


def test_every_field_round_trips() -> None:
    long_text = "ü" * 300  # lengths past one varint byte
    server = SpanRecord(
        "GET /x/{id}", SERVER, 2**128 - 1, 2**64 - 1, 0, 10**18, {"a": "b", "n": -5, "big": 2**40}
    )
    server.end_ns = 10**18 + 12345
    server.events.append(("portway.policy.denied", 10**18 + 1, {"http.response.status_code": 403}))
    server.links.append((0xABC, 0xDEF))
    server.error = "boom"
    server.tracestate = b"k=v"
    client = SpanRecord("GET", CLIENT, 2**128 - 1, 7, 2**64 - 1, 1, {"long": long_text})
    body = Encoder("edge", "1.2.3").request([server, client])

    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    assert {a.key: value(a.value) for a in resource_spans.resource.attributes} == {
        "service.name": "edge",
        "service.version": "1.2.3",
    }
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("portway", "1.2.3")
    first, second = scope_spans.spans
    assert first.trace_id == (2**128 - 1).to_bytes(16, "big") and first.span_id == b"\xff" * 8
    assert first.parent_span_id == b"" and first.trace_state == "k=v"
    assert first.name == "GET /x/{id}" and first.kind == Span.SPAN_KIND_SERVER
    assert (first.start_time_unix_nano, first.end_time_unix_nano) == (10**18, 10**18 + 12345)
    assert {a.key: value(a.value) for a in first.attributes} == {"a": "b", "n": -5, "big": 2**40}
    (event,) = first.events
    assert event.name == "portway.policy.denied" and event.time_unix_nano == 10**18 + 1
    assert {a.key: value(a.value) for a in event.attributes} == {"http.response.status_code": 403}
    (link,) = first.links
    assert int.from_bytes(link.trace_id, "big") == 0xABC and int.from_bytes(link.span_id, "big") == 0xDEF
    assert first.status.code == Status.STATUS_CODE_ERROR and first.status.message == "boom"
    assert second.kind == Span.SPAN_KIND_CLIENT and second.parent_span_id == b"\xff" * 8
    assert second.status.code == Status.STATUS_CODE_UNSET
    assert {a.key: value(a.value) for a in second.attributes} == {"long": long_text}
