"""Background work through one helper (STYLE.md 8): keeps a reference, logs a crash, cancels on close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

STOP_BOUND = 5.0
RECANCEL = 1.0


class Background:
    def __init__(self, *, stop_bound: float = STOP_BOUND, recancel: float = RECANCEL) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stop_bound = stop_bound
        self.recancel = recancel

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Cancel every task and wait for them, at most ``stop_bound`` seconds in all.

        A task still running ``recancel`` seconds after a cancellation is cancelled again: a library
        may have swallowed the first (``asyncio.wait_for`` does on Python 3.11 when a result lands in
        the same step). One still running at the bound is logged and left, so that a stuck task costs
        the shutdown seconds, not forever.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_bound
        pending = set(self._tasks)
        while pending and (left := deadline - loop.time()) > 0:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=min(self.recancel, left))
        for task in pending:
            log.error("background task %s did not stop within %g s", task.get_name(), self.stop_bound)
