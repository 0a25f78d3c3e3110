"""The exchange of an aggregate route: the route's policies run as for any route, then, instead
of one proxied request, the plan's calls (forward/aggregate/plan.py) and one JSON answer.

Rules:
- Phases as an exchange's (forward/phases.py): POLICIES → FORWARDING (the calls are out) →
  RESPONDING → DONE, or FORWARDING → DONE with a 502 problem.
- The answer is ``200 application/json`` with a ``Content-Length``; a partial one carries
  ``X-Portway-Partial: <failed keys>`` beside the ``_partial`` field. The route's response hooks
  (header transforms, CORS) see its head as they would an upstream's. HEAD gets the head only.
- A client connection lost cancels the calls (their connections are closed, not returned); a
  half-closed one still gets its answer (the server's rule).
- An aggregate route takes no request body (GET, HEAD): the gateway sets its ``max_body`` to 0.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from portway.errors import ClientError, GatewayError
from portway.forward import heads
from portway.forward.exchange import Exchange
from portway.forward.phases import Phase
from portway.policies.base import Reply
from portway.policies.runner import run_response
from portway.tasks import spawn

log = logging.getLogger("portway.proxy")

Header = tuple[bytes, bytes]
PARTIAL_HEADER = b"x-portway-partial"
_TRACE_HEADERS = (b"traceparent", b"tracestate")

if TYPE_CHECKING:
    _Base = Exchange
else:
    _Base = object  # a mixin: the exchange classes below give it its state


class Aggregating(_Base):
    """What an aggregate exchange does differently, over :class:`Exchange` or a traced one."""

    # Layout-free at run time (each concrete class below holds `task`), which mypy cannot see.
    __slots__ = ("task",) if TYPE_CHECKING else ()
    task: asyncio.Task[None] | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = None

    def call_headers(self) -> list[Header]:
        # Without a tracer the client's own trace context goes on, as a proxied request's would.
        headers = list(self.upstream_headers)
        for name, value in self.head.headers:
            if name in _TRACE_HEADERS:
                headers.append((name, value))
        return headers

    def _forward(self) -> None:
        self._enter(Phase.FORWARDING)
        self.task = spawn(self._aggregate(), name=f"aggregate {self.route.name}")

    async def _aggregate(self) -> None:
        plan = self.route.aggregate
        assert plan is not None
        try:
            body, failed = await plan.run(self)
        except GatewayError as error:
            if self.phase is not Phase.DONE:
                name, request_id = self.route.name, self.head.request_id
                log.warning("aggregate %s failed (request %s): %s", name, request_id, error)
                self._complete(error.status)
                self.client.refuse(error, self.head)
            return
        except Exception:  # a bug is contained to its request, as a faulty policy is
            log.exception("aggregate %s failed for request %s", self.route.name, self.head.request_id)
            if self.phase is not Phase.DONE:
                self._complete(500)
                self.client.refuse(ClientError(500, "the gateway could not build this answer"), self.head)
            return
        if self.phase is not Phase.DONE:
            self._respond(body, failed)

    def _respond(self, body: bytes, failed: list[str]) -> None:
        head = self.head
        headers: list[Header] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if failed:
            headers.append((PARTIAL_HEADER, ", ".join(failed).encode()))
        reply = Reply(200, b"OK", headers)
        body_filter = run_response(self.route.chain.response_hooks, self, reply)
        if body_filter is not None:
            if head.method == "HEAD":
                body_filter.abort()
            else:  # the whole body is here: filtered at once, and its length known again
                body = body_filter.data(body) + body_filter.end()
                reply.headers = [h for h in reply.headers if h[0].lower() != b"content-length"]
                reply.headers.append((b"content-length", str(len(body)).encode()))
        client = self.client
        data, _, keep = heads.response_head(
            reply.status, reply.reason, reply.headers, head, self.response_headers,
            head.keep_alive and not client.closing, self.rules.response_headers,
        )  # fmt: skip
        self._enter(Phase.RESPONDING)
        self.status = reply.status
        client.write(data if head.method == "HEAD" else data + body)
        self._complete(reply.status)
        client.finish(keep)

    def on_client_lost(self) -> None:
        self._cancel_calls()
        super().on_client_lost()

    def _abort_request(self, error: ClientError) -> None:
        self._cancel_calls()  # a body sent after all (max_body is 0): refused, and the calls ended
        super()._abort_request(error)

    def _cancel_calls(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()


class AggregateExchange(Aggregating, Exchange):
    __slots__ = ("task",)
