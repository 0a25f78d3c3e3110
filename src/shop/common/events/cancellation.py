"""Consumers stop when asked, even if a library lost the request on the way.

On Python 3.11 ``asyncio.wait_for`` returns the awaited result, dropping the ``CancelledError``, when
the result arrives in the same loop step as the cancellation (CPython gh-86296, fixed in 3.12 where
``wait_for`` is built on ``asyncio.timeout``). nats-py waits for every message that way
(``Subscription.next_msg``), so a consumer cancelled while its broker was delivering carried on
fetching, and whoever awaited it after cancelling (the service's shutdown) waited forever.
``Task.cancelling()`` still counts the request, so a loop that checks it between steps stops anyway.
"""

from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that was swallowed below us."""
    if cancel_requested():
        raise asyncio.CancelledError
