"""The notifications service's tables.

``recipients`` is this service's own copy of what it needs from the users service (name, email),
kept from ``UserRegistered`` events, so that sending never calls another service. A notification row
is unique per thing it announces (``dedupe_key``): the record of what was sent, and the guard
against sending it twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shop.common.db import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Recipient(Base):
    __tablename__ = "recipients"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(100))


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    dedupe_key: Mapped[str] = mapped_column(
        String(100), unique=True
    )  # what it is about, e.g. "order_confirmed:<id>"
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
