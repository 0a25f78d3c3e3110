"""How an exchange reaches an upstream: a target picked, a connection acquired (or opened), the
request head written; and again, for a replay or a retry, on another target when there is one.

This is the connecting half of :class:`~portway.forward.exchange.Exchange` (its base class), apart
so each half stays readable; the rules are the exchange's (see its module).
"""

from __future__ import annotations

import asyncio
import logging

from mypy_extensions import mypyc_attr

from portway.contract import RequestHead, Responder
from portway.errors import GatewayError, UpstreamError
from portway.forward import heads
from portway.forward.attempts import Attempts
from portway.forward.phases import Phase
from portway.forward.retry import may_try_another
from portway.forward.route import RouteRuntime
from portway.forward.rules import ForwardingRules
from portway.policies.base import BodyFilter
from portway.tasks import spawn
from portway.upstream.connection import UpstreamConnection
from portway.upstream.pool import TargetPool

log = logging.getLogger("portway.proxy")

_POLICIES, _CONNECTING, _FORWARDING, _DONE = Phase.POLICIES, Phase.CONNECTING, Phase.FORWARDING, Phase.DONE


# Compiled (mypyc): an interpreted subclass (tracing.TracedExchange, through Exchange)
# must still have its overrides called.
@mypyc_attr(allow_interpreted_subclasses=True)
class Connecting:
    # The exchange's state this half reads and writes (Exchange adds the rest of its slots).
    # fmt: off
    __slots__ = (
        "attempts", "client", "client_held", "counted", "head", "path", "pending", "phase", "pool",
        "query", "replays", "request_done", "request_filter", "route", "rules", "up", "upstream_headers",
    )
    # fmt: on
    head: RequestHead
    client: Responder
    route: RouteRuntime
    rules: ForwardingRules
    phase: Phase
    pool: TargetPool | None
    up: UpstreamConnection | None
    attempts: Attempts | None
    counted: bool
    path: str
    query: bytes
    pending: list[bytes] | None
    request_done: bool
    client_held: bool
    replays: int
    upstream_headers: list[tuple[bytes, bytes]]
    request_filter: BodyFilter | None

    def _enter(self, phase: Phase) -> None:
        raise NotImplementedError

    def _fail(self, error: GatewayError) -> None:
        raise NotImplementedError

    def _hold_client(self) -> None:
        raise NotImplementedError

    def _send_body(self, data: bytes) -> None:
        raise NotImplementedError

    def _end_request(self) -> None:
        raise NotImplementedError

    def _forward(self) -> None:
        upstream = self.route.upstream
        if upstream.max_concurrent:
            if upstream.in_flight >= upstream.max_concurrent:
                self._fail(upstream.busy_error())
                return
            upstream.in_flight += 1
            self.counted = True
        if self.attempts is not None:
            self.attempts.begin()
        try:
            pool = upstream.pick(self.head)
        except UpstreamError as exc:
            self._fail(exc)
            return
        self.pool = pool
        up = pool.acquire_nowait()
        if up is not None:
            self._attach(up)
            return
        self._enter(_CONNECTING)
        self._hold_client()
        spawn(self._acquire(pool), name=f"acquire {pool.target}")

    async def _acquire(self, pool: TargetPool, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)  # a retry's backoff
            if self.phase is _DONE:
                return
        upstream = self.route.upstream
        tries = len(upstream.pools)
        failed: list[TargetPool] = []
        while True:
            try:
                up = await pool.acquire()
                break
            except UpstreamError as exc:
                tries -= 1
                if not may_try_another(exc, tries) or self.phase is _DONE:
                    if self.phase is not _DONE:
                        self._fail(exc)
                    return
                log.warning("upstream %s: %s; trying another target", upstream.name, exc)
                upstream.count_retry("connect")
                failed.append(pool)
                try:
                    pool = upstream.pick_other(self.head, failed)
                except UpstreamError as no_target:
                    self._fail(no_target)
                    return
                self.pool = pool
        if self.phase is _DONE:
            up.close()
            return
        self._attach(up)

    def _attach(self, up: UpstreamConnection) -> None:
        phase = self.phase
        if phase is not _POLICIES and phase is not _CONNECTING:
            self._enter(_FORWARDING)  # raises: only those two may move on to forwarding
        self.phase = _FORWARDING
        self.up = up
        head = self.head
        upstream = self.route.upstream
        attempts = self.attempts
        timeout = upstream.read_timeout
        if attempts is not None:
            timeout = attempts.timeout(timeout, head.start)
        pool = self.pool
        assert pool is not None
        host = head.host if upstream.preserve_host and head.host else pool.target.host_header
        target = self.path.encode()
        if self.query:
            query = self.rules.clean_query(self.query)
            if query:
                target += b"?" + query
        # A request without a body is whole with its head: it goes out as sent in one call.
        up.begin(
            self,  # type: ignore[arg-type]  # an Exchange is a ResponseSink
            head.method == "HEAD",
            timeout,
            heads.request_head(
                head, target, host, self.rules, self.upstream_headers, self.request_filter is not None
            ),
            not (head.body_chunked or head.content_length),
        )
        pending, self.pending = self.pending, None
        if pending:
            for chunk in pending:
                self._send_body(chunk)
        if self.request_done:
            self._end_request()
        elif head.expect_continue:
            self.client.send_continue()
        if self.client_held and not up.write_paused:
            self.client_held = False
            self.client.release_reading()

    def _replay(self) -> None:
        """No byte of answer came back (a kept-alive connection reused as the peer closed it, or a
        replica that died): see forward/retry.py for what may be sent again."""
        self.replays += 1
        self.route.upstream.count_retry("replay")
        try:
            self.pool = self.route.upstream.pick(self.head)
        except UpstreamError as exc:
            self._fail(exc)
            return
        self._enter(_CONNECTING)
        spawn(self._acquire(self.pool), name=f"replay on {self.pool.target}")

    def _retry(self) -> None:
        """Send the request again, to another target when there is one, after a backoff."""
        attempts = self.attempts
        if self.phase is _DONE or attempts is None:
            return
        if self.pool is not None:
            attempts.tried.append(self.pool)
        self.route.upstream.count_retry(attempts.reason)
        try:
            self.pool = pool = self.route.upstream.pick_other(self.head, attempts.tried)
        except UpstreamError as exc:
            self._fail(exc)
            return
        self.pending = attempts.body()
        self._enter(_CONNECTING)
        self._hold_client()
        spawn(self._acquire(pool, attempts.delay()), name=f"retry on {pool.target}")
