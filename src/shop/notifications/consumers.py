"""What the notifications service listens to, and what it says.

Each notification is recorded and sent in the handler's transaction; its ``dedupe_key`` names what it
announces, so a redelivered or replayed event finds the row and sends nothing. (A crash after the
send and before the commit sends it again: at-least-once is the honest promise for email.)
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.common.events import EventBus
from shop.notifications.models import Notification, Recipient
from shop.notifications.senders import Sender
from shop.orders.events import OrderCancelled, OrderConfirmed
from shop.users.events import UserRegistered

GROUP = "notifications"


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Notifier:
    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def _notify(
        self, session: AsyncSession, user_id: str, kind: str, about: str, subject: str, body: str
    ) -> None:
        key = f"{kind}:{about}"
        if await session.scalar(select(Notification.id).where(Notification.dedupe_key == key)):
            return
        uid = uuid.UUID(user_id)
        recipient = await session.get(Recipient, uid)
        email = recipient.email if recipient else None
        channel = await self.sender.send(email, subject, body)
        session.add(
            Notification(
                user_id=uid,
                dedupe_key=key,
                kind=kind,
                subject=subject,
                body=body,
                email=email,
                channel=channel,
            )
        )

    async def welcome(self, session: AsyncSession, event: UserRegistered) -> None:
        await session.merge(Recipient(user_id=uuid.UUID(event.user_id), email=event.email, name=event.name))
        await self._notify(
            session,
            event.user_id,
            "welcome",
            event.user_id,
            "Welcome to the shop",
            f"Hello {event.name}, welcome aboard.",
        )

    async def order_confirmed(self, session: AsyncSession, event: OrderConfirmed) -> None:
        await self._notify(
            session,
            event.user_id,
            "order_confirmed",
            event.order_id,
            f"Order {event.order_id[:8]} confirmed",
            f"Your order {event.order_id} is confirmed. Total: {_money(event.total_cents)}.",
        )

    async def order_cancelled(self, session: AsyncSession, event: OrderCancelled) -> None:
        await self._notify(
            session,
            event.user_id,
            "order_cancelled",
            event.order_id,
            f"Order {event.order_id[:8]} cancelled",
            f"Your order {event.order_id} was cancelled: {event.reason}.",
        )


def subscribe(events: EventBus, sender: Sender) -> None:
    notifier = Notifier(sender)
    events.subscribe(UserRegistered, GROUP, notifier.welcome)
    events.subscribe(OrderConfirmed, GROUP, notifier.order_confirmed)
    events.subscribe(OrderCancelled, GROUP, notifier.order_cancelled)
