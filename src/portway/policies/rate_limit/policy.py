"""The rate-limit policy: one or more limits per route (``10/s`` and ``1000/h``), counted in a
:class:`Store`. A request is refused (429) when any limit refuses it, and is then charged to none.

Every limited response carries ``RateLimit-Policy`` and ``RateLimit`` (headers.py); a refusal adds
``Retry-After``. With the in-process store this runs synchronously; with Redis it returns the
awaitable the contract allows for real I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from portway.config.security import RateLimitRule
from portway.errors import ClientError
from portway.policies.base import Context, PolicyResult
from portway.policies.rate_limit.headers import (
    RETRY_AFTER,
    policy_header,
    ratelimit_header,
    retry_after_header,
)
from portway.policies.rate_limit.store import Limit, Store, Verdict


class RateLimit:
    """``RateLimit(route.rate_limit, store, route=route_name)``; one store is shared by every
    route of a gateway (bucket keys carry the route name and the rule's position)."""

    name = "rate_limit"

    def __init__(self, rules: RateLimitRule | Sequence[RateLimitRule], store: Store, *, route: str) -> None:
        rules = [rules] if isinstance(rules, RateLimitRule) else list(rules)
        if not rules:
            raise ValueError("a rate limit needs at least one rule")
        self.limits = tuple(
            # The algorithm is part of the key: a rule switched from gcra to sliding_window by a
            # reload must not read the other algorithm's state (in Redis, another type of value).
            Limit(rule, f"{route}:{index}{'g' if rule.algorithm == 'gcra' else 'w'}:")
            for index, rule in enumerate(rules)
        )
        self.store = store
        self._single = self.limits[0] if len(self.limits) == 1 else None
        self._policy = policy_header([limit.policy_item for limit in self.limits])
        self._details = tuple(f"rate limit {limit.name.decode()} exceeded" for limit in self.limits)

    def __repr__(self) -> str:
        return f"<RateLimit {[limit.name.decode() for limit in self.limits]} store={self.store!r}>"

    def request(self, ctx: Context) -> PolicyResult:
        single = self._single
        if single is not None:  # skips the comprehension's frame: this is the hot path
            keys = [single.prefix + single.key(ctx)]
        else:
            keys = [limit.prefix + limit.key(ctx) for limit in self.limits]
        verdict = self.store.acquire(self.limits, keys)
        if isinstance(verdict, tuple):
            return self._answer(ctx, verdict)
        return self._settle(ctx, verdict)

    def _answer(self, ctx: Context, verdict: Verdict) -> ClientError | None:
        index, remaining, reset, retry = verdict
        headers = ctx.response_headers
        headers.append(self._policy)
        headers.append(ratelimit_header(self.limits[index].name, remaining, reset))
        if retry:
            return ClientError(429, self._details[index], headers=[retry_after_header(retry)])
        return None

    async def _settle(self, ctx: Context, pending: Awaitable[Verdict | None]) -> ClientError | None:
        verdict = await pending
        if verdict is not None:
            return self._answer(ctx, verdict)
        if self.store.fail_open:
            return None  # no headers: we know nothing about the client's quota
        return ClientError(503, "rate limiting is unavailable", headers=[(RETRY_AFTER, b"1")])
