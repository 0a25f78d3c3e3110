"""A consumer stops within a bound when its service shuts down, whatever it was doing.

The bound (5 s) is generous: a consumer is expected to stop at once. What these guard against is a
consumer that never stops: on Python 3.11 nats-py's ``next_msg`` (``asyncio.wait_for``) drops a
cancellation that arrives with a message, the consumer fetched on, and the service's shutdown, which
awaited it, hung until pytest-timeout (see shop.common.events.cancellation). A handler that swallows
the cancellation stands in for that race here, deterministically; the service's own second line of
defence (Background.close cancelling again, within a bound) is tested in tests/unit/shop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from shop.common.events import Envelope, Event, EventBackend, backend_from_url
from shop.testing import eventually

BOUND = 5.0


class Tick(Event):
    topic: ClassVar[str] = "test.tick"
    n: int


@pytest.fixture
async def backend(events_url: str) -> AsyncIterator[EventBackend]:
    backend = backend_from_url(events_url)
    await backend.connect()
    yield backend
    await backend.close()


async def stopped_within_bound(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)  # a TimeoutError here is the failure


async def test_an_idle_consumer_stops_while_its_fetch_is_pending(backend: EventBackend) -> None:
    seen: list[int] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.open(Tick).n)

    task = asyncio.create_task(backend.consume(Tick.topic, "g", handle))
    await backend.send([Envelope.wrap(Tick(n=1), source="test")])
    await eventually(lambda: _has(seen, 1), what="the first tick")  # now it waits for the next
    await stopped_within_bound(task)


async def test_a_consumer_stops_while_a_handler_is_in_flight_and_the_event_comes_back(
    backend: EventBackend,
) -> None:
    started = asyncio.Event()
    delivered: list[int] = []

    async def stuck(envelope: Envelope) -> None:
        started.set()
        await asyncio.Event().wait()  # a handler blocked on something that will not answer

    async def handle(envelope: Envelope) -> None:
        delivered.append(envelope.open(Tick).n)

    await backend.send([Envelope.wrap(Tick(n=7), source="test")])
    task = asyncio.create_task(backend.consume(Tick.topic, "g", stuck))
    await asyncio.wait_for(started.wait(), BOUND)
    await stopped_within_bound(task)
    # handed back at once (nak / released lease), not after the broker's ack wait of 10 s
    async with _consuming(backend, handle):
        await eventually(lambda: _has(delivered, 7), within=BOUND, what="the unfinished event again")


async def test_a_consumer_stops_even_when_the_cancellation_is_swallowed_below_it(
    backend: EventBackend,
) -> None:
    started = asyncio.Event()

    async def swallows(envelope: Envelope) -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):  # what wait_for does in the race
            await asyncio.Event().wait()

    await backend.send([Envelope.wrap(Tick(n=n), source="test") for n in range(3)])
    task = asyncio.create_task(backend.consume(Tick.topic, "g", swallows))
    await asyncio.wait_for(started.wait(), BOUND)
    await stopped_within_bound(task)


async def test_consumers_cancelled_while_events_stream_in_stop_every_time(backend: EventBackend) -> None:
    """The race itself, over the real broker: before the fix about one JetStream consumer in five
    cancelled this way kept running (the cancellation landed with a message in nats-py's wait_for)."""
    streaming = True

    async def produce() -> None:
        n = 0
        while streaming:
            await backend.send([Envelope.wrap(Tick(n=n), source="test")])
            n += 1
            await asyncio.sleep(0.001)

    async def handle(envelope: Envelope) -> None:
        pass

    producer = asyncio.create_task(produce())
    try:
        for round_ in range(20):
            task = asyncio.create_task(backend.consume(Tick.topic, f"g{round_ % 3}", handle))
            await asyncio.sleep(
                0.02 * (1 + round_ % 8)
            )  # not a wait for a state: it moves the moment of the cancel
            await stopped_within_bound(task)
    finally:
        streaming = False
        await asyncio.wait_for(producer, BOUND)


@contextlib.asynccontextmanager
async def _consuming(backend: EventBackend, handler: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(backend.consume(Tick.topic, "g", handler))
    try:
        yield
    finally:
        await stopped_within_bound(task)


async def _has(items: list[int], n: int) -> bool:
    return n in items
