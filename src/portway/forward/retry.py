"""When a failed attempt may be tried again, on another target (DESIGN.md §1: errors say what
happened). Pure rules over the error and the request; the exchange applies them.

- Nothing was sent (connect refused or timed out, pool exhausted, no target): always safe, so the
  request goes to another target while the upstream has one it has not tried.
- The request was sent and the upstream closed before a byte of answer: only a request that is
  idempotent (RFC 9110 §9.2.2) and has no body (nothing to replay from) is sent again, a bounded
  number of times; anything else may have been acted on. This holds with no config at all: it is
  the race of a kept-alive connection the peer closed as the request went out.
- With ``retries:`` configured (:class:`RetryPolicy`), a sent request is tried again, on another
  target when there is one, when its failure is one of the ``on`` conditions (``timeout``,
  ``reset``, a status), ``attempts`` are left, the route's deadline is not past, the request is
  safe to send twice (idempotent, or a POST/PATCH with ``Idempotency-Key`` where the route opts
  in), its body is still whole in the replay buffer, and the upstream's retry budget has room
  (upstream/budget.py) — checked last, since asking spends.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from portway.config.resilience import Retries
from portway.contract import RequestHead
from portway.errors import ReadTimeout, UpstreamDisconnected, UpstreamError
from portway.upstream.budget import RetryBudget

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def may_try_another(error: UpstreamError, untried: int) -> bool:
    """After a failed connect: ``untried`` targets are left to try."""
    return not error.sent and untried > 0


def may_replay(error: UpstreamError, head: RequestHead, replays: int, targets: int) -> bool:
    """After the upstream failed a request that went out, before any response head came back."""
    return (
        isinstance(error, UpstreamDisconnected)
        and not head.has_body
        and head.method in IDEMPOTENT
        and replays < max(2, targets)
    )


# -- configured retries (an upstream's or a route's `retries:`) -----------------------------------
_KEYED = frozenset({"POST", "PATCH"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A route's retries, compiled at load (config/resilience.py ``Retries`` merged over the
    upstream's, plus the route's total ``timeout``); ``attempts`` counts the first try."""

    attempts: int
    statuses: frozenset[int]
    on_timeout: bool
    on_reset: bool
    per_try_timeout: float | None
    backoff_base: float
    backoff_max: float
    budget: RetryBudget | None
    idempotency_key: bool
    replay_buffer: int
    deadline: float | None  # seconds from the request's start

    @classmethod
    def build(cls, config: Retries | None, budget: RetryBudget | None, deadline: float | None) -> RetryPolicy:
        if config is None:  # a route with a total timeout and no retries
            return cls(1, frozenset(), False, False, None, 0.0, 0.0, None, False, 0, deadline)
        conditions = config.conditions
        return cls(
            config.attempts, config.statuses, "timeout" in conditions, "reset" in conditions,
            config.per_try_timeout, config.backoff.base, config.backoff.max, budget,
            config.idempotency_key, config.replay_buffer, deadline,
        )  # fmt: skip

    def safe(self, head: RequestHead) -> bool:
        """May this request be sent again after it reached an upstream?"""
        if head.method in IDEMPOTENT:
            return True
        return self.idempotency_key and head.method in _KEYED and head.header(b"idempotency-key") is not None

    def matches(self, error: UpstreamError) -> bool:
        if isinstance(error, ReadTimeout):
            return self.on_timeout
        return self.on_reset and isinstance(error, UpstreamDisconnected)

    def backoff(self, retry: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        """Full jitter: a delay drawn from [0, min(max, base x 2^(retry-1))]."""
        return rand(0.0, min(self.backoff_max, self.backoff_base * 2.0 ** (retry - 1)))

    def try_timeout(self, read_timeout: float, started: float, now: float) -> float:
        """The read timeout of one try: the upstream's, the per-try one and what is left of the
        route's deadline, whichever is shortest."""
        timeout = read_timeout if self.per_try_timeout is None else min(read_timeout, self.per_try_timeout)
        if self.deadline is not None:
            timeout = min(timeout, max(started + self.deadline - now, 0.001))
        return timeout

    def time_left(self, started: float, now: float) -> bool:
        return self.deadline is None or now < started + self.deadline
