"""What the cache's request hook hands its response hook for one request (``ctx.notes["cache"]``)."""

from __future__ import annotations

import asyncio

from portway.cache.directives import Directives
from portway.cache.entry import Entry


class Lookup:
    __slots__ = (
        "client_conditionals",
        "credentialed",
        "fwd",
        "key",
        "lead",
        "request_cc",
        "request_time",
        "stale",
        "unavailable",
        "validating",
    )

    def __init__(self, key: str, request_cc: Directives, request_time: float, credentialed: bool) -> None:
        self.key = key
        self.request_cc = request_cc
        self.request_time = request_time
        self.credentialed = credentialed
        self.fwd = b"uri-miss"  # RFC 9211 §2.2: why the request went upstream
        self.stale: Entry | None = None  # the stored response being validated (or kept for stale-if-error)
        self.validating = False  # our own validators went upstream: a 304 is for `stale`
        self.client_conditionals: list[tuple[bytes, bytes]] = []  # the client's, held back meanwhile
        self.lead: asyncio.Future[None] | None = None  # this request leads its key (collapse.py)
        self.unavailable = False  # the store could not answer: nothing is read or written
