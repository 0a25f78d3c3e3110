"""The broker behind one small protocol; ``EVENTS_URL`` picks the implementation.

- ``sqlite:///path/events.db`` — the embedded durable log (:mod:`.sqlite_log`), the local default.
- ``nats://host:4222[?namespace=shop]`` — NATS JetStream (:mod:`.nats_jetstream`), for production.

Both give at-least-once delivery to each consumer group, competing consumers within a group, and drop
a re-sent event with an id they already hold. A delivery whose handler fails comes back with backoff
(:mod:`.redelivery`) without holding back the events behind it; after the last attempt it becomes a
dead letter (:mod:`.dead_letters`) of that group, kept until it is replayed or purged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from shop.common.events.dead_letters import DeadLetter
from shop.common.events.envelope import Envelope

RETENTION_SECONDS = 7 * 24 * 3600.0
"""How long delivered events (and consumers' processed marks) are kept."""

Handler = Callable[[Envelope], Awaitable[None]]
"""Handles one delivery; returning acknowledges it, raising asks for redelivery later."""


class EventBackend(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the broker cannot be reached."""

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        """Store the envelopes durably, in order; an id already stored is dropped."""

    async def consume(self, topic: str, group: str, handler: Handler) -> None:
        """Deliver ``topic`` to ``handler`` as member of ``group``, until cancelled."""

    async def prune(self, older_than: float) -> int:
        """Forget events stored more than ``older_than`` seconds ago that every group has handled."""

    async def dead_letters(self, group: str | None = None) -> list[DeadLetter]:
        """The dead letters, oldest first, of one group or of all."""

    async def replay(self, dead_id: int) -> DeadLetter:
        """Deliver the letter's event to its group again (attempts start over); forget the letter.

        Raises :class:`~.dead_letters.UnknownDeadLetter`."""

    async def purge(self, dead_id: int) -> DeadLetter:
        """Forget the letter without delivering it. Raises :class:`~.dead_letters.UnknownDeadLetter`."""


def backend_from_url(url: str) -> EventBackend:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from shop.common.events.sqlite_log import SqliteLog

        return SqliteLog.from_url(url)
    if scheme in {"nats", "tls"}:
        from shop.common.events.nats_jetstream import NatsJetStream

        return NatsJetStream.from_url(url)
    raise ValueError(f"EVENTS_URL: unsupported scheme {scheme!r} (use sqlite:/// or nats://)")


def retry_delay(attempt: int) -> float:
    """Seconds before the outbox relay tries the broker again after ``attempt`` failures (capped)."""
    return float(min(0.1 * 2 ** (attempt - 1), 5.0))
