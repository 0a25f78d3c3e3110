"""Background tasks stop on close within a bound, even those that swallow a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from shop.common.background import Background

BOUND = 5.0


async def test_background_close_cancels_again_and_gives_up_at_its_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    background = Background(stop_bound=1.0, recancel=0.1)
    swallowed_once = asyncio.Event()

    async def deaf_once() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        swallowed_once.set()
        await asyncio.Event().wait()  # the second cancellation lands here

    released = asyncio.Event()

    async def deaf() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await released.wait()

    once = background.spawn(deaf_once(), name="deaf-once")
    never = background.spawn(deaf(), name="deaf")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="shop.common.background"):
        await asyncio.wait_for(background.close(), BOUND)
    assert swallowed_once.is_set() and once.cancelled()
    assert not never.done()
    assert [r.getMessage() for r in caplog.records] == ["background task deaf did not stop within 1 s"]
    released.set()
    await asyncio.wait_for(never, BOUND)
