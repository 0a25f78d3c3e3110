"""Responses made from stored entries: the head a hit gets (``Age``, ``Cache-Status``), the client's
own conditionals evaluated against it (RFC 9110 §13.2.2, §13.1.1-3), and the 304 merge (RFC 9111
§4.3.4, §3.2)."""

from __future__ import annotations

from portway.cache import freshness
from portway.cache.entry import Entry, first, storable_headers

CONDITIONALS = frozenset({b"if-none-match", b"if-modified-since"})
_304_KEEPS = frozenset(  # RFC 9110 §15.4.5: what a 304 carries of the response it stands for
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary", b"age", b"cache-status"}
)


# Fields a 304 does not update (RFC 9111 §3.2 leaves framing alone; the suite and every cache we
# compare with also keep the stored validator and content metadata: the body is the stored one).
_NOT_UPDATED = frozenset({b"content-encoding", b"content-length", b"content-md5", b"content-range", b"etag"})


def hit_headers(entry: Entry, now: float, status: bytes) -> list[tuple[bytes, bytes]]:
    return [*entry.sent, (b"age", b"%d" % int(entry.age(now))), (b"cache-status", status)]


def not_modified(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [h for h in headers if h[0] in _304_KEEPS or h[0] == b"last-modified"]


def _etags(value: bytes) -> list[bytes]:
    return [tag.strip().removeprefix(b"W/") for tag in value.split(b",") if tag.strip()]


def conditional_matches(conditionals: list[tuple[bytes, bytes]], entry: Entry) -> bool:
    """The client's If-None-Match / If-Modified-Since say it has this entry: answer 304. A weak
    comparison for If-None-Match (§13.1.2); If-Modified-Since only without it (§13.2.2)."""
    if not conditionals or not 200 <= entry.status < 300:  # RFC 9110 §13.2.1: for 2xx only
        return False
    inm = b", ".join(v for n, v in conditionals if n == b"if-none-match")
    if inm:
        if inm.strip() == b"*":
            return True
        if entry.etag is None:
            return False
        return entry.etag.strip().removeprefix(b"W/") in _etags(inm)
    ims = first(conditionals, b"if-modified-since")
    if ims is None:
        return False
    since = freshness.http_date(ims)
    modified = freshness.http_date(entry.last_modified) or freshness.http_date(first(entry.headers, b"date"))
    return since is not None and modified is not None and modified <= since


def merged(
    entry: Entry, update: list[tuple[bytes, bytes]], request_time: float, response_time: float
) -> Entry:
    """The stored entry freshened by a 304's headers (§3.2: each replaces the stored field of its
    name, except framing), as a new entry to store in place of the old one."""
    fresh = [h for h in storable_headers(update) if h[0] not in _NOT_UPDATED]
    names = {n for n, _ in fresh}
    headers = [h for h in entry.headers if h[0] not in names] + fresh
    return Entry(
        entry.status, headers, entry.body, request_time, response_time, entry.vary, entry.max_heuristic
    )


class Replace:
    """A body filter that drops the upstream's body (a 304's, a 5xx's) and sends ``body`` instead."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def data(self, chunk: bytes) -> bytes:
        return b""

    def end(self) -> bytes:
        return self.body

    def abort(self) -> None:
        pass
