"""The circuit breaker (upstream/breaker.py) on a fake clock."""

from __future__ import annotations

from portway.config.resilience import Breaker
from portway.upstream.breaker import TRANSITIONS, Circuit, CircuitBreaker, Event


def breaker(**kw: object) -> CircuitBreaker:
    return CircuitBreaker(Breaker.model_validate({"failures": 3, "cooldown": 10, "half_open": 2} | kw))


def feed(b: CircuitBreaker, event: Event, times: int, now: float) -> Circuit:
    for _ in range(times):
        b.step(event, now)
    return b.state


def test_the_table_has_only_the_three_states() -> None:
    assert {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()) == set(Circuit)


def test_consecutive_failures_open_it_and_a_success_resets_the_count() -> None:
    b = breaker()
    assert feed(b, Event.FAILURE, 2, 0.0) is Circuit.CLOSED
    b.step(Event.SUCCESS, 0.0)
    assert feed(b, Event.FAILURE, 2, 0.0) is Circuit.CLOSED
    assert b.step(Event.FAILURE, 1.0) is Circuit.OPEN
    assert b.blocked_until == 11.0 and b.opened == 1


def test_a_failure_ratio_opens_it_only_past_the_minimum_of_requests() -> None:
    b = breaker(failures=1000, ratio=0.5, min_requests=10, window=10)
    for i in range(8):  # 4 of 8 failed: under the minimum
        b.step(Event.FAILURE if i % 2 else Event.SUCCESS, 0.1 * i)
    assert b.state is Circuit.CLOSED
    b.step(Event.SUCCESS, 1.0)
    assert b.step(Event.FAILURE, 1.0) is Circuit.OPEN  # 5 of 10


def test_the_ratio_forgets_what_left_the_window() -> None:
    b = breaker(failures=1000, ratio=0.5, min_requests=4, window=10)
    feed(b, Event.FAILURE, 1, 0.0)
    feed(b, Event.SUCCESS, 3, 0.0)  # 1 of 4: closed
    assert b.window(0.0) == (4, 1)
    assert b.window(10.5) == (0, 0)
    feed(b, Event.SUCCESS, 2, 10.5)
    feed(b, Event.FAILURE, 2, 10.5)  # 2 of 4 in the new window; the old successes are gone
    assert b.state is Circuit.OPEN


def test_open_blocks_for_the_cooldown_then_half_open_admits_n_probes() -> None:
    b = breaker()
    feed(b, Event.FAILURE, 3, 0.0)
    assert b.state_at(9.9) is Circuit.OPEN
    assert b.state_at(10.0) is Circuit.HALF_OPEN
    b.step(Event.ADMIT, 10.0)
    assert b.state is Circuit.HALF_OPEN and b.blocked_until == 0.0
    b.step(Event.ADMIT, 10.0)
    assert b.blocked_until == 20.0  # two probes out: nobody else until they report
    b.step(Event.SUCCESS, 10.1)
    assert b.state is Circuit.HALF_OPEN
    assert b.step(Event.SUCCESS, 10.2) is Circuit.CLOSED and b.blocked_until == 0.0


def test_a_failed_probe_opens_it_again() -> None:
    b = breaker()
    feed(b, Event.FAILURE, 3, 0.0)
    b.step(Event.ADMIT, 10.0)
    assert b.step(Event.FAILURE, 10.1) is Circuit.OPEN
    assert b.blocked_until == 20.1 and b.opened == 2


def test_probes_that_never_report_stop_blocking_after_a_cooldown() -> None:
    b = breaker()
    feed(b, Event.FAILURE, 3, 0.0)
    feed(b, Event.ADMIT, 2, 10.0)
    assert b.blocked_until == 20.0
    b.step(Event.ADMIT, 20.0)
    assert b.state is Circuit.HALF_OPEN and b.admitted == 1 and b.blocked_until == 0.0


def test_closing_starts_a_fresh_window() -> None:
    b = breaker(failures=1000, ratio=0.5, min_requests=2)
    feed(b, Event.FAILURE, 2, 0.0)
    assert b.state is Circuit.OPEN
    feed(b, Event.ADMIT, 2, 10.0)
    feed(b, Event.SUCCESS, 2, 10.0)
    assert b.state is Circuit.CLOSED and b.window(10.0) == (0, 0)


def test_inherit_carries_an_open_breaker_over_a_reload() -> None:
    old = breaker()
    feed(old, Event.FAILURE, 3, 0.0)
    new = breaker()
    new.inherit(old)
    assert new.state_at(5.0) is Circuit.OPEN and new.blocked_until == 10.0
