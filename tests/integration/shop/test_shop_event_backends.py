"""Both event backends behind the one protocol: order, deduplication, groups, redelivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, insert, select

from shop.catalog.app import MIGRATIONS
from shop.common.db import Database
from shop.common.events import Envelope, Event, EventBackend, EventBus, backend_from_url
from shop.common.events.sqlite_log import SqliteLog
from shop.common.events.tables import processed_events
from shop.common.metrics import Metrics
from shop.common.migrations import upgrade_to_head
from shop.testing import eventually


class Ping(Event):
    topic: ClassVar[str] = "test.ping"
    n: int


def envelopes(*numbers: int) -> list[Envelope]:
    return [Envelope.wrap(Ping(n=n), source="test") for n in numbers]


@pytest.fixture
async def backend(events_url: str) -> AsyncIterator[EventBackend]:
    backend = backend_from_url(events_url)
    await backend.connect()
    yield backend
    await backend.close()


@contextlib.asynccontextmanager
async def consuming(backend: EventBackend, group: str, handler: Callable) -> AsyncIterator[None]:
    task = asyncio.create_task(backend.consume(Ping.topic, group, handler))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_each_group_gets_every_event_in_order(backend: EventBackend) -> None:
    seen: dict[str, list[int]] = {"a": [], "b": []}

    async def recorder(group: str) -> Callable:
        async def handle(envelope: Envelope) -> None:
            seen[group].append(envelope.open(Ping).n)

        return handle

    await backend.send(envelopes(1, 2, 3))
    async with consuming(backend, "a", await recorder("a")), consuming(backend, "b", await recorder("b")):
        await backend.send(envelopes(4, 5))
        await eventually(lambda: _done(seen, 5), what="both groups to see 5 events")
    assert seen == {"a": [1, 2, 3, 4, 5], "b": [1, 2, 3, 4, 5]}


async def _done(seen: dict[str, list[int]], count: int) -> bool:
    return all(len(values) >= count for values in seen.values())


async def test_a_resent_event_is_stored_once(backend: EventBackend) -> None:
    batch = envelopes(1, 2)
    await backend.send(batch)
    await backend.send(batch)  # the relay crashed after shipping, before deleting its rows
    seen: list[str] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.id)

    async with consuming(backend, "g", handle):
        await eventually(lambda: _at_least(seen, 2))
        await asyncio.sleep(0.3)
    assert seen == [e.id for e in batch]


async def _at_least(items: list[str], count: int) -> bool:
    return len(items) >= count


async def test_a_failed_handler_gets_the_event_again(backend: EventBackend) -> None:
    attempts: list[int] = []

    async def flaky(envelope: Envelope) -> None:
        attempts.append(envelope.open(Ping).n)
        if len(attempts) < 3:
            raise RuntimeError("database briefly unavailable")

    await backend.send(envelopes(7))
    async with consuming(backend, "g", flaky):
        await eventually(lambda: _at_least(attempts, 3), within=20)  # type: ignore[arg-type]
    assert attempts[:3] == [7, 7, 7]


async def test_a_group_resumes_where_it_stopped(backend: EventBackend) -> None:
    seen: list[int] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.open(Ping).n)

    await backend.send(envelopes(1, 2))
    async with consuming(backend, "g", handle):
        await eventually(lambda: _at_least(seen, 2))  # type: ignore[arg-type]
    await backend.send(envelopes(3))
    async with consuming(backend, "g", handle):
        await eventually(lambda: _at_least(seen, 3))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
    assert seen == [1, 2, 3]


async def test_replicas_of_a_group_share_the_events(backend: EventBackend) -> None:
    seen: list[int] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.open(Ping).n)

    async with consuming(backend, "g", handle), consuming(backend, "g", handle):
        await backend.send(envelopes(*range(20)))
        await eventually(lambda: _at_least(seen, 20))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
    assert sorted(seen) == list(range(20))


async def test_ping_reports_the_broker_reachable(backend: EventBackend) -> None:
    await backend.ping()


async def test_pruning_keeps_what_a_group_has_not_handled(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.db")
    await log.connect()
    try:
        seen: list[int] = []

        async def handle(envelope: Envelope) -> None:
            seen.append(envelope.open(Ping).n)

        await log.send(envelopes(1, 2, 3))
        async with consuming(log, "fast", handle):
            await eventually(lambda: _at_least(seen, 3))  # type: ignore[arg-type]
        assert await log.prune(older_than=-1) == 3  # everything is old, and "fast" handled it all

        await log.send(envelopes(4, 5))
        started = asyncio.Event()
        async with consuming(log, "slow", _never_finishes(started)):  # "slow" holds its cursor before 4
            await asyncio.wait_for(started.wait(), 5)
        assert await log.prune(older_than=-1) == 0
        assert await log.prune(older_than=3600) == 0  # and nothing is old yet anyway
    finally:
        await log.close()


def _never_finishes(started: asyncio.Event) -> Callable:
    async def handle(envelope: Envelope) -> None:
        started.set()
        await asyncio.Event().wait()

    return handle


async def test_the_bus_forgets_old_processed_marks(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
    await upgrade_to_head(db, MIGRATIONS)
    bus = EventBus(db, SqliteLog(tmp_path / "events.db"), Metrics())
    await bus.backend.connect()
    now = datetime.now(UTC)
    async with db.sessions() as session, session.begin():
        for age_days, event_id in ((30, "old"), (0, "new")):
            await session.execute(
                insert(processed_events).values(
                    consumer_group="g",
                    event_id=event_id,
                    topic="t",
                    outcome="handled",
                    processed_at=now - timedelta(days=age_days),
                )
            )
    await bus.prune()
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(processed_events)) == 1
    await bus.close()
    await db.close()
