"""The contract between the proxy and the per-route policies (DESIGN.md §1, STYLE.md §2).

A policy is compiled once from config (its constructor validates everything) and exposes
``request(ctx)``, called for every request on its route, in the route's order:

- return ``None`` to let the request continue;
- return a :data:`Denial` to answer it at the gateway: a :class:`~portway.errors.ClientError`
  (401, 403, 429… as problem+json) or an :class:`~portway.contract.Answer` (a preflight's 204);
- return an awaitable (only when real I/O is needed: a JWKS refresh, a Redis call) that resolves
  to ``None`` or a ``Denial``; the request then finishes on a slow-path coroutine.

A policy that acts on answers also has ``response(ctx, reply)``, run in reverse order on the
upstream's response head (a :class:`Reply`) before it is sent on. It may edit the reply in place
(headers, even the status: a cache turns a validated 304 into its stored 200) and may return a
:class:`BodyFilter` that the body then streams through (compression rewrites it, a cache keeps a
copy). A filter that changes the body's length removes ``Content-Length`` in its hook; the exchange
then re-chunks for the client.

A request hook may also set ``ctx.request_filter``: the request body then streams through that
filter on its way up (decompression decodes it). Its data() and end() may raise a
:class:`~portway.errors.ClientError` to refuse the request (413 for a decompression bomb); the
exchange sends the filtered body chunked and without ``Content-Encoding``. A request filter is not
told when a request ends early (its abort() is not called): it must keep nothing outside itself.

Policies read the request through :class:`Context` and never touch sockets. What they add for the
upstream (identity headers) or for the client (rate-limit, CORS headers) goes into the context's
header lists; the exchange writes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from portway.contract import Answer, RequestHead
from portway.errors import ClientError


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the request is from, once a credential was verified."""

    subject: str
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    consumer: str | None = None  # API-key consumer name
    claims: dict[str, object] = field(default_factory=dict)
    expires: float = 0.0  # epoch seconds; 0 = does not expire (API keys)


Denial = ClientError | Answer  # what a policy answers instead of forwarding


class Context(Protocol):
    """What a policy sees of a request (implemented by the proxy's exchange)."""

    head: RequestHead  # a policy may replace ``head.headers`` (header transforms remove some)
    query: bytes  # the raw query string, without '?'; a policy may replace it (a key it consumed)
    identity: Identity | None
    upstream_headers: list[tuple[bytes, bytes]]
    response_headers: list[tuple[bytes, bytes]]
    request_filter: BodyFilter | None  # what the request body streams through on its way up
    # What a policy's request hook leaves for its own response hook (the cache's lookup), by policy name.
    notes: dict[str, object] | None
    # Asked once when the upstream gives no answer at all (down, timed out), before the error is
    # rendered: an Answer to send instead (a cache's stale-if-error), or None for the error. Also
    # asked when the client goes before any answer (what it returns then goes nowhere): the cache
    # learns there that a collapsed miss it leads came to nothing.
    fallback: Callable[[], Answer | None] | None

    @property
    def route_name(self) -> str: ...

    @property
    def client_ip(self) -> str:
        """The client's address: the socket peer, or with ``trusted_proxies`` the right-most
        untrusted ``X-Forwarded-For`` entry."""
        ...

    def background(
        self,
        headers: list[tuple[bytes, bytes]],
        upstream_headers: list[tuple[bytes, bytes]],
        notes: dict[str, object],
        fallback: Callable[[], Answer | None] | None,
    ) -> None:
        """Send this request upstream once more on its own, with the client's ``headers`` replaced
        and ``upstream_headers`` added to this request's: the response runs through the response
        hooks (with ``notes``) and goes nowhere else. A cache's background revalidation (RFC 5861)."""
        ...


PolicyResult = Denial | Awaitable[Denial | None] | None


class Reply:
    """The upstream's response head on its way to the client, as response hooks may edit it."""

    __slots__ = ("headers", "reason", "status")

    def __init__(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers


class BodyFilter(Protocol):
    """A response body's path through a policy, chunk by chunk, never whole (DESIGN.md §1)."""

    def data(self, chunk: bytes) -> bytes:
        """The bytes to send on for this chunk (``b""``: nothing yet, e.g. a compressor buffering)."""
        ...

    def end(self) -> bytes:
        """The body ended: the last bytes to send (a compressor's trailer, a cache's stored body)."""
        ...

    def abort(self) -> None:
        """The body will not complete (upstream error, client gone): drop what was kept."""
        ...


RequestHook = Callable[[Context], PolicyResult]
ResponseHook = Callable[[Context, Reply], BodyFilter | None]


class Policy(Protocol):
    name: str

    def request(self, ctx: Context) -> PolicyResult: ...
