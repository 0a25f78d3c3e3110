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
- Deadlines: header (from the first byte of a request until its head is complete), body (between
  body chunks, suspended while we hold reading back), keep-alive idle (between requests).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from portway.server.framing import Refusal, check_framing
from portway.server.problem import problem_response, status_line
from portway.server.request import RequestHead, new_request_id
from portway.server.state import Handler, ServerState

_NO_DEADLINE, _HEAD, _BODY, _IDLE = 0, 1, 2, 3
_PAUSE_PIPELINE, _PAUSE_APP, _PAUSE_UPGRADE = 1, 2, 4
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# A request answered before its body was read keeps the connection only if the rest of the body is
# small enough to read and drop; otherwise the connection closes after the response.
_DISCARDABLE_BODY = 64 * 1024


class _Incoming:
    __slots__ = ("chunks", "complete", "discard", "handler", "head")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.handler: Handler | None = None
        self.chunks: list[bytes] = []
        self.complete = False
        self.discard = False

    @property
    def reusable(self) -> bool:
        """Can the connection serve another request once this one is answered?"""
        if not self.head.keep_alive:
            return False
        if self.complete or not self.head.has_body:
            return True
        length = self.head.content_length
        return length is not None and length <= _DISCARDABLE_BODY


class HttpConnection(asyncio.Protocol):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.limits = state.limits
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client_ip = ""
        self.client_port = 0
        self.parsing: _Incoming | None = None
        self.active: _Incoming | None = None
        self.queue: deque[_Incoming] = deque()
        self.deadline = 0.0
        self.deadline_kind = _NO_DEADLINE
        self.closing = False
        self.write_paused = False
        self.response_started = False
        self.bytes_out = 0
        self._read_paused = 0
        self._in_head = False
        self._head_bytes = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body_bytes = 0
        self._tunnel: Callable[[bytes], None] | None = None
        self._upgrade_rest = b""
        self._close_after = False

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
            self.closing = True
            return
        self.state.connections.add(self)
        self.state.timed.add(self)
        self._arm(_HEAD, self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
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
        if self.closing:
            return
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if self.active is None:
                # Answered already (no route, a denial): no tunnel can open, so keep speaking HTTP.
                if rest and not self.closing:
                    self.data_received(rest)
                return
            self._upgrade_rest = rest
            self._pause_reading(_PAUSE_UPGRADE)
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__ if isinstance(exc.__context__, Refusal) else None
            if refusal is None and isinstance(exc.__context__, Exception):
                raise exc.__context__ from None  # a bug in a handler, not bad input: let it surface
            self._refuse(refusal or Refusal(400, f"malformed request: {exc}"))
            return
        if self._in_head and self._head_bytes > self.limits.max_request_line + self.limits.max_header_bytes:
            self._refuse(Refusal(431, "request header section too large"))

    def eof_received(self) -> bool | None:
        # A half-closed client still gets its answer; the transport closes after we finish.
        if self.active is None:
            return False
        self.closing_after_response()
        return True

    # -- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body_bytes = 0
        self._arm(_HEAD, self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_request_line:
            raise Refusal(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.limits.max_header_bytes:
            raise Refusal(431, "request header section too large")
        if len(self._headers) >= self.limits.max_headers:
            raise Refusal(431, "too many request header fields")
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        head = RequestHead(
            parser.get_method().decode("ascii"),
            self._url,
            parser.get_http_version(),
            self._headers,
            parser.should_keep_alive(),
            parser.should_upgrade(),
            self.client_ip,
            self.client_port,
            time.perf_counter(),  # uvloop's loop.time() has millisecond resolution
        )
        incoming = _Incoming(head)
        self.parsing = incoming  # a refusal below carries this request's id
        try:
            check_framing(head)
        except Refusal:
            if not head.request_id:
                head.request_id = new_request_id()
            raise
        if head.content_length is not None and head.content_length > self.limits.max_body:
            raise Refusal(413, f"request body larger than {self.limits.max_body} bytes")
        if head.has_body:
            self._arm(_BODY, self.limits.body_timeout)
        else:
            self._arm(_NO_DEADLINE, 0)
        if self.active is None:
            self._dispatch(incoming)
        else:
            self.queue.append(incoming)
            self._pause_reading(_PAUSE_PIPELINE)

    def on_body(self, body: bytes) -> None:
        incoming = self.parsing
        if incoming is None:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body:
            raise Refusal(413, f"request body larger than {self.limits.max_body} bytes")
        if self.deadline_kind == _BODY:
            self.deadline = self.loop.time() + self.limits.body_timeout
        if incoming.handler is not None:
            incoming.handler.on_body(body)
        elif not incoming.discard:
            incoming.chunks.append(body)

    def on_message_complete(self) -> None:
        incoming, self.parsing = self.parsing, None
        if self.deadline_kind == _BODY:
            self._arm(_NO_DEADLINE, 0)
        if incoming is None:
            return
        incoming.complete = True
        if incoming.handler is not None:
            incoming.handler.on_end()

    # -- what handlers call ------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            self.response_started = True
            self.bytes_out += len(data)
            self.transport.write(data)

    def send_continue(self) -> None:
        if self.transport is not None and not self.response_started and not self.closing:
            self.transport.write(_CONTINUE)

    def finish(self, keep_alive: bool) -> None:
        """The active request's response is complete."""
        done, self.active = self.active, None
        self.response_started = False
        if done is None:
            return
        if not keep_alive or not done.reusable or self.closing or self._close_after or self.state.draining:
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
            self._arm(_IDLE, self.limits.keepalive_timeout)
        if self._read_paused & _PAUSE_UPGRADE and self.active is None:
            # An upgrade the upstream declined (any answer but 101): the connection goes on as HTTP,
            # starting with whatever the client sent after the upgrade request's head.
            rest, self._upgrade_rest = self._upgrade_rest, b""
            self._resume_reading(_PAUSE_UPGRADE)
            if rest:
                self.data_received(rest)

    def respond(self, data: bytes, keep_alive: bool) -> None:
        """Send a whole response the gateway made and finish the request."""
        self.write(data)
        self.finish(keep_alive)

    def refuse(self, status: int, detail: str, head: RequestHead, **kw: object) -> None:
        """Answer the active request with a problem+json of the gateway's own."""
        incoming = self.active
        keep = incoming is not None and incoming.reusable and not self.state.draining and not self.closing
        headers = kw.get("headers")
        self.respond(
            problem_response(
                status,
                detail,
                head.request_id,
                close=not keep,
                head_only=head.method == "HEAD",
                headers=headers if isinstance(headers, list) else None,
            ),
            keep,
        )

    def respond_empty(self, status: int, headers: list[tuple[bytes, bytes]], head: RequestHead) -> None:
        """Answer the active request with a bodiless response of the gateway's own (a preflight)."""
        incoming = self.active
        keep = incoming is not None and incoming.reusable and not self.state.draining and not self.closing
        lines = [status_line(status), b"x-request-id: ", head.request_id.encode(), b"\r\n"]
        for name, value in headers:
            lines += (name, b": ", value, b"\r\n")
        if status != 204 and not 100 <= status < 200:
            lines.append(b"content-length: 0\r\n")
        lines.append(b"\r\n" if keep else b"connection: close\r\n\r\n")
        self.respond(b"".join(lines), keep)

    def hold_reading(self) -> None:
        """Backpressure from the upstream: stop reading the request body for now."""
        self._pause_reading(_PAUSE_APP)
        if self.deadline_kind == _BODY:
            self.deadline = 0.0  # the client is not late while we hold it back

    def release_reading(self) -> None:
        self._resume_reading(_PAUSE_APP)
        if self.deadline_kind == _BODY:
            self.deadline = self.loop.time() + self.limits.body_timeout

    def start_tunnel(self, receive: Callable[[bytes], None]) -> bytes:
        """Switch to a raw byte pump after a 101; returns bytes the client sent after its head."""
        self._tunnel = receive
        self._arm(_NO_DEADLINE, 0)
        self.state.timed.discard(self)
        rest, self._upgrade_rest = self._upgrade_rest, b""
        self._resume_reading(_PAUSE_UPGRADE)
        return rest

    def closing_after_response(self) -> None:
        self._close_after = True

    def close(self) -> None:
        if not self.closing and self.transport is not None:
            self.closing = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            self.transport.abort()

    def close_if_idle(self) -> bool:
        if self.active is None and not self._in_head and self.parsing is None:
            self.close()
            return True
        return False

    # -- internals ---------------------------------------------------------------------------
    def _dispatch(self, incoming: _Incoming) -> None:
        self.active = incoming
        handler = self.state.app.handle(incoming.head, self)
        if self.active is not incoming:
            return  # answered synchronously (an error, a denial) and finished already
        incoming.handler = handler
        chunks, incoming.chunks = incoming.chunks, []
        for chunk in chunks:
            handler.on_body(chunk)
        if incoming.complete:
            handler.on_end()

    def _refuse(self, refusal: Refusal) -> None:
        """Bad input on the wire: answer (unless a response is under way) and close."""
        request_id = self.parsing.head.request_id if self.parsing is not None else new_request_id()
        self.queue.clear()
        if self.active is not None and self.active is not self.parsing:
            self.closing_after_response()  # let the response in progress finish, then close
            self._pause_reading(_PAUSE_PIPELINE)
            return
        active, self.active = self.active, None
        if not self.response_started:
            self.write(problem_response(refusal.status, refusal.detail, request_id, close=True))
        if active is not None and active.handler is not None:
            active.handler.on_client_lost()
        self.close()

    def _arm(self, kind: int, timeout: float) -> None:
        self.deadline_kind = kind
        self.deadline = self.loop.time() + timeout if kind != _NO_DEADLINE else 0.0

    def on_deadline(self, now: float) -> None:
        kind, self.deadline_kind = self.deadline_kind, _NO_DEADLINE
        if kind == _IDLE:
            self.close()
        elif kind in (_HEAD, _BODY):
            detail = "timed out reading the request " + ("head" if kind == _HEAD else "body")
            self._refuse(Refusal(408, detail))

    def _pause_reading(self, reason: int) -> None:
        if not self._read_paused and self.transport is not None:
            self.transport.pause_reading()
        self._read_paused |= reason

    def _resume_reading(self, reason: int) -> None:
        was = self._read_paused
        self._read_paused &= ~reason
        if was and not self._read_paused and self.transport is not None and not self.closing:
            self.transport.resume_reading()
