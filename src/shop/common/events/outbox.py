"""The transactional outbox: ``publish`` in the caller's transaction, a relay that ships afterwards.

``publish(session, event)`` only inserts a row, so the event exists if and only if the change it
announces was committed. After the commit the relay is woken (same process) and ships rows to the
broker in ``seq`` order, deleting them in the same transaction. A crash between shipping and deleting
ships a row twice; the broker drops the repeated id and consumers are idempotent anyway. Replicas of
one service share the table: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shop.common.db import Database
from shop.common.events.backend import EventBackend, retry_delay
from shop.common.events.cancellation import finish_first
from shop.common.events.envelope import Envelope, Event
from shop.common.events.tables import outbox
from shop.common.metrics import Metrics

log = logging.getLogger(__name__)

BATCH = 100
POLL_SECONDS = 1.0  # rows left by a crashed replica, or committed by another process
SOURCE = "source"  # session.info keys, set by Database(service=...)
ON_COMMIT = "on_outbox_commit"
_PENDING = "outbox_pending_topics"


async def publish(session: AsyncSession, event_: Event) -> Envelope:
    """Record ``event_`` in the session's transaction; it is shipped once that transaction commits."""
    envelope = Envelope.wrap(event_, source=session.info.get(SOURCE, "unknown"))
    await session.execute(
        insert(outbox).values(
            event_id=envelope.id,
            topic=envelope.topic,
            envelope=envelope.to_json(),
            created_at=datetime.now(UTC),
        )
    )
    session.info.setdefault(_PENDING, set()).add(envelope.topic)
    return envelope


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    topics = session.info.pop(_PENDING, None)
    callback: Callable[[Iterable[str]], None] | None = session.info.get(ON_COMMIT)
    if topics and callback is not None:
        callback(topics)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


class OutboxRelay:
    def __init__(self, db: Database, backend: EventBackend, metrics: Metrics) -> None:
        self.db = db
        self.backend = backend
        self.metrics = metrics
        self._wake = asyncio.Event()

    def wake(self, _topics: Any = None) -> None:
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                shipped = await finish_first(self.ship_once())  # not cut inside a statement (.cancellation)
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox relay failed", extra={"attempt": failures})
                await asyncio.sleep(retry_delay(failures))
                continue
            if shipped < BATCH:
                # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation that arrives
                # as the wake-up does, and the relay would outlive its service (see .cancellation)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._wake.wait()

    async def ship_once(self) -> int:
        async with self.db.sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(outbox.c.seq, outbox.c.envelope)
                    .order_by(outbox.c.seq)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            envelopes = [Envelope.from_json(row.envelope) for row in rows]
            await self.backend.send(envelopes)
            await session.execute(delete(outbox).where(outbox.c.seq.in_([row.seq for row in rows])))
        for envelope in envelopes:
            self.metrics.events_published.labels(envelope.topic).inc()
        return len(rows)
