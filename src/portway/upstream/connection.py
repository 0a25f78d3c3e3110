"""One keep-alive connection to an upstream target: writes requests, parses responses.

The connection reports to the *exchange* that holds it (the request being proxied) through plain
method calls; when the response is complete it returns itself to its pool, or closes when it cannot
be reused. It is never reused after an error, a timeout, a ``Connection: close`` from the peer, a
response that ended before its request was fully sent, or any byte received while idle.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from portway.errors import GatewayError, UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout

if TYPE_CHECKING:
    from portway.upstream.pool import TargetPool


class ResponseSink(Protocol):
    """What an exchange implements to receive one upstream response."""

    def on_response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], conn: UpstreamConnection
    ) -> None: ...
    def on_response_body(self, data: bytes) -> None: ...
    def on_response_end(self) -> None: ...
    def on_upstream_error(self, error: GatewayError) -> None: ...
    def on_upstream_writable(self) -> None: ...
    def on_tunnel_data(self, data: bytes) -> None: ...
    def flush_head(self) -> None: ...


_IDLE, _BUSY, _TUNNEL, _CLOSED = 0, 1, 2, 3


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: TargetPool) -> None:
        self.pool = pool
        self.loop = pool.loop
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
        self._status = 0
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._ended = False
        self._answering = False  # a byte of the current response has arrived
        self._until_close = False  # the current response's body ends when the upstream closes

    def __repr__(self) -> str:
        states = {_IDLE: "idle", _BUSY: "busy", _TUNNEL: "tunnel", _CLOSED: "closed"}
        return f"<UpstreamConnection {self.pool.target} {states[self.state]} served={self.served}>"

    @property
    def usable(self) -> bool:
        return self.state == _IDLE and self.transport is not None and not self.transport.is_closing()

    # -- used by the pool and the exchange ----------------------------------------------------
    def claim(self) -> None:
        self.state = _BUSY
        self.deadline = 0.0

    def begin(self, sink: ResponseSink, head_only: bool, read_timeout: float) -> None:
        self.sink = sink
        self.state = _BUSY
        self.head_only = head_only
        self.request_sent = False
        self._ended = False
        self._answering = False
        self._until_close = False
        self._read_timeout = read_timeout
        self.deadline = self.loop.time() + read_timeout

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def request_complete(self) -> None:
        self.request_sent = True

    def detach(self) -> None:
        """The client went away mid-exchange: this connection's state is unknown, drop it."""
        self.sink = None
        self.close()

    def open_tunnel(self) -> None:
        self.state = _TUNNEL
        self.deadline = 0.0
        self.pool.sweeper.timed.discard(self)

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
        if was != _CLOSED:
            self.state = _CLOSED
            self.deadline = 0.0
            self.pool.forget(self, was_busy=was != _IDLE)
            if self.transport is not None:
                self.transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if self._until_close and exc is None and self.state == _BUSY and not self._ended:
            self._message_done()  # a clean close is how a close-delimited body ends (RFC 9112 §6.3)
            return
        sink, self.sink = self.sink, None
        was = self.state
        if was != _CLOSED:
            self.state = _CLOSED
            self.deadline = 0.0
            self.pool.forget(self, was_busy=was != _IDLE)
        if sink is not None and was in (_BUSY, _TUNNEL):
            if was == _BUSY and not self._ended:
                if not self._answering:
                    # Closed without a byte of answer: a kept-alive connection whose timer fired as
                    # our request went out, or a process that died. The exchange may replay an
                    # idempotent request elsewhere.
                    sink.on_upstream_error(UpstreamConnectError("upstream closed the connection unanswered"))
                else:
                    sink.on_upstream_error(
                        UpstreamProtocolError("upstream closed the connection mid-response")
                    )
            else:
                sink.on_upstream_error(UpstreamConnectError("tunnel closed"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.sink is not None:
            self.sink.on_upstream_writable()

    def data_received(self, data: bytes) -> None:
        if self.state == _TUNNEL:
            if self.sink is not None:
                self.sink.on_tunnel_data(data)
            return
        if self.state != _BUSY or self._ended:
            self.close()  # bytes nobody asked for: this connection can no longer be trusted
            return
        self.deadline = self.loop.time() + self._read_timeout
        self._answering = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if rest and self.sink is not None:
                self.sink.on_tunnel_data(rest)
        except httptools.HttpParserError as exc:
            if exc.__context__ is not None and not isinstance(exc.__context__, httptools.HttpParserError):
                raise exc.__context__ from None  # a bug in the exchange, not bad upstream input
            self._fail(UpstreamProtocolError(f"invalid response from upstream: {exc}"))
        else:
            if self.sink is not None:
                self.sink.flush_head()

    def on_deadline(self, now: float) -> None:
        if self.state == _IDLE:
            self.close()  # idle expiry
        elif self.state == _BUSY:
            self._fail(UpstreamTimeout("upstream did not answer in time"))

    # -- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        self._status = status
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100/102/103: not forwarded, the final response follows
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._until_close = (
            not self.head_only and status not in (101, 204, 304) and _close_delimited(self._headers)
        )
        sink = self.sink
        if sink is not None:
            sink.on_response_head(status, self._reason, self._headers, self)
        if self.head_only and status != 101:
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
        if self._status != 101 and not self._ended:
            self._message_done()

    # -- internals ---------------------------------------------------------------------------
    def _message_done(self) -> None:
        self._ended = True
        self._status = 0
        self.served += 1
        sink, self.sink = self.sink, None
        # Back to the pool before the exchange hears of it, so a pipelined next request can reuse it.
        # A response that ended before its request was fully sent leaves the stream unusable.
        if self.keep_alive and self.request_sent and self.state == _BUSY:
            self.state = _IDLE
            if self.reading_paused:
                # The last bytes filled the client's buffer and the exchange held us back; the
                # exchange is done with us, so nobody else would resume reading: do it now.
                self.resume_reading()
            self.pool.release(self)
        else:
            self.close()
        if sink is not None:
            sink.on_response_end()

    def _fail(self, error: GatewayError) -> None:
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
