"""One stored response (RFC 9111 §3): its head as stored, its body, and when it was received, with
what freshness needs computed once at store time instead of on every hit.

Stored headers lose what belongs to one connection (hop-by-hop fields, ``Content-Length``, which the
answer recomputes, the upstream's ``X-Request-Id``); everything else is kept as received. ``vary``
holds the request's values for each field the response varies on (and the route's key headers):
the secondary key of §4.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from portway.cache import freshness
from portway.cache.directives import Directives, parse, seconds
from portway.headers import HOP_BY_HOP

# Hop-by-hop fields, what belongs to a proxy hop (RFC 9110 §11.7), and what the answer recomputes.
_NOT_STORED = frozenset(
    {
        *HOP_BY_HOP,
        b"content-length",
        b"x-request-id",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authentication-info",
        b"proxy-authorization",
    }
)
# What an entry costs beyond its body and headers (objects, dict slots): a bound, not a measure.
OVERHEAD = 256


def storable_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b","))
    return [(n.lower(), v) for n, v in headers if n.lower() not in _NOT_STORED and n.lower() not in named]


def withheld(cc: Directives) -> set[bytes]:
    """Fields a shared cache must not store: those ``no-cache="..."`` and ``private="..."`` name
    (RFC 9111 §5.2.2.4, §5.2.2.7); the rest of the response may be stored and reused."""
    names: set[bytes] = set()
    for directive in (b"no-cache", b"private"):
        arg = cc.get(directive)
        if arg:
            names.update(n.strip().lower() for n in arg.split(b",") if n.strip())
    return names


def values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [v for n, v in headers if n == name]


def first(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for n, v in headers:
        if n == name:
            return v
    return None


SURROGATE_NAME = b"portway"  # the device token we announce in Surrogate-Capability


def surrogate_directives(headers: list[tuple[bytes, bytes]]) -> Directives:
    """Surrogate-Control's directives for this gateway: untargeted ones, and those targeted at it
    (``max-age=60;portway``); a directive targeted at another device is not ours."""
    found: Directives = {}
    for name, arg in parse(values(headers, b"surrogate-control")).items():
        target = None
        if arg is not None and b";" in arg:
            arg, _, target = arg.partition(b";")
        elif arg is None and b";" in name:
            name, _, target = name.partition(b";")
        if target is None or target.strip() == SURROGATE_NAME:
            found[name] = arg
    return found


@dataclass(slots=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]  # lower-case names, as stored
    body: bytes
    request_time: float
    response_time: float
    vary: tuple[tuple[bytes, bytes], ...]  # (field name, the request's value): the secondary key
    max_heuristic: float = 86400.0
    cc: Directives = field(init=False)
    lifetime: float = field(init=False)
    initial_age: float = field(init=False)
    etag: bytes | None = field(init=False)
    last_modified: bytes | None = field(init=False)
    size: int = field(init=False)
    sent: list[tuple[bytes, bytes]] = field(init=False)  # the headers a hit sends, before Age

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute what the headers and times say (after a 304 merged new headers in)."""
        headers = self.headers
        self.cc = parse(values(headers, b"cache-control"))
        date = freshness.http_date(first(headers, b"date"))
        # Surrogate-Control (W3C Edge Architecture) speaks to gateways like this one; its max-age
        # wins over Cache-Control's. A directive targeted at another device (`;other`) is no number.
        surrogate = seconds(surrogate_directives(headers), b"max-age")
        self.lifetime = (
            float(surrogate)
            if surrogate is not None
            else freshness.lifetime(
                self.status,
                self.cc,
                date if date is not None else self.response_time,
                first(headers, b"expires"),
                first(headers, b"last-modified"),
                self.max_heuristic,
            )
        )
        self.initial_age = freshness.initial_age(
            values(headers, b"age"), date, self.request_time, self.response_time
        )
        self.etag = first(headers, b"etag")
        self.last_modified = first(headers, b"last-modified")
        self.size = len(self.body) + sum(len(n) + len(v) for n, v in headers) + OVERHEAD
        # What the gateway consumes is not sent on: its own Age is computed per hit, and
        # Surrogate-Control is for surrogates (W3C Edge Architecture).
        self.sent = [h for h in headers if h[0] != b"age" and h[0] != b"surrogate-control"]

    @property
    def secondary(self) -> bytes:
        return b"\n".join(n + b":" + v for n, v in self.vary)

    def age(self, now: float) -> float:
        return self.initial_age + max(0.0, now - self.response_time)

    def window(self, name: bytes) -> int:
        """A stale-serving window the response allows (RFC 5861: ``stale-while-revalidate``,
        ``stale-if-error``), 0 when absent."""
        return seconds(self.cc, name) or 0

    @property
    def must_revalidate(self) -> bool:
        """Never served stale (§5.2.2.2, §5.2.2.8; ``s-maxage`` implies it for a shared cache)."""
        cc = self.cc
        return b"must-revalidate" in cc or b"proxy-revalidate" in cc or b"s-maxage" in cc

    @property
    def no_cache(self) -> bool:
        """Validated on every use; ``no-cache="Field"`` instead names fields not stored (§5.2.2.4)."""
        return b"no-cache" in self.cc and self.cc[b"no-cache"] is None

    def keep_for(self, now: float, grace: float) -> float:
        """Seconds the store should keep it: while fresh, then while it could still be served
        stale (its stale windows, ``grace``: the route's ``stale_if_unreachable`` and a client's
        max-stale) or revalidated (an hour at least for an entry with a validator)."""
        remaining = self.lifetime - self.age(now)
        stale = max(self.window(b"stale-while-revalidate"), self.window(b"stale-if-error"), grace)
        if self.etag is not None or self.last_modified is not None:
            stale = max(stale, 3600)
        return max(1.0, remaining + stale)

    def to_bytes(self) -> bytes:
        meta = json.dumps(
            [
                self.status,
                [[n.decode("latin-1"), v.decode("latin-1")] for n, v in self.headers],
                self.request_time,
                self.response_time,
                [[n.decode("latin-1"), v.decode("latin-1")] for n, v in self.vary],
                self.max_heuristic,
            ],
            separators=(",", ":"),
        ).encode()
        return b"%d\n%b%b" % (len(meta), meta, self.body)

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Raises ``ValueError`` on anything that is not an entry (another writer's key)."""
        length, _, rest = data.partition(b"\n")
        size = int(length)
        status, headers, request_time, response_time, vary, heuristic = json.loads(rest[:size])
        return cls(
            int(status),
            [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            rest[size:],
            float(request_time),
            float(response_time),
            tuple((n.encode("latin-1"), v.encode("latin-1")) for n, v in vary),
            float(heuristic),
        )
