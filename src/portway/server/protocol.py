"""The client side of the gateway: one asyncio Protocol per connection, parsed with httptools.

Everything here runs in parser callbacks, with no task or coroutine per request (DESIGN.md §1):
the head is checked (:mod:`portway.server.framing`), handed to the application, and body events
are fed to the returned handler. The handler writes the response through :meth:`write` and ends it
with :meth:`finish`.

Rules:
- One request is served at a time. A pipelined request is parsed and queued (its body buffered, the
  socket paused) until the one before it has been answered, so responses stay in order.
- A response that ends before its request was fully read closes the connection (the rest of the
  body cannot be trusted to frame the next request).
- Parsing, limits and deadlines are the reader's (:mod:`portway.server.reader`).
- The connection's phase (:class:`Phase`) moves only along :data:`TRANSITIONS` (``_enter`` checks
  each move; the two or three on every request whose source was just tested assign directly); the
  parser's position (head, body, between requests) is the deadline kind, a second axis, since a
  pipelined request's head may be read while the one before it is answered.
- A client that half-closes mid-body will never finish its request: its handler hears
  ``on_client_lost`` (the upstream request is aborted) and the connection closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools
from mypy_extensions import mypyc_attr

from portway.contract import Answer, RequestHead
from portway.errors import ClientError, GatewayError
from portway.server.phases import TRANSITIONS, Phase
from portway.server.problem import problem_response, render_answer
from portway.server.reader import (
    _BODY,
    _HEAD,
    _IDLE,
    _NO_DEADLINE,
    _PAUSE_APP,
    _PAUSE_PIPELINE,
    _PAUSE_UPGRADE,
    Incoming,
    RequestReader,
)
from portway.server.request import new_request_id
from portway.server.state import ServerState
from portway.transitions import advance

__all__ = ["TRANSITIONS", "HttpConnection", "Phase"]

_WAITING, _ACTIVE, _RESPONDING, _TUNNEL, _CLOSED = Phase  # module-level: cheap to compare on the hot path
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_ANSWERED = (ClientError, Answer)


# Compiled (mypyc): an interpreted subclass (server.tls.TlsHttpConnection)
# must still have its overrides called.
@mypyc_attr(allow_interpreted_subclasses=True)
class HttpConnection(RequestReader):
    """One client connection; the :class:`~portway.contract.Responder` its handlers write through."""

    tls_version = ""  # "TLSv1.3" on a TLS listener (set once per connection, by server.tls)

    def __init__(self, state: ServerState) -> None:
        super().__init__(state)
        self.client_ip = ""
        self.client_port = 0
        self.write_paused = False
        self.bytes_out = 0
        self._tunnel: Callable[[bytes], None] | None = None
        self._close_after = False
        self._refused = b""  # a refusal held back until the response before it is complete

    def __repr__(self) -> str:
        return f"<HttpConnection {self.client_ip}:{self.client_port} {self.phase.name}>"

    def _enter(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:  # checked here, inline: ~ten moves a request
            advance(TRANSITIONS, self.phase, phase, "connection phase")  # raises, naming the move
        self.phase = phase

    @property
    def closing(self) -> bool:
        return self.phase is _CLOSED or self._close_after or self.state.draining

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client_ip, self.client_port = peer[0], peer[1]
        else:  # unix socket listener
            self.client_ip = "unix"
        if len(self.state.connections) >= self.limits.max_connections or self.state.draining:
            self.transport.write(problem_response(503, "too many connections", None, close=True))
            self.transport.close()
            self.phase = _CLOSED
            return
        self.state.connections.add(self)
        self.state.timed.add(self)
        self._arm(_HEAD, self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.phase is not _CLOSED:
            self._enter(_CLOSED)
        state = self.state
        state.connections.discard(self)
        state.timed.discard(self)
        if state.drained is not None and not state.connections:
            state.drained.set()
        active, self.active = self.active, None
        if active is not None and active.handler is not None:
            active.handler.on_client_lost()
        self.queue.clear()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.active is not None and self.active.handler is not None:
            self.active.handler.on_writable()

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel(data)
            return
        if self.phase is _CLOSED:
            return
        if self._in_head and not self._line_checked:
            # The request line began in an earlier read: keep its start for the line check (at most
            # a request line's worth: a longer one is refused before it is complete).
            carry = self._buffer[self._line_end :][-(self._max_line + 16) :]
            self._buffer = carry + data
        else:
            self._buffer = data
        if self._in_head:
            self._head_bytes += len(data)
        self._line_end = 0
        self._began_here = False
        self._read = data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if self.active is None:
                # Answered already (no route, a denial): no tunnel can open, so keep speaking HTTP.
                if rest and self.phase is not _CLOSED:
                    self.data_received(rest)
                return
            self._upgrade_rest = rest
            self._pause_reading(_PAUSE_UPGRADE)
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__ if isinstance(exc.__context__, ClientError) else None
            if refusal is None and isinstance(exc.__context__, Exception):
                raise exc.__context__ from None  # a bug in a handler, not bad input: let it surface
            self._refuse(refusal or ClientError(400, f"malformed request: {exc}"))
            return
        if self._in_head:
            self._tail = data[-3:]
            if self._head_bytes > self._max_line + self._max_header_bytes:
                self._refuse(ClientError(431, "request header section too large"))
        elif self._scan >= 0:
            try:
                self._scan_on(data)
            except ClientError as refusal:
                self._refuse(refusal)

    def eof_received(self) -> bool | None:
        incoming = self.parsing
        if incoming is not None and not self._in_head:
            # Half-closed in the middle of a body: the request can never complete, and forwarding
            # what came would hand the upstream a truncated request as if it were whole.
            self.parsing = None
            self.queue.clear()
            if incoming is self.active:
                self.active = None
                if incoming.handler is not None:
                    incoming.handler.on_client_lost()
                self.abort()
                return False
        if self.active is None:
            return False
        # A half-closed client still gets its answer; the transport closes after we finish.
        self._close_after = True
        return True

    # -- the Responder: what handlers call ---------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        phase = self.phase
        if transport is None or phase is _CLOSED:
            return
        if phase is _ACTIVE:
            self.phase = _RESPONDING  # a move the table allows from the phase just checked
        self.bytes_out += len(data)
        transport.write(data)

    def send_continue(self) -> None:
        if self.transport is not None and self.phase is _ACTIVE:
            self.transport.write(_CONTINUE)

    def finish(self, keep_alive: bool) -> None:
        """The active request's response is complete."""
        done, self.active = self.active, None
        if done is None:
            return
        phase = self.phase
        if phase is _RESPONDING or phase is _ACTIVE:
            self.phase = phase = _WAITING  # allowed from both, as just checked
        closing = phase is _CLOSED or self._close_after or self.state.draining  # (self.closing, inline)
        if not keep_alive or not done.reusable or closing:
            if self._refused and self.transport is not None and self.phase is not _CLOSED:
                self.bytes_out += len(self._refused)
                self.transport.write(self._refused)
            self.close()
            return
        if not done.complete:
            done.handler = None
            done.discard = True  # the rest of its (small) body is read and dropped
        if self.queue:
            self._dispatch(self.queue.popleft())
            if not self.queue:
                self._resume_reading(_PAUSE_PIPELINE)
        elif not self._in_head and self.parsing is None:
            self.deadline_kind = _IDLE  # (_arm, inline: after every response kept alive)
            self.deadline = self.loop.time() + self._idle_timeout
        if self._read_paused & _PAUSE_UPGRADE and self.active is None:
            # An upgrade the upstream declined (any answer but 101), or an h2c upgrade we ignored:
            # the connection goes on as HTTP, starting with what the client sent after that head.
            rest, self._upgrade_rest = self._upgrade_rest, b""
            self._resume_reading(_PAUSE_UPGRADE)
            if rest:
                self.data_received(rest)

    def _keep(self) -> bool:
        incoming = self.active
        return incoming is not None and incoming.reusable and not self.closing

    def refuse(self, error: GatewayError, head: RequestHead) -> None:
        """Answer the active request with a problem+json of the gateway's own. A 400 (a target or a
        path the gateway cannot make sense of) also ends the connection: after a request it could
        not read as meant, nothing that follows on the connection is trusted either."""
        keep = self._keep() and error.status != 400
        self.write(
            problem_response(
                error.status,
                error.public_detail,
                head.request_id,
                close=not keep,
                head_only=head.method == "HEAD",
                headers=error.headers,
            )
        )
        self.finish(keep)

    def answer(self, answer: Answer, head: RequestHead) -> None:
        """Answer the active request with a response of the gateway's own (a preflight, admin)."""
        keep = self._keep()
        self.write(render_answer(answer, head.request_id, close=not keep, head_only=head.method == "HEAD"))
        self.finish(keep)

    def hold_reading(self) -> None:
        """Backpressure from the upstream: stop reading the request body for now."""
        self._pause_reading(_PAUSE_APP)
        if self.deadline_kind == _BODY:
            self.deadline = 0.0  # the client is not late while we hold it back

    def release_reading(self) -> None:
        self._resume_reading(_PAUSE_APP)
        if self.deadline_kind == _BODY:
            self.deadline = self.loop.time() + self._body_timeout

    def start_tunnel(self, receive: Callable[[bytes], None]) -> bytes:
        """Switch to a raw byte pump after a 101; returns bytes the client sent after its head."""
        self._enter(_TUNNEL)
        self._tunnel = receive
        self._arm(_NO_DEADLINE, 0)
        self.state.timed.discard(self)
        rest, self._upgrade_rest = self._upgrade_rest, b""
        self._resume_reading(_PAUSE_UPGRADE)
        return rest

    def close(self) -> None:
        if self.phase is not _CLOSED and self.transport is not None:
            self._enter(_CLOSED)
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            if self.phase is not _CLOSED:
                self._enter(_CLOSED)
            self.transport.abort()

    def close_if_idle(self) -> bool:
        if self.active is None and not self._in_head and self.parsing is None:
            self.close()
            return True
        return False

    # -- internals ---------------------------------------------------------------------------
    def _dispatch(self, incoming: Incoming) -> None:
        # Assigned as declared (Optional), so the read after handle() is not narrowed to Incoming:
        # handle() may finish the request (active → None), and compiled code checks narrowed types.
        self.active = cast("Incoming | None", incoming)
        if self.phase is not _WAITING:
            self._enter(_ACTIVE)  # raises: only a waiting connection takes a request
        self.phase = _ACTIVE
        head = incoming.head
        decision = self.state.app.handle(head, self)
        if self.active is not incoming:
            return  # answered and finished already (an upstream error on the fast path)
        if isinstance(decision, _ANSWERED):  # one check on the hot path, where it is a handler
            if isinstance(decision, ClientError):
                self.refuse(decision, head)
            else:
                self.answer(decision, head)
            return
        incoming.handler = decision
        chunks, incoming.chunks = incoming.chunks, []
        for chunk in chunks:
            decision.on_body(chunk)
        if incoming.complete:
            decision.on_end()

    def _refuse(self, refusal: ClientError) -> None:
        """Bad input on the wire: answer (unless a response is under way) and close."""
        request_id = self.parsing.head.request_id if self.parsing is not None else new_request_id()
        self.queue.clear()
        if self.active is not None and self.active is not self.parsing:
            # A response is under way for an earlier request: it finishes, then the refusal goes
            # out (in order, as every answer on this connection) and the connection closes.
            self._close_after = True
            if self.active.head.keep_alive:  # else the client said it reads no further answer
                self._refused = problem_response(refusal.status, refusal.detail, request_id, close=True)
            self._pause_reading(_PAUSE_PIPELINE)
            return
        active, self.active = self.active, None
        if self.phase is not _RESPONDING and self.phase is not _CLOSED and self.transport is not None:
            body = problem_response(refusal.status, refusal.detail, request_id, close=True)
            self.bytes_out += len(body)
            self.transport.write(body)
        if active is not None and active.handler is not None:
            active.handler.on_client_lost()
        self.close()

    def on_deadline(self, now: float) -> None:
        kind, self.deadline_kind = self.deadline_kind, _NO_DEADLINE
        if kind == _IDLE:
            self.close()
        elif kind in (_HEAD, _BODY):
            detail = "timed out reading the request " + ("head" if kind == _HEAD else "body")
            self._refuse(ClientError(408, detail))
