"""The response cache policy, request side (RFC 9111 §4): answer from the store, or send the request
on (revalidating what is stored), or make it wait for a collapsed miss. The response side (storing,
the 304 merge, stale-if-error, invalidation) is in respond.py.

Rules:
- GET is looked up and stored; HEAD is answered from stored GETs and never stored; every other
  method goes through and, when unsafe, invalidates (respond.py).
- A stored response is served when fresh and the request's ``max-age`` / ``min-fresh`` allow it;
  stale only with the request's ``max-stale`` or within ``stale-while-revalidate`` (then one
  background revalidation per key), never with ``must-revalidate`` / ``proxy-revalidate`` /
  ``s-maxage``. A request's ``no-cache`` and a stored ``no-cache`` always validate (``Pragma`` is
  deprecated, RFC 9111 §5.4, and ignored). ``only-if-cached`` with nothing servable is a 504.
- Requests sent upstream announce the gateway as a surrogate (``Surrogate-Capability``), so an
  origin may target ``Surrogate-Control`` directives at it.
- Validation: the client's own ``If-None-Match`` / ``If-Modified-Since`` are held back and ours
  (the stored ``ETag`` / ``Last-Modified``) sent instead; the client's are evaluated on the result.
- A request with credentials (``Authorization``, or an identity the gateway verified) is never
  collapsed with others: what it gets may be for it alone until the response says otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

from portway.cache import keys
from portway.cache.answers import CONDITIONALS, conditional_matches, hit_headers, not_modified
from portway.cache.collapse import Inflight
from portway.cache.directives import parse, seconds
from portway.cache.entry import SURROGATE_NAME, Entry, first, values
from portway.cache.lookup import Lookup
from portway.cache.ranges import UNSATISFIABLE, single_range
from portway.cache.respond import Responses
from portway.cache.store import Store
from portway.config.cache import CacheRule
from portway.contract import Answer
from portway.errors import ClientError
from portway.policies.base import Context, Denial, PolicyResult

# Request fields that change what a stored response answers (the fast path in Cache.request
# checks for none of them; credentials only matter for what is stored: RFC 9111 §3.5).
_READ = frozenset({b"cache-control", b"if-none-match", b"if-modified-since", b"range"})
_CAPABILITY = (b"surrogate-capability", SURROGATE_NAME + b'="Surrogate/1.0"')


def select(found: list[Entry], headers: list[tuple[bytes, bytes]]) -> Entry | None:
    for entry in found:
        if keys.matches(entry.vary, headers):
            return entry
    return None


class Cache(Responses):
    name = "cache"

    def __init__(
        self,
        rule: CacheRule,
        store: Store,
        inflight: Inflight,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rule = rule
        self.store = store
        self.inflight = inflight
        self.clock = clock
        self.key_headers = tuple(name.encode() for name in rule.key_headers)

    def __repr__(self) -> str:
        return f"<Cache {self.store!r} max_object={self.rule.max_object}>"

    def request(self, ctx: Context) -> PolicyResult:
        head = ctx.head
        if head.method != "GET" and head.method != "HEAD":
            return None
        headers = head.headers
        plain = True  # no field the cache has to read: a fresh stored response answers as it is
        for name, _ in headers:
            if name in _READ:
                plain = False
                break
        key = keys.primary(head, ctx.query)
        found = self.store.variants(key)
        if plain and type(found) is list and found:
            entry = found[0] if not found[0].vary else select(found, headers)
            if entry is not None and not entry.no_cache:
                now = self.clock()
                ttl = entry.lifetime - entry.age(now)
                if ttl > 0:
                    return Answer(
                        entry.status, hit_headers(entry, now, b"portway; hit; ttl=%d" % ttl), entry.body
                    )
        cc = parse(values(headers, b"cache-control"))  # (Pragma is deprecated: RFC 9111 §5.4)
        credentialed = ctx.identity is not None or first(headers, b"authorization") is not None
        lookup = Lookup(key, cc, self.clock(), credentialed)
        ctx.notes = {"cache": lookup} if ctx.notes is None else {**ctx.notes, "cache": lookup}
        if isinstance(found, list):
            return self._decide(ctx, lookup, found)
        return self._decide_later(ctx, lookup, found)

    async def _decide_later(
        self, ctx: Context, lookup: Lookup, pending: Awaitable[list[Entry] | None]
    ) -> Denial | None:
        found = await pending
        if found is None:  # the store is out: this request neither reads nor writes it
            lookup.unavailable = True
            return None
        decision = self._decide(ctx, lookup, found)
        if decision is None or isinstance(decision, ClientError | Answer):
            return decision
        return await decision

    def _decide(self, ctx: Context, lookup: Lookup, found: list[Entry]) -> PolicyResult:
        cc = lookup.request_cc
        entry = select(found, ctx.head.headers)
        if entry is None:
            lookup.fwd = b"vary-miss" if found else b"uri-miss"
            return self._forward(ctx, lookup)
        now = lookup.request_time
        age = entry.age(now)
        ttl = entry.lifetime - age
        if b"no-cache" in cc or entry.no_cache:
            lookup.fwd = b"request" if b"no-cache" in cc else b"stale"
            return self._validate(ctx, lookup, entry)
        if ttl > 0:
            max_age, min_fresh = seconds(cc, b"max-age"), seconds(cc, b"min-fresh")
            if (max_age is None or age <= max_age) and (min_fresh is None or ttl >= min_fresh):
                return self._hit(ctx, entry, now, ttl)
            lookup.fwd = b"request"
            return self._validate(ctx, lookup, entry)
        if not entry.must_revalidate:
            if b"max-stale" in cc:
                limit = seconds(cc, b"max-stale")
                if cc[b"max-stale"] is None or (limit is not None and -ttl <= limit):
                    return self._hit(ctx, entry, now, ttl)
            window = entry.window(b"stale-while-revalidate")
            if window and -ttl <= window and b"max-age" not in cc:
                self._revalidate_in_background(ctx, lookup, entry)
                return self._hit(ctx, entry, now, ttl, b"; fwd=stale; detail=revalidating")
        lookup.fwd = b"stale"
        return self._validate(ctx, lookup, entry)

    def _hit(self, ctx: Context, entry: Entry, now: float, ttl: float, detail: bytes = b"") -> Answer:
        headers = hit_headers(entry, now, b"portway; hit; ttl=%d%b" % (int(ttl), detail))
        request = ctx.head.headers
        if conditional_matches([h for h in request if h[0] in CONDITIONALS], entry):
            return Answer(304, not_modified(headers))
        wanted = first(request, b"range")
        if wanted is not None and entry.status == 200 and first(request, b"if-range") is None:
            return self._partial(entry, headers, wanted)
        return Answer(entry.status, headers, entry.body)

    def _partial(self, entry: Entry, headers: list[tuple[bytes, bytes]], wanted: bytes) -> Answer:
        body = entry.body
        span = single_range(wanted, len(body))
        if span is None:
            return Answer(200, headers, body)
        if span is UNSATISFIABLE:
            return Answer(416, [*headers, (b"content-range", b"bytes */%d" % len(body))])
        start, last = span
        headers.append((b"content-range", b"bytes %d-%d/%d" % (start, last, len(body))))
        return Answer(206, headers, body[start : last + 1])

    def _validate(self, ctx: Context, lookup: Lookup, entry: Entry) -> PolicyResult:
        """Send the request on with our validators, keeping ``entry`` for the 304 (or an error)."""
        lookup.stale = entry
        if b"only-if-cached" in lookup.request_cc:
            return self._only_if_cached()
        if ctx.head.method == "GET" and (entry.etag is not None or entry.last_modified is not None):
            self._swap_validators(ctx, lookup, entry)
        return self._forward(ctx, lookup)

    def _swap_validators(self, ctx: Context, lookup: Lookup, entry: Entry) -> None:
        head = ctx.head
        lookup.client_conditionals = [h for h in head.headers if h[0] in CONDITIONALS]
        if lookup.client_conditionals:
            head.headers = [h for h in head.headers if h[0] not in CONDITIONALS]
        lookup.validating = True
        if entry.etag is not None:
            ctx.upstream_headers.append((b"if-none-match", entry.etag))
        if entry.last_modified is not None:
            ctx.upstream_headers.append((b"if-modified-since", entry.last_modified))

    def _only_if_cached(self) -> ClientError:
        return ClientError(
            504,
            "only-if-cached: no stored response can be served",
            [(b"cache-status", b"portway; fwd=miss; detail=only-if-cached")],
        )

    def _forward(self, ctx: Context, lookup: Lookup) -> PolicyResult:
        if b"only-if-cached" in lookup.request_cc:
            return self._only_if_cached()
        ctx.fallback = partial(self._upstream_failed, lookup)
        ctx.upstream_headers.append(_CAPABILITY)
        if not self.rule.collapse or ctx.head.method != "GET" or lookup.credentialed:
            return None
        leads, future = self.inflight.join(lookup.key, self.rule.collapse_wait)
        if leads:
            lookup.lead = future
            return None
        return self._follow(ctx, lookup, future)

    async def _follow(self, ctx: Context, lookup: Lookup, future: asyncio.Future[None]) -> Denial | None:
        inflight = self.inflight
        inflight.waiting += 1
        inflight.collapsed += 1
        try:
            async with asyncio.timeout(self.rule.collapse_wait):
                await asyncio.shield(future)
        except TimeoutError:
            pass
        finally:
            inflight.waiting -= 1
        pending = self.store.variants(lookup.key)
        found = pending if isinstance(pending, list) else await pending
        entry = select(found or [], ctx.head.headers)
        if entry is not None:
            now = self.clock()
            ttl = entry.lifetime - entry.age(now)
            if ttl > 0 and not entry.no_cache and b"no-cache" not in lookup.request_cc:
                return self._hit(ctx, entry, now, ttl, b"; detail=collapsed")
        return None  # nothing servable came of it: this one goes upstream itself

    def _revalidate_in_background(self, ctx: Context, lookup: Lookup, entry: Entry) -> None:
        """RFC 5861 §3: one revalidation per key while stale responses are served."""
        if ctx.head.method != "GET" or self.inflight.busy(lookup.key):
            return
        background = Lookup(lookup.key, lookup.request_cc, self.clock(), lookup.credentialed)
        background.fwd, background.stale, background.validating = b"stale", entry, True
        _, background.lead = self.inflight.join(lookup.key, self.rule.collapse_wait)
        validators = [_CAPABILITY]
        if entry.etag is not None:
            validators.append((b"if-none-match", entry.etag))
        if entry.last_modified is not None:
            validators.append((b"if-modified-since", entry.last_modified))
        headers = [h for h in ctx.head.headers if h[0] not in CONDITIONALS]
        ctx.background(headers, validators, {"cache": background}, partial(self._upstream_failed, background))
