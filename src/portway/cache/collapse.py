"""Collapsed misses: while one request for a key is on its way upstream (the leader), the others
for that key wait for its outcome instead of each sending their own.

Rules:
- The first request for a key leads; a lead older than the wait is taken over (a lead that is
  never released, by a bug or a lost callback, must not hold its key: the wait bounds it).
- A leader releases its key when its response was stored, refused for storage, failed or aborted,
  or its client went before any answer; only its own lead (one that was taken over leaves the
  newer in place).
- A follower waits at most ``wait`` seconds, then looks the key up again and goes upstream itself
  when nothing servable was stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Inflight:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._leads: dict[str, tuple[asyncio.Future[None], float]] = {}
        self.waiting = 0  # followers waiting now (a gauge for the admin API, and for tests)
        self.collapsed = 0  # followers so far

    def __len__(self) -> int:
        return len(self._leads)

    def join(self, key: str, wait: float) -> tuple[bool, asyncio.Future[None]]:
        """``(leads, future)``: lead the key (the future is the lead, to release), or follow the
        current leader (the future completes when it releases)."""
        now = self.clock()
        lead = self._leads.get(key)
        if lead is not None:
            if now - lead[1] < wait:
                return False, lead[0]
            self._finish(lead[0])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._leads[key] = (future, now)
        return True, future

    def busy(self, key: str) -> bool:
        return key in self._leads

    def release(self, key: str, future: asyncio.Future[None]) -> None:
        lead = self._leads.get(key)
        if lead is not None and lead[0] is future:
            del self._leads[key]
        self._finish(future)

    @staticmethod
    def _finish(future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_result(None)
