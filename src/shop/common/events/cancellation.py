"""Consumers stop when asked, even if a library lost the request on the way.

On Python 3.11 ``asyncio.wait_for`` returns the awaited result, dropping the ``CancelledError``, when
the result arrives in the same loop step as the cancellation (CPython gh-86296, fixed in 3.12 where
``wait_for`` is built on ``asyncio.timeout``). nats-py waits for every message that way
(``Subscription.next_msg``), so a consumer cancelled while its broker was delivering carried on
fetching, and whoever awaited it after cancelling (the service's shutdown) waited forever.
``Task.cancelling()`` still counts the request, so a loop that checks it between steps stops anyway.

Database work is not cut in the middle: a cancellation landing inside a SQLAlchemy statement makes it
invalidate the connection, and its aiosqlite "terminate" path can leave a task behind that waits on
a worker thread that has already stopped (seen holding a test's event loop at teardown for 120 s).
:func:`finish_first` lets such work finish, within a grace period, before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
GRACE = 2.0  # seconds a handler's transaction or a relay's batch gets to finish on shutdown


def cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that was swallowed below us."""
    if cancel_requested():
        raise asyncio.CancelledError


async def finish_first(work: Coroutine[Any, Any, T], grace: float = GRACE) -> T:
    """Await ``work``; when cancelled meanwhile, let it finish (up to ``grace`` seconds, then cancel
    it), and re-raise the cancellation."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_retrieve)  # its outcome is no longer anyone's: do not log it as lost
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while not task.done() and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(asyncio.CancelledError):  # the same stop, asked again
                await asyncio.wait({task}, timeout=left)
        task.cancel()
        raise


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
