"""One proxied request, from the client's head to the upstream's last byte (DESIGN.md §1).

An :class:`Exchange` is the handler the server feeds with request events and the sink the upstream
connection feeds with response events; its connecting half is :mod:`~portway.forward.connecting`,
its responding half :mod:`~portway.forward.responding` (base classes, apart so each stays
readable). With a warm pool the whole exchange runs in callbacks: the
request head is written to a pooled connection as soon as the route's policies let it through, and
each body chunk is relayed as it arrives, both ways, pausing the sending side while the receiving
side's buffer is full. Only awaiting a policy's I/O or a new upstream connection runs as a coroutine.

Rules:
- The :class:`Phase` moves only along :data:`TRANSITIONS`.
- What reached the upstream decides a retry (:mod:`portway.forward.retry`): nothing sent → another
  target while one is left; sent → replayed only when idempotent, bodiless and unanswered, or as
  the route's ``retries:`` allow (:mod:`portway.forward.attempts`). A status worth a retry is held
  back: its answer is discarded before any byte of it reached the client.
- Passive health hears each answer only when the pool is ``observing`` (outlier or breaker set).
- The exchange is given what it needs (route, forwarding rules, access log), never the gateway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from mypy_extensions import mypyc_attr

from portway.contract import Answer, RequestHead, Responder
from portway.errors import (
    ClientError,
    GatewayError,
    UpstreamError,
)
from portway.forward.attempts import Attempts
from portway.forward.background import NoClient
from portway.forward.phases import TRANSITIONS, Phase
from portway.forward.responding import Responding
from portway.forward.retry import may_replay
from portway.forward.route import RouteRuntime
from portway.forward.rules import ForwardingRules
from portway.policies.base import BodyFilter, Denial, Identity, Reply
from portway.policies.runner import run, run_response, settle
from portway.tasks import spawn
from portway.telemetry.access_log import AccessLog
from portway.transitions import advance
from portway.upstream.connection import UpstreamConnection
from portway.upstream.pool import TargetPool

log = logging.getLogger("portway.proxy")


_POLICIES, _CONNECTING, _FORWARDING, _RESPONDING, _TUNNEL, _DONE = Phase


# Compiled (mypyc): an interpreted subclass (tracing.TracedExchange, the aggregate exchange)
# must still have its overrides called.
@mypyc_attr(allow_interpreted_subclasses=True)
class Exchange(Responding):
    # fmt: off
    __slots__ = (
        "_client_ip", "access_log", "client_path", "fallback", "identity", "notes", "out_start",
        "trace_id",
    )
    # fmt: on

    def __init__(
        self,
        head: RequestHead,
        client: Responder,
        route: RouteRuntime,
        client_path: str,
        path: str,
        query: bytes,
        rules: ForwardingRules,
        access_log: AccessLog | None,
    ) -> None:
        self.head = head
        self.client = client
        self.route = route
        self.client_path = client_path
        self.path = path
        self.query = query
        self.rules = rules
        self.access_log = access_log
        self.phase = _POLICIES
        self.up: UpstreamConnection | None = None
        self.pool: TargetPool | None = None
        self.pending: list[bytes] | None = None  # body chunks that arrived before the upstream did
        self.request_done = False
        self.chunk_out = False
        self.keep_client = head.keep_alive
        self.client_held = False
        self.up_read_paused = False
        self.bytes_in = 0
        self.out_start = client.bytes_out
        self.status = 0
        self.replays = 0
        self.identity: Identity | None = None
        self.head_out: bytes | None = None  # response head held back to go out with the first body bytes
        self.body_filter: BodyFilter | None = None  # what response hooks asked the body to stream through
        self.request_filter: BodyFilter | None = (
            None  # what a request hook asked the upload to stream through
        )
        self.upstream_headers: list[tuple[bytes, bytes]] = []
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.notes: dict[str, object] | None = None  # policies' own per-request state (policies/base.py)
        self.fallback: Callable[[], Answer | None] | None = None  # answers an upstream that gave none
        self._client_ip: str | None = None
        self.attempts = None if route.retry is None else Attempts(route.retry, head.has_body)
        self.counted = False  # in the upstream's `in_flight` (max_concurrent)
        # The access log's trace_id, set by tracing.TracedExchange: an attribute of this class (not
        # a subclass's slot), since compiled code reads this class's own field.
        self.trace_id = ""

    def __repr__(self) -> str:
        return f"<Exchange {self.head.method} {self.path} id={self.head.request_id} {self.phase.name}>"

    def _enter(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:  # checked here, inline: ~ten moves a request
            advance(TRANSITIONS, self.phase, phase, "exchange phase")  # raises, naming the move
        self.phase = phase

    # -- the policy context ----------------------------------------------------------------------
    @property
    def route_name(self) -> str:
        return self.route.name

    @property
    def client_ip(self) -> str:
        if self._client_ip is None:
            self._client_ip = self.rules.client_ip(self.head)
        return self._client_ip

    def background(
        self,
        headers: list[tuple[bytes, bytes]],
        upstream_headers: list[tuple[bytes, bytes]],
        notes: dict[str, object],
        fallback: Callable[[], Answer | None] | None,
    ) -> None:
        """This request again, bodiless, on an exchange of its own that answers nobody; its
        response runs through the response hooks only (the request hooks already ran for it)."""
        head = self.head
        copy = RequestHead(
            head.method, head.target, "1.1", headers, True, False, head.client_ip, head.client_port,
            time.perf_counter(),
        )  # fmt: skip
        copy.host = head.host
        copy.request_id = head.request_id + "-bg"
        exchange = Exchange(
            copy, NoClient(), self.route, self.client_path, self.path, self.query, self.rules, None
        )
        exchange.identity = self.identity
        exchange.upstream_headers = [*self.upstream_headers, *upstream_headers]
        exchange.notes = notes
        exchange.fallback = fallback
        exchange.request_done = True
        exchange._forward()

    # -- start: the route's policies ---------------------------------------------------------------
    def start(self) -> Denial | None:
        """Run the route's policies and forward unless one answers; a denial is returned for the
        server to render. An awaitable result moves the rest of the chain to a coroutine while the
        client's body is held back."""
        hooks = self.route.chain.request_hooks
        if hooks:
            index, result = run(hooks, self)
            if result is not None:
                if isinstance(result, ClientError | Answer):
                    return self._denied(self._enclosed(index, result))
                self._hold_client()
                spawn(self._settle(index, result), name=f"policies {self.route.name}")
                return None
        self._forward()
        return None

    async def _settle(self, index: int, pending: Awaitable[Denial | None]) -> None:
        index, denial = await settle(self.route.chain.request_hooks, self, index, pending)
        if self.phase is _DONE:
            return
        if denial is None:
            self._forward()
            return
        denial = self._denied(self._enclosed(index, denial))
        if isinstance(denial, ClientError):
            self.client.refuse(denial, self.head)
        else:
            self.client.answer(denial, self.head)

    def _enclosed(self, index: int, denial: Denial) -> Denial:
        """An answer a policy gave (a cache hit, not a refusal or a preflight's 204) goes out through
        the response hooks of the policies before it, as the upstream's answer would have: CORS
        and header transforms apply to a hit as to a miss. ``index`` is just past that policy."""
        if not isinstance(denial, Answer) or denial.status < 200 or denial.status == 204:
            return denial
        hooks = self.route.chain.enclosing[index - 1]
        if not hooks:
            return denial
        headers = list(denial.headers)
        if denial.content_type is not None:
            headers.append((b"content-type", denial.content_type))
        reply = Reply(denial.status, b"", headers)
        body = denial.body
        body_filter = run_response(hooks, self, reply)
        if body_filter is not None:  # the whole body is here: filtered at once
            body = body_filter.data(body) + body_filter.end() if body else body_filter.end()
        return Answer(reply.status, reply.headers, body, None)

    def _denied(self, denial: Denial) -> Denial:
        self._complete(denial.status)
        extra = self.response_headers
        if not extra:
            return denial
        if isinstance(denial, ClientError):
            return ClientError(denial.status, denial.detail, [*denial.headers, *extra])
        return Answer(denial.status, [*denial.headers, *extra], denial.body, denial.content_type)

    def _denied_headers(self, answer: Answer) -> Answer:
        extra = self.response_headers
        return Answer(answer.status, [*answer.headers, *extra], answer.body) if extra else answer

    def _hold_client(self) -> None:
        if self.head.has_body and not self.client_held:
            self.client.hold_reading()
            self.client_held = True

    # -- request body (server → here → upstream) -------------------------------------------------
    def on_body(self, data: bytes) -> None:
        if self.phase is _DONE:
            return
        self.bytes_in += len(data)
        limit = self.route.max_body
        if limit is not None and self.bytes_in > limit:
            self._abort_request(ClientError(413, f"request body larger than {limit} bytes"))
            return
        request_filter = self.request_filter
        if request_filter is not None:
            try:
                data = request_filter.data(data)
            except ClientError as error:  # a decompression bomb, a body not in its coding
                self._abort_request(error)
                return
            if not data:
                return  # nothing decoded yet (and an empty chunk would end a chunked body)
        self._relay(data)

    def _relay(self, data: bytes) -> None:
        if self.attempts is not None:
            self.attempts.keep(data)
        up = self.up
        if up is None:
            if self.pending is None:
                self.pending = []
            self.pending.append(data)
            return
        self._send_body(data)
        if up.write_paused and not self.client_held:
            self.client_held = True
            self.client.hold_reading()

    def _send_body(self, data: bytes) -> None:
        up = self.up
        if up is None or self.phase is _TUNNEL:
            return
        if self.head.body_chunked or self.request_filter is not None:
            up.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            up.write(data)

    def on_end(self) -> None:
        request_filter = self.request_filter
        if request_filter is not None and self.phase is not _DONE:
            try:
                tail = request_filter.end()
            except ClientError as error:
                self._abort_request(error)
                return
            if tail:
                self._relay(tail)
        self.request_done = True
        up = self.up
        if up is not None and not up.request_sent:  # (a request without a body went with its head)
            self._end_request()

    def _end_request(self) -> None:
        up = self.up
        if up is None:
            return
        if self.head.body_chunked or self.request_filter is not None:
            up.write(b"0\r\n\r\n")
        up.request_complete()

    def on_upstream_writable(self) -> None:
        if self.client_held:
            self.client_held = False
            self.client.release_reading()

    # -- endings ---------------------------------------------------------------------------------
    def on_client_lost(self) -> None:
        if self.phase is _DONE:
            return
        up, self.up = self.up, None
        if up is not None:
            up.detach()  # the upstream request is aborted with the client's
        fallback, self.fallback = self.fallback, None
        if fallback is not None and self.phase is not _RESPONDING:
            fallback()  # no answer will come: the policy hears it (its answer has nobody to go to)
        self._complete(self.status if self.phase is _TUNNEL else 499)

    def on_upstream_error(self, error: UpstreamError) -> None:
        self.up = None
        phase = self.phase
        if phase is _DONE:
            return
        if phase is _TUNNEL:
            self._complete(self.status)
            self.client.close()
            return
        pool = self.pool
        if pool is not None and pool.observing:
            pool.outcome(True)
        if phase is _FORWARDING and self.attempts is not None and self.attempts.may_retry(self.head, error):
            self._retry()
            return
        if phase is _FORWARDING and may_replay(
            error, self.head, self.replays, len(self.route.upstream.pools)
        ):
            self._replay()
            return
        self._fail(error)

    def _abort_request(self, error: ClientError) -> None:
        up, self.up = self.up, None
        if up is not None:
            up.detach()
        if self.phase is _RESPONDING:
            self._complete(self.status)
            self.client.abort()
        else:
            self._complete(error.status)
            self.client.refuse(error, self.head)

    def _fail(self, error: GatewayError) -> None:
        up, self.up = self.up, None
        if up is not None:
            up.detach()  # whatever it would still send (after an unasked 101) must not reach the client
        log.warning(
            "upstream %s failed for %s %s (request %s): %s",
            self.route.upstream.name, self.head.method, self.path, self.head.request_id, error,
        )  # fmt: skip
        if self.phase is _RESPONDING:
            self._complete(self.status)
            self.client.abort()
            return
        fallback, self.fallback = self.fallback, None
        answer = fallback() if fallback is not None else None
        if answer is not None:  # a policy had something to send instead (a cache's stale-if-error)
            self._complete(answer.status)
            self.client.answer(self._denied_headers(answer), self.head)
            return
        self._complete(error.status)
        self.client.refuse(error, self.head)

    def _complete(self, status: int) -> None:
        if self.phase is _DONE:
            self._enter(_DONE)  # raises: an exchange completes once
        self.phase = _DONE
        body_filter = self.body_filter
        if body_filter is not None:  # ended before the body did: whatever the filter kept is partial
            self.body_filter = None
            body_filter.abort()
        if self.counted:
            self.route.upstream.in_flight -= 1
        self.status = status
        head = self.head
        elapsed = time.perf_counter() - head.start
        self.route.stats.observe(status, elapsed)
        if status >= 500:  # the dashboard's recent errors (telemetry/series.py): rare, and bounded
            target = self.pool.target.address if self.pool is not None else ""
            self.route.stats.failed(head.request_id, status, target, self.trace_id)
        access_log = self.access_log
        if access_log is not None:
            access_log.record(
                (
                    time.time(),
                    head.request_id,
                    head.client_ip,
                    head.method,
                    self.client_path,
                    self.route.name,
                    self.pool.target.address if self.pool is not None else "",
                    status,
                    self.bytes_in,
                    self.client.bytes_out - self.out_start,
                    elapsed * 1000.0,
                    self.client.tls_version,
                    self.trace_id,
                )
            )
