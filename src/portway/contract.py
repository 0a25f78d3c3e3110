"""What the stages of the data plane share (DESIGN.md §1), and nothing else.

The server parses a :class:`RequestHead` and asks its application for a decision::

    decision = app.handle(head, responder)

- a :class:`~portway.errors.ClientError`: the server renders it as problem+json (404, 413, 401…);
- an :class:`Answer`: the server renders that response (a preflight's 204, an admin document);
- a :class:`Handler`: the request goes on; the server feeds it the request's events, and the
  handler writes its response through the :class:`Responder` (or hands a later refusal back
  to it with ``refuse``, still rendered by the server).

Later stages import this module; it imports nothing of theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from portway.errors import ClientError, GatewayError


class RequestHead:
    """One request's head: headers as raw bytes pairs, names lower-cased once by the server."""

    __slots__ = (
        "body_chunked",
        "client_ip",
        "client_port",
        "connection",
        "content_length",
        "expect_continue",
        "headers",
        "host",
        "keep_alive",
        "method",
        "request_id",
        "start",
        "target",
        "upgrade",
        "version",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        upgrade: bool,
        client_ip: str,
        client_port: int,
        start: float,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.client_ip = client_ip
        self.client_port = client_port
        self.start = start
        self.content_length: int | None = None
        self.connection: bytes | None = None  # the first Connection header, noted by the server
        self.body_chunked = False
        self.expect_continue = False
        self.host: bytes | None = None
        self.request_id = ""

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` lower-case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def has_body(self) -> bool:
        return self.body_chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target!r} id={self.request_id}>"


class Answer:
    """A response the gateway makes itself that is not a problem: status, extra headers and a
    small body with its content type (empty for a preflight's 204)."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        content_type: bytes | None = None,
    ) -> None:
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body
        self.content_type = content_type


class Responder(Protocol):
    """What a handler may do to its client connection."""

    bytes_out: int  # bytes written to the client so far on this connection
    write_paused: bool  # the client's socket buffer is full: stop producing until on_writable
    tls_version: str  # "TLSv1.3" when the client connected over TLS, "" otherwise

    @property
    def closing(self) -> bool:
        """The connection closes after this response (draining, or it cannot be reused)."""
        ...

    def write(self, data: bytes) -> None: ...
    def finish(self, keep_alive: bool) -> None:
        """The response is complete; the connection serves the next request or closes."""
        ...

    def refuse(self, error: GatewayError, head: RequestHead) -> None:
        """Answer with the error's problem+json (before any byte of a response was written)."""
        ...

    def answer(self, answer: Answer, head: RequestHead) -> None: ...
    def send_continue(self) -> None: ...
    def hold_reading(self) -> None:
        """Stop reading the request body for now (backpressure, or a decision pending)."""
        ...

    def release_reading(self) -> None: ...
    def start_tunnel(self, receive: Callable[[bytes], None]) -> bytes:
        """Switch to a raw byte pump after a 101; returns bytes the client sent after its head."""
        ...

    def abort(self) -> None:
        """Reset the connection: a response under way cannot be completed."""
        ...

    def close(self) -> None: ...


class Handler(Protocol):
    """The events one request receives from its client connection."""

    def on_body(self, data: bytes) -> None: ...
    def on_end(self) -> None: ...
    def on_client_lost(self) -> None: ...
    def on_writable(self) -> None: ...


Decision = Handler | Answer | ClientError


class Application(Protocol):
    def handle(self, head: RequestHead, responder: Responder) -> Decision: ...
