"""Stopping helpers: a lost cancellation is still seen, and database work finishes before a stop."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shop.common.events.cancellation import finish_first, raise_if_cancelled

BOUND = 5.0


async def test_a_cancellation_swallowed_below_is_raised_again() -> None:
    async def loop_that_checks() -> None:
        while True:
            with contextlib.suppress(asyncio.CancelledError):  # a library losing the cancellation
                await asyncio.Event().wait()
            raise_if_cancelled()

    task = asyncio.create_task(loop_that_checks())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)


async def test_work_cancelled_midway_finishes_then_the_cancellation_goes_on() -> None:
    release, done = asyncio.Event(), []

    async def transaction() -> str:
        await release.wait()
        done.append("committed")
        return "committed"

    task = asyncio.create_task(finish_first(transaction(), grace=BOUND))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()  # asked again (Background.close does): still waits for the work
    await asyncio.sleep(0)
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)
    assert done == ["committed"]


async def test_work_that_outlasts_the_grace_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(finish_first(stuck(), grace=0.05))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)
    await asyncio.wait_for(cancelled.wait(), BOUND)


async def test_uncancelled_work_returns_its_result_and_raises_its_errors() -> None:
    async def answer() -> int:
        return 42

    async def fails() -> None:
        raise ValueError("no")

    assert await finish_first(answer()) == 42
    with pytest.raises(ValueError, match="no"):
        await finish_first(fails())
