"""Supervising the service replicas of `portway up`: start, check health, eject, restart, stop.

Rules:
- Every replica is its own process group (so a signal reaches whatever it forked) bound to its own
  unix socket; on Linux it dies with `portway up` even if that is SIGKILLed (see ``launcher.py``).
- A replica's life is the table :data:`TRANSITIONS`, moved only by :meth:`Replica.step` (pure: the
  time is given). The driver (:class:`Supervisor`) feeds it what it sees: a health check passed or
  failed, the process exited, the backoff ran out, `portway up` stops.
- Health: ``GET <health>`` over the replica's socket, on a fresh connection, the same probe the
  gateway's active checks use (``upstream/probe.py``); 200 passes. While STARTING it is polled every
  :data:`STARTING_POLL` seconds; afterwards every ``checks.interval``, each check with ``checks.timeout``.
- A replica is in the balancer's rotation only while RUNNING: ``on_rotation(socket, False)`` is
  called as soon as it leaves RUNNING (ejected, exited), ``on_rotation(socket, True)`` when it
  (re)enters it.
- ``checks.eject_after`` failed checks in a row eject it (alive, out of rotation: a stall may pass);
  ``checks.restart_after`` in a row mean it hangs: entering RESTARTING SIGKILLs its process group.
  So does not answering within ``ready_timeout`` of its start. A replica that exits by itself is
  RESTARTING too.
- A restart waits an exponential backoff (0.5 s doubling to 30 s), so a crash loop costs little;
  the backoff starts over once a replica has been running for :data:`STABLE_AFTER` seconds.
- At startup, replica 1 of every service starts first and the others once it is ready: the first
  replica runs the database migrations, and two processes migrating one SQLite file at once collide.
  Any replica failing at startup fails `portway up` as a whole (:class:`StartupFailed`).
- Stopping: SIGTERM to every group, SIGKILL to those still alive after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from portway.config.local import ServiceConfig
from portway.config.resilience import HealthCheck
from portway.local.isolate import launch_prefix
from portway.local.rundir import RunDir
from portway.tasks import spawn
from portway.upstream.probe import check_once
from portway.upstream.target import Target

STABLE_AFTER = 30.0
STARTING_POLL = 0.1  # a starting replica is polled often: the whole of `portway up` waits for it
READY_STATUSES = frozenset({200})
LAST_LINES = 20


class State(enum.Enum):
    STARTING = "starting"  # spawned; its health path has not answered 200 yet
    RUNNING = "running"  # answers its health path: in the balancer's rotation
    EJECTED = "ejected"  # alive, but its last `eject_after` checks failed: out of rotation
    RESTARTING = "restarting"  # exited, or killed (hung, never ready); started again after a backoff
    STOPPING = "stopping"
    STOPPED = "stopped"


class Event(enum.Enum):
    CHECK_PASS = "check_pass"  # noqa: S105 (not a password)
    CHECK_FAIL = "check_fail"
    EXITED = "exited"
    RESTART = "restart"  # the backoff ran out
    STOP = "stop"


_ST, _RUN, _EJ, _RS, _SG, _SD = State
# (state, event) → next state, once the guard in Replica._guard holds. A check event with no entry
# only updates the counters (a passing check while running, say); any other missing pair is a bug.
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_ST, Event.CHECK_PASS): _RUN,
    (_ST, Event.CHECK_FAIL): _RS,  # guard: ready_timeout has passed since it was spawned
    (_ST, Event.EXITED): _RS,
    (_RUN, Event.CHECK_FAIL): _EJ,  # guard: eject_after failures in a row
    (_RUN, Event.EXITED): _RS,
    (_EJ, Event.CHECK_PASS): _RUN,
    (_EJ, Event.CHECK_FAIL): _RS,  # guard: restart_after failures in a row: it hangs
    (_EJ, Event.EXITED): _RS,
    (_RS, Event.RESTART): _ST,
    **{(state, Event.STOP): _SG for state in (_ST, _RUN, _EJ, _RS)},
    (_SG, Event.EXITED): _SD,
}
CHECKS = frozenset({Event.CHECK_PASS, Event.CHECK_FAIL})


class InvalidTransition(Exception):
    pass


def backoff(failures: int) -> float:
    """Seconds to wait before restart number ``failures`` (1-based) of a replica."""
    return min(0.5 * 2.0 ** (failures - 1), 30.0)


def exit_cause(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


@dataclass
class Replica:
    """One process of a service and its supervision record; :meth:`step` is the only way to change state."""

    service: str
    index: int  # 1-based
    config: ServiceConfig
    socket: Path
    log: Path
    state: State = State.STARTING
    pid: int | None = None
    started_at: float = 0.0  # when the current process was spawned
    restarts: int = 0
    failures: int = 0  # restarts since it was last stable: the backoff's exponent
    check_failures: int = 0  # failed health checks in a row
    cause: str = ""  # why it last went RESTARTING
    ready_since: float | None = None
    log_offset: int = 0  # where this attempt's output starts in the log
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def spawned(self, pid: int, now: float, log_offset: int) -> None:
        """A new process of this replica runs (the state is STARTING already)."""
        self.pid, self.started_at, self.log_offset = pid, now, log_offset

    def step(self, event: Event, now: float, cause: str = "") -> State:
        """Apply ``event`` at ``now``; ``cause`` says why an ``EXITED`` process exited."""
        if event is Event.CHECK_PASS:
            self.check_failures = 0
        elif event is Event.CHECK_FAIL:
            self.check_failures += 1
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            if event in CHECKS:
                return self.state
            raise InvalidTransition(f"{self.name}: {event.value} while {self.state.value}")
        if not self._guard(event, now):
            return self.state
        if new is _RUN and self.state is _ST:
            self.ready_since = now
        elif new is _RS:
            stable = self.ready_since is not None and now - self.ready_since >= STABLE_AFTER
            self.failures = 1 if stable else self.failures + 1
            self.ready_since = None
            self.cause = cause if event is Event.EXITED else self._check_cause()
        elif new is _ST:
            self.restarts += 1
            self.check_failures = 0
        self.state = new
        return new

    def _guard(self, event: Event, now: float) -> bool:
        if event is not Event.CHECK_FAIL:
            return True
        checks = self.config.checks
        if self.state is _ST:
            return now - self.started_at >= self.config.ready_timeout
        if self.state is _RUN:
            return self.check_failures >= checks.eject_after
        return self.check_failures >= checks.restart_after

    def _check_cause(self) -> str:
        if self.state is _ST:
            return f"did not answer 200 on {self.config.health} within {self.config.ready_timeout:g}s"
        return f"hung: {self.check_failures} health checks on {self.config.health} failed in a row"

    def last_lines(self, count: int = LAST_LINES) -> list[str]:
        try:
            with self.log.open("rb") as handle:
                handle.seek(self.log_offset)
                text = handle.read().decode(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-count:]


class StartupFailed(Exception):
    def __init__(self, replica: Replica, reason: str) -> None:
        self.replica = replica
        self.reason = reason
        self.lines = replica.last_lines()
        super().__init__(f"service {replica.service!r} (replica {replica.index}) {reason}")


class Supervisor:
    def __init__(
        self,
        services: dict[str, ServiceConfig],
        rundir: RunDir,
        isolate: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rundir = rundir
        self.clock = clock
        self.prefix = launch_prefix(isolate)
        self.replicas = [
            Replica(name, i, service, rundir.socket(name, i), rundir.log(f"{name}-{i}"))
            for name, service in services.items()
            for i in range(1, service.replicas + 1)
        ]
        self.on_rotation: Callable[[Path, bool], None] = lambda _socket, _up: None
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def targets(self) -> dict[str, list[str]]:
        """Upstream name → the ``unix:`` targets of the replicas that feed it, in replica order."""
        targets: dict[str, list[str]] = {}
        for replica in self.replicas:
            upstream = replica.config.upstream or replica.service
            targets.setdefault(upstream, []).append(f"unix:{replica.socket}")
        return targets

    async def start(self) -> None:
        """Start every replica and return once all are ready; raise :class:`StartupFailed` otherwise."""
        loop = asyncio.get_running_loop()
        first = [r for r in self.replicas if r.index == 1]
        rest = [r for r in self.replicas if r.index > 1]
        for group in (first, rest):
            ready = [loop.create_future() for _ in group]
            for future in ready:  # several may fail at once; the first is raised, the rest are seen
                future.add_done_callback(lambda f: f.cancelled() or f.exception())
            for replica, future in zip(group, ready, strict=True):
                self._tasks.append(spawn(self._supervise(replica, future), name=f"supervise {replica.name}"))
            await asyncio.gather(*ready)

    def _step(self, replica: Replica, event: Event, cause: str = "") -> State:
        """Step the replica's machine and do what entering the new state means."""
        was = replica.state
        new = replica.step(event, self.clock(), cause)
        if (was is _RUN) != (new is _RUN):
            self.on_rotation(replica.socket, new is _RUN)
        if new is _RS and was is not _RS:
            self._signal(replica, signal.SIGKILL)  # hung or never ready; a no-op once it has exited
        return new

    async def _supervise(self, replica: Replica, ready: asyncio.Future[None]) -> None:
        while True:
            await self._run(replica, ready)  # returns once its process is gone: RESTARTING
            if not ready.done():  # it never got ready: `portway up` fails as a whole
                ready.set_exception(StartupFailed(replica, replica.cause))
                return
            if self.stopping:
                return
            await asyncio.sleep(backoff(replica.failures))
            self._step(replica, Event.RESTART)

    async def _run(self, replica: Replica, ready: asyncio.Future[None]) -> None:
        """One process of ``replica``: spawn it, check it until it exits (or a check kills it)."""
        try:
            process = await self._spawn(replica)
        except OSError as exc:  # no such program, say (on Linux the launcher reports that itself)
            self._step(replica, Event.EXITED, f"could not be started: {exc}")
            return
        # Scoped to this process's life (cancelled below), so not spawn()'s long-lived background work.
        checks = asyncio.get_running_loop().create_task(
            self._check(replica, ready), name=f"check {replica.name}"
        )
        try:
            returncode = await process.wait()
        finally:
            checks.cancel()
            await asyncio.gather(checks, return_exceptions=True)
        if replica.state is not _RS:  # it exited by itself (a kill by a check is recorded already)
            early = " before it was ready" if replica.state is _ST else ""
            self._step(replica, Event.EXITED, exit_cause(returncode) + early)

    async def _check(self, replica: Replica, ready: asyncio.Future[None]) -> None:
        checks = replica.config.checks
        target = Target.parse(f"unix:{replica.socket}")
        probe = HealthCheck(path=replica.config.health, timeout=checks.timeout)
        while True:
            began = self.clock()
            passed = await check_once(target, probe, READY_STATUSES)
            state = self._step(replica, Event.CHECK_PASS if passed else Event.CHECK_FAIL)
            if state is _RUN and not ready.done():
                ready.set_result(None)
            elif state is _RS:
                return  # killed: the process's exit ends this run
            pause = STARTING_POLL if state is _ST else checks.interval
            await asyncio.sleep(max(0.0, pause - (self.clock() - began)))

    async def _spawn(self, replica: Replica) -> asyncio.subprocess.Process:
        with contextlib.suppress(FileNotFoundError):
            replica.socket.unlink()  # a stale socket from a killed run would answer "refused", not "absent"
        values = {"{socket}": str(replica.socket), "{replica}": str(replica.index)}
        command = render_command(replica.config.command, self.rundir, values)
        env = render_env(replica.config, self.rundir, values)
        with replica.log.open("ab") as log:
            offset = log.tell()
            replica.process = process = await asyncio.create_subprocess_exec(
                *self.prefix,
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own group: Ctrl-C reaches `portway up`, which stops it in order
            )
        replica.spawned(process.pid, self.clock(), offset)
        return process

    def _signal(self, replica: Replica, signum: int) -> None:
        process = replica.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every replica's group, SIGKILL after ``grace``; returns when none is left."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        now = self.clock()
        for replica in self.replicas:
            if replica.state not in (_SG, _SD):
                replica.step(Event.STOP, now)
            self._signal(replica, signal.SIGTERM)
        alive = [r.process.wait() for r in self.replicas if r.process is not None]
        try:
            async with asyncio.timeout(grace):
                await asyncio.gather(*alive)
        except TimeoutError:
            for replica in self.replicas:
                self._signal(replica, signal.SIGKILL)
            await asyncio.gather(*(r.process.wait() for r in self.replicas if r.process is not None))
        for replica in self.replicas:
            if replica.state is _SG:
                replica.step(Event.EXITED, self.clock())
            with contextlib.suppress(FileNotFoundError):
                replica.socket.unlink()  # nothing answers there any more


def render_command(parts: list[str], rundir: RunDir, values: dict[str, str] | None = None) -> list[str]:
    """A service's command with its placeholders filled; ``python`` is the interpreter `portway` runs
    in, so that `.venv/bin/portway up` works without an activated venv."""
    values = {"{data_dir}": str(rundir.data), **(values or {})}
    command = [_fill(part, values) for part in parts]
    if command[0] in ("python", "python3"):
        command[0] = sys.executable
    return command


def render_env(config: ServiceConfig, rundir: RunDir, values: dict[str, str] | None = None) -> dict[str, str]:
    values = {"{data_dir}": str(rundir.data), **(values or {})}
    env = {key: _fill(value, values) for key, value in config.env.items()}
    return {**os.environ, "PORTWAY_DATA_DIR": str(rundir.data), **env}


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
