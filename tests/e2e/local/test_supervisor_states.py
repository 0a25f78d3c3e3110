"""The replica state machine of `portway up` on a fake clock: data in, states out (no processes).

Defaults under test (config/local.py ServiceChecks): a check a second, ejected after 2 failures in a
row, killed and restarted after 5, `ready_timeout` 30 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from portway.config import ConfigError, parse_config
from portway.config.local import ServiceChecks, ServiceConfig
from portway.local.rundir import prepare
from portway.local.supervisor import (
    STABLE_AFTER,
    Event,
    InvalidTransition,
    Replica,
    State,
    Supervisor,
    backoff,
    exit_cause,
)

PASS, FAIL = Event.CHECK_PASS, Event.CHECK_FAIL


def replica(**checks: int) -> Replica:
    config = ServiceConfig(command=["svc", "{socket}"], checks=ServiceChecks(**checks))
    return Replica("svc", 1, config, Path("/run/svc-1.sock"), Path("/run/svc-1.log"))


def running(**checks: int) -> Replica:
    r = replica(**checks)
    r.spawned(100, 0.0, 0)
    assert r.step(PASS, 0.5) is State.RUNNING
    return r


def feed(r: Replica, events: list[Event], start: float = 1.0) -> list[State]:
    """One event a second from ``start``: the states after each."""
    return [r.step(event, start + i) for i, event in enumerate(events)]


def test_a_hung_replica_is_ejected_after_two_failed_checks_and_restarted_after_five() -> None:
    r = running()
    states = feed(r, [FAIL] * 5)
    assert states == [State.RUNNING, State.EJECTED, State.EJECTED, State.EJECTED, State.RESTARTING]
    assert r.cause == "hung: 5 health checks on /ready failed in a row"
    assert r.failures == 1 and backoff(r.failures) == 0.5
    assert r.step(Event.RESTART, 6.5) is State.STARTING
    assert r.restarts == 1 and r.check_failures == 0


def test_a_stall_that_passes_brings_it_back_and_the_count_starts_over() -> None:
    r = running()
    assert feed(r, [FAIL, FAIL, FAIL, PASS]) == [State.RUNNING, State.EJECTED, State.EJECTED, State.RUNNING]
    assert r.check_failures == 0
    # a single failure later is not an ejection: the run of failures starts again from zero
    assert feed(r, [FAIL, PASS, FAIL], start=10.0) == [State.RUNNING, State.RUNNING, State.RUNNING]
    assert r.restarts == 0


def test_thresholds_come_from_the_service_config() -> None:
    r = running(eject_after=1, restart_after=3)
    assert feed(r, [FAIL, FAIL, FAIL]) == [State.EJECTED, State.EJECTED, State.RESTARTING]


def test_a_replica_that_never_answers_is_given_up_on_after_its_ready_timeout() -> None:
    r = replica()
    r.spawned(100, 100.0, 0)
    assert r.step(FAIL, 110.0) is State.STARTING  # failing while starting is normal
    assert r.step(FAIL, 129.9) is State.STARTING
    assert r.step(FAIL, 130.0) is State.RESTARTING
    assert r.cause == "did not answer 200 on /ready within 30s"


def test_an_exit_records_its_cause_from_any_live_state() -> None:
    for before in ([], [PASS], [PASS, FAIL, FAIL]):
        r = replica()
        feed(r, before)
        assert r.step(Event.EXITED, 10.0, exit_cause(-9)) is State.RESTARTING
        assert r.cause == "was killed by SIGKILL"
    assert exit_cause(3) == "exited with status 3"


def test_a_crash_loop_backs_off_exponentially_up_to_a_cap() -> None:
    r = replica()
    now = 0.0
    delays = []
    for _ in range(8):
        r.step(PASS, now)
        r.step(Event.EXITED, now + 1, "exited with status 1")
        delays.append(backoff(r.failures))
        r.step(Event.RESTART, now + 2)
        now += 3
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert r.restarts == 8 and r.state is State.STARTING


def test_a_hang_or_exit_after_a_stable_run_starts_the_backoff_over() -> None:
    r = replica()
    for _ in range(3):
        r.step(PASS, 0.0)
        r.step(Event.EXITED, 1.0)
        r.step(Event.RESTART, 2.0)
    assert r.failures == 3
    r.step(PASS, 10.0)
    feed(r, [FAIL] * 5, start=10.0 + STABLE_AFTER)
    assert r.state is State.RESTARTING and r.failures == 1


def test_a_stall_does_not_reset_how_long_it_has_been_stable() -> None:
    r = replica()
    for _ in range(2):  # a rough start: the next restart would wait 2 s
        r.step(PASS, 0.0)
        r.step(Event.EXITED, 1.0)
        r.step(Event.RESTART, 2.0)
    r.step(PASS, 10.0)  # running since 10
    feed(r, [FAIL, FAIL, PASS], start=20.0)  # ejected for a moment, then back
    r.step(Event.EXITED, 10.0 + STABLE_AFTER)
    assert r.failures == 1  # stable since 10, the stall notwithstanding


def test_stop_from_every_live_state_then_exit() -> None:
    for before in ([], [PASS], [PASS, FAIL, FAIL], [Event.EXITED]):
        r = replica()
        feed(r, before)
        assert r.step(Event.STOP, 20.0) is State.STOPPING
        assert r.step(Event.EXITED, 21.0) is State.STOPPED


def test_checks_out_of_place_change_nothing_but_impossible_events_are_refused() -> None:
    r = replica()
    r.step(Event.EXITED, 1.0)
    assert r.step(FAIL, 2.0) is State.RESTARTING  # a check that was in flight when it exited
    with pytest.raises(InvalidTransition):
        replica().step(Event.RESTART, 0.0)  # it is running, not waiting for a restart
    r = replica()
    r.step(Event.STOP, 0.0)
    assert r.step(PASS, 0.0) is State.STOPPING  # a stopping replica never re-enters rotation
    with pytest.raises(InvalidTransition):
        r.step(Event.RESTART, 0.0)


def test_the_balancer_rotation_follows_running(tmp_path: Path) -> None:
    """The supervisor tells the gateway when a replica enters or leaves RUNNING, and only then."""
    now = [0.0]
    services = {"svc": ServiceConfig(command=["svc", "{socket}"])}
    supervisor = Supervisor(services, prepare(tmp_path / "data"), clock=lambda: now[0])
    calls: list[bool] = []
    supervisor.on_rotation = lambda _socket, up: calls.append(up)
    (r,) = supervisor.replicas
    for event in (PASS, PASS, FAIL, FAIL, FAIL, PASS, FAIL, FAIL, Event.EXITED):
        now[0] += 1.0
        supervisor._step(r, event)
    assert calls == [True, False, True, False]
    assert r.state is State.RESTARTING


def test_checks_that_cannot_work_are_a_config_error_with_its_line() -> None:
    text = (
        "upstreams:\n  svc: {targets: []}\nservices:\n  svc:\n    command: svc {socket}\n"
        "    checks: {eject_after: 3, restart_after: 2}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "up.yaml", env={})
    (problem,) = [str(p) for p in info.value.problems]
    assert problem.startswith("up.yaml:6: services.svc.checks"), problem
    assert "restart_after must be at least eject_after" in problem
