"""A strict edge (issue 9 §7), over real sockets: request lines and Host headers a strict gateway
refuses. Each hostile request is sent as raw bytes to a gateway in front of a recording upstream;
the answer must be a problem+json refusal, the connection closed where framing is in doubt, and the
upstream must have seen nothing. The other families are in ``test_strict_edge_*.py``; the helpers
here are shared by them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from portway.testing import HeaderLookup, UpstreamRequest, UpstreamServer, run_gateway, upstream_server

WITHIN = 3.0  # seconds any one exchange may take; nothing here waits on a timer of the gateway


# -- shared helpers ------------------------------------------------------------------------------


@dataclass
class Answer(HeaderLookup):
    """The first response on a connection, and what happened after it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    closed: bool  # the gateway closed (EOF or reset) within the bound
    rest: bytes  # bytes after the first response: a second response, if one was served

    def json(self) -> Any:
        return json.loads(self.body)


async def exchange(port: int, data: bytes, *, within: float = WITHIN, half_close: bool = False) -> Answer:
    """Send exactly ``data`` on a new connection, read until the gateway closes (or ``within``),
    and split off the first response (Content-Length framed, as every gateway answer is)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    received = b""
    closed = False
    try:
        writer.write(data)
        if half_close:
            writer.write_eof()
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    try:
                        chunk = await reader.read(1 << 16)
                    except ConnectionError:
                        chunk = b""
                    if not chunk:
                        closed = True
                        break
                    received += chunk
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_answer(received, closed)


def parse_answer(received: bytes, closed: bool) -> Answer:
    head, sep, rest = received.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {received[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    answer = Answer(status, headers, b"", closed, b"")
    length = int(answer.header("content-length") or 0)
    answer.body, answer.rest = rest[:length], rest[length:]
    return answer


def assert_problem(answer: Answer, *statuses: int) -> None:
    """A refusal the gateway rendered itself: one of ``statuses``, problem+json carrying it."""
    assert answer.status in statuses, (answer.status, answer.body)
    assert answer.header("content-type") == "application/problem+json", answer.headers
    body = answer.json()
    assert body["status"] == answer.status


def assert_refused_and_closed(answer: Answer, *statuses: int) -> None:
    """Framing in doubt: the refusal, ``Connection: close``, the socket closed, nothing after it."""
    assert_problem(answer, *statuses)
    assert (answer.header("connection") or "").lower() == "close", answer.headers
    assert answer.closed, "the gateway kept the connection open after a refusal"
    assert answer.rest == b"", f"something was served after the refusal: {answer.rest[:200]!r}"


def header_names(request: UpstreamRequest) -> set[str]:
    """Header names as a lenient back end reads them: case-folded, ``_`` for ``-``."""
    return {name.lower().replace("_", "-") for name, _ in request.headers}


class Scripted(Protocol):
    """A raw upstream a test scripts: its ``serve`` handler, and what it must close afterwards."""

    writers: list[asyncio.StreamWriter]
    tasks: list[asyncio.Task[None]]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None: ...


@contextlib.asynccontextmanager
async def scripted(upstream: Scripted, **config: Any) -> AsyncIterator[int]:
    """A gateway in front of a scripted upstream (one route to it); yields the gateway's port."""
    server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0)
    try:
        address = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        base = {"upstreams": {"svc": {"targets": [address]}}, "routes": [{"path": "/", "upstream": "svc"}]}
        async with run_gateway(base | config) as gw:
            yield gw.port
    finally:
        # a connection the gateway failed to abort is closed here, so no handler outlives the test
        for writer in upstream.writers:
            writer.close()
        server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WITHIN):
                await asyncio.gather(*upstream.tasks, return_exceptions=True)
                await server.wait_closed()


@contextlib.asynccontextmanager
async def edge(
    config: dict[str, Any] | None = None, **extra: Any
) -> AsyncIterator[tuple[UpstreamServer, int]]:
    """An echo upstream ``svc`` behind a gateway with a catch-all route (unless ``config`` gives
    routes); yields (upstream, gateway port)."""
    async with upstream_server() as up:
        base: dict[str, Any] = {
            "upstreams": {"svc": {"targets": [up.address]}},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
        async with run_gateway(base | (config or {}) | extra) as gw:
            yield up, gw.port


def request(line: str = "GET /x HTTP/1.1", *headers: str, host: str | None = "gw") -> bytes:
    lines = [line, *([f"Host: {host}"] if host is not None else []), *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


SECOND = b"GET /second HTTP/1.1\r\nHost: gw\r\n\r\n"


# -- request lines -------------------------------------------------------------------------------

BAD_REQUEST_LINES = {
    "double-space-after-method": b"GET  /x HTTP/1.1",
    "double-space-before-version": b"GET /x  HTTP/1.1",
    "leading-space": b" GET /x HTTP/1.1",
    "trailing-space": b"GET /x HTTP/1.1 ",
    "tab-after-method": b"GET\t/x HTTP/1.1",
    "tab-before-version": b"GET /x\tHTTP/1.1",
    "vertical-tab": b"GET\x0b/x HTTP/1.1",
    "missing-version": b"GET /x",
    "missing-version-with-space": b"GET /x ",
    "missing-target": b"GET HTTP/1.1",
    "http-1.2": b"GET /x HTTP/1.2",
    "http-1.10": b"GET /x HTTP/1.10",
    "http-2.0": b"GET /x HTTP/2.0",
    "http-3": b"GET /x HTTP/3",
    "http-0.9-version": b"GET /x HTTP/0.9",
    "lowercase-http": b"GET /x http/1.1",
    "mixed-case-http": b"GET /x Http/1.1",
    "no-slash-version": b"GET /x HTTP1.1",
    "leading-zero-version": b"GET /x HTTP/01.1",
    "extra-token": b"GET /x HTTP/1.1 extra",
    "two-targets": b"GET /x /y HTTP/1.1",
    "lowercase-method": b"get /x HTTP/1.1",
}


@pytest.mark.parametrize("line", BAD_REQUEST_LINES.values(), ids=BAD_REQUEST_LINES.keys())
async def test_request_lines_not_exactly_method_sp_target_sp_version_are_refused(line: bytes) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, line + b"\r\nHost: gw\r\n\r\n" + SECOND)
        # 505 is the one status besides 400 that says which part was wrong (the version)
        assert_refused_and_closed(answer, 400, 505)
        assert up.requests == []


BAD_TARGETS = {
    "asterisk-get": b"GET * HTTP/1.1",
    "asterisk-post": b"POST * HTTP/1.1",
    "asterisk-delete": b"DELETE * HTTP/1.1",
    "asterisk-path": b"OPTIONS */x HTTP/1.1",
    "relative": b"GET x HTTP/1.1",
    "query-only": b"GET ?x=1 HTTP/1.1",
    "scheme-without-authority": b"GET http:/x HTTP/1.1",
    "scheme-only": b"GET http: HTTP/1.1",
    "other-scheme": b"GET ftp://gw/x HTTP/1.1",
    "file-scheme": b"GET file:///etc/passwd HTTP/1.1",
    "javascript": b"GET javascript:alert(1) HTTP/1.1",
    "authority-form": b"GET gw:80 HTTP/1.1",
}


@pytest.mark.parametrize("line", BAD_TARGETS.values(), ids=BAD_TARGETS.keys())
async def test_targets_of_no_form_a_gateway_serves_are_refused(line: bytes) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, line + b"\r\nHost: gw\r\n\r\n" + SECOND)
        assert_refused_and_closed(answer, 400)
        assert up.requests == []


async def test_options_asterisk_is_the_one_use_of_asterisk_and_is_not_refused() -> None:
    """``OPTIONS *`` asks about the server itself (RFC 9110 §9.3.7): answered by the gateway, not
    refused and not forwarded (no route owns ``*``)."""
    async with edge() as (up, port):
        answer = await exchange(port, b"OPTIONS * HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        assert answer.status in (200, 204), (answer.status, answer.body)
        assert up.requests == []


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        (b"http://gw/x", "/x"),
        (b"HTTP://gw/x?q=1", "/x?q=1"),
        (b"http://gw:8080/x", "/x"),
        (b"https://gw/x", "/x"),
    ],
)
async def test_absolute_form_is_reduced_to_its_path(target: bytes, forwarded: str) -> None:
    """The control for the refusals above: absolute-form itself is served (RFC 9112 §3.2.2)."""
    async with edge() as (up, port):
        answer = await exchange(
            port, b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
        )
        assert answer.status == 200, answer.body
        assert [r.target for r in up.requests] == [forwarded]


REFUSALS = {
    "bad-line": b"GET  /x HTTP/1.1\r\nHost: gw\r\n\r\n",
    "bad-version": b"GET /x HTTP/1.2\r\nHost: gw\r\n\r\n",
    "asterisk-get": b"GET * HTTP/1.1\r\nHost: gw\r\n\r\n",
    "no-host": b"GET /x HTTP/1.1\r\n\r\n",
    "bad-host": b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
    "two-hosts": b"GET /x HTTP/1.1\r\nHost: gw\r\nHost: gw\r\n\r\n",
    "bad-path": b"GET /x%00 HTTP/1.1\r\nHost: gw\r\n\r\n",
    "bad-chunk": b"POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("refused", REFUSALS.values(), ids=REFUSALS.keys())
async def test_after_any_refusal_the_connection_serves_no_further_request(refused: bytes) -> None:
    """A well-formed request pipelined behind the refused one, in the same write, is never served
    (the gateway cannot know where it starts once it refused what came before)."""
    async with edge() as (up, port):
        answer = await exchange(port, refused + SECOND)
        assert_refused_and_closed(answer, 400, 505)
        assert up.requests == []


async def test_a_refusal_after_a_served_request_ends_the_connection() -> None:
    async with edge() as (up, port):
        first = b"GET /first HTTP/1.1\r\nHost: gw\r\n\r\n"
        answer = await exchange(port, first + b"GET * HTTP/1.1\r\nHost: gw\r\n\r\n" + SECOND)
        assert answer.status == 200
        refusal = parse_answer(answer.rest, answer.closed)
        assert_refused_and_closed(refusal, 400)
        assert [r.target for r in up.requests] == ["/first"]


# -- Host ----------------------------------------------------------------------------------------

BAD_HOSTS = {
    "space": "a b",
    "userinfo": "a@b",
    "userinfo-password": "user:pass@gw",
    "slash": "a/b",
    "backslash": "a\\b",
    "query": "a?b",
    "fragment": "a#b",
    "unclosed-ipv6": "[::1",
    "unopened-ipv6": "::1]",
    "bare-ipv6": "::1",
    "junk-after-ipv6": "[::1]x",
    "bad-ipv6": "[zz::1]",
    "port-too-large": "gw:99999",
    "port-not-a-number": "gw:8o",
    "port-negative": "gw:-1",
    "port-plus": "gw:+80",
    "two-ports": "gw:80:80",
    "space-in-port": "gw: 80",
    "empty": "",
    "only-port": ":80",
    "quote": 'a"b',
    "angle": "a<b>",
}


@pytest.mark.parametrize("host", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
async def test_malformed_host_is_refused(host: str) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", host=host) + SECOND)
        assert_refused_and_closed(answer, 400)
        assert up.requests == []


HOST_LINES = {
    "missing": [],
    "twice-same": ["Host: gw", "Host: gw"],
    "twice-different": ["Host: gw", "Host: evil"],
    "twice-case": ["Host: gw", "host: gw"],
    "list": ["Host: gw, evil"],
}


@pytest.mark.parametrize("lines", HOST_LINES.values(), ids=HOST_LINES.keys())
async def test_missing_or_repeated_host_is_refused(lines: list[str]) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", *lines, host=None) + SECOND)
        assert_refused_and_closed(answer, 400)
        assert up.requests == []


@pytest.mark.parametrize(
    "host",
    ["gw", "gw:8080", "api.example.com", "xn--bcher-kva.example", "127.0.0.1", "127.0.0.1:80", "[::1]",
     "[::1]:8080", "a-b.c.example"],
)  # fmt: skip
async def test_well_formed_hosts_are_served(host: str) -> None:
    """The control: reg-names and IP literals with an optional port pass."""
    async with edge() as (up, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", "Connection: close", host=host))
        assert answer.status == 200, (answer.status, answer.body)
        assert len(up.requests) == 1


async def test_http10_without_host_is_served() -> None:
    """Host is only mandatory in HTTP/1.1 (RFC 9112 §3.2); a 1.0 request without it is not refused."""
    async with edge() as (up, port):
        answer = await exchange(port, b"GET /x HTTP/1.0\r\n\r\n")
        assert answer.status == 200
        assert len(up.requests) == 1
