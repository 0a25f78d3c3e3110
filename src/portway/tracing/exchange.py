"""The exchange of a traced gateway: an :class:`~portway.forward.exchange.Exchange` that records a
server span for the request and a client span per upstream attempt (OpenTelemetry HTTP semantic
conventions, stable attribute names).

The gateway builds this class instead of the plain one only when ``tracing:`` is on, so a gateway
without tracing runs the plain exchange and pays nothing. Every hook here calls the plain one.

Rules:
- One server span per routed request, named ``{method} {http.route}``, from the request head to the
  response end (or the client's loss: 499, as the access log says).
- One client span per attempt that reached an upstream connection, child of the server span: a
  retry or a replay is a sibling with ``http.request.resend_count``; its ``traceparent`` is the one
  the upstream gets. An attempt ends with its answer's head when that is retried, with its error,
  or with the request.
- Status: a server span is ERROR from 500 on, a client span from 400 on (semconv), and either on a
  transport error; ``error.type`` is the status code or the error's class name.
- A policy's denial is an event (``portway.policy.denied``) on the server span.
"""

from __future__ import annotations

import time

from portway.contract import RequestHead, Responder
from portway.errors import ClientError, GatewayError, UpstreamError
from portway.forward.exchange import Exchange
from portway.forward.phases import Phase
from portway.forward.route import RouteRuntime
from portway.forward.rules import ForwardingRules
from portway.policies.base import Denial
from portway.telemetry.access_log import AccessLog
from portway.tracing.context import new_span_id, new_trace_id, traceparent
from portway.tracing.spans import CLIENT, SERVER, SpanRecord
from portway.tracing.tracer import Tracer
from portway.upstream.connection import UpstreamConnection

_TRACEPARENT, _TRACESTATE = b"traceparent", b"tracestate"


class TracedExchange(Exchange):
    __slots__ = (
        "attempt",
        "base_headers",
        "sampled",
        "server",
        "span_id",
        "trace",
        "tracer",
        "tracestate",
    )

    def __init__(
        self,
        tracer: Tracer,
        template: str,
        head: RequestHead,
        client: Responder,
        route: RouteRuntime,
        client_path: str,
        path: str,
        query: bytes,
        rules: ForwardingRules,
        access_log: AccessLog | None,
    ) -> None:
        super().__init__(head, client, route, client_path, path, query, rules, access_log)
        self.tracer = tracer
        parent, linked = tracer.parents(head)
        trace_id = parent.trace_id if parent is not None else new_trace_id()
        self.trace = trace_id
        self.trace_id = f"{trace_id:032x}"
        self.sampled = tracer.sampler.sampled(trace_id, parent)
        self.span_id = new_span_id()
        self.tracestate = parent.tracestate if parent is not None else b""
        self.attempt: SpanRecord | None = None
        self.base_headers: list[tuple[bytes, bytes]] | None = None
        self.server: SpanRecord | None = None
        if not self.sampled:
            return
        attributes: dict[str, str | int] = {
            "http.request.method": head.method,
            "url.path": client_path,
            "url.scheme": tracer.scheme,
            "http.route": template,
            "network.protocol.version": head.version,
            "network.peer.address": head.client_ip,
            "network.peer.port": head.client_port,
            "client.address": self.client_ip,
        }
        if head.host:
            host, _, port = head.host.decode("latin-1").rpartition(":")
            if host and port.isdigit():
                attributes["server.address"] = host.strip("[]")
                attributes["server.port"] = int(port)
            else:
                attributes["server.address"] = head.host.decode("latin-1")
        agent = head.header(b"user-agent")
        if agent:
            attributes["user_agent.original"] = agent.decode("latin-1")
        attributes["portway.request_id"] = head.request_id
        server = SpanRecord(
            f"{head.method} {template}",
            SERVER,
            trace_id,
            self.span_id,
            parent.span_id if parent is not None else 0,
            time.time_ns(),
            attributes,
        )
        server.tracestate = self.tracestate
        if linked is not None:
            server.links.append((linked.trace_id, linked.span_id))
        self.server = server

    # -- attempts: one client span each ----------------------------------------------------------
    def _attach(self, up: UpstreamConnection) -> None:
        self._end_attempt()
        base = self.base_headers
        if base is None:  # the policies' headers, as they were before the first attempt
            base = self.base_headers = list(self.upstream_headers)
        span_id = new_span_id()
        trace_id = self.trace
        headers = [*base, (_TRACEPARENT, traceparent(trace_id, span_id, self.sampled))]
        if self.tracestate:
            headers.append((_TRACESTATE, self.tracestate))
        self.upstream_headers = headers
        server = self.server
        if server is not None and self.pool is not None:
            target = self.pool.target
            resends = int(server.attributes.get("portway.attempts", 0))
            server.attributes["portway.attempts"] = resends + 1
            attributes: dict[str, str | int] = {"http.request.method": self.head.method}
            if target.path is not None:
                attributes["server.address"] = target.path
                attributes["network.transport"] = "unix"
                attributes["url.full"] = f"http://localhost{self.path}"
            else:
                assert target.host is not None
                attributes["server.address"] = target.host
                attributes["server.port"] = target.port
                scheme = "https" if target.tls is not None else "http"
                attributes["url.full"] = f"{scheme}://{target.host_header.decode('latin-1')}{self.path}"
            if resends:
                attributes["http.request.resend_count"] = resends
            attributes["portway.upstream"] = self.route.upstream.name
            self.attempt = SpanRecord(
                self.head.method, CLIENT, trace_id, span_id, server.span_id, time.time_ns(), attributes
            )
            self.attempt.tracestate = self.tracestate
        super()._attach(up)

    def _end_attempt(self, error: str = "") -> None:
        attempt, self.attempt = self.attempt, None
        if attempt is None:
            return
        if error:
            attempt.attributes["error.type"] = attempt.error = error
        attempt.end_ns = time.time_ns()
        self.tracer.finish(attempt)

    def on_response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        attempt = self.attempt
        if attempt is not None:
            attempt.attributes["http.response.status_code"] = status
            if status >= 400:
                attempt.attributes["error.type"] = attempt.error = str(status)
        super().on_response_head(status, reason, headers)
        if self.up is None and attempt is not None and self.phase is not Phase.DONE:
            self._end_attempt()  # held back to be retried: this attempt ends with its answer

    def on_upstream_error(self, error: UpstreamError) -> None:
        self._end_attempt(type(error).__name__)
        super().on_upstream_error(error)

    # -- the server span -------------------------------------------------------------------------
    def _denied(self, denial: Denial) -> Denial:
        server = self.server
        if server is not None:
            attributes: dict[str, str | int] = {"http.response.status_code": denial.status}
            if isinstance(denial, ClientError):
                attributes["portway.detail"] = denial.detail
            server.events.append(("portway.policy.denied", time.time_ns(), attributes))
        return super()._denied(denial)

    def _fail(self, error: GatewayError) -> None:
        server = self.server
        if server is not None:
            server.attributes["error.type"] = type(error).__name__
            server.error = str(error)
        super()._fail(error)

    def _complete(self, status: int) -> None:
        super()._complete(status)
        self._end_attempt()
        server = self.server
        if server is None:
            return
        self.server = None
        attributes = server.attributes
        attributes["http.response.status_code"] = status
        if status >= 500:
            attributes.setdefault("error.type", str(status))
            server.error = server.error or str(status)
        server.end_ns = time.time_ns()
        self.tracer.finish(server)
