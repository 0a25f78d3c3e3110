"""HttpConnection serving requests: handler events, keep-alive, pipelining in order, refusals and
answers rendered by the server, and the phase moving only along TRANSITIONS."""

from __future__ import annotations

import pytest
from harness import (
    PEER,
    RID,
    ClientRig,
    FakeApp,
    answers,
    get,
    ok,
    problem,
    refuses,
    waits,
)

from portway.contract import Answer
from portway.errors import ClientError
from portway.server.protocol import TRANSITIONS, Phase


def test_a_request_reaches_its_handler_and_the_response_is_written() -> None:
    rig = ClientRig()
    written = rig.send(b"GET /a?q=1 HTTP/1.1\r\nHost: gw\r\nX-Request-Id: " + RID.encode() + b"\r\n\r\n")
    assert written == ok(b"/a?q=1")
    (head,) = rig.app.heads
    assert (head.method, head.target, head.version, head.host) == ("GET", b"/a?q=1", "1.1", b"gw")
    assert (head.client_ip, head.client_port) == PEER
    assert head.request_id == RID
    assert head.headers == [(b"host", b"gw"), (b"x-request-id", RID.encode())]  # names lower-cased
    assert (head.keep_alive, head.upgrade, head.has_body) == (True, False, False)
    assert rig.app.handlers[0].events == [("end",)]
    assert rig.conn.phase is Phase.WAITING
    assert not rig.transport.closed
    assert rig.conn.bytes_out == len(written)


def test_body_events_arrive_in_order_and_end_once() -> None:
    rig = ClientRig()
    rig.send(b"POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: 7\r\n\r\nabc")
    assert rig.send(b"d") == b""
    assert rig.send(b"efg") == ok(b"/up")
    assert rig.app.handlers[0].events == [("body", b"abc"), ("body", b"d"), ("body", b"efg"), ("end",)]


def test_chunked_body_is_handed_over_as_data() -> None:
    rig = ClientRig()
    written = rig.send(
        b"POST /c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    assert written == ok(b"/c")
    assert rig.app.heads[0].body_chunked
    assert rig.app.handlers[0].events == [("body", b"abc"), ("body", b"de"), ("end",)]


def test_keep_alive_serves_the_next_request_on_the_same_connection() -> None:
    rig = ClientRig()
    assert rig.send(get("/1")) == ok(b"/1")
    assert rig.send(get("/2")) == ok(b"/2")
    assert rig.app.targets == [b"/1", b"/2"]
    assert not rig.transport.closed


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (get("/", "Connection: close\r\n"), "connection-close"),
        (b"GET / HTTP/1.0\r\n\r\n", "http-1.0"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_request_that_is_not_kept_alive_closes_after_its_response(request_: bytes, why: str) -> None:
    rig = ClientRig()
    assert rig.send(request_) == ok(b"/")
    assert rig.transport.closed
    assert rig.conn.phase is Phase.CLOSED


def test_pipelined_requests_are_answered_in_order_one_at_a_time() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    assert rig.send(get("/1") + get("/2") + get("/3")) == b""
    # Only the first is dispatched; the others are parsed, queued, and the socket paused.
    assert app.targets == [b"/1"]
    assert not rig.transport.reading
    first = app.handlers[0]
    first.respond(ok(b"one"))
    assert app.targets == [b"/1", b"/2"]
    assert app.handlers[1].events == [("end",)]  # queued complete: its end is replayed at dispatch
    assert not rig.transport.reading  # /3 is still queued
    app.handlers[1].respond(ok(b"two"))
    assert rig.transport.reading  # the queue is empty: reading resumes
    app.handlers[2].respond(ok(b"three"))
    assert rig.transport.take() == ok(b"one") + ok(b"two") + ok(b"three")
    assert (rig.transport.pauses, rig.transport.resumes) == (1, 1)


def test_a_queued_request_body_is_replayed_to_its_handler() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get("/1") + b"POST /2 HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\n\r\nbody")
    app.handlers[0].respond(ok())
    assert app.handlers[1].events == [("body", b"body"), ("end",)]


def test_a_refusal_is_problem_json_and_keeps_a_reusable_connection() -> None:
    rig = ClientRig(FakeApp(refuses(ClientError(404, "no route for /x"))))
    written = rig.send(get("/x"))
    assert written == problem(404, "Not Found", "no route for /x", RID, close=False)
    assert not rig.transport.closed
    assert rig.conn.phase is Phase.WAITING
    assert rig.send(get("/y")) == problem(404, "Not Found", "no route for /x", RID, close=False)


def test_a_refusal_carries_its_headers() -> None:
    error = ClientError(405, "method not allowed", [(b"allow", b"GET")])
    rig = ClientRig(FakeApp(refuses(error)))
    assert rig.send(get()) == problem(
        405, "Method Not Allowed", "method not allowed", RID, close=False, extra=b"allow: GET\r\n"
    )


def test_a_refusal_before_a_large_unread_body_closes_the_connection() -> None:
    """The rest of a body over the discardable size cannot be skipped: `connection: close`."""
    limits = ClientRig().state.limits.model_copy(update={"max_body": 1024 * 1024})
    rig = ClientRig(FakeApp(refuses(ClientError(401, "missing credentials"))), limits)
    written = rig.send(
        b"POST / HTTP/1.1\r\nHost: gw\r\nX-Request-Id: "
        + RID.encode()
        + b"\r\nContent-Length: 100000\r\n\r\n"
    )
    assert written == problem(401, "Unauthorized", "missing credentials", RID, close=True)
    assert rig.transport.closed
    assert rig.conn.phase is Phase.CLOSED


def test_a_refusal_before_a_small_body_drops_the_body_and_serves_the_next_request() -> None:
    app = FakeApp()
    app.decide = lambda head, responder: (
        ClientError(403, "forbidden") if head.target == b"/big" else app.handler(head, responder, ok())
    )
    rig = ClientRig(app)
    first = rig.send(
        b"POST /big HTTP/1.1\r\nHost: gw\r\nX-Request-Id: " + RID.encode() + b"\r\nContent-Length: 6\r\n\r\n"
    )
    assert first == problem(403, "Forbidden", "forbidden", RID, close=False)
    assert rig.send(b"abcdef" + get("/next")) == ok()
    assert app.targets == [b"/big", b"/next"]
    assert [h.events for h in app.handlers] == [[("end",)]]  # the dropped body reached nobody


def test_a_refusal_to_head_has_no_body() -> None:
    rig = ClientRig(FakeApp(refuses(ClientError(404, "nope"))))
    written = rig.send(b"HEAD / HTTP/1.1\r\nHost: gw\r\nX-Request-Id: " + RID.encode() + b"\r\n\r\n")
    full = problem(404, "Not Found", "nope", RID, close=False)
    assert written == full[: full.index(b"\r\n\r\n") + 4]


def test_an_answer_is_rendered_by_the_server() -> None:
    answer = Answer(200, [(b"cache-control", b"no-store")], b'{"up":true}', b"application/json")
    rig = ClientRig(FakeApp(answers(answer)))
    assert rig.send(get("/status")) == (
        b"HTTP/1.1 200 OK\r\nx-request-id: req-00000001\r\ncache-control: no-store\r\n"
        b"content-type: application/json\r\ncontent-length: 11\r\n\r\n"
        b'{"up":true}'
    )
    assert rig.conn.phase is Phase.WAITING


def test_a_204_answer_to_a_closing_request() -> None:
    rig = ClientRig(FakeApp(answers(Answer(204, [(b"access-control-allow-origin", b"*")]))))
    assert rig.send(get("/", "Connection: close\r\n")) == (
        b"HTTP/1.1 204 No Content\r\nx-request-id: req-00000001\r\n"
        b"access-control-allow-origin: *\r\nconnection: close\r\n\r\n"
    )
    assert rig.transport.closed


def test_phase_moves_along_transitions_through_a_request() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    conn = rig.conn
    assert conn.phase is Phase.WAITING
    rig.send(b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n")
    assert conn.phase is Phase.ACTIVE
    rig.send(b"hi")
    assert conn.phase is Phase.ACTIVE  # reading the body is no response yet
    conn.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    assert conn.phase is Phase.RESPONDING
    conn.finish(True)
    assert conn.phase is Phase.WAITING
    conn.close()
    assert conn.phase is Phase.CLOSED
    rig.lose()
    assert conn.phase is Phase.CLOSED


def test_every_phase_change_is_in_the_table() -> None:
    assert {
        Phase.WAITING: {Phase.ACTIVE, Phase.CLOSED},
        Phase.ACTIVE: {Phase.RESPONDING, Phase.WAITING, Phase.CLOSED},
        Phase.RESPONDING: {Phase.WAITING, Phase.TUNNEL, Phase.CLOSED},
        Phase.TUNNEL: {Phase.CLOSED},
        Phase.CLOSED: set(),
    } == TRANSITIONS


@pytest.mark.parametrize(
    ("start", "forbidden"),
    [(Phase.WAITING, Phase.RESPONDING), (Phase.WAITING, Phase.TUNNEL), (Phase.ACTIVE, Phase.TUNNEL),
     (Phase.CLOSED, Phase.WAITING), (Phase.TUNNEL, Phase.WAITING)],
)  # fmt: skip
def test_a_forbidden_transition_raises(start: Phase, forbidden: Phase) -> None:
    conn = ClientRig().conn
    conn.phase = start
    with pytest.raises(AssertionError, match=f"{start.name} → {forbidden.name} is not allowed"):
        conn._enter(forbidden)
    assert conn.phase is start


def test_a_tunnel_cannot_start_before_the_101_is_written() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get("/ws", "Connection: upgrade\r\nUpgrade: websocket\r\n"))
    with pytest.raises(AssertionError):
        rig.conn.start_tunnel(lambda data: None)


def test_an_upgrade_becomes_a_tunnel_after_101() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get("/ws", "Connection: upgrade\r\nUpgrade: websocket\r\n") + b"early")
    assert app.heads[0].upgrade
    assert not rig.transport.reading  # nothing is read past an upgrade head until it is decided
    received: list[bytes] = []
    rig.conn.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    assert rig.conn.start_tunnel(received.append) == b"early"
    assert rig.conn.phase is Phase.TUNNEL
    assert rig.transport.reading
    rig.send(b"GET / HTTP/1.1\r\n")  # raw bytes now, whatever they look like
    assert received == [b"GET / HTTP/1.1\r\n"]
    assert rig.conn not in rig.sweeper.timed  # a tunnel has no deadline of the server's
