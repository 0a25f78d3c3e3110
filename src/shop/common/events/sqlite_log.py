"""The embedded durable log: one SQLite file (WAL) shared by every service process on the machine.

Rules:
- ``events`` is append-only, ordered by ``seq``; an event id is stored once (a re-send is ignored).
- Each (consumer group, topic) has one cursor row: the last ``seq`` handled, and a lease. Only the
  lease holder reads and advances it, so replicas of one service compete for a topic instead of each
  handling every event. A lease lasts ``LEASE_SECONDS`` and is renewed while its holder polls; a
  holder that dies is replaced once its lease runs out (at once if it stopped cleanly).
- The cursor moves past an event only after its handler returned: at-least-once. A failing handler
  is retried with backoff and holds back the events behind it (per-topic order is kept).
- An event is pruned once it is older than the retention and every cursor of its topic is past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import aiosqlite

from shop.common.events.backend import Handler, retry_delay
from shop.common.events.envelope import Envelope

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
"""


class SqliteLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()  # one connection: statements of two coroutines must not interleave
        self._owners: set[str] = set()

    def __repr__(self) -> str:
        return f"SqliteLog({str(self.path)!r})"

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(Path(url.removeprefix("sqlite:///")))

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
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                await self.db.executemany(
                    "INSERT OR IGNORE INTO events (id, topic, envelope, stored_at) VALUES (?, ?, ?, ?)", rows
                )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

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
                batch = await self._claim(topic, group, owner)
                if not batch:
                    await asyncio.sleep(idle)
                    idle = min(idle * 2, IDLE_POLL[1])
                    continue
                idle = IDLE_POLL[0]
                for seq, raw in batch:
                    if not await self._deliver(topic, group, owner, handler, Envelope.from_json(raw)):
                        break  # the lease went to another replica while we retried
                    if not await self._advance(topic, group, owner, seq):
                        break
        finally:
            self._owners.discard(owner)
            with contextlib.suppress(Exception):  # let another replica take over now, not at lease expiry
                await self._release(owner)

    async def _deliver(
        self, topic: str, group: str, owner: str, handler: Handler, envelope: Envelope
    ) -> bool:
        attempt = 1
        while True:
            try:
                await handler(envelope)
                return True
            except Exception:
                log.exception(
                    "handler failed", extra={"event_id": envelope.id, "topic": topic, "attempt": attempt}
                )
            await asyncio.sleep(retry_delay(attempt))
            attempt += 1
            if not await self._renew(topic, group, owner):
                return False

    async def _claim(self, topic: str, group: str, owner: str) -> list[tuple[int, str]]:
        """Take or keep the lease, then read the next batch; empty when another replica holds it."""
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
                "SELECT seq, envelope FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (topic, position, BATCH),
            )
            return [(seq, raw) for seq, raw in await cursor.fetchall()]

    async def _take_lease(self, topic: str, group: str, owner: str, now: float) -> bool:
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            await self.db.execute(
                "INSERT OR IGNORE INTO cursors (consumer_group, topic) VALUES (?, ?)", (group, topic)
            )
            cursor = await self.db.execute(
                "UPDATE cursors SET owner = ?, lease_until = ? WHERE consumer_group = ? AND topic = ?"
                " AND (owner = ? OR owner IS NULL OR lease_until < ?)",
                (owner, now + LEASE_SECONDS, group, topic, owner, now),
            )
            await self.db.execute("COMMIT")
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        return cursor.rowcount == 1

    async def _position(self, topic: str, group: str) -> int:
        cursor = await self.db.execute(
            "SELECT position FROM cursors WHERE consumer_group = ? AND topic = ?", (group, topic)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _renew(self, topic: str, group: str, owner: str) -> bool:
        async with self._lock:
            return await self._take_lease(topic, group, owner, time.time())

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
