"""One keep-alive connection to an upstream target: writes requests, parses responses.

Rules:
- The connection's :class:`State` moves only along :data:`TRANSITIONS` (``_enter`` checks each move;
  the two or three on every request whose source was just tested assign directly). It reports to the
  *exchange* holding it (a :class:`ResponseSink`) and to its *owner* (the pool, through the narrow
  :class:`Owner` protocol: ``release`` when a response ended cleanly, ``forget`` once when it
  closes). It keeps no counts of its own: the pool keeps the books.
- It is never reused after an error, a timeout, a ``Connection: close`` from the peer, a response
  that ended before its request was fully sent, or any byte received while idle.
- Faults say what reached the upstream: closed before any byte of answer → :class:`UpstreamDisconnected`
  (the exchange may replay an idempotent request); closed mid-answer, invalid HTTP, or a response
  head over ``max_head_bytes`` / ``max_headers`` → :class:`UpstreamProtocolError`; silence past the
  read timeout → :class:`ReadTimeout`.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Protocol, cast

import httptools

from portway.errors import ReadTimeout, UpstreamDisconnected, UpstreamError, UpstreamProtocolError
from portway.transitions import advance


class State(enum.IntEnum):
    # IntEnum: members hash in C, so a transition check costs ~0.1 µs on the hot path (an
    # Enum's hash is a Python call, ~0.35 µs, and every request makes about ten of them).
    CLOSED = 1  # not handed out yet (connecting), or closed
    IDLE = 2  # in the pool, between requests
    ACTIVE = 3  # handed to an exchange; no byte of the answer yet
    RECEIVING = 4  # answer bytes arriving
    TUNNEL = 5  # a raw byte pump after 101


TRANSITIONS: dict[State, frozenset[State]] = {
    State.CLOSED: frozenset({State.ACTIVE}),
    State.IDLE: frozenset({State.ACTIVE, State.CLOSED}),
    State.ACTIVE: frozenset({State.RECEIVING, State.CLOSED}),
    State.RECEIVING: frozenset({State.IDLE, State.TUNNEL, State.CLOSED}),
    State.TUNNEL: frozenset({State.CLOSED}),
}
_CLOSED, _IDLE, _ACTIVE, _RECEIVING, _TUNNEL = State


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    max_head_bytes: int = 64 * 1024
    max_headers: int = 200


class ResponseSink(Protocol):
    """What an exchange implements to receive one upstream response."""

    def on_response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None: ...
    def on_response_body(self, data: bytes) -> None: ...
    def on_response_end(self) -> None: ...
    def on_upstream_error(self, error: UpstreamError) -> None: ...
    def on_upstream_writable(self) -> None: ...
    def on_tunnel_data(self, data: bytes) -> None: ...
    def flush_head(self) -> None: ...


class Owner(Protocol):
    """What a connection tells whoever handed it out (the pool)."""

    def release(self, conn: UpstreamConnection) -> None: ...
    def forget(self, conn: UpstreamConnection, was_busy: bool) -> None: ...


class _HeadTooLarge(Exception):
    pass


class UpstreamConnection(asyncio.Protocol):
    def __init__(
        self, owner: Owner, loop: asyncio.AbstractEventLoop, label: str, limits: ResponseLimits
    ) -> None:
        self.owner = owner
        self.loop = loop
        self.label = label
        self.limits = limits
        self._max_head = limits.max_head_bytes
        self._max_fields = limits.max_headers
        self._read_size = 0  # bytes of the read being parsed
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: ResponseSink | None = None
        self.state = _CLOSED  # until the pool claims it: a failed connect never touches the books
        self.deadline = 0.0
        self.write_paused = False
        self.reading_paused = False  # held back by the exchange while the client cannot take more
        self.request_sent = False
        self.head_only = False  # response to HEAD: no body whatever the headers say
        self.keep_alive = True
        self.served = 0
        self.claimed_at = 0.0  # when the pool handed it out (timed only for the `ewma` balancer)
        self._read_timeout = 0.0
        self._status = 0
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_open = False  # between a response's first byte and the end of its head
        self._head_wire = 0  # bytes read while a head was open: bounds a header that never ends
        self._interim = False
        self._until_close = False  # the current response's body ends when the upstream closes

    def __repr__(self) -> str:
        return f"<UpstreamConnection {self.label} {self.state.name} served={self.served}>"

    def _enter(self, state: State) -> None:
        if state not in TRANSITIONS[self.state]:  # checked here, inline: ~ten moves a request
            advance(TRANSITIONS, self.state, state, "upstream connection")  # raises, naming the move
        self.state = state

    @property
    def usable(self) -> bool:
        return self.state is _IDLE and self.transport is not None and not self.transport.is_closing()

    # -- used by the pool and the exchange ----------------------------------------------------
    def claim(self) -> None:
        self._enter(_ACTIVE)
        self.deadline = 0.0

    def begin(
        self, sink: ResponseSink, head_only: bool, read_timeout: float, head: bytes, whole: bool
    ) -> None:
        """Start an exchange by sending the request ``head``; ``whole``: the request has no body,
        so it is fully sent with its head (no ``request_complete`` follows)."""
        self.sink = sink
        self.head_only = head_only
        self.request_sent = whole
        self._until_close = False
        self._read_timeout = read_timeout
        self.deadline = self.loop.time() + read_timeout
        if self.transport is not None:
            self.transport.write(head)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if not self.request_sent and self.state is _ACTIVE:
                # While the request body goes out, the upstream is waiting for it, not late: the
                # read timeout counts from the last byte sent (a stalled upstream stops taking
                # bytes, the client is held back, and the deadline then runs out).
                self.deadline = self.loop.time() + self._read_timeout

    def request_complete(self) -> None:
        self.request_sent = True
        if self.state is _ACTIVE:
            self.deadline = self.loop.time() + self._read_timeout

    def divert(self, sink: ResponseSink) -> None:
        """The rest of this response goes to ``sink`` (an exchange retrying discards it)."""
        self.sink = sink

    def detach(self) -> None:
        """The client went away mid-exchange: this connection's state is unknown, drop it."""
        self.sink = None
        self.close()

    def open_tunnel(self) -> None:
        self._enter(_TUNNEL)
        self.deadline = 0.0

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.reading_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        was = self.state
        if was is not _CLOSED:
            self._enter(_CLOSED)
            self.deadline = 0.0
            self.owner.forget(self, was_busy=was is not _IDLE)
            if self.transport is not None:
                self.transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.state
        if self._until_close and exc is None and was is _RECEIVING:
            self._message_done()  # a clean close is how a close-delimited body ends (RFC 9112 §6.3)
            return
        sink, self.sink = self.sink, None
        if was is not _CLOSED:
            self.close()
        if sink is None:
            return
        if was is _ACTIVE:
            # Closed without a byte of answer: a kept-alive connection whose timer fired as our
            # request went out, or a process that died. The exchange may replay an idempotent request.
            sink.on_upstream_error(UpstreamDisconnected(f"{self.label} closed the connection unanswered"))
        elif was is _RECEIVING:
            sink.on_upstream_error(UpstreamProtocolError(f"{self.label} closed the connection mid-response"))
        elif was is _TUNNEL:
            sink.on_upstream_error(UpstreamDisconnected(f"{self.label} closed the tunnel"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.sink is not None:
            self.sink.on_upstream_writable()

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state is _TUNNEL:
            if self.sink is not None:
                self.sink.on_tunnel_data(data)
            return
        if state is _ACTIVE:
            self.state = _RECEIVING  # a move the table allows from the state just checked
        elif state is not _RECEIVING:
            self.close()  # bytes nobody asked for: this connection can no longer be trusted
            return
        self.deadline = self.loop.time() + self._read_timeout
        self._read_size = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if rest and self.sink is not None:
                self.sink.on_tunnel_data(rest)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._fail(UpstreamProtocolError(f"{self.label}: {cause}"))
            elif cause is not None and not isinstance(cause, httptools.HttpParserError):
                raise cause from None  # a bug in the exchange, not bad upstream input
            else:
                self._fail(UpstreamProtocolError(f"invalid response from {self.label}: {exc}"))
        else:
            if self._head_open:
                self._head_wire += len(data)
                if self._head_wire > self.limits.max_head_bytes:
                    self._fail(
                        UpstreamProtocolError(
                            f"{self.label}: response head over {self.limits.max_head_bytes} bytes"
                        )
                    )
                    return
            if self.sink is not None:
                self.sink.flush_head()

    def on_deadline(self, now: float) -> None:
        if self.state is _IDLE:
            self.close()  # idle expiry
        elif self.state is _ACTIVE or self.state is _RECEIVING:
            self._fail(ReadTimeout(f"{self.label} did not answer in time"))

    # -- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""
        self._head_open = True
        self._head_wire = 0

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        # Bounded without a check per field: this read's bytes bound what one call to the parser
        # can add, data_received bounds the head across reads, and the head is measured once
        # complete (below), before anything of it is passed on.
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_open = False
        if len(self._headers) > self._max_fields or self._head_wire + self._read_size > self._max_head:
            self._measure_head()  # it may still fit: the bound counts the whole read
        status = self.parser.get_status_code()
        self._status = status
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100/102/103: not forwarded, the final response follows
            return
        self.keep_alive = keep = self.parser.should_keep_alive()
        # llhttp never calls a body that ends at EOF keep-alive, so a kept response skips the scan.
        self._until_close = (
            not keep
            and not self.head_only
            and status not in (101, 204, 304)
            and _close_delimited(self._headers)
        )
        sink = self.sink
        if sink is not None:
            sink.on_response_head(status, self._reason, self._headers)
        if self.head_only and status != 101 and self.state is _RECEIVING:
            # The parser would now wait for a body HEAD responses never carry: start afresh.
            self.parser = httptools.HttpResponseParser(self)
            self._message_done()

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.on_response_body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._status != 101 and self.state is _RECEIVING:
            self._message_done()

    # -- internals ---------------------------------------------------------------------------
    def _measure_head(self) -> None:
        headers = self._headers
        if len(headers) > self._max_fields:
            raise _HeadTooLarge(f"response head with over {self._max_fields} fields")
        size = len(self._reason) + sum(len(name) + len(value) + 4 for name, value in headers)
        if size > self._max_head:
            raise _HeadTooLarge(f"response head over {self._max_head} bytes")

    def _message_done(self) -> None:
        self._status = 0
        self.served += 1
        sink, self.sink = self.sink, None
        # Back to the pool before the exchange hears of it, so a pipelined next request can reuse it.
        # A response that ended before its request was fully sent leaves the stream unusable.
        if self.keep_alive and self.request_sent:
            if self.state is not _RECEIVING:
                self._enter(_IDLE)  # raises: only a connection receiving an answer ends one
            self.state = _IDLE
            self.deadline = 0.0
            if self.reading_paused:
                # The last bytes filled the client's buffer and the exchange held us back; the
                # exchange is done with us, so nobody else would resume reading: do it now.
                self.resume_reading()
            self.owner.release(self)
        else:
            self.close()
        if sink is not None:
            sink.on_response_end()

    def _fail(self, error: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None:
            sink.on_upstream_error(error)


def _close_delimited(headers: list[tuple[bytes, bytes]]) -> bool:
    """Neither a Content-Length nor a final chunked coding frames this response's body."""
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            return False
        if lname == b"transfer-encoding" and value.rsplit(b",", 1)[-1].strip().lower() == b"chunked":
            return False
    return True
