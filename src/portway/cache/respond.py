"""The response cache policy, response side: store what may be stored (RFC 9111 §3), merge a 304
into the stored response (§4.3.4), serve stale on errors (RFC 5861 §4), invalidate on unsafe
methods (§4.4). The request side is policy.py.

Rules:
- Stored: a final response to GET (not 206, not 304) that no ``no-store`` forbids, not
  ``private`` (a shared cache; ``private="Field"`` and ``no-cache="Field"`` only keep those fields
  out of the stored response), not ``Vary: *``, with explicit freshness (``s-maxage``,
  ``max-age``, ``Expires``), ``public``, or a heuristically cacheable status (§3). To a request
  with credentials only with ``public``, ``s-maxage`` or ``must-revalidate`` (§3.5).
- A body over ``max_object`` (by ``Content-Length``, or once that many bytes went by) streams
  through and is not kept; the filter keeps a copy only while it stays under.
- ``stale-if-error``: a 500, 502, 503 or 504 answer, or no answer at all (upstream down), while the
  stored response is within the window (the response's or the request's); with no answer at all
  also within the route's ``stale_if_unreachable``. Never with must-revalidate, proxy-revalidate,
  s-maxage or no-cache.
- A 200 to a HEAD that went upstream for a stale entry freshens it like a 304 when it describes
  the same response (§4.3.5: matching validators, or lengths without them).
- An unsafe method's non-error response invalidates its URI and the same-origin ``Location`` and
  ``Content-Location`` it names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from portway.cache import keys
from portway.cache.answers import Replace, conditional_matches, hit_headers, merged, not_modified
from portway.cache.collapse import Inflight
from portway.cache.directives import parse, seconds
from portway.cache.entry import Entry, storable_headers, surrogate_directives, values, withheld
from portway.cache.freshness import HEURISTIC_STATUSES
from portway.cache.lookup import Lookup
from portway.cache.store import Store
from portway.config.cache import CacheRule
from portway.contract import Answer
from portway.policies.base import BodyFilter, Context, Reply
from portway.tasks import spawn

log = logging.getLogger("portway.cache")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_ERRORS = frozenset({500, 502, 503, 504})
_NEVER_STORED = frozenset({206, 304})
# The statuses whose caching rules this cache implements (RFC 9110 §15), for must-understand.
UNDERSTOOD = frozenset({200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501})


class Responses:
    rule: CacheRule
    store: Store
    inflight: Inflight
    clock: Callable[[], float]
    key_headers: tuple[bytes, ...]

    def response(self, ctx: Context, reply: Reply) -> BodyFilter | None:
        notes = ctx.notes
        lookup = notes.get("cache") if notes is not None else None
        if not isinstance(lookup, Lookup):
            if ctx.head.method not in _SAFE and 200 <= reply.status < 400:
                self._invalidate(ctx, reply)
            return None
        if lookup.unavailable:
            reply.headers.append((b"cache-status", b"portway; fwd=miss; detail=store-unavailable"))
            return None
        status = reply.status
        now = self.clock()
        stale = lookup.stale
        if stale is not None:
            if status == 304 and lookup.validating:
                entry = merged(stale, reply.headers, lookup.request_time, now)
                self._keep(lookup, entry, now)
                return self._serve(ctx, lookup, reply, entry, now, b"portway; fwd=stale; fwd-status=304")
            if status in _ERRORS and self._may_serve_on_error(lookup, stale, now):
                self._release(lookup)
                ttl = int(stale.lifetime - stale.age(now))
                detail = b"portway; hit; ttl=%d; fwd=stale; fwd-status=%d; detail=stale-if-error"
                return self._serve(ctx, lookup, reply, stale, now, detail % (ttl, status))
        refused = self._refusal(ctx, lookup, reply)
        headers = storable_headers(reply.headers)
        if any(n.lower() == b"surrogate-control" for n, _ in reply.headers):
            reply.headers = [h for h in reply.headers if h[0].lower() != b"surrogate-control"]
        if ctx.head.method == "HEAD":
            if stale is not None and status == 200 and _describes(reply.headers, stale):
                self._keep(lookup, merged(stale, reply.headers, lookup.request_time, now), now)
            reply.headers.append((b"cache-status", b"portway; fwd=" + lookup.fwd))
            return None
        if refused is not None:
            self._release(lookup)
            detail = b"portway; fwd=%b; fwd-status=%d; detail=%b" % (lookup.fwd, status, refused)
            reply.headers.append((b"cache-status", detail))
            return None
        withheld_fields = withheld(parse(values(headers, b"cache-control")))
        if withheld_fields:
            headers = [h for h in headers if h[0] not in withheld_fields]
        names = keys.vary_names(values(headers, b"vary")) or []
        vary = keys.secondary([*self.key_headers, *names], ctx.head.headers)
        stored = b"portway; fwd=%b; fwd-status=%d; stored" % (lookup.fwd, status)
        reply.headers.append((b"cache-status", stored))
        template = Entry(status, headers, b"", lookup.request_time, now, vary, self.rule.max_heuristic)
        return _Keep(self, lookup, template)

    def _serve(
        self, ctx: Context, lookup: Lookup, reply: Reply, entry: Entry, now: float, status: bytes
    ) -> BodyFilter:
        """Turn the upstream's answer (a 304, a 5xx) into the stored response, or a 304 when the
        client's own conditionals match it."""
        headers = hit_headers(entry, now, status)
        if lookup.client_conditionals and conditional_matches(lookup.client_conditionals, entry):
            reply.status, reply.reason, reply.headers = 304, b"", not_modified(headers)
            return Replace(b"")
        body = entry.body if ctx.head.method != "HEAD" else b""
        headers.append((b"content-length", b"%d" % len(entry.body)))
        reply.status, reply.reason, reply.headers = entry.status, b"", headers
        return Replace(body)

    def _may_serve_on_error(self, lookup: Lookup, entry: Entry, now: float, unreachable: float = 0.0) -> bool:
        """RFC 5861 §4 (and §4.2.4 of RFC 9111 when no answer came at all, ``unreachable``)."""
        if entry.must_revalidate or entry.no_cache:
            return False
        window = max(
            entry.window(b"stale-if-error"), seconds(lookup.request_cc, b"stale-if-error") or 0, unreachable
        )
        return window > 0 and entry.age(now) - entry.lifetime <= window

    def _upstream_failed(self, lookup: Lookup) -> Answer | None:
        """No answer came (upstream down, timed out): the stale response if stale-if-error allows."""
        self._release(lookup)
        entry = lookup.stale
        now = self.clock()
        if entry is None or not self._may_serve_on_error(lookup, entry, now, self.rule.stale_if_unreachable):
            return None
        ttl = int(entry.lifetime - entry.age(now))
        status = b"portway; hit; ttl=%d; fwd=stale; detail=stale-if-error" % ttl
        return Answer(entry.status, hit_headers(entry, now, status), entry.body)

    def _refusal(self, ctx: Context, lookup: Lookup, reply: Reply) -> bytes | None:
        """Why this response is not stored (an RFC 9211 detail), or None: it is."""
        status = reply.status
        if status < 200 or status in _NEVER_STORED:
            return b"status"
        if b"no-store" in lookup.request_cc:
            return b"request-no-store"
        headers = reply.headers
        cc = parse(v for n, v in headers if n.lower() == b"cache-control")
        surrogate = surrogate_directives([(n.lower(), v) for n, v in headers])
        if b"no-store" in surrogate:
            return b"no-store"
        if b"must-understand" in cc:  # §5.2.2.3: stored only by a cache that knows the status
            if status not in UNDERSTOOD:
                return b"must-understand"
        elif b"no-store" in cc and b"max-age" not in surrogate:
            # (must-understand overrides no-store for a cache that understands the status, and
            # Surrogate-Control, addressed to surrogates, overrides Cache-Control for them)
            return b"no-store"
        if b"private" in cc and not cc[b"private"]:  # (a qualified private withholds fields only)
            return b"private"
        if lookup.credentialed and not (b"public" in cc or b"s-maxage" in cc or b"must-revalidate" in cc):
            return b"authorization"
        vary = [v for n, v in headers if n.lower() == b"vary"]
        if vary and keys.vary_names(vary) is None:
            return b"vary-star"
        expires = next((v for n, v in headers if n.lower() == b"expires"), None)
        explicit = expires is not None or b"max-age" in cc or b"s-maxage" in cc or b"public" in cc
        explicit = explicit or b"max-age" in surrogate
        if not explicit and status not in HEURISTIC_STATUSES:
            return b"not-cacheable"
        length = next((v for n, v in headers if n.lower() == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.rule.max_object:
            return b"too-large"
        return None

    def _keep(self, lookup: Lookup, entry: Entry, now: float) -> None:
        """Store ``entry``, then let the followers of its key look again."""
        done = self.store.put(lookup.key, entry, entry.keep_for(now, self.rule.stale_if_unreachable))
        if done is None:
            self._release(lookup)
        else:
            spawn(self._release_after(lookup, done), name=f"cache put {lookup.key}")

    async def _release_after(self, lookup: Lookup, done: Awaitable[None]) -> None:
        try:
            await done
        finally:
            self._release(lookup)

    def _release(self, lookup: Lookup) -> None:
        lead, lookup.lead = lookup.lead, None
        if lead is not None:
            self.inflight.release(lookup.key, lead)

    def _invalidate(self, ctx: Context, reply: Reply) -> None:
        head = ctx.head
        doomed = {keys.primary(head, ctx.query)}
        host = head.host or b""
        for name in (b"location", b"content-location"):
            reference = next((v for n, v in reply.headers if n.lower() == name), None)
            if reference is not None and (key := keys.uri_key(host, reference)) is not None:
                doomed.add(key)
        for key in doomed:
            done = self.store.delete(key)
            if not isinstance(done, int):
                spawn(_drain(done), name=f"cache invalidate {key}")


def _describes(headers: list[tuple[bytes, bytes]], entry: Entry) -> bool:
    """A 200 to HEAD is about the stored response (RFC 9111 §4.3.5: its headers freshen it) when
    their validators agree, or, with none on either side, their lengths do."""
    fields = {n.lower(): v for n, v in headers}
    etag, modified = fields.get(b"etag"), fields.get(b"last-modified")
    if entry.etag is not None or etag is not None:
        return etag == entry.etag
    if entry.last_modified is not None or modified is not None:
        return modified == entry.last_modified
    length = fields.get(b"content-length")
    return length is None or length == b"%d" % len(entry.body)


async def _drain(done: Awaitable[int]) -> None:
    await done


class _Keep:
    """Passes the body on unchanged, keeping a copy while it stays under ``max_object``; the copy
    is stored when the body ends."""

    __slots__ = ("chunks", "lookup", "policy", "size", "template")

    def __init__(self, policy: Responses, lookup: Lookup, template: Entry) -> None:
        self.policy = policy
        self.lookup = lookup
        self.template = template
        self.chunks: list[bytes] | None = []
        self.size = 0

    def data(self, chunk: bytes) -> bytes:
        chunks = self.chunks
        if chunks is not None:
            self.size += len(chunk)
            if self.size > self.policy.rule.max_object:
                self.chunks = None  # too large after all: it streams on, uncached
                self.policy._release(self.lookup)
            else:
                chunks.append(chunk)
        return chunk

    def end(self) -> bytes:
        if self.chunks is not None:
            t = self.template
            body = b"".join(self.chunks)
            entry = Entry(t.status, t.headers, body, t.request_time, t.response_time, t.vary, t.max_heuristic)
            self.policy._keep(self.lookup, entry, self.policy.clock())
        return b""

    def abort(self) -> None:
        self.chunks = None
        self.policy._release(self.lookup)
