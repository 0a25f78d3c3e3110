"""The embedded durable log: one SQLite file (WAL) shared by every service process on the machine.

Rules:
- ``events`` is append-only, ordered by ``seq``; an event id is stored once (a re-send is ignored).
- Each (consumer group, topic) has one cursor row: the last ``seq`` handled, and a lease. Only the
  lease holder reads and advances it, so replicas of one service compete for a topic instead of each
  handling every event. A lease lasts ``LEASE_SECONDS`` and is renewed while its holder polls; a
  holder that dies is replaced once its lease runs out (at once if it stopped cleanly).
- The cursor moves past an event only after its handler returned, or after its failure was written
  to ``retries`` in the same transaction: at-least-once, and a failing event never holds back the
  ones behind it. A retry row keeps its own copy of the event, the failed attempts so far and the
  ``next_attempt_at`` its backoff allows; the lease holder takes due retries before new events.
- The attempt that exhausts the policy (:mod:`.redelivery`) moves the row to ``dead_letters``, with
  the last error, in one transaction. Replaying a letter turns it back into a retry that is due now,
  with no attempts counted.
- An event is pruned once it is older than the retention and every cursor of its topic is past it
  (retries and dead letters hold copies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs

import aiosqlite

from shop.common.events.backend import Handler
from shop.common.events.cancellation import raise_if_cancelled
from shop.common.events.dead_letters import DeadLetter, UnknownDeadLetter, error_text
from shop.common.events.envelope import Envelope
from shop.common.events.redelivery import Redelivery

log = logging.getLogger(__name__)

LEASE_SECONDS = 5.0
BATCH = 100
IDLE_POLL = (0.02, 0.25)  # seconds: right after an event, and the most an idle consumer waits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    envelope TEXT NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, seq);
CREATE TABLE IF NOT EXISTS cursors (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer_group, topic)
);
CREATE TABLE IF NOT EXISTS retries (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    event_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT NOT NULL,
    PRIMARY KEY (consumer_group, topic, event_id)
);
CREATE INDEX IF NOT EXISTS retries_due ON retries (consumer_group, topic, next_attempt_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    event_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    dead_at REAL NOT NULL
);
"""
_DEAD_COLUMNS = "id, consumer_group, topic, event_id, envelope, attempts, error, dead_at"


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One event to hand to a handler: new from the log (``seq``) or a due retry (``seq`` None)."""

    event_id: str
    raw: str
    failed_before: int
    seq: int | None


class SqliteLog:
    def __init__(self, path: Path, redelivery: Redelivery | None = None) -> None:
        self.path = path
        self.redelivery = redelivery or Redelivery()
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()  # one connection: statements of two coroutines must not interleave
        self._owners: set[str] = set()

    def __repr__(self) -> str:
        return f"SqliteLog({str(self.path)!r})"

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``sqlite:///relative.db`` or ``sqlite:////absolute.db``, with :mod:`.redelivery` parameters."""
        location, _, query = url.partition("?")
        path = location.removeprefix("sqlite:///")
        if not path:
            raise ValueError(f"EVENTS_URL: {url!r} names no file (use sqlite:///path/events.db)")
        return cls(Path(path), Redelivery.from_query(parse_qs(query)))

    async def connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None, timeout=15)
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self._db.execute("PRAGMA synchronous = NORMAL")
        async with self._lock:
            await self._db.executescript(_SCHEMA)

    async def close(self) -> None:
        if self._db is None:
            return
        if self._owners:  # hand our leases over now rather than after they expire
            async with self._lock:
                marks = ",".join("?" * len(self._owners))
                await self._db.execute(
                    f"UPDATE cursors SET owner = NULL, lease_until = 0 WHERE owner IN ({marks})",  # noqa: S608
                    tuple(self._owners),
                )
        await self._db.close()
        self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError(f"{self!r} is not connected")
        return self._db

    async def ping(self) -> None:
        async with self._lock:
            await self.db.execute("SELECT 1")

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        rows = [(e.id, e.topic, e.to_json(), time.time()) for e in envelopes]
        async with self._transaction():
            await self.db.executemany(
                "INSERT OR IGNORE INTO events (id, topic, envelope, stored_at) VALUES (?, ?, ?, ?)", rows
            )

    async def prune(self, older_than: float) -> int:
        """Events older than that which no cursor of their topic still has ahead of it."""
        async with self._lock:
            cursor = await self.db.execute(
                "DELETE FROM events WHERE stored_at < ? AND NOT EXISTS (SELECT 1 FROM cursors"
                " WHERE cursors.topic = events.topic AND cursors.position < events.seq)",
                (time.time() - older_than,),
            )
            return cursor.rowcount

    async def consume(self, topic: str, group: str, handler: Handler) -> None:
        owner = uuid.uuid4().hex
        self._owners.add(owner)
        idle = IDLE_POLL[0]
        try:
            while True:
                raise_if_cancelled()
                batch = await self._claim(topic, group, owner)
                if not batch:
                    await asyncio.sleep(idle)
                    idle = min(idle * 2, IDLE_POLL[1])
                    continue
                idle = IDLE_POLL[0]
                for delivery in batch:
                    raise_if_cancelled()
                    if not await self._deliver(topic, group, owner, handler, delivery):
                        break  # the lease went to another replica
        finally:
            self._owners.discard(owner)
            with contextlib.suppress(Exception):  # let another replica take over now, not at lease expiry
                await self._release(owner)

    async def _deliver(
        self, topic: str, group: str, owner: str, handler: Handler, delivery: _Delivery
    ) -> bool:
        """Run the handler once; record the outcome. False when we no longer hold the lease."""
        attempt = delivery.failed_before + 1
        try:
            await handler(Envelope.from_json(delivery.raw))
        except Exception as exc:
            log.warning(
                "handler failed",
                exc_info=True,
                extra={"event_id": delivery.event_id, "topic": topic, "group": group, "attempt": attempt},
            )
            return await self._failed(topic, group, owner, delivery, error_text(exc))
        if delivery.seq is not None:
            return await self._advance(topic, group, owner, delivery.seq)
        return await self._retried(topic, group, owner, delivery.event_id)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self._lock, self._begun():
            yield

    @contextlib.asynccontextmanager
    async def _begun(self) -> AsyncIterator[None]:
        """A write transaction on the connection; the caller holds the lock."""
        try:
            # inside the try: a BEGIN whose await is cancelled still runs on aiosqlite's thread, and
            # the ROLLBACK queued after it keeps the connection from staying in a transaction
            await self.db.execute("BEGIN IMMEDIATE")
            yield
            await self.db.execute("COMMIT")
        except BaseException:
            # Likewise a cancelled COMMIT may have committed: then there is nothing to roll back, and
            # the cancellation must not turn into an OperationalError.
            with contextlib.suppress(sqlite3.OperationalError):
                await self.db.execute("ROLLBACK")
            raise

    async def _holds(self, topic: str, group: str, owner: str) -> bool:
        cursor = await self.db.execute(
            "SELECT 1 FROM cursors WHERE consumer_group = ? AND topic = ? AND owner = ?",
            (group, topic, owner),
        )
        return await cursor.fetchone() is not None

    async def _failed(self, topic: str, group: str, owner: str, delivery: _Delivery, error: str) -> bool:
        """Schedule the next attempt, or set the event aside; and move the cursor past a new event."""
        attempts = delivery.failed_before + 1
        now = time.time()
        async with self._transaction():
            if not await self._holds(topic, group, owner):
                return False
            if self.redelivery.exhausted(attempts):
                await self.db.execute(
                    "INSERT INTO dead_letters (consumer_group, topic, event_id, envelope, attempts, error,"
                    " dead_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (group, topic, delivery.event_id, delivery.raw, attempts, error, now),
                )
                await self.db.execute(
                    "DELETE FROM retries WHERE consumer_group = ? AND topic = ? AND event_id = ?",
                    (group, topic, delivery.event_id),
                )
                log.error(
                    "dead letter: %s",
                    error,
                    extra={
                        "event_id": delivery.event_id,
                        "topic": topic,
                        "group": group,
                        "attempt": attempts,
                    },
                )
            else:
                await self.db.execute(
                    "INSERT OR REPLACE INTO retries (consumer_group, topic, event_id, envelope, attempts,"
                    " next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        group,
                        topic,
                        delivery.event_id,
                        delivery.raw,
                        attempts,
                        now + self.redelivery.delay(attempts, random.random()),  # noqa: S311 - jitter only
                        error,
                    ),
                )
            if delivery.seq is not None:
                await self._move_cursor(topic, group, delivery.seq, now)
        return True

    async def _retried(self, topic: str, group: str, owner: str, event_id: str) -> bool:
        async with self._transaction():
            if not await self._holds(topic, group, owner):
                return False
            await self.db.execute(
                "DELETE FROM retries WHERE consumer_group = ? AND topic = ? AND event_id = ?",
                (group, topic, event_id),
            )
        return True

    async def _claim(self, topic: str, group: str, owner: str) -> list[_Delivery]:
        """Take or keep the lease, then read due retries and the next new events; empty when another
        replica holds the lease."""
        now = time.time()
        async with self._lock:
            cursor = await self.db.execute(
                "SELECT position, owner, lease_until FROM cursors WHERE consumer_group = ? AND topic = ?",
                (group, topic),
            )
            row = await cursor.fetchone()
            if row is None or row[1] != owner or row[2] - now < LEASE_SECONDS / 2:
                if not await self._take_lease(topic, group, owner, now):
                    return []
                position = await self._position(topic, group)
            else:
                position = row[0]
            cursor = await self.db.execute(
                "SELECT event_id, envelope, attempts FROM retries WHERE consumer_group = ? AND topic = ?"
                " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                (group, topic, now, BATCH),
            )
            due = [
                _Delivery(event_id, raw, attempts, None)
                for event_id, raw, attempts in await cursor.fetchall()
            ]
            cursor = await self.db.execute(
                "SELECT seq, id, envelope FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (topic, position, BATCH),
            )
            fresh = [_Delivery(event_id, raw, 0, seq) for seq, event_id, raw in await cursor.fetchall()]
            return due + fresh

    async def _take_lease(self, topic: str, group: str, owner: str, now: float) -> bool:
        async with self._begun():
            await self.db.execute(
                "INSERT OR IGNORE INTO cursors (consumer_group, topic) VALUES (?, ?)", (group, topic)
            )
            cursor = await self.db.execute(
                "UPDATE cursors SET owner = ?, lease_until = ? WHERE consumer_group = ? AND topic = ?"
                " AND (owner = ? OR owner IS NULL OR lease_until < ?)",
                (owner, now + LEASE_SECONDS, group, topic, owner, now),
            )
        return cursor.rowcount == 1

    async def _position(self, topic: str, group: str) -> int:
        cursor = await self.db.execute(
            "SELECT position FROM cursors WHERE consumer_group = ? AND topic = ?", (group, topic)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _release(self, owner: str) -> None:
        if self._db is not None:
            async with self._lock:
                await self.db.execute(
                    "UPDATE cursors SET owner = NULL, lease_until = 0 WHERE owner = ?", (owner,)
                )

    async def _advance(self, topic: str, group: str, owner: str, seq: int) -> bool:
        async with self._lock:
            cursor = await self.db.execute(
                "UPDATE cursors SET position = ?, lease_until = ? WHERE consumer_group = ? AND topic = ?"
                " AND owner = ?",
                (seq, time.time() + LEASE_SECONDS, group, topic, owner),
            )
            return cursor.rowcount == 1

    async def _move_cursor(self, topic: str, group: str, seq: int, now: float) -> None:
        await self.db.execute(
            "UPDATE cursors SET position = ?, lease_until = ? WHERE consumer_group = ? AND topic = ?",
            (seq, now + LEASE_SECONDS, group, topic),
        )

    async def dead_letters(self, group: str | None = None) -> list[DeadLetter]:
        where, args = ("WHERE consumer_group = ?", (group,)) if group is not None else ("", ())
        async with self._lock:
            cursor = await self.db.execute(
                f"SELECT {_DEAD_COLUMNS} FROM dead_letters {where} ORDER BY id",  # noqa: S608 - fixed parts
                args,
            )
            return [DeadLetter(*row) for row in await cursor.fetchall()]

    async def replay(self, dead_id: int) -> DeadLetter:
        async with self._transaction():
            letter = await self._take_letter(dead_id)
            await self.db.execute(
                "INSERT OR REPLACE INTO retries (consumer_group, topic, event_id, envelope, attempts,"
                " next_attempt_at, last_error) VALUES (?, ?, ?, ?, 0, 0, ?)",
                (letter.group, letter.topic, letter.event_id, letter.envelope, letter.error),
            )
        return letter

    async def purge(self, dead_id: int) -> DeadLetter:
        async with self._transaction():
            return await self._take_letter(dead_id)

    async def _take_letter(self, dead_id: int) -> DeadLetter:
        cursor = await self.db.execute(
            f"SELECT {_DEAD_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608 - fixed parts
            (dead_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            raise UnknownDeadLetter(dead_id)
        await self.db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
        return DeadLetter(*row)
