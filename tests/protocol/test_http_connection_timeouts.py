"""HttpConnection deadlines on a fake clock: header (408), body between chunks (408, suspended while
reading is held), keep-alive idle (a silent close). Moved here from the 300 ms socket tests of
tests/integration/gateway/test_limits.py; the limits are LIMITS' 10 s / 30 s / 75 s."""

from __future__ import annotations

from harness import RID, ClientRig, FakeApp, answers, get, ok, problem, refuses, request_id_of, waits

from portway.contract import Answer
from portway.errors import ClientError
from portway.server.protocol import Phase

HEAD_408 = "timed out reading the request head"
BODY_408 = "timed out reading the request body"


def test_a_silent_connection_gets_408_at_the_header_timeout_and_is_closed() -> None:
    rig = ClientRig()
    assert rig.advance(9.9) == b""
    assert not rig.transport.closed
    written = rig.advance(0.1)
    assert written == problem(408, "Request Timeout", HEAD_408, request_id_of(written), close=True)
    assert rig.transport.closed
    assert rig.conn.phase is Phase.CLOSED


def test_a_trickling_head_is_408_from_its_first_byte_not_from_the_last() -> None:
    """A slowloris: a byte every 0.5 s never earns more time."""
    rig = ClientRig()
    rig.advance(5.0)  # connected, silent for a while: the header deadline restarts at the first byte
    data = b"GET / HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"s" * 100
    written = b""
    for i, byte in enumerate(data):
        written += rig.send(bytes([byte]))
        if i < 20:
            assert written == b"", i
        written += rig.advance(0.5)
        if written:
            break
    assert i == 19  # the 20th half-second after the first byte: 10 s
    assert written == problem(408, "Request Timeout", HEAD_408, request_id_of(written), close=True)
    assert rig.transport.closed
    assert rig.app.heads == []


def test_a_slow_body_is_408_and_the_handler_hears_the_client_is_lost() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(
        b"POST /b HTTP/1.1\r\nHost: gw\r\nX-Request-Id: "
        + RID.encode()
        + b"\r\nContent-Length: 10\r\n\r\nhalf!"
    )
    assert rig.advance(29.0) == b""
    written = rig.advance(1.0)
    assert written == problem(408, "Request Timeout", BODY_408, RID, close=True)
    assert app.handlers[0].events == [("body", b"half!"), ("lost",)]
    assert rig.transport.closed
    rig.lose()
    assert app.handlers[0].events == [("body", b"half!"), ("lost",)]  # lost once only


def test_the_body_deadline_is_between_chunks_not_for_the_whole_body() -> None:
    rig = ClientRig()
    rig.send(b"POST /b HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\n")
    written = b""
    for byte in b"0123456789":
        written += rig.advance(20.0)  # 200 s in all, 20 s between bytes
        written += rig.send(bytes([byte]))
    assert written == ok(b"/b")
    assert rig.app.handlers[0].events == [*(("body", bytes([b])) for b in b"0123456789"), ("end",)]


def test_the_body_deadline_is_suspended_while_reading_is_held() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(
        b"POST /b HTTP/1.1\r\nHost: gw\r\nX-Request-Id: " + RID.encode() + b"\r\nContent-Length: 10\r\n\r\n"
    )
    rig.send(b"half!")
    rig.conn.hold_reading()  # the upstream is slow to take the body
    assert not rig.transport.reading
    assert rig.advance(300.0) == b""
    assert not rig.transport.closed
    rig.conn.release_reading()
    assert rig.transport.reading
    assert rig.advance(29.0) == b""  # a whole body timeout again from the release
    assert rig.advance(1.0) == problem(408, "Request Timeout", BODY_408, RID, close=True)


def test_body_bytes_of_the_head_read_do_not_rearm_a_held_body_deadline() -> None:
    """A policy that awaits holds reading during ``handle``; body bytes that came in the same read
    as the head are still parsed afterwards, and must not restart the body deadline while held."""
    app = FakeApp()

    def hold(head, responder):  # type: ignore[no-untyped-def]
        responder.hold_reading()
        return app.handler(head, responder, None)

    app.decide = hold
    rig = ClientRig(app)
    rig.send(b"POST /b HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nhalf!")
    assert not rig.transport.reading
    assert app.handlers[0].events == [("body", b"half!")]
    assert rig.advance(300.0) == b""  # held: the client is not late
    assert not rig.transport.closed


def test_the_keep_alive_idle_timeout_closes_silently() -> None:
    rig = ClientRig()
    assert rig.send(get()) == ok(b"/")
    assert rig.advance(74.9) == b""
    assert not rig.transport.closed
    assert rig.advance(0.1) == b""  # no 408 between requests
    assert rig.transport.closed
    assert rig.conn.phase is Phase.CLOSED


def test_a_new_request_ends_the_idle_wait_and_starts_a_header_deadline() -> None:
    rig = ClientRig()
    rig.send(get("/1"))
    rig.advance(70.0)
    rig.send(b"GET /2 HTTP/1.1\r\n")
    assert rig.advance(9.0) == b""  # past the idle deadline: a request is under way
    written = rig.advance(1.0)
    assert written == problem(408, "Request Timeout", HEAD_408, request_id_of(written), close=True)


def test_no_deadline_while_a_request_is_answered() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get())
    assert rig.advance(1000.0) == b""  # the upstream's read timeout is not the server's business
    assert not rig.transport.closed
    app.handlers[0].respond(ok())
    assert rig.transport.take() == ok()


def test_the_idle_timeout_is_armed_after_a_refusal() -> None:
    rig = ClientRig(FakeApp(refuses(ClientError(404, "no route"))))
    assert rig.send(get()) == problem(404, "Not Found", "no route", RID, close=False)
    rig.advance(75.0)
    assert rig.transport.closed  # an idle client must not hold the connection forever


def test_the_idle_timeout_is_armed_after_an_answer() -> None:
    rig = ClientRig(FakeApp(answers(Answer(204))))
    rig.send(get())
    rig.advance(75.0)
    assert rig.transport.closed


def test_the_idle_timeout_is_armed_after_a_response_that_ended_before_its_small_body() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\n\r\n")
    app.handlers[0].respond(ok())  # answered early; the rest of the body is read and dropped
    rig.send(b"body")
    rig.advance(75.0)
    assert rig.transport.closed
