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

from portway.contract import Handler, RequestHead
from portway.errors import ClientError
from portway.server.framing import check_framing, check_request_line
from portway.server.phases import Phase
from portway.server.request import new_request_id
from portway.server.state import ServerState

_NO_DEADLINE, _HEAD, _BODY, _IDLE = 0, 1, 2, 3
# Chunked bodies: the bytes that are not data (size lines, CRLFs, extensions) may not exceed this
# plus a little per chunk. llhttp skips extensions without a limit; this bounds what they can cost.
_CHUNK_OVERHEAD = 16 * 1024
_PER_CHUNK = 32
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


class RequestReader(asyncio.Protocol):
    """Parses requests for :class:`~portway.server.protocol.HttpConnection`, which answers them."""

    transport: asyncio.Transport | None
    phase: Phase
    active: Incoming | None

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.limits = state.limits
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
        self._chunks = 0
        self._chunk_wire = 0  # bytes of reads wholly inside a chunked body (data and framing)
        self._chunk_data = 0  # the data among them
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
        self._chunks = 0
        self._chunk_wire = 0
        self._chunk_data = 0
        self._line_checked = False
        self._arm(_HEAD, self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_request_line:
            raise ClientError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._line_checked:
            self._check_line()
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.limits.max_header_bytes:
            raise ClientError(431, "request header section too large")
        if len(self._headers) >= self.limits.max_headers:
            raise ClientError(431, "too many request header fields")
        self._headers.append((name.lower(), value))

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
        if head.content_length is not None and head.content_length > self.limits.max_body:
            raise ClientError(413, f"request body larger than {self.limits.max_body} bytes")
        if head.has_body:
            self._arm(_BODY, self.limits.body_timeout)
        else:
            self._arm(_NO_DEADLINE, 0)
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
        version = parser.get_http_version().encode()
        self._line_end = check_request_line(
            self._buffer, self._line_end, parser.get_method(), self._url, version
        )

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_body(self, body: bytes) -> None:
        incoming = self.parsing
        if incoming is None:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body:
            raise ClientError(413, f"request body larger than {self.limits.max_body} bytes")
        if self.deadline_kind == _BODY and not self._read_paused & _PAUSE_APP:
            self.deadline = self.loop.time() + self.limits.body_timeout  # (not while we hold it)
        if incoming.handler is not None:
            incoming.handler.on_body(body)
        elif not incoming.discard:
            incoming.chunks.append(body)

    def on_message_complete(self) -> None:
        incoming, self.parsing = self.parsing, None
        if self.active is None and not self.queue:
            # Answered already (a refusal, an answer, or a response that did not wait for this
            # body): the connection now idles until the next request.
            self._arm(_IDLE, self.limits.keepalive_timeout)
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
