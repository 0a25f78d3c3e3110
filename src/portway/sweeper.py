"""One coarse clock for every deadline in a process.

Client connections, upstream connections and pools each keep a ``deadline`` float (0 = none); one
periodic sweep calls ``on_deadline`` on those past it. Arming or moving a deadline is then a float
assignment on the hot path instead of a timer allocation per request. The tick is a fraction of the
shortest timeout in use, so timeouts fire within ~25% of their value (at most 0.5 s late).
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Timed(Protocol):
    deadline: float

    def on_deadline(self, now: float) -> None: ...


class Sweeper:
    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = 0.25) -> None:
        self.loop = loop
        self.tick = tick
        self.timed: set[Timed] = set()
        self._handle: asyncio.TimerHandle | None = None

    def fit(self, shortest_timeout: float) -> None:
        self.tick = min(self.tick, max(shortest_timeout / 4, 0.01))

    def start(self) -> None:
        if self._handle is None:
            self._handle = self.loop.call_later(self.tick, self._sweep)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        now = self.loop.time()
        expired = [t for t in self.timed if 0 < t.deadline <= now]
        for timed in expired:
            timed.deadline = 0.0
            timed.on_deadline(now)
        self._handle = self.loop.call_later(self.tick, self._sweep)
