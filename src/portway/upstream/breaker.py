"""A circuit breaker per target (DESIGN.md §1: state machines are tables).

Rules:
- :class:`Circuit` moves only along :data:`TRANSITIONS`; :meth:`CircuitBreaker.step` is pure (the
  time is given) and O(1): the failure ratio is kept in ``buckets`` slices of the window.
- ``CLOSED`` → ``OPEN`` on ``failures`` consecutive failures, or (with ``ratio``) when failures are
  at least that share of the requests seen over ``window``, once ``min_requests`` were seen.
- ``OPEN`` lets nothing through for ``cooldown``, then ``HALF_OPEN`` admits ``half_open`` probes
  (``ADMIT``, counted when a balancer picks the target); that many successes close it, any failure
  opens it again. Probes that never report (a client gone) stop blocking after another cooldown.
- An open breaker is *hard*: the target gets no request, even when every other is out too (then
  the client gets a fast 503 with ``Retry-After``).
"""

from __future__ import annotations

import enum

from portway.config.resilience import Breaker as BreakerConfig


class Circuit(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Event(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    ADMIT = "admit"  # a request was let through
    EXPIRE = "expire"  # the cooldown ran out (applied by step itself, lazily)


_CLOSED, _OPEN, _HALF = Circuit
TRANSITIONS: dict[tuple[Circuit, Event], Circuit] = {
    (_CLOSED, Event.FAILURE): _OPEN,  # guarded: consecutive failures or the ratio
    (_OPEN, Event.EXPIRE): _HALF,
    (_HALF, Event.SUCCESS): _CLOSED,  # guarded: `half_open` successes
    (_HALF, Event.FAILURE): _OPEN,
}


class CircuitBreaker:
    BUCKETS = 10

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = _CLOSED
        self.until = 0.0  # OPEN: end of the cooldown; HALF_OPEN: end of the wait for probes
        self.consecutive = 0
        self.admitted = 0
        self.successes = 0
        self.opened = 0  # times it opened: for the admin API
        self.moves: dict[tuple[Circuit, Circuit], int] = {}  # transitions ever (/metrics counters)
        self._width = config.window / self.BUCKETS
        self._slot = [-1] * self.BUCKETS  # which time slice each bucket counts
        self._requests = [0] * self.BUCKETS
        self._failures = [0] * self.BUCKETS

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state.value} opened={self.opened}>"

    def inherit(self, old: CircuitBreaker) -> None:
        self.state, self.until, self.opened = old.state, old.until, old.opened
        self.moves = old.moves
        self.consecutive, self.admitted, self.successes = old.consecutive, old.admitted, old.successes

    @property
    def blocked_until(self) -> float:
        if self.state is _OPEN:
            return self.until
        if self.state is _HALF and self.admitted >= self.config.half_open:
            return self.until
        return 0.0

    def state_at(self, now: float) -> Circuit:
        if self.state is _OPEN and now >= self.until:
            return _HALF
        return self.state

    def step(self, event: Event, now: float) -> Circuit:
        if self.state is _OPEN and now >= self.until:
            self._move(_HALF, now)
        if self.state is _HALF and self.admitted >= self.config.half_open and now >= self.until:
            self.admitted = self.successes  # probes that never reported: admit others
        if event is Event.ADMIT:
            if self.state is _HALF:
                self.admitted += 1
                if self.admitted >= self.config.half_open:
                    self.until = now + self.config.cooldown
            return self.state
        failed = event is Event.FAILURE
        if self.state is _CLOSED:
            self.consecutive = self.consecutive + 1 if failed else 0
            self._record(failed, now)
        elif self.state is _HALF and not failed:
            self.successes += 1
        target = TRANSITIONS.get((self.state, event))
        if target is not None and self._guard(event, now):
            self._move(target, now)
        return self.state

    def _record(self, failed: bool, now: float) -> None:
        slot = int(now / self._width)
        index = slot % self.BUCKETS
        if self._slot[index] != slot:
            self._slot[index] = slot
            self._requests[index] = 0
            self._failures[index] = 0
        self._requests[index] += 1
        if failed:
            self._failures[index] += 1

    def window(self, now: float) -> tuple[int, int]:
        """(requests, failures) over the window ending now."""
        oldest = int(now / self._width) - self.BUCKETS + 1
        requests = failures = 0
        for i in range(self.BUCKETS):
            if self._slot[i] >= oldest:
                requests += self._requests[i]
                failures += self._failures[i]
        return requests, failures

    def _guard(self, event: Event, now: float) -> bool:
        config = self.config
        if self.state is _CLOSED:
            if self.consecutive >= config.failures:
                return True
            if config.ratio is None:
                return False
            requests, failures = self.window(now)
            return requests >= config.min_requests and failures >= config.ratio * requests
        if self.state is _HALF and event is Event.SUCCESS:
            return self.successes >= config.half_open
        return True

    def _move(self, state: Circuit, now: float) -> None:
        move = (self.state, state)
        self.moves[move] = self.moves.get(move, 0) + 1
        self.state = state
        self.admitted = self.successes = 0
        if state is _OPEN:
            self.opened += 1
            self.until = now + self.config.cooldown
        elif state is _CLOSED:
            self.consecutive = 0
            self.until = 0.0
            self._slot = [-1] * self.BUCKETS  # a fresh window: old failures closed nothing
        else:
            self.until = 0.0

    def snapshot(self, now: float) -> dict[str, object]:
        return {"state": self.state_at(now).value, "opened": self.opened}
