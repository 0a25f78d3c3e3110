"""A real OTLP/HTTP trace receiver on loopback: ``POST /v1/traces`` with an ExportTraceServiceRequest
protobuf body, decoded with ``opentelemetry-proto``; each span kept flattened for assertions.

It runs in a thread (so a gateway in the test's loop, or processes started by `portway up`, can
export to it alike) and answers ``status`` (200 by default; 503 plays a collector in trouble).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

KINDS = {ProtoSpan.SPAN_KIND_SERVER: "server", ProtoSpan.SPAN_KIND_CLIENT: "client",
         ProtoSpan.SPAN_KIND_CONSUMER: "consumer", ProtoSpan.SPAN_KIND_PRODUCER: "producer",
         ProtoSpan.SPAN_KIND_INTERNAL: "internal"}  # fmt: skip


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@dataclass
class Span:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    links: list[tuple[str, str]]
    error: bool
    status_message: str
    headers: dict[str, str] = field(default_factory=dict)  # of the export request that carried it


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.spans: list[Span] = []
        self.requests = 0
        self.content_types: set[str] = set()
        self._changed = threading.Condition()
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver._received(self.path, dict(self.headers.items()), body)
                if receiver.status != 200:
                    self.send_response(receiver.status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _received(self, path: str, headers: dict[str, str], body: bytes) -> None:
        assert path == "/v1/traces", path
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    spans.append(
                        Span(
                            service=resource.get("service.name", ""),
                            name=s.name,
                            kind=KINDS[s.kind],
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            events=[
                                (e.name, {a.key: _value(a.value) for a in e.attributes}) for e in s.events
                            ],
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                            error=s.status.code == s.status.STATUS_CODE_ERROR,
                            status_message=s.status.message,
                            headers={k.lower(): v for k, v in headers.items()},
                        )
                    )
        with self._changed:
            self.requests += 1
            self.content_types.add({k.lower(): v for k, v in headers.items()}.get("content-type", ""))
            self.spans.extend(spans)
            self._changed.notify_all()

    def wait_for(self, count: int, within: float = 10.0) -> list[Span]:
        """At least ``count`` spans received (fails after ``within`` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.spans) >= count, within):
                raise AssertionError(f"{len(self.spans)} spans received, waited for {count}: {self.spans}")
            return list(self.spans)

    def wait_until(self, done: Any, within: float = 30.0) -> list[Span]:
        """Spans once ``done(spans)`` holds (fails after ``within`` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: done(self.spans), within):
                raise AssertionError(f"condition not met by {len(self.spans)} spans: {self.spans}")
            return list(self.spans)


@contextlib.contextmanager
def otlp_receiver(status: int = 200) -> Iterator[Receiver]:
    receiver = Receiver(status)
    thread = threading.Thread(
        target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
