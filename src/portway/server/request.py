"""The request-id rule: a client's safe ``X-Request-Id`` is kept, otherwise the server makes one."""

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
