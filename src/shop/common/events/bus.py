"""A service's events: the outbox relay out, idempotent subscriptions in, over one backend.

A subscription handler gets a session whose transaction also records the event as processed for its
consumer group; handler effects, the processed mark and any events the handler publishes commit
together or not at all. A redelivered event finds its mark and is acknowledged without running the
handler again. An event no schema version can read is recorded as a dead letter and skipped. Marks
and delivered events older than the retention (7 days) are pruned hourly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shop.common import context, faults, tracing
from shop.common.background import Background
from shop.common.db import Database
from shop.common.events.backend import RETENTION_SECONDS, EventBackend
from shop.common.events.cancellation import finish_first
from shop.common.events.envelope import Envelope, Event, EventSchemaError
from shop.common.events.outbox import ON_COMMIT, OutboxRelay
from shop.common.events.tables import processed_events
from shop.common.metrics import Metrics

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 3600.0
E = TypeVar("E", bound=Event)
EventHandler = Callable[[AsyncSession, E], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription(Generic[E]):
    schema: type[E]
    group: str
    handler: EventHandler[E]


class EventBus:
    def __init__(self, db: Database, backend: EventBackend, metrics: Metrics, *, fault: str = "") -> None:
        self.db = db
        self.backend = backend
        self.metrics = metrics
        self.relay = OutboxRelay(db, backend, metrics)
        self.fault = fault
        self.subscriptions: list[Subscription[Any]] = []
        db.session_info[ON_COMMIT] = self._committed

    def subscribe(self, schema: type[E], group: str, handler: EventHandler[E]) -> None:
        """Register before :meth:`start`; ``group`` names the consumers that share the work."""
        self.subscriptions.append(Subscription(schema, group, handler))

    def _committed(self, topics: Iterable[str]) -> None:
        faults.exit_after_commit(self.fault, topics)
        self.relay.wake()

    async def start(self, background: Background) -> None:
        await self.backend.connect()
        background.spawn(self.relay.run(), name="outbox-relay")
        background.spawn(self._housekeeping(), name="events-housekeeping")
        for sub in self.subscriptions:
            background.spawn(
                self.backend.consume(sub.schema.topic, sub.group, self._deliverer(sub)),
                name=f"consume:{sub.group}:{sub.schema.topic}",
            )

    async def close(self) -> None:
        await self.backend.close()

    async def prune(self, older_than: float = RETENTION_SECONDS) -> None:
        """Forget old processed marks and old delivered events: redelivery never reaches that far back."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        async with self.db.sessions() as session, session.begin():
            await session.execute(delete(processed_events).where(processed_events.c.processed_at < cutoff))
        await self.backend.prune(older_than)

    async def _housekeeping(self) -> None:
        while True:
            try:
                await finish_first(self.prune())
            except Exception:
                log.exception("event housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    async def ping(self) -> None:
        await self.backend.ping()

    def _deliverer(self, sub: Subscription[E]) -> Callable[[Envelope], Awaitable[None]]:
        async def deliver(envelope: Envelope) -> None:
            token = context.bind(context.correlation_from(envelope.request_id, envelope.traceparent))
            try:
                with tracing.consuming(envelope.topic, sub.group, envelope.id, envelope.traceparent):
                    outcome = await finish_first(self._handle(sub, envelope))
            except Exception:
                self.metrics.events_handled.labels(envelope.topic, sub.group, "failed").inc()
                raise
            finally:
                context.unbind(token)
            self.metrics.events_handled.labels(envelope.topic, sub.group, outcome).inc()

        return deliver

    async def _handle(self, sub: Subscription[E], envelope: Envelope) -> str:
        try:
            event = envelope.open(sub.schema)
        except EventSchemaError as exc:
            log.error("dead letter: %s", exc, extra={"event_id": envelope.id, "group": sub.group})
            async with self.db.sessions() as session, session.begin():
                await self._mark(session, sub.group, envelope, "dead_letter", str(exc))
            return "dead_letter"
        async with self.db.sessions() as session, session.begin():
            if not await self._mark(session, sub.group, envelope, "handled", None):
                return "duplicate"
            await sub.handler(session, event)
        return "handled"

    async def _mark(
        self, session: AsyncSession, group: str, envelope: Envelope, outcome: str, error: str | None
    ) -> bool:
        """Insert the processed mark first: a concurrent duplicate then waits on it, then skips."""
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        statement = (
            dialect.insert(processed_events)
            .values(
                consumer_group=group,
                event_id=envelope.id,
                topic=envelope.topic,
                outcome=outcome,
                error=error,
                processed_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
        )
        result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
