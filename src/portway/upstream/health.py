"""One target's health: a state machine fed by three sources (DESIGN.md §1: state machines are tables).

Sources: passive outcomes of real requests (``SUCCESS``/``FAILURE``; ``CONNECT_OK``/``CONNECT_FAILURE``
from the pool), active checks (``CHECK_PASS``/``CHECK_FAIL``, upstream/probe.py) and the supervisor
of the target's process (``HOLD``/``RELEASE``, from ``portway up``).

Rules:
- The :class:`Health` moves only along :data:`TRANSITIONS`; an event a state has no entry for only
  updates the counters. :meth:`TargetHealth.step` is pure: no I/O, the time is given.
- ``SUSPECT`` (a connect failed) lasts a short growing backoff (:data:`CONNECT_BACKOFF`), then the
  target is back. ``EJECTED`` (outlier: ``consecutive_failures`` bad answers in a row) lasts
  ``base_ejection x ejections``, capped at ``max_ejection``, then ``PROBING``: back in rotation, where
  the first good answer makes it ``HEALTHY`` and the first bad one ejects it again, for longer. The
  ejection count starts afresh once the target has stayed healthy for ``max_ejection``.
- ``DEFERRED``: the target answered a 503 with ``Retry-After`` (``RETRY_AFTER``, the delay given
  to :meth:`TargetHealth.step`, already capped: upstream/retry_after.py); it is skipped for that
  long, then ``HEALTHY`` again. An ejected target keeps its state and ejection until whichever of
  the two ends later; a hard state (failing checks, held) stays what it is.
- Never more than ``max_ejected`` of an upstream's targets are ejected at once (at least one may
  be): past it a failing target stays in rotation, since an upstream-wide fault must not eject all.
- ``SUSPECT``, ``EJECTED`` and ``DEFERRED`` are *soft*: when every target is out, the balancer still sends
  requests to soft ones (panic mode), so a blip never becomes an outage. ``UNHEALTHY`` (``unhealthy``
  failed checks in a row, until ``healthy`` passes in a row) and ``HELD`` (until ``RELEASE``) are
  *hard*: such a target gets no request at all.
"""

from __future__ import annotations

import enum
import math

from portway.config.resilience import HealthCheck, Outlier


class Health(enum.Enum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"  # a connect failed: skipped for a short backoff
    EJECTED = "ejected"  # outlier detection: consecutive bad answers
    PROBING = "probing"  # back from an ejection, on probation
    DEFERRED = "deferred"  # the target asked for time (503 + Retry-After)
    UNHEALTHY = "unhealthy"  # active checks fail
    HELD = "held"  # the supervisor says the process is down or starting


class Event(enum.Enum):
    SUCCESS = "success"  # an answer that was not a failure
    FAILURE = "failure"  # a 5xx, a read timeout, a reset after sending
    CONNECT_OK = "connect_ok"
    CONNECT_FAILURE = "connect_failure"
    CHECK_PASS = "check_pass"  # noqa: S105 (not a password)
    CHECK_FAIL = "check_fail"
    HOLD = "hold"
    RELEASE = "release"
    RETRY_AFTER = "retry_after"  # a 503 with Retry-After: step(..., delay=seconds)
    EXPIRE = "expire"  # the state's time ran out (applied by step itself, lazily)


_H, _S, _E, _P, _D, _U, _HELD = Health
# (state, event) → the next state, once the event's guard in _guard() holds.
TRANSITIONS: dict[tuple[Health, Event], Health] = {
    (_H, Event.FAILURE): _E,
    (_H, Event.CONNECT_FAILURE): _S,
    (_H, Event.CHECK_FAIL): _U,
    (_S, Event.EXPIRE): _H,
    (_S, Event.CONNECT_OK): _H,
    (_S, Event.CONNECT_FAILURE): _S,  # a panic-mode try failed again: a longer backoff
    (_S, Event.CHECK_FAIL): _U,
    (_E, Event.EXPIRE): _P,
    (_E, Event.CHECK_FAIL): _U,
    (_P, Event.SUCCESS): _H,
    (_P, Event.CHECK_PASS): _H,
    (_P, Event.FAILURE): _E,
    (_P, Event.CONNECT_FAILURE): _S,
    (_P, Event.CHECK_FAIL): _U,
    (_U, Event.CHECK_PASS): _H,
    (_H, Event.RETRY_AFTER): _D,
    (_S, Event.RETRY_AFTER): _D,  # it answered, so it is reachable: its own word counts
    (_P, Event.RETRY_AFTER): _D,
    (_D, Event.RETRY_AFTER): _D,  # a later, longer delay extends it (never shortens it)
    (_E, Event.RETRY_AFTER): _E,  # stays ejected, for at least the delay
    (_D, Event.EXPIRE): _H,
    (_D, Event.FAILURE): _E,  # guarded as from HEALTHY (consecutive failures, max_ejected)
    (_D, Event.CHECK_FAIL): _U,
    (_HELD, Event.RELEASE): _H,
    **{(state, Event.HOLD): _HELD for state in Health if state is not _HELD},
}
HARD = frozenset({_U, _HELD})
TIMED = frozenset({_S, _E, _D})  # states that end at `until`
CONNECT_BACKOFF = (0.5, 1.0, 2.0, 5.0)


class TargetHealth:
    """The health of one target. ``peers`` is the list of every target of the same upstream (this
    one included), read only to count ejections against ``max_ejected``."""

    def __init__(
        self,
        address: str,
        outlier: Outlier | None = None,
        check: HealthCheck | None = None,
        peers: list[TargetHealth] | None = None,
    ) -> None:
        self.address = address
        self.outlier = outlier
        self.check = check
        self.peers = peers if peers is not None else [self]
        if self not in self.peers:
            self.peers.append(self)
        self.state = _H
        self.until = 0.0  # when SUSPECT or EJECTED ends
        self.failures = 0  # consecutive bad answers
        self.connect_failures = 0  # consecutive failed connects
        self.check_failures = 0
        self.check_passes = 0
        self.ejections = 0  # of the current incident: the multiplier of the next ejection
        self.ejected_total = 0  # ever (a counter for /metrics; survives reloads)
        self.healthy_since = 0.0
        self.transitions = 0

    def __repr__(self) -> str:
        return f"<TargetHealth {self.address} {self.state.value} ejections={self.ejections}>"

    def inherit(self, old: TargetHealth) -> None:
        """A reload: carry the previous gateway's view of the same target over."""
        for name in ("state", "until", "failures", "connect_failures", "check_failures", "check_passes",
                     "ejections", "ejected_total", "healthy_since", "transitions"):  # fmt: skip
            setattr(self, name, getattr(old, name))

    # -- what the pool reads -----------------------------------------------------------------
    @property
    def blocked_until(self) -> float:
        """Until when balancers skip this target (0: in rotation; inf: until an event says)."""
        state = self.state
        if state in TIMED:
            return self.until
        if state in HARD:
            return math.inf
        return 0.0

    @property
    def hard(self) -> bool:
        return self.state in HARD

    def state_at(self, now: float) -> Health:
        if self.state in TIMED and now >= self.until:
            return TRANSITIONS[(self.state, Event.EXPIRE)]
        return self.state

    # -- the machine -------------------------------------------------------------------------
    def step(self, event: Event, now: float, delay: float = 0.0) -> Health:
        """Apply ``event`` at ``now``; ``delay`` is the seconds a ``RETRY_AFTER`` asks for."""
        if self.state in TIMED and now >= self.until:
            self._move(TRANSITIONS[(self.state, Event.EXPIRE)], now)
        self._count(event)
        target = TRANSITIONS.get((self.state, event))
        if target is None or not self._guard(event, now):
            return self.state
        if event is Event.RETRY_AFTER:
            self._defer(target, now, delay)
        else:
            self._move(target, now)
        return self.state

    def _defer(self, state: Health, now: float, delay: float) -> None:
        until = now + delay
        if state is self.state:  # deferred or ejected already: extended, never shortened
            self.until = max(self.until, until)
            return
        self.state = state
        self.transitions += 1
        self.until = until

    def _count(self, event: Event) -> None:
        if event is Event.SUCCESS:
            self.failures = 0
        elif event is Event.FAILURE:
            self.failures += 1
        elif event is Event.CONNECT_OK:
            self.connect_failures = 0
        elif event is Event.CONNECT_FAILURE:
            self.connect_failures += 1
        elif event is Event.CHECK_PASS:
            self.check_passes += 1
            self.check_failures = 0
        elif event is Event.CHECK_FAIL:
            self.check_failures += 1
            self.check_passes = 0

    def _guard(self, event: Event, now: float) -> bool:
        state = self.state
        if event is Event.FAILURE:
            outlier = self.outlier
            if outlier is None:
                return False
            if state is _P:
                return True  # on probation: the first bad answer ejects again
            return self.failures >= outlier.consecutive_failures and self._may_eject(outlier, now)
        if event is Event.CHECK_FAIL:
            return self.check is not None and self.check_failures >= self.check.unhealthy
        if event is Event.CHECK_PASS and state is _U:
            return self.check is not None and self.check_passes >= self.check.healthy
        return True

    def _may_eject(self, outlier: Outlier, now: float) -> bool:
        allowed = max(1, math.floor(len(self.peers) * outlier.max_ejected + 1e-9))
        ejected = sum(1 for peer in self.peers if peer is not self and peer.state_at(now) is _E)
        return ejected < allowed

    def _move(self, state: Health, now: float) -> None:
        was, self.state = self.state, state
        self.transitions += 1
        if state is _S:
            self.until = now + CONNECT_BACKOFF[min(self.connect_failures, len(CONNECT_BACKOFF)) - 1]
        elif state is _E:
            outlier = self.outlier
            assert outlier is not None
            if self.healthy_since and now - self.healthy_since >= outlier.max_ejection:
                self.ejections = 0  # healthy long enough: a new incident starts from the base
            self.ejections += 1
            self.ejected_total += 1
            self.until = now + min(outlier.base_ejection * self.ejections, outlier.max_ejection)
            self.failures = 0
        elif state is _H:
            self.until = 0.0
            if was is _P or self.healthy_since == 0.0:
                self.healthy_since = now
            if was is _HELD:
                self.failures = self.connect_failures = self.check_failures = 0
                self.ejections = 0
        elif state is _U:
            self.check_passes = 0

    def snapshot(self, now: float) -> dict[str, object]:
        state = self.state_at(now)
        out: dict[str, object] = {"state": state.value, "ejections": self.ejections}
        if state in TIMED:
            out["back_in"] = round(max(self.until - now, 0.0), 3)
        return out
