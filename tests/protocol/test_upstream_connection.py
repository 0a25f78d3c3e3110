"""UpstreamConnection fed response bytes: events to the sink, release / forget to the owner (in one
log, so their order is checked), what ends a response, and the State table."""

from __future__ import annotations

import pytest
from harness import FakeTransport, UpstreamRig

from portway.errors import UpstreamDisconnected, UpstreamProtocolError
from portway.upstream.connection import TRANSITIONS, State

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_response_goes_to_the_sink_and_the_connection_back_to_its_owner() -> None:
    rig = UpstreamRig()
    rig.start()
    assert rig.transport.take() == b"GET / HTTP/1.1\r\nhost: svc\r\n\r\n"
    assert rig.conn.state is State.ACTIVE
    assert rig.receive(OK) == [
        ("head", 200, b"OK", [(b"Content-Length", b"2")]),
        ("body", b"ok"),
        ("release",),  # back to the pool before the exchange hears of the end
        ("end",),
    ]
    assert rig.conn.state is State.IDLE
    assert rig.conn.served == 1
    assert rig.conn.usable
    assert not rig.transport.closed


def test_a_head_without_its_body_yet_is_flushed_at_the_end_of_the_read() -> None:
    rig = UpstreamRig()
    rig.start()
    assert rig.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n") == [
        ("head", 200, b"OK", [(b"Content-Length", b"4")]),
        ("flush",),
    ]
    assert rig.conn.state is State.RECEIVING
    assert rig.receive(b"ab") == [("body", b"ab"), ("flush",)]
    assert rig.receive(b"cd") == [("body", b"cd"), ("release",), ("end",)]


def test_a_chunked_response_and_a_second_exchange_on_the_same_connection() -> None:
    rig = UpstreamRig()
    rig.start()
    events = rig.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert events == [
        ("head", 200, b"OK", [(b"Transfer-Encoding", b"chunked")]),
        ("body", b"abc"),
        ("release",),
        ("end",),
    ]
    rig.conn.claim()
    rig.start()
    assert rig.receive(OK)[-2:] == [("release",), ("end",)]
    assert rig.conn.served == 2


def test_connection_close_from_the_peer_is_not_reused() -> None:
    rig = UpstreamRig()
    rig.start()
    events = rig.receive(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    assert events[-3:] == [("body", b"ok"), ("forget", True), ("end",)]
    assert rig.conn.state is State.CLOSED
    assert rig.transport.closed


def test_a_response_that_ends_before_its_request_was_sent_closes() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.conn.request_sent = False  # the body was still going out (413 from the upstream, say)
    assert rig.receive(OK)[-2:] == [("forget", True), ("end",)]
    assert rig.transport.closed


def test_forget_is_reported_exactly_once() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.conn.close()
    rig.conn.close()
    rig.conn.connection_lost(None)
    rig.conn.detach()
    assert rig.take() == [("forget", True)]


def test_closed_before_any_byte_is_upstream_disconnected() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.conn.connection_lost(None)
    assert rig.take() == [("forget", True), ("error", UpstreamDisconnected)]
    assert rig.conn.state is State.CLOSED


def test_closed_mid_response_is_a_protocol_error() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf!")
    rig.conn.connection_lost(None)
    assert rig.take() == [("forget", True), ("error", UpstreamProtocolError)]


def test_closed_mid_head_is_a_protocol_error() -> None:
    rig = UpstreamRig()
    rig.start()
    assert rig.receive(b"HTTP/1.1 200 OK\r\nContent-Le") == [("flush",)]  # no head to flush yet
    rig.conn.connection_lost(None)
    assert rig.take() == [("forget", True), ("error", UpstreamProtocolError)]


def test_a_close_delimited_body_ends_cleanly_on_eof() -> None:
    rig = UpstreamRig()
    rig.start()
    assert rig.receive(b"HTTP/1.1 200 OK\r\n\r\nuntil") == [
        ("head", 200, b"OK", []),
        ("body", b"until"),
        ("flush",),
    ]
    assert rig.receive(b" close") == [("body", b" close"), ("flush",)]
    rig.conn.connection_lost(None)
    assert rig.take() == [("forget", True), ("end",)]  # never released: the socket is gone


def test_a_close_delimited_body_cut_by_a_reset_is_a_protocol_error() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(b"HTTP/1.1 200 OK\r\n\r\npart")
    rig.conn.connection_lost(ConnectionResetError())
    assert rig.take() == [("forget", True), ("error", UpstreamProtocolError)]


def test_a_head_response_has_no_body_whatever_its_length_says() -> None:
    rig = UpstreamRig()
    rig.start(b"HEAD / HTTP/1.1\r\nhost: svc\r\n\r\n", head_only=True)
    assert rig.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") == [
        ("head", 200, b"OK", [(b"Content-Length", b"5000")]),
        ("release",),
        ("end",),
    ]
    rig.conn.claim()
    rig.start()
    assert rig.receive(OK) == [
        ("head", 200, b"OK", [(b"Content-Length", b"2")]),
        ("body", b"ok"),
        ("release",),
        ("end",),
    ]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_end_at_their_head(status: int) -> None:
    rig = UpstreamRig()
    rig.start()
    events = rig.receive(b"HTTP/1.1 %d X\r\n\r\n" % status)
    assert events == [("head", status, b"X", []), ("release",), ("end",)]


def test_interim_responses_are_skipped() -> None:
    rig = UpstreamRig()
    rig.start()
    events = rig.receive(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + OK
    )
    assert events == [
        ("head", 200, b"OK", [(b"Content-Length", b"2")]),
        ("body", b"ok"),
        ("release",),
        ("end",),
    ]


def test_an_interim_response_alone_is_no_answer_yet() -> None:
    rig = UpstreamRig()
    rig.start()
    assert rig.receive(b"HTTP/1.1 100 Continue\r\n\r\n") == [("flush",)]  # no head for the sink
    assert rig.conn.state is State.RECEIVING
    assert rig.receive(OK)[-2:] == [("release",), ("end",)]


def test_101_opens_a_tunnel() -> None:
    rig = UpstreamRig()
    rig.start(b"GET /ws HTTP/1.1\r\nhost: svc\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n")
    events = rig.receive(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframe1"
    )
    assert events == [
        ("head", 101, b"Switching Protocols", [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]),
        ("tunnel", b"frame1"),
    ]
    assert rig.conn.state is State.TUNNEL
    assert rig.conn.deadline == 0.0
    assert rig.receive(b"HTTP/1.1 200 OK\r\n\r\n") == [("tunnel", b"HTTP/1.1 200 OK\r\n\r\n")]
    rig.conn.connection_lost(None)
    assert rig.take() == [("forget", True), ("error", UpstreamDisconnected)]


def test_bytes_while_idle_close_the_connection() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(OK)
    assert rig.receive(b"HTTP/1.1 200 OK\r\n") == [("forget", False)]
    assert rig.conn.state is State.CLOSED
    assert rig.transport.closed


@pytest.mark.parametrize(
    "reply",
    [
        b"HELLO WORLD\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    ],
    ids=["garbage", "two-lengths", "bad-length", "bad-chunk", "bad-header"],
)
def test_invalid_response_bytes_are_a_protocol_error(reply: bytes) -> None:
    rig = UpstreamRig()
    rig.start()
    events = rig.receive(reply)
    assert events[-2:] == [("forget", True), ("error", UpstreamProtocolError)]
    assert rig.transport.closed


def test_the_transport_is_not_reusable_once_closing() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(OK)
    assert rig.conn.usable
    rig.transport.closed = True  # the peer's FIN arrived; connection_lost is on its way
    assert not rig.conn.usable


def test_every_state_change_is_in_the_table() -> None:
    assert {
        State.CLOSED: {State.ACTIVE},
        State.IDLE: {State.ACTIVE, State.CLOSED},
        State.ACTIVE: {State.RECEIVING, State.CLOSED},
        State.RECEIVING: {State.IDLE, State.TUNNEL, State.CLOSED},
        State.TUNNEL: {State.CLOSED},
    } == TRANSITIONS


def test_forbidden_transitions_raise() -> None:
    rig = UpstreamRig()
    with pytest.raises(AssertionError, match="ACTIVE → TUNNEL is not allowed"):
        rig.conn.open_tunnel()  # no 101 received
    with pytest.raises(AssertionError, match="ACTIVE → ACTIVE is not allowed"):
        rig.conn.claim()  # handed out twice
    rig.start()
    rig.receive(OK)
    with pytest.raises(AssertionError, match="IDLE → TUNNEL is not allowed"):
        rig.conn.open_tunnel()
    assert rig.conn.state is State.IDLE


def test_a_connection_that_never_connected_is_closed_without_forget() -> None:
    """Before the pool claims it, a connection is off the books: closing it reports nothing."""
    rig = UpstreamRig()
    fresh = type(rig.conn)(rig.owner, rig.clock, "x", rig.conn.limits)  # type: ignore[arg-type]
    fresh.connection_made(FakeTransport())  # type: ignore[arg-type]
    fresh.connection_lost(None)
    assert rig.take() == []
