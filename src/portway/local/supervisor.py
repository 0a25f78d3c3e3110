"""Supervising the service replicas of `portway up`: start, wait for health, restart, stop.

Rules:
- Every replica is its own process group (so a signal reaches whatever it forked) bound to its own
  unix socket; on Linux it dies with `portway up` even if that is SIGKILLed (see ``launcher.py``).
- A replica is in the balancer's rotation only while READY: ``on_rotation(socket, False)`` is called
  as soon as it leaves READY, ``on_rotation(socket, True)`` when its health path answers 200 again.
- A replica that exits is restarted after an exponential backoff (0.5 s doubling to 30 s); the
  backoff starts over once a replica has stayed ready for :data:`STABLE_AFTER` seconds. One that does
  not become ready within its ``ready_timeout`` after a restart is killed and treated as exited.
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

import httpx

from portway.config.local import ServiceConfig
from portway.local.isolate import launch_prefix
from portway.local.rundir import RunDir
from portway.tasks import spawn

STABLE_AFTER = 30.0
LAST_LINES = 20


class State(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    BACKOFF = "backoff"  # exited; waiting to be restarted
    STOPPING = "stopping"
    STOPPED = "stopped"


class Event(enum.Enum):
    HEALTHY = "healthy"
    EXITED = "exited"
    RESTART = "restart"
    STOP = "stop"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.STARTING, Event.HEALTHY): State.READY,
    (State.STARTING, Event.EXITED): State.BACKOFF,
    (State.READY, Event.EXITED): State.BACKOFF,
    (State.BACKOFF, Event.RESTART): State.STARTING,
    (State.STARTING, Event.STOP): State.STOPPING,
    (State.READY, Event.STOP): State.STOPPING,
    (State.BACKOFF, Event.STOP): State.STOPPED,
    (State.STOPPING, Event.EXITED): State.STOPPED,
}


class InvalidTransition(Exception):
    pass


def backoff(failures: int) -> float:
    """Seconds to wait before restart number ``failures`` (1-based) of a replica."""
    return min(0.5 * 2.0 ** (failures - 1), 30.0)


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
    restarts: int = 0
    failures: int = 0  # exits since it was last stable
    ready_since: float | None = None
    log_offset: int = 0  # where this attempt's output starts in the log
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def step(self, event: Event, now: float) -> State:
        try:
            new = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition(f"{self.name}: {event.value} while {self.state.value}") from None
        if new is State.READY:
            self.ready_since = now
        elif new is State.BACKOFF:
            stable = self.ready_since is not None and now - self.ready_since >= STABLE_AFTER
            self.failures = 1 if stable else self.failures + 1
            self.ready_since = None
        elif event is Event.RESTART:
            self.restarts += 1
        self.state = new
        return new

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

    async def _supervise(self, replica: Replica, ready: asyncio.Future[None]) -> None:
        while True:
            try:
                await self._spawn(replica)
            except OSError as exc:  # no such program, say (on Linux the launcher reports that itself)
                problem: str | None = f"could not be started: {exc}"
            else:
                problem = await self._wait_healthy(replica)
            if problem is None:
                replica.step(Event.HEALTHY, self.clock())
                self.on_rotation(replica.socket, True)
                if not ready.done():
                    ready.set_result(None)
            elif not ready.done():
                ready.set_exception(StartupFailed(replica, problem))
                return
            else:
                self._signal(replica, signal.SIGKILL)
            if replica.process is not None:
                await replica.process.wait()
            if self.stopping:
                return
            replica.step(Event.EXITED, self.clock())
            self.on_rotation(replica.socket, False)
            await asyncio.sleep(backoff(replica.failures))
            replica.step(Event.RESTART, self.clock())

    async def _spawn(self, replica: Replica) -> None:
        with contextlib.suppress(FileNotFoundError):
            replica.socket.unlink()  # a stale socket from a killed run would answer "refused", not "absent"
        values = {"{socket}": str(replica.socket), "{replica}": str(replica.index)}
        command = render_command(replica.config.command, self.rundir, values)
        env = render_env(replica.config, self.rundir, values)
        with replica.log.open("ab") as log:
            replica.log_offset = log.tell()
            replica.process = await asyncio.create_subprocess_exec(
                *self.prefix,
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own group: Ctrl-C reaches `portway up`, which stops it in order
            )
        replica.pid = replica.process.pid

    async def _wait_healthy(self, replica: Replica) -> str | None:
        """None once the health path answers 200; otherwise why not."""
        process = replica.process
        assert process is not None
        timeout = replica.config.ready_timeout
        deadline = self.clock() + timeout
        url = f"http://{replica.service}{replica.config.health}"
        transport = httpx.AsyncHTTPTransport(uds=str(replica.socket))
        async with httpx.AsyncClient(transport=transport, timeout=1.0) as client:
            while True:
                if process.returncode is not None:
                    return f"exited with status {process.returncode} before it was ready"
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(url)).status_code == 200:
                        return None
                if self.clock() > deadline:
                    return f"did not answer 200 on {replica.config.health} within {timeout:g}s"
                await asyncio.sleep(0.1)

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
            if replica.state is not State.STOPPED:
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
            if replica.state is State.STOPPING:
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
