"""UpstreamConnection deadlines on a fake clock (read timeout 5 s, idle 60 s): the read timeout is
silence between bytes, not the whole response; idle connections expire. Moved here from the 300 ms
socket tests of tests/integration/gateway/test_upstream_errors.py."""

from __future__ import annotations

from harness import UpstreamRig

from portway.errors import ReadTimeout
from portway.upstream.connection import State

HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_an_upstream_that_never_answers_is_a_read_timeout() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.clock.advance(4.9)
    assert rig.take() == []
    rig.clock.advance(0.1)
    assert rig.take() == [("forget", True), ("error", ReadTimeout)]
    assert rig.conn.state is State.CLOSED
    assert rig.transport.closed
    assert rig.conn not in rig.sweeper.timed


def test_silence_mid_response_is_a_read_timeout() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(HEAD + b"1\r\na\r\n")
    rig.clock.advance(5.0)
    assert rig.take() == [("forget", True), ("error", ReadTimeout)]


def test_the_read_timeout_is_between_bytes_not_for_the_whole_response() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.clock.advance(4.0)
    rig.receive(HEAD)
    body = []
    for i in range(6):  # 24 s in all, 4 s between chunks
        rig.clock.advance(4.0)
        body += [e for e in rig.receive(b"1\r\n%d\r\n" % i) if e[0] != "flush"]
    rig.clock.advance(4.0)
    assert rig.receive(b"0\r\n\r\n") == [("release",), ("end",)]
    assert body == [("body", b"%d" % i) for i in range(6)]


def test_the_read_timeout_does_not_run_while_the_request_body_is_still_going_out() -> None:
    """A slow but steady upload: the upstream cannot answer before it has the request."""
    rig = UpstreamRig()
    rig.begin(b"POST / HTTP/1.1\r\nhost: svc\r\ncontent-length: 4\r\n\r\n")
    for byte in b"body":
        rig.clock.advance(4.0)  # 16 s of upload, each chunk well within the client's body timeout
        assert rig.take() == [], f"timed out {rig.clock.now - 1000.0:.0f} s into the upload"
        rig.conn.write(bytes([byte]))
    rig.conn.request_complete()
    rig.clock.advance(1.0)
    assert rig.receive(b"HTTP/1.1 204 No Content\r\n\r\n")[-2:] == [("release",), ("end",)]


def test_an_idle_connection_expires_and_is_closed() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert rig.conn.deadline == rig.clock.now + 60.0  # armed by the owner on release
    rig.clock.advance(59.9)
    assert rig.take() == []
    rig.clock.advance(0.1)
    assert rig.take() == [("forget", False)]
    assert rig.transport.closed


def test_a_claimed_connection_has_no_idle_deadline() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(b"HTTP/1.1 204 No Content\r\n\r\n")
    rig.clock.advance(30.0)
    rig.conn.claim()
    assert rig.conn.deadline == 0.0
    rig.clock.advance(100.0)
    assert rig.take() == []  # busy before begin: nobody's timeout yet


def test_a_tunnel_has_no_read_timeout() -> None:
    rig = UpstreamRig()
    rig.start()
    rig.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
    rig.take()
    rig.clock.advance(3600.0)
    assert rig.take() == []
    assert rig.conn.state is State.TUNNEL
