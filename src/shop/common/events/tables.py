"""The two event tables every service's database holds, beside (never inside) its own models.

``event_outbox``: events written in the same transaction as the change they announce; the relay
ships them to the broker and deletes them. ``processed_events``: one row per event a consumer group
has handled, written in the handler's transaction, which makes redelivery harmless; an event that no
schema version can read is recorded there too, as a dead letter with its error, and skipped.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

from shop.common.db import UtcDateTime

EVENTS_METADATA = MetaData()

_Seq = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

outbox = Table(
    "event_outbox",
    EVENTS_METADATA,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

processed_events = Table(
    "processed_events",
    EVENTS_METADATA,
    Column("consumer_group", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("processed_at", UtcDateTime, nullable=False),
)


def create_event_tables() -> None:
    """Called from each service's first migration; later changes get migrations of their own."""
    op.create_table(
        "event_outbox",
        Column("seq", _Seq, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "processed_events",
        Column("consumer_group", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("error", Text, nullable=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def drop_event_tables() -> None:
    op.drop_table("processed_events")
    op.drop_table("event_outbox")
