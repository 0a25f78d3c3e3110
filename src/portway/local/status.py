"""The terminal view of `portway up`: a live table (service, replica, pid, state, restarts, why it
last restarted, requests) above the latest merged log lines; or, when stdout is not a terminal, one
line per state change (a restart with its cause).

Requests per replica are counted from the gateway's access log (its ``upstream`` field is the
replica's ``unix:`` target), which `portway up` always writes to the run directory.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
from collections import Counter
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from portway.local.logs import LogTail, prefixed
from portway.local.supervisor import State, Supervisor
from portway.runtime import RunningServer

STATE_STYLE = {
    State.STARTING: "yellow",
    State.RUNNING: "green",
    State.EJECTED: "magenta",
    State.RESTARTING: "red",
    State.STOPPING: "yellow",
    State.STOPPED: "dim",
}


class RequestCounter:
    def __init__(self, access_log: Path) -> None:
        self._tail = LogTail()
        self._tail.add("access", access_log)
        self.by_target: Counter[str] = Counter()
        self.total = 0

    def update(self) -> None:
        for _, _, line in self._tail.poll():
            try:
                upstream = json.loads(line).get("upstream", "")
            except (ValueError, AttributeError):
                continue  # a line cut by a crash, or not ours
            self.total += 1
            self.by_target[upstream] += 1


class StatusTable:
    def __init__(
        self,
        supervisor: Supervisor,
        running: RunningServer,
        counter: RequestCounter,
        logs: LogTail,
        title: str,
    ) -> None:
        self.supervisor = supervisor
        self.running = running
        self.counter = counter
        self.logs = logs
        self.title = title
        self.recent: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=12)
        self.width = max(len(source.name) for source in logs.sources)

    def render(self) -> Group:
        self.counter.update()
        self.recent.extend(self.logs.poll())
        table = Table(title=self.title, title_justify="left", expand=False)
        for column in ("service", "replica", "pid", "state", "restarts", "last restart", "requests"):
            table.add_column(column, justify="right" if column in ("pid", "restarts", "requests") else "left")
        table.add_row("gateway", "", str(os.getpid()), self._gateway_state(), "", "", str(self.counter.total))
        for r in self.supervisor.replicas:
            table.add_row(
                r.service,
                str(r.index),
                str(r.pid or ""),
                Text(r.state.value, STATE_STYLE[r.state]),
                str(r.restarts),
                Text(r.cause, "dim"),
                str(self.counter.by_target[f"unix:{r.socket}"]),
            )
        lines = [prefixed(name, colour, line, self.width) for name, colour, line in self.recent]
        return Group(table, *lines)

    def _gateway_state(self) -> Text:
        if self.running.stopped.is_set():
            return Text("stopped", STATE_STYLE[State.STOPPED])
        if self.running.state.draining:
            return Text("draining", STATE_STYLE[State.STOPPING])
        return Text("listening", STATE_STYLE[State.RUNNING])

    async def run(self, console: Console, interval: float = 0.5) -> None:
        with Live(self.render(), console=console, auto_refresh=False) as live:
            try:
                while True:
                    await asyncio.sleep(interval)
                    live.update(self.render(), refresh=True)
            finally:  # cancelled once everything stopped: leave that state on the screen
                live.update(self.render(), refresh=True)


async def report_changes(supervisor: Supervisor, console: Console, interval: float = 0.2) -> None:
    """Without a terminal: a line whenever a replica changes state (restarts show in logs and CI)."""
    seen: dict[str, tuple[State, int | None]] = {}

    def print_changes() -> None:
        for r in supervisor.replicas:
            if seen.get(r.name) != (r.state, r.pid):
                seen[r.name] = (r.state, r.pid)
                cause = f": {r.cause}" if r.state is State.RESTARTING else ""
                line = f"portway up: {r.name} {r.state.value} (pid {r.pid}, restarts {r.restarts}){cause}"
                console.print(line, markup=False)

    try:
        while True:
            print_changes()
            await asyncio.sleep(interval)
    finally:  # cancelled once everything stopped: say so
        print_changes()
