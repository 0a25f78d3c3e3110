"""An upstream's Retry-After (upstream/retry_after.py, the DEFERRED state of upstream/health.py) on
a fake clock: header values and times in, delays and states out."""

from __future__ import annotations

import pytest

from portway.config.resilience import HealthCheck, Outlier
from portway.upstream.health import Event, Health, TargetHealth
from portway.upstream.retry_after import parse_delay, retry_after

WALL = 1445412470.0  # Wed, 21 Oct 2015 07:27:50 GMT


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        (b"120", 60.0),  # capped
        (b" 7 ", 7.0),
        (b"0", 0.0),
        (b"99999999999999999999999", 60.0),  # no giant int, still the cap
        (b"Wed, 21 Oct 2015 07:28:00 GMT", 10.0),  # IMF-fixdate
        (b"Wednesday, 21-Oct-15 07:28:00 GMT", 10.0),  # obsolete RFC 850 date
        (b"Wed Oct 21 07:28:00 2015", 10.0),  # asctime: no zone, GMT by definition
        (b"Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        (b"-5", 0.0),
        (b"1.5", 0.0),
        (b"soon", 0.0),
        (b"", 0.0),
        (b"\xff\xfe", 0.0),
    ],
)
def test_delay_seconds_and_http_dates_are_read_and_capped(value: bytes, delay: float) -> None:
    assert parse_delay(value, WALL, cap=60.0) == delay


def test_the_header_is_found_whatever_its_case() -> None:
    assert retry_after([(b"Content-Type", b"x"), (b"Retry-After", b"3")]) == b"3"
    assert retry_after([(b"retry-after-ish", b"3")]) is None


OUTLIER = Outlier(consecutive_failures=3, base_ejection=10.0, max_ejection=40.0)


def test_a_retry_after_defers_the_target_for_that_long_then_it_is_healthy() -> None:
    t = TargetHealth("t0", OUTLIER)
    assert t.step(Event.RETRY_AFTER, 100.0, delay=5.0) is Health.DEFERRED
    assert t.blocked_until == 105.0 and not t.hard  # soft: panic mode may still use it
    assert t.snapshot(101.0) == {"state": "deferred", "ejections": 0, "back_in": 4.0}
    assert t.state_at(104.9) is Health.DEFERRED and t.state_at(105.0) is Health.HEALTHY
    assert t.step(Event.SUCCESS, 105.0) is Health.HEALTHY and t.blocked_until == 0.0


def test_a_later_retry_after_extends_the_deferral_and_never_shortens_it() -> None:
    t = TargetHealth("t0")
    t.step(Event.RETRY_AFTER, 0.0, delay=10.0)
    t.step(Event.RETRY_AFTER, 1.0, delay=2.0)
    assert t.until == 10.0
    t.step(Event.RETRY_AFTER, 5.0, delay=20.0)
    assert t.until == 25.0 and t.state is Health.DEFERRED


def test_an_ejected_target_stays_ejected_at_least_as_long_as_asked() -> None:
    peers: list[TargetHealth] = []
    t, _ = TargetHealth("t0", OUTLIER, peers=peers), TargetHealth("t1", OUTLIER, peers=peers)
    for _ in range(3):
        t.step(Event.FAILURE, 0.0)
    assert t.state is Health.EJECTED and t.until == 10.0
    assert t.step(Event.RETRY_AFTER, 0.0, delay=30.0) is Health.EJECTED
    assert t.until == 30.0 and t.ejections == 1 and t.ejected_total == 1  # not a second ejection


def test_a_deferred_target_that_keeps_failing_is_ejected_and_hard_states_are_kept() -> None:
    t = TargetHealth("t0", OUTLIER, HealthCheck(unhealthy=1))
    t.step(Event.RETRY_AFTER, 0.0, delay=5.0)
    for _ in range(3):
        t.step(Event.FAILURE, 1.0)
    assert t.state is Health.EJECTED
    t.step(Event.CHECK_FAIL, 2.0)
    assert t.state is Health.UNHEALTHY
    assert t.step(Event.RETRY_AFTER, 2.0, delay=5.0) is Health.UNHEALTHY  # no entry: unchanged
    t.step(Event.HOLD, 3.0)
    assert t.step(Event.RETRY_AFTER, 3.0, delay=5.0) is Health.HELD


def test_a_suspect_target_that_answers_with_retry_after_is_deferred() -> None:
    t = TargetHealth("t0")
    t.step(Event.CONNECT_FAILURE, 0.0)
    assert t.state is Health.SUSPECT
    assert t.step(Event.RETRY_AFTER, 0.1, delay=8.0) is Health.DEFERRED and t.until == 8.1
