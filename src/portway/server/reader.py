"""The reading half of a client connection: bytes → request heads and body events (httptools).

Rules:
- Each head is checked as soon as it is complete (:mod:`portway.server.framing`), its request line
  compared byte for byte with what the parser read, then dispatched or, while another request is
  being answered, queued with the socket paused (pipelining in order).
- Limits: request line, header bytes and count (414/431), body size (413), and the bytes of a
  chunked body that are not data (extensions) — each a :class:`~portway.errors.ClientError` raised
  in a parser callback, which the connection turns into a refusal.
- Deadlines: header (first byte of a request until its head is complete), body (between chunks,
  suspended while reading is held back), keep-alive idle (between requests); armed here as a kind
  and a float, fired by the process's one sweeper.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import httptools
from mypy_extensions import mypyc_attr

from portway.contract import Handler, RequestHead
from portway.errors import ClientError
from portway.server.framing import check_framing
from portway.server.phases import Phase
from portway.server.request import new_request_id
from portway.server.state import ServerState

_NO_DEADLINE, _HEAD, _BODY, _IDLE = 0, 1, 2, 3
# Chunk extensions (RFC 9112 §7.1.1) carry nothing we use and llhttp skips them without a limit, so
# the reader follows the chunk-size lines itself (one find per chunk, kept in step by llhttp's
# on_chunk_header) and bounds them; the same look at each size line refuses a chunk declared larger
# than what is left of limits.max_body before its data arrives.
_MAX_CHUNK_EXTENSION = 1024  # bytes after ';' on one chunk-size line
_MAX_CHUNK_EXTENSIONS = 16 * 1024  # all of a body's extensions together
_PAUSE_PIPELINE, _PAUSE_APP, _PAUSE_UPGRADE = 1, 2, 4


# A request answered before its body was read keeps the connection only if the rest of the body is
# small enough to read and drop; otherwise the connection closes after the response.
_DISCARDABLE_BODY = 64 * 1024


class Incoming:
    __slots__ = ("chunks", "complete", "discard", "handler", "head")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.handler: Handler | None = None
        self.chunks: list[bytes] = []
        self.complete = False
        self.discard = False

    @property
    def reusable(self) -> bool:
        """Can the connection serve another request once this one is answered?"""
        if not self.head.keep_alive:
            return False
        if self.complete or not self.head.has_body:
            return True
        length = self.head.content_length
        return length is not None and length <= _DISCARDABLE_BODY


# Compiled (mypyc): an interpreted subclass (server.tls.TlsHttpConnection, through HttpConnection)
# must still have its overrides called.
@mypyc_attr(allow_interpreted_subclasses=True)
class RequestReader(asyncio.Protocol):
    """Parses requests for :class:`~portway.server.protocol.HttpConnection`, which answers them."""

    transport: asyncio.Transport | None
    phase: Phase
    active: Incoming | None

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.limits = limits = state.limits
        # Read on every request: plain ints and floats here, not two attribute hops each time.
        self._max_line = limits.max_request_line
        self._max_header_bytes = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._max_body = limits.max_body
        self._header_timeout = limits.header_timeout
        self._body_timeout = limits.body_timeout
        self._idle_timeout = limits.keepalive_timeout
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.phase = Phase.WAITING
        self.parsing: Incoming | None = None
        self.active = None
        self.queue: deque[Incoming] = deque()
        self.deadline = 0.0
        self.deadline_kind = _NO_DEADLINE
        self._read_paused = 0
        self._in_head = False
        self._head_bytes = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body_bytes = 0
        self._read = b""  # the bytes of the current read, as data_received got them
        self._began_here = False  # the current request's head began in the current read
        self._tail = b""  # the last bytes of the previous read, while a head straddles reads
        self._scan = -1  # where the next chunk-size line starts in the current read; -1: not chunked
        self._scan_carry = b""  # the start of a chunk-size line that began in an earlier read
        self._extensions = 0  # chunk-extension bytes of the current body
        self._buffer = b""  # the bytes being parsed, for the request-line check
        self._line_end = 0  # where the last request line checked ends in _buffer
        self._line_checked = False
        self._upgrade_rest = b""
        self.client_ip = ""
        self.client_port = 0

    def _dispatch(self, incoming: Incoming) -> None:
        raise NotImplementedError

    # -- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body_bytes = 0
        self._began_here = True
        self._scan = -1
        self._line_checked = False
        self.deadline_kind = _HEAD  # (_arm, inline: every request passes here)
        self.deadline = self.loop.time() + self._header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line:
            raise ClientError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._line_checked:
            self._check_line()
        size = self._header_bytes + len(name) + len(value) + 4
        self._header_bytes = size
        if size > self._max_header_bytes:
            raise ClientError(431, "request header section too large")
        headers = self._headers
        if len(headers) >= self._max_headers:
            raise ClientError(431, "too many request header fields")
        headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        head = RequestHead(
            parser.get_method().decode("ascii"),
            self._url,
            parser.get_http_version(),
            self._headers,
            parser.should_keep_alive(),
            parser.should_upgrade(),
            self.client_ip,
            self.client_port,
            time.perf_counter(),  # uvloop's loop.time() has millisecond resolution
        )
        incoming = Incoming(head)
        self.parsing = incoming  # a refusal below carries this request's id
        try:
            if not self._line_checked:
                self._check_line()
            check_framing(head)
        except ClientError:
            if not head.request_id:
                head.request_id = new_request_id()
            raise
        length = head.content_length
        if length is not None and length > self._max_body:
            raise ClientError(413, f"request body larger than {self._max_body} bytes")
        if head.body_chunked:
            self._scan = self._head_end()
            self._scan_carry = b""
            self._extensions = 0
            self._arm(_BODY, self._body_timeout)
        elif length:
            self._arm(_BODY, self._body_timeout)
        else:
            self.deadline_kind = _NO_DEADLINE  # (_arm, inline: most requests have no body)
            self.deadline = 0.0
        if self.phase is Phase.CLOSED:
            return  # closed by an earlier request of this same read: nothing more is served
        if self.active is None:
            self._dispatch(incoming)
        else:
            self.queue.append(incoming)
            self._pause_reading(_PAUSE_PIPELINE)

    def _check_line(self) -> None:
        self._line_checked = True
        parser = self.parser
        version = parser.get_http_version()
        raw = b"1.1" if version == "1.1" else version.encode()
        # The line as the parser read it must appear in the bytes as sent (llhttp skips extra spaces).
        line = b"%b %b HTTP/%b\r\n" % (parser.get_method(), self._url, raw)
        found = self._buffer.find(line, self._line_end)
        if found < 0:
            raise ClientError(400, "malformed request line")
        self._line_end = found + len(line)

    def _head_end(self) -> int:
        """Where the head just parsed ends in the current read (its body starts there)."""
        if self._began_here:  # search from this request's line: earlier bytes are another request's
            start = max(self._line_end - 2 - (len(self._buffer) - len(self._read)), 0)
            return self._read.find(b"\r\n\r\n", start) + 4
        tail = self._tail  # the head began earlier: its end may straddle the two reads
        return (tail + self._read).find(b"\r\n\r\n") + 4 - len(tail)

    def on_chunk_header(self) -> None:
        if self._scan < 0:
            return
        read = self._read
        end = read.find(b"\n", self._scan)
        line = self._scan_carry + read[self._scan : end]
        self._scan_carry = b""
        size_hex, _, extension = line.rstrip(b"\r").partition(b";")
        size = int(size_hex, 16)  # llhttp has checked it is hex and fits
        self._extensions += len(extension)
        if len(extension) > _MAX_CHUNK_EXTENSION or self._extensions > _MAX_CHUNK_EXTENSIONS:
            raise ClientError(400, "chunk extensions too long")
        if size > self._max_body - self._body_bytes:
            raise ClientError(413, f"request body larger than {self._max_body} bytes")
        self._scan = end + 1 + size + 2 if size else -1  # data, its CRLF, then the next size line

    def _scan_on(self, data: bytes) -> None:
        """After a read inside a chunked body: where the next size line is relative to the next read."""
        scan = self._scan
        if scan < 0:
            return
        if scan >= len(data):
            self._scan = scan - len(data)
            return
        self._scan_carry += data[scan:]  # a size line began here and ends in a later read
        self._scan = 0
        if len(self._scan_carry) > _MAX_CHUNK_EXTENSION + 32:
            raise ClientError(400, "chunk extensions too long")

    def on_body(self, body: bytes) -> None:
        incoming = self.parsing
        if incoming is None:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._max_body:
            raise ClientError(413, f"request body larger than {self._max_body} bytes")
        if self.deadline_kind == _BODY and not self._read_paused & _PAUSE_APP:
            self.deadline = self.loop.time() + self._body_timeout  # (not while we hold it)
        if incoming.handler is not None:
            incoming.handler.on_body(body)
        elif not incoming.discard:
            incoming.chunks.append(body)

    def on_message_complete(self) -> None:
        incoming, self.parsing = self.parsing, None
        self._scan = -1
        if self.active is None and not self.queue:
            # Answered already (a refusal, an answer, or a response that did not wait for this
            # body): the connection now idles until the next request.
            self._arm(_IDLE, self._idle_timeout)
        elif self.deadline_kind == _BODY:
            self._arm(_NO_DEADLINE, 0)
        if incoming is None:
            return
        incoming.complete = True
        if incoming.handler is not None:
            incoming.handler.on_end()

    def _arm(self, kind: int, timeout: float) -> None:
        self.deadline_kind = kind
        self.deadline = self.loop.time() + timeout if kind != _NO_DEADLINE else 0.0

    def _pause_reading(self, reason: int) -> None:
        if not self._read_paused and self.transport is not None:
            self.transport.pause_reading()
        self._read_paused |= reason

    def _resume_reading(self, reason: int) -> None:
        was = self._read_paused
        self._read_paused &= ~reason
        if was and not self._read_paused and self.transport is not None and self.phase is not Phase.CLOSED:
            self.transport.resume_reading()
