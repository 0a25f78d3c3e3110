"""Target health (upstream/health.py) on a fake clock: events and times in, states out."""

from __future__ import annotations

import math

import pytest

from portway.config.resilience import HealthCheck, Outlier
from portway.upstream.health import CONNECT_BACKOFF, TRANSITIONS, Event, Health, TargetHealth

OUTLIER = Outlier(consecutive_failures=3, base_ejection=10.0, max_ejection=35.0, max_ejected=0.5)
CHECK = HealthCheck(healthy=2, unhealthy=2)


def upstream(
    n: int, outlier: Outlier | None = OUTLIER, check: HealthCheck | None = CHECK
) -> list[TargetHealth]:
    peers: list[TargetHealth] = []
    for i in range(n):
        TargetHealth(f"t{i}", outlier, check, peers)
    return peers


def feed(health: TargetHealth, event: Event, times: int, now: float) -> Health:
    state = health.state
    for _ in range(times):
        state = health.step(event, now)
    return state


def test_every_transition_leads_to_a_state_and_held_is_left_only_by_release() -> None:
    assert all(isinstance(s, Health) for s in TRANSITIONS.values())
    assert [e for (s, e) in TRANSITIONS if s is Health.HELD] == [Event.RELEASE]


def test_consecutive_failures_eject_and_a_success_resets_the_count() -> None:
    (t, _, _) = upstream(3)
    assert feed(t, Event.FAILURE, 2, now=0.0) is Health.HEALTHY
    t.step(Event.SUCCESS, 0.0)
    assert feed(t, Event.FAILURE, 2, now=0.0) is Health.HEALTHY
    assert t.step(Event.FAILURE, 1.0) is Health.EJECTED
    assert t.blocked_until == 11.0 and not t.hard


def test_the_ejection_grows_with_each_ejection_and_is_capped() -> None:
    (t, _, _) = upstream(3)
    now = 0.0
    lengths = []
    for _ in range(5):
        feed(t, Event.FAILURE, 3, now)
        assert t.state is Health.EJECTED
        lengths.append(t.until - now)
        now = t.until
        assert t.state_at(now) is Health.PROBING
        assert t.step(Event.FAILURE, now) is Health.EJECTED  # on probation: one failure is enough
        lengths.append(t.until - now)
        now = t.until
        t.step(Event.SUCCESS, now)
        assert t.state is Health.HEALTHY
    assert lengths[:4] == [10.0, 20.0, 30.0, 35.0]
    assert max(lengths) == 35.0


def test_the_ejection_count_starts_afresh_after_a_long_healthy_spell() -> None:
    (t, _, _) = upstream(3)
    feed(t, Event.FAILURE, 3, 0.0)
    t.step(Event.SUCCESS, 10.0)  # probation passed
    assert t.state is Health.HEALTHY and t.ejections == 1
    feed(t, Event.FAILURE, 3, 10.0 + 35.0)
    assert t.ejections == 1 and t.until == 45.0 + 10.0


def test_never_more_than_max_ejected_are_ejected() -> None:
    peers = upstream(4)  # 50% of 4: two
    for t in peers:
        feed(t, Event.FAILURE, 3, now=0.0)
    assert [t.state for t in peers] == [Health.EJECTED, Health.EJECTED, Health.HEALTHY, Health.HEALTHY]
    # once an ejection ends, another target may be ejected in its place
    assert peers[2].step(Event.FAILURE, 10.0) is Health.EJECTED
    assert peers[0].state_at(10.0) is Health.PROBING


def test_at_least_one_target_may_be_ejected() -> None:
    (t,) = upstream(1, Outlier(consecutive_failures=1, max_ejected=0.0))
    assert t.step(Event.FAILURE, 0.0) is Health.EJECTED


def test_without_outlier_config_failures_never_eject() -> None:
    (t, _) = upstream(2, outlier=None)
    assert feed(t, Event.FAILURE, 50, 0.0) is Health.HEALTHY


def test_a_failed_connect_is_a_short_soft_backoff_that_grows_and_ends_by_itself() -> None:
    (t, _) = upstream(2, outlier=None, check=None)
    now = 0.0
    for expected in (*CONNECT_BACKOFF, CONNECT_BACKOFF[-1]):
        assert t.step(Event.CONNECT_FAILURE, now) is Health.SUSPECT
        assert t.until - now == expected and not t.hard
        now = t.until
        assert t.state_at(now) is Health.HEALTHY
    t.step(Event.CONNECT_OK, now)
    assert t.step(Event.CONNECT_FAILURE, now) is Health.SUSPECT and t.until - now == CONNECT_BACKOFF[0]


def test_active_checks_take_a_target_out_and_bring_it_back_by_thresholds() -> None:
    (t, _) = upstream(2)
    assert t.step(Event.CHECK_FAIL, 0.0) is Health.HEALTHY
    t.step(Event.CHECK_PASS, 1.0)  # not consecutive
    assert t.step(Event.CHECK_FAIL, 2.0) is Health.HEALTHY
    assert t.step(Event.CHECK_FAIL, 3.0) is Health.UNHEALTHY
    assert t.hard and t.blocked_until == math.inf
    assert t.step(Event.SUCCESS, 4.0) is Health.UNHEALTHY  # passive outcomes do not bring it back
    assert t.step(Event.CHECK_PASS, 5.0) is Health.UNHEALTHY
    assert t.step(Event.CHECK_PASS, 6.0) is Health.HEALTHY
    assert t.blocked_until == 0.0


def test_active_checks_override_an_ejection() -> None:
    (t, _, _) = upstream(3)
    feed(t, Event.FAILURE, 3, 0.0)
    feed(t, Event.CHECK_FAIL, 2, 1.0)
    assert t.state is Health.UNHEALTHY


def test_a_passing_check_ends_probation() -> None:
    (t, _, _) = upstream(3)
    feed(t, Event.FAILURE, 3, 0.0)
    assert t.step(Event.CHECK_PASS, 10.0) is Health.HEALTHY


@pytest.mark.parametrize("start", [Event.FAILURE, Event.CONNECT_FAILURE, Event.CHECK_FAIL])
def test_the_supervisors_hold_wins_over_everything_until_release(start: Event) -> None:
    (t, _, _) = upstream(3)
    feed(t, start, 3, 0.0)
    assert t.step(Event.HOLD, 1.0) is Health.HELD and t.hard
    for event in (Event.CHECK_PASS, Event.SUCCESS, Event.CONNECT_OK):
        assert feed(t, event, 3, 500.0) is Health.HELD
    assert t.step(Event.RELEASE, 501.0) is Health.HEALTHY
    assert (t.failures, t.connect_failures, t.ejections) == (0, 0, 0)


def test_inherit_carries_state_over_a_reload() -> None:
    (old, _, _) = upstream(3)
    feed(old, Event.FAILURE, 3, 0.0)
    (new, _, _) = upstream(3)
    new.inherit(old)
    assert new.state_at(5.0) is Health.EJECTED and new.until == old.until


def test_snapshot_names_the_state_and_the_time_left() -> None:
    (t, _, _) = upstream(3)
    feed(t, Event.FAILURE, 3, 0.0)
    assert t.snapshot(4.0) == {"state": "ejected", "ejections": 1, "back_in": 6.0}
    assert t.snapshot(10.0)["state"] == "probing"
