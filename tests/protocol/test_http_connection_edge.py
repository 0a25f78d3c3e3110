"""HttpConnection's strict edge: bad request lines, versions and Hosts are refused with a closing
problem+json and never reach the application; h2c is served as plain HTTP; chunk-extension floods
are cut off; a client EOF mid-body aborts its request; after a wire refusal nothing more is served."""

from __future__ import annotations

import pytest
from harness import RID, ClientRig, FakeApp, get, ok, problem, request_id_of, waits

from portway.config.models import Limits
from portway.server.protocol import Phase

LINE = "malformed request line"
HOST = "the Host header is not a valid host[:port]"
ONE_HOST = "an HTTP/1.1 request needs exactly one Host header"


def refused(rig: ClientRig, written: bytes, status: int, title: str, detail: str) -> None:
    assert written == problem(status, title, detail, request_id_of(written), close=True)
    assert rig.transport.closed
    assert rig.conn.phase is Phase.CLOSED
    assert rig.app.heads == []


@pytest.mark.parametrize(
    ("data", "status", "title", "detail"),
    [
        (b"GET  / HTTP/1.1\r\nHost: gw\r\n\r\n", 400, "Bad Request", LINE),
        (b"GET /  HTTP/1.1\r\nHost: gw\r\n\r\n", 400, "Bad Request", LINE),
        (b"GET  / HTTP/1.0\r\n\r\n", 400, "Bad Request", LINE),  # no header: checked at the head's end
        (b"GET * HTTP/1.1\r\nHost: gw\r\n\r\n", 400, "Bad Request", "'*' is only a target for OPTIONS"),
        (b"GET / HTTP/0.9\r\n\r\n", 400, "Bad Request", LINE),
        (b"GET /\r\n\r\n", 400, "Bad Request", LINE),
        (b"GET / HTTP/2.0\r\nHost: gw\r\n\r\n", 505, "HTTP Version Not Supported",
         "HTTP/2.0 is not supported"),
        (b"CONNECT gw:443 HTTP/1.1\r\nHost: gw:443\r\n\r\n", 405, "Method Not Allowed",
         "CONNECT is not supported"),
        (b"GET / HTTP/1.1\r\nHost: gw\r\nExpect: magic\r\n\r\n", 417, "Expectation Failed",
         "only 'Expect: 100-continue' is supported"),
        (b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "Not Implemented",
         "only the chunked transfer coding is supported"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Bad Request",
         "Transfer-Encoding is not allowed in HTTP/1.0"),
    ],
    ids=["two-spaces-before", "two-spaces-after", "two-spaces-1.0", "star-get", "http-0.9", "no-version",
         "http-2.0", "connect", "expect", "te-gzip", "te-1.0"],
)  # fmt: skip
def test_request_line_and_framing_refusals(data: bytes, status: int, title: str, detail: str) -> None:
    rig = ClientRig()
    refused(rig, rig.send(data), status, title, detail)


def test_star_is_a_target_for_options() -> None:
    rig = ClientRig()
    assert rig.send(b"OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n") == ok(b"*")


def test_a_request_line_split_across_reads_is_checked_whole() -> None:
    rig = ClientRig()
    assert rig.send(b"GET /spl") == b""
    assert rig.send(b"it HTTP/1.1\r\nHo") == b""
    assert rig.send(b"st: gw\r\n\r\n") == ok(b"/split")


def test_a_double_space_split_across_reads_is_refused() -> None:
    rig = ClientRig()
    rig.send(b"GET ")
    refused(rig, rig.send(b" / HTTP/1.1\r\nHost: gw\r\n\r\n"), 400, "Bad Request", LINE)


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (b"", ONE_HOST),
        (b"Host: a\r\nHost: b\r\n", ONE_HOST),
        (b"Host: a b\r\n", HOST),
        (b"Host: a/b\r\n", HOST),
        (b"Host: user@gw\r\n", HOST),
        (b"Host: gw:99999\r\n", HOST),
        (b"Host: gw:123456\r\n", HOST),
        (b"Host: [::1\r\n", HOST),
        (b"Host: \r\n", HOST),
    ],
    ids=["missing", "twice", "space", "slash", "userinfo", "port-range", "port-digits", "ipv6-open", "empty"],
)
def test_invalid_hosts_are_400(headers: bytes, detail: str) -> None:
    rig = ClientRig()
    refused(rig, rig.send(b"GET / HTTP/1.1\r\n" + headers + b"\r\n"), 400, "Bad Request", detail)


@pytest.mark.parametrize(
    "host", [b"gw", b"gw.example.com:8443", b"10.0.0.1:80", b"[::1]:8080", b"[::1]", b"a_b~c"]
)
def test_valid_hosts_pass(host: bytes) -> None:
    rig = ClientRig()
    assert rig.send(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n") == ok(b"/")
    assert rig.app.heads[0].host == host


def test_an_http_1_0_request_may_omit_host() -> None:
    rig = ClientRig()
    assert rig.send(b"GET / HTTP/1.0\r\n\r\n") == ok(b"/")
    assert rig.app.heads[0].host is None


def test_h2c_upgrade_is_served_as_plain_http_and_the_connection_goes_on() -> None:
    rig = ClientRig()
    h2c = get(
        "/1", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
    )
    assert rig.send(h2c + get("/2")) == ok(b"/1") + ok(b"/2")
    assert [h.upgrade for h in rig.app.heads] == [False, False]
    assert rig.transport.reading
    assert rig.conn.phase is Phase.WAITING


def test_a_websocket_upgrade_stays_an_upgrade() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n"))
    assert app.heads[0].upgrade


def test_an_upgrade_with_a_body_is_refused() -> None:
    rig = ClientRig()
    data = (
        b"POST / HTTP/1.1\r\nHost: gw\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        b"Content-Length: 3\r\n\r\nabc"
    )
    refused(rig, rig.send(data), 400, "Bad Request", "an Upgrade request cannot carry a body")


CHUNKED = (
    b"POST /c HTTP/1.1\r\nHost: gw\r\nX-Request-Id: "
    + RID.encode()
    + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def test_a_chunk_extension_flood_is_400() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(CHUNKED)
    assert rig.send(b"1;" + b"e" * 1000) == b""  # within the 1 KB bound of one size line so far
    written = rig.send(b"e" * 100)  # the size line is still not over: past the bound, refused
    assert written == problem(400, "Bad Request", "chunk extensions too long", RID, close=True)
    assert app.handlers[0].events == [("lost",)]
    assert rig.transport.closed


def test_many_small_chunks_with_short_extensions_pass() -> None:
    rig = ClientRig()
    rig.send(CHUNKED)
    for _ in range(200):
        assert rig.send(b"1;name=value\r\nx\r\n") == b""
    assert rig.send(b"0\r\n\r\n") == ok(b"/c")
    assert len(rig.app.handlers[0].events) == 201


def test_body_bytes_in_the_head_read_do_not_raise_the_extension_allowance() -> None:
    """The overhead bound counts wire bytes of later reads only, but data bytes of every read:
    data that came with the head is credited as room for extensions that never were."""
    limits = ClientRig().state.limits.model_copy(update={"max_body": 1024 * 1024})
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app, limits)
    rig.send(CHUNKED + b"ea60\r\n" + b"d" * 60000 + b"\r\n")  # 60000 data bytes with the head
    written = rig.send(b"1;" + b"e" * 40000)  # 40 KB of extension: far over the 16 KB bound
    assert written == problem(400, "Bad Request", "chunk extensions too long", RID, close=True)


def test_client_eof_mid_body_aborts_the_request() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nhalf!")
    assert rig.conn.eof_received() is False  # the transport closes itself
    assert app.handlers[0].events == [("body", b"half!"), ("lost",)]
    assert rig.transport.aborted
    assert rig.transport.data == b""
    assert rig.conn.phase is Phase.CLOSED
    rig.lose()
    assert app.handlers[0].events == [("body", b"half!"), ("lost",)]


def test_client_eof_after_a_whole_request_still_gets_its_answer() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    rig.send(get())
    assert rig.conn.eof_received() is True  # half-closed: keep the transport to answer
    app.handlers[0].respond(ok(), keep=True)
    assert rig.transport.take() == ok()
    assert rig.transport.closed  # and close after it


def test_a_wire_refusal_mid_pipeline_lets_the_answer_in_progress_finish_then_closes() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app)
    assert rig.send(get("/1") + b"GET /2 HTTP/1.1\r\nHost: a b\r\n\r\n" + get("/3")) == b""
    assert app.targets == [b"/1"]
    app.handlers[0].respond(ok(), keep=True)
    # the response under way completes, then the refusal of /2 goes out in order, then the close
    written = rig.transport.take()
    assert written.startswith(ok())
    rest = written[len(ok()) :]
    detail = "the Host header is not a valid host[:port]"
    assert rest == problem(400, "Bad Request", detail, request_id_of(rest), close=True)
    assert rig.transport.closed
    assert app.targets == [b"/1"]  # neither /2 nor /3 was ever dispatched


def test_a_wire_refusal_first_in_a_pipeline_serves_nothing_after_it() -> None:
    rig = ClientRig()
    written = rig.send(b"GET  /1 HTTP/1.1\r\nHost: gw\r\n\r\n" + get("/2"))
    refused(rig, written, 400, "Bad Request", LINE)


def test_a_closing_answer_mid_pipeline_serves_nothing_after_it() -> None:
    rig = ClientRig()
    assert rig.send(get("/1", "Connection: close\r\n") + get("/2")) == ok(b"/1")
    assert rig.app.targets == [b"/1"]
    assert rig.transport.closed


def test_header_limits_are_431_and_a_long_target_is_414() -> None:
    rig = ClientRig()
    many = b"".join(b"X-%d: a\r\n" % i for i in range(10))
    refused(rig, rig.send(b"GET / HTTP/1.1\r\nHost: gw\r\n" + many + b"\r\n"), 431,
            "Request Header Fields Too Large", "too many request header fields")  # fmt: skip
    rig = ClientRig()
    refused(rig, rig.send(b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\n"), 414, "Request-URI Too Long",
            "request target too long")  # fmt: skip


def test_an_endless_header_is_cut_off_at_the_head_limit() -> None:
    rig = ClientRig()
    rig.send(b"GET / HTTP/1.1\r\nHost: gw\r\nX-Endless: ")
    written = b""
    reads = 0
    while not written and reads < 100:
        reads += 1
        written = rig.send(b"a" * 512)
    # 1 KB of request line + 2 KB of headers = 3072 bytes; the read that began the request is not
    # counted (on_message_begin resets the count during it), so 6 x 512 = 3072 is not yet over.
    assert reads == 7
    refused(rig, written, 431, "Request Header Fields Too Large", "request header section too large")


def test_a_chunk_declared_larger_than_the_body_limit_is_413_before_its_data() -> None:
    app = FakeApp()
    app.decide = waits(app)
    rig = ClientRig(app, Limits(max_body=1024))
    written = rig.send(CHUNKED + b"401\r\n")  # 1025 bytes declared, none sent
    assert written == problem(
        413, "Request Entity Too Large", "request body larger than 1024 bytes", RID, close=True
    )
    assert rig.transport.closed


def test_extensions_split_across_reads_are_followed() -> None:
    rig = ClientRig()
    rig.send(CHUNKED)
    assert rig.send(b"3;na") == b""
    assert rig.send(b"me=v\r\nab") == b""
    assert rig.send(b"c\r\n0;last=") == b""
    assert rig.send(b"1\r\n\r\n") == ok(b"/c")
    assert rig.app.handlers[0].events == [("body", b"ab"), ("body", b"c"), ("end",)]
