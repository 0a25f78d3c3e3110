"""The protocol tier's harness: drive ``HttpConnection`` and ``UpstreamConnection`` with bytes, with
no socket, no event loop and no sleep (in the spirit of uvicorn's ``MockTransport`` / ``MockLoop``).

- :class:`FakeClock` is the loop's ``time()``; :meth:`FakeClock.advance` moves it and runs one sweep
  of the real :class:`~portway.sweeper.Sweeper` (never started), so deadlines fire exactly as in a
  server, only when a test says time has passed.
- :class:`FakeTransport` records what the protocol does to its socket.
- :class:`FakeApp` returns the decision a test chose; :class:`RecordingHandler` records the events
  the server feeds it and answers through the responder when told to.
- :class:`FakeOwner` and :class:`RecordingSink` record what an upstream connection reports, in one
  shared event log so their order is checked too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from portway.config.models import Limits
from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError, UpstreamError
from portway.server.protocol import HttpConnection
from portway.server.state import ServerState
from portway.sweeper import Sweeper
from portway.upstream.connection import ResponseLimits, UpstreamConnection

PEER = ("203.0.113.7", 50123)
RID = "req-00000001"  # a client X-Request-Id the server accepts as is


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """The fake loop's time. Starts at 1000 so that 0 (no deadline) is never a time."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sweeper: Sweeper | None = None

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Handle:
        return _Handle()  # the sweep reschedules itself; tests sweep by hand instead

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, then run one sweep: whatever is past its deadline hears of it."""
        self.now += seconds
        if self.sweeper is not None:
            self.sweeper._sweep()


class FakeTransport:
    def __init__(self, peer: object = PEER) -> None:
        self.peer = peer
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.reading = True
        self.pauses = 0
        self.resumes = 0

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)

    def take(self) -> bytes:
        """What was written since the last take."""
        data, self.writes = self.data, []
        return data

    def write(self, data: bytes) -> None:
        assert not self.closed and not self.aborted, "write after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def pause_reading(self) -> None:
        assert self.reading, "pause_reading twice"
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        assert not self.reading, "resume_reading while reading"
        self.reading = True
        self.resumes += 1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peer if name == "peername" else default


# -- the client side -------------------------------------------------------------------------------
class RecordingHandler:
    """A :class:`~portway.contract.Handler` that records its events. ``reply`` (a whole response)
    is written and finished when the request ends, unless it is ``None`` (the test answers)."""

    def __init__(self, responder: Responder, head: RequestHead, reply: bytes | None, keep: bool) -> None:
        self.responder = responder
        self.head = head
        self.reply = reply
        self.keep = keep
        self.events: list[tuple[object, ...]] = []

    def on_body(self, data: bytes) -> None:
        self.events.append(("body", data))

    def on_end(self) -> None:
        self.events.append(("end",))
        if self.reply is not None:
            self.respond(self.reply, self.keep)

    def on_client_lost(self) -> None:
        self.events.append(("lost",))

    def on_writable(self) -> None:
        self.events.append(("writable",))

    def respond(self, data: bytes, keep: bool = True) -> None:
        self.responder.write(data)
        self.responder.finish(keep)


def ok(body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)


class FakeApp:
    """Decides each request with ``decide(head, responder)``; by default a handler that answers
    :func:`ok` with the request's target as its body once the request has ended."""

    def __init__(self, decide: Callable[[RequestHead, Responder], Decision] | None = None) -> None:
        self.decide = decide
        self.heads: list[RequestHead] = []
        self.handlers: list[RecordingHandler] = []

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        self.heads.append(head)
        if self.decide is not None:
            return self.decide(head, responder)
        return self.handler(head, responder, ok(head.target))

    def handler(
        self, head: RequestHead, responder: Responder, reply: bytes | None = None, keep: bool = True
    ) -> RecordingHandler:
        handler = RecordingHandler(responder, head, reply, keep)
        self.handlers.append(handler)
        return handler

    @property
    def targets(self) -> list[bytes]:
        return [h.target for h in self.heads]


def waits(app: FakeApp) -> Callable[[RequestHead, Responder], Decision]:
    """A decider whose handlers never answer by themselves (the test answers through them)."""
    return lambda head, responder: app.handler(head, responder, None)


def refuses(error: ClientError) -> Callable[[RequestHead, Responder], Decision]:
    return lambda head, responder: error


def answers(answer: Answer) -> Callable[[RequestHead, Responder], Decision]:
    return lambda head, responder: answer


LIMITS = Limits(
    max_request_line=1024,
    max_header_bytes=2048,
    max_headers=10,
    max_body=4096,
    header_timeout=10.0,
    body_timeout=30.0,
    keepalive_timeout=75.0,
)


class ClientRig:
    """One :class:`HttpConnection` on a fake transport, a fake clock and a never-started sweeper."""

    def __init__(self, app: FakeApp | None = None, limits: Limits = LIMITS) -> None:
        self.clock = FakeClock()
        self.sweeper = Sweeper(self.clock)  # type: ignore[arg-type]
        self.clock.sweeper = self.sweeper
        self.app = app if app is not None else FakeApp()
        self.state = ServerState(self.app, limits, self.sweeper)
        self.conn = HttpConnection(self.state)
        self.transport = FakeTransport()
        self.conn.connection_made(self.transport)  # type: ignore[arg-type]

    def send(self, data: bytes) -> bytes:
        """Feed ``data`` as one read; returns what the connection wrote meanwhile."""
        self.conn.data_received(data)
        return self.transport.take()

    def advance(self, seconds: float) -> bytes:
        self.clock.advance(seconds)
        return self.transport.take()

    def lose(self) -> None:
        """The transport reports the connection gone (after close or abort)."""
        self.conn.connection_lost(None)


def get(target: str = "/", extra: str = "", version: str = "1.1") -> bytes:
    return f"GET {target} HTTP/{version}\r\nHost: gw\r\nX-Request-Id: {RID}\r\n{extra}\r\n".encode()


def problem(status: int, title: str, detail: str, request_id: str, close: bool, extra: bytes = b"") -> bytes:
    """The exact problem+json response expected, built without the server's renderer."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "request_id": request_id},
        separators=(",", ":"),
    ).encode()
    return (
        b"HTTP/1.1 %d %b\r\ncontent-type: application/problem+json\r\ncontent-length: %d\r\n"
        b"cache-control: no-store\r\nx-request-id: %b\r\n%b%b\r\n%b"
        % (
            status,
            title.encode(),
            len(body),
            request_id.encode(),
            extra,
            b"connection: close\r\n" if close else b"",
            body,
        )
    )


def request_id_of(response: bytes) -> str:
    found = re.search(rb"\r\nx-request-id: ([^\r]+)\r\n", response)
    assert found is not None, response
    return found.group(1).decode()


# -- the upstream side -----------------------------------------------------------------------------
class FakeOwner:
    """The pool, as far as a connection knows it: records ``release`` and ``forget`` in ``log``,
    arms the idle deadline on release and stops sweeping a forgotten connection (as the pool does)."""

    def __init__(self, log: list[tuple[object, ...]], sweeper: Sweeper, idle_timeout: float) -> None:
        self.log = log
        self.sweeper = sweeper
        self.idle_timeout = idle_timeout

    def release(self, conn: UpstreamConnection) -> None:
        self.log.append(("release",))
        conn.deadline = self.sweeper.loop.time() + self.idle_timeout

    def forget(self, conn: UpstreamConnection, was_busy: bool) -> None:
        self.log.append(("forget", was_busy))
        self.sweeper.timed.discard(conn)


class RecordingSink:
    """A :class:`~portway.upstream.connection.ResponseSink` recording into the shared ``log``;
    ``on_head`` runs after a head is recorded (a 101 opens the tunnel there, as the exchange does)."""

    def __init__(self, log: list[tuple[object, ...]], on_head: Callable[[int], None] | None = None) -> None:
        self.log = log
        self.on_head = on_head

    def on_response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.log.append(("head", status, reason, list(headers)))
        if self.on_head is not None:
            self.on_head(status)

    def on_response_body(self, data: bytes) -> None:
        self.log.append(("body", data))

    def on_response_end(self) -> None:
        self.log.append(("end",))

    def on_upstream_error(self, error: UpstreamError) -> None:
        self.log.append(("error", type(error)))

    def on_upstream_writable(self) -> None:
        self.log.append(("writable",))

    def on_tunnel_data(self, data: bytes) -> None:
        self.log.append(("tunnel", data))

    def flush_head(self) -> None:
        self.log.append(("flush",))


class UpstreamRig:
    """One :class:`UpstreamConnection` claimed by a fake owner, as the pool's ``_connect`` leaves it."""

    def __init__(
        self, limits: ResponseLimits | None = None, read_timeout: float = 5.0, idle_timeout: float = 60.0
    ) -> None:
        self.clock = FakeClock()
        self.sweeper = Sweeper(self.clock)  # type: ignore[arg-type]
        self.clock.sweeper = self.sweeper
        self.log: list[tuple[object, ...]] = []
        self.owner = FakeOwner(self.log, self.sweeper, idle_timeout)
        self.read_timeout = read_timeout
        self.conn = UpstreamConnection(
            self.owner,
            self.clock,
            "10.0.0.1:8080",
            limits or ResponseLimits(),  # type: ignore[arg-type]
        )
        self.transport = FakeTransport(("10.0.0.1", 8080))
        self.conn.connection_made(self.transport)  # type: ignore[arg-type]
        self.conn.claim()
        self.sweeper.timed.add(self.conn)

    def begin(self, head: bytes, head_only: bool = False, whole: bool = False) -> None:
        """Begin an exchange by sending a request head, as the exchange does."""
        self.sink = RecordingSink(self.log, self._on_head)
        self.conn.begin(self.sink, head_only, self.read_timeout, head, whole)

    def start(self, request: bytes = b"GET / HTTP/1.1\r\nhost: svc\r\n\r\n", head_only: bool = False) -> None:
        """Begin an exchange with a whole request (one without a body)."""
        self.begin(request, head_only, whole=True)

    def _on_head(self, status: int) -> None:
        if status == 101:
            self.conn.open_tunnel()

    def receive(self, data: bytes) -> list[tuple[object, ...]]:
        """Feed ``data`` as one read; returns the events it caused (and clears the log)."""
        self.conn.data_received(data)
        return self.take()

    def take(self) -> list[tuple[object, ...]]:
        events, self.log[:] = list(self.log), []
        return events
