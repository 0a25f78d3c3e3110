"""ResponseLimits: a response head over ``max_head_bytes`` or ``max_headers`` is an
UpstreamProtocolError and closes the connection; a head at the limits passes."""

from __future__ import annotations

from harness import UpstreamRig

from portway.errors import UpstreamProtocolError
from portway.upstream.connection import ResponseLimits, State

FAILED = [("forget", True), ("error", UpstreamProtocolError)]


def fields(n: int) -> bytes:
    return b"".join(b"X-%d: v\r\n" % i for i in range(n))


def test_the_head_count_limit_is_inclusive() -> None:
    rig = UpstreamRig(ResponseLimits(max_headers=3))
    rig.start()
    events = rig.receive(b"HTTP/1.1 204 No Content\r\n" + fields(3) + b"\r\n")
    assert events[-2:] == [("release",), ("end",)]


def test_one_header_over_the_count_limit_fails() -> None:
    rig = UpstreamRig(ResponseLimits(max_headers=3))
    rig.start()
    assert rig.receive(b"HTTP/1.1 204 No Content\r\n" + fields(4) + b"\r\n") == FAILED
    assert rig.conn.state is State.CLOSED
    assert rig.transport.closed


def test_the_head_byte_limit_counts_reason_and_fields() -> None:
    # reason "OK" (2) + "X-A: " + 40 bytes + CRLF counted as name + value + 4 = 3 + 40 + 4
    at_limit = ResponseLimits(max_head_bytes=2 + 3 + 40 + 4)
    rig = UpstreamRig(at_limit)
    rig.start()
    head = b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 40 + b"\r\nContent-Length: 0\r\n\r\n"
    # Content-Length: 14 + 1 + 4 more bytes: this head is over; without it, at the limit.
    assert rig.receive(head) == FAILED
    rig = UpstreamRig(at_limit)
    rig.start()
    events = rig.receive(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 40 + b"\r\n\r\n")
    assert events[0] == ("head", 200, b"OK", [(b"X-A", b"a" * 40)])


def test_a_head_over_the_byte_limit_in_many_reads_fails() -> None:
    rig = UpstreamRig(ResponseLimits(max_head_bytes=4096))
    rig.start()
    rig.receive(b"HTTP/1.1 200 OK\r\n")
    events: list[tuple[object, ...]] = []
    for _ in range(100):
        events = rig.receive(b"X-Field: " + b"f" * 200 + b"\r\n")
        if events[-2:] == FAILED:
            break
    assert events == FAILED
    assert rig.transport.closed


def test_an_endless_header_value_fails_once_past_the_byte_limit() -> None:
    """A header line that never ends is buffered by the parser until it does: it must be cut off
    once the head passes ``max_head_bytes``, as the server does for a client's head."""
    rig = UpstreamRig(ResponseLimits(max_head_bytes=4096))
    rig.start()
    rig.receive(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    for _ in range(64):  # 64 KB, sixteen times the limit
        if rig.receive(b"e" * 1024)[-2:] == FAILED:
            break
    assert rig.conn.state is State.CLOSED
