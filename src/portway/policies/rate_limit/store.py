"""What a rate-limit store is given and what it answers (STYLE.md §6: the policy never knows which
store it talks to).

Time is counted in whole microseconds in both stores: GCRA adds the emission interval to a stored
theoretical arrival time once per request, and in floats the rounding of a thousand additions can
refuse the last request of an exact burst. With integers a burst of ``limit`` fits exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

from portway.config.security import RateLimitRule
from portway.policies.rate_limit.headers import policy_item, quoted_name
from portway.policies.rate_limit.keys import KeyFn, compile_key

MICROS = 1_000_000

# (index of the most restrictive rule, its remaining requests, µs until its quota is fully back,
#  µs until the request would have been allowed; 0 = allowed). A plain tuple: it is built per request.
Verdict = tuple[int, int, int, int]


class Limit:
    """One rule, compiled: everything a store and the headers need, computed once."""

    __slots__ = ("gcra", "interval", "key", "limit", "name", "per", "policy_item", "prefix", "tau")

    def __init__(self, rule: RateLimitRule, prefix: str) -> None:
        self.gcra = rule.algorithm == "gcra"
        self.limit = rule.limit
        self.per = round(rule.per * MICROS)
        # Rounded down so that `limit` intervals always fit in `per`: the burst is exactly `limit`,
        # and the rate is high by under a microsecond per request.
        self.interval = self.per // rule.limit
        if self.interval < 1:
            raise ValueError(f"rate limit {rule.limit} per {rule.per}s is finer than one per microsecond")
        self.tau = self.interval * rule.limit  # GCRA: how far ahead of now the arrival time may run
        self.prefix = prefix
        self.key: KeyFn = compile_key(rule.key)
        self.name = quoted_name(rule)
        self.policy_item = policy_item(self.name, rule)

    def __repr__(self) -> str:
        return f"<Limit {self.name.decode()} {'gcra' if self.gcra else 'sliding_window'} key={self.prefix!r}>"


class Store(Protocol):
    """Counts a request against several limits at once: it is admitted only if every limit admits
    it, and only then charged to any of them (a request refused by 10/s does not use up 1000/h).

    An in-process store answers with a :data:`Verdict`; a networked one returns an awaitable that
    resolves to a verdict, or to ``None`` when the store could not answer (then ``fail_open`` says
    whether the request goes through).
    """

    fail_open: bool

    def acquire(
        self, limits: Sequence[Limit], keys: Sequence[str]
    ) -> Verdict | Awaitable[Verdict | None]: ...

    async def aclose(self) -> None: ...
