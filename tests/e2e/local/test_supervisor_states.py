"""The replica state machine of `portway up` on a fake clock: data in, states out (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portway.config.local import ServiceConfig
from portway.local.supervisor import STABLE_AFTER, Event, InvalidTransition, Replica, State, backoff


def replica() -> Replica:
    config = ServiceConfig(command=["svc", "{socket}"])
    return Replica("svc", 1, config, Path("/run/svc-1.sock"), Path("/run/svc-1.log"))


def test_a_crash_loop_backs_off_exponentially_up_to_a_cap() -> None:
    r = replica()
    now = 0.0
    delays = []
    for _ in range(8):
        r.step(Event.HEALTHY, now)
        r.step(Event.EXITED, now + 1)
        delays.append(backoff(r.failures))
        r.step(Event.RESTART, now + 2)
        now += 3
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert r.restarts == 8 and r.state is State.STARTING


def test_backoff_starts_over_after_a_stable_run() -> None:
    r = replica()
    for _ in range(3):
        r.step(Event.HEALTHY, 0.0)
        r.step(Event.EXITED, 1.0)
        r.step(Event.RESTART, 2.0)
    assert r.failures == 3
    r.step(Event.HEALTHY, 10.0)
    r.step(Event.EXITED, 10.0 + STABLE_AFTER)
    assert r.failures == 1


def test_stop_from_every_live_state() -> None:
    for events, after_stop in (
        ([], State.STOPPING),
        ([Event.HEALTHY], State.STOPPING),
        ([Event.EXITED], State.STOPPED),  # backing off: no process to wait for
    ):
        r = replica()
        for event in events:
            r.step(event, 0.0)
        assert r.step(Event.STOP, 0.0) is after_stop


def test_impossible_events_are_refused() -> None:
    r = replica()
    with pytest.raises(InvalidTransition):
        r.step(Event.RESTART, 0.0)  # it is running, not backing off
    r.step(Event.STOP, 0.0)
    with pytest.raises(InvalidTransition):
        r.step(Event.HEALTHY, 0.0)  # a stopping replica never re-enters rotation
