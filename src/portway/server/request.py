"""The parsed request head the server hands to the application, and the request-id rule."""

from __future__ import annotations

import itertools
import os
import re

# A client-supplied X-Request-Id is kept only when it is a short token of safe characters, so it can
# be logged and echoed without escaping and cannot smuggle separators into downstream logs.
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,64}$")


def new_request_id() -> str:
    # A random 64-bit prefix per process (re-drawn in each forked worker) and a counter: unique
    # without a random draw or a syscall per request. Request ids correlate; they are not secrets.
    return f"{_prefix}{next(_counter):016x}"


def _new_prefix() -> None:
    global _prefix, _counter
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(1)


_prefix = ""
_counter = itertools.count(1)
_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def accept_request_id(value: bytes | None) -> str:
    if value is not None and _SAFE_ID.match(value):
        return value.decode("ascii")
    return new_request_id()


class RequestHead:
    """One request's head: headers as raw bytes pairs, names lower-cased once here."""

    __slots__ = (
        "body_chunked",
        "client_ip",
        "client_port",
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
