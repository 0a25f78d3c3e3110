"""How orders ends the saga: the catalog's answer confirms or cancels a pending order.

An answer for an order that is no longer pending (the customer cancelled it meanwhile) changes
nothing: the cancellation already asked the catalog to give back whatever it reserves.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.events import StockRejected, StockReserved
from shop.common.events import EventBus, publish
from shop.orders.events import OrderCancelled, OrderConfirmed
from shop.orders.models import Order, OrderStatus

GROUP = "orders"


async def _pending(session: AsyncSession, order_id: str) -> Order | None:
    order = await session.get(Order, uuid.UUID(order_id), with_for_update=True)
    return order if order is not None and order.status is OrderStatus.PENDING else None


async def confirm(session: AsyncSession, event: StockReserved) -> None:
    order = await _pending(session, event.order_id)
    if order is None:
        return
    prices = {uuid.UUID(line.product_id): line.unit_price_cents for line in event.lines}
    for line in order.lines:
        line.unit_price_cents = prices[line.product_id]
    order.total_cents = event.total_cents
    order.status = OrderStatus.CONFIRMED
    await publish(
        session,
        OrderConfirmed(order_id=str(order.id), user_id=str(order.user_id), total_cents=event.total_cents),
    )


async def reject(session: AsyncSession, event: StockRejected) -> None:
    order = await _pending(session, event.order_id)
    if order is None:
        return
    order.status = OrderStatus.CANCELLED
    order.cancel_reason = event.reason
    await publish(
        session, OrderCancelled(order_id=str(order.id), user_id=str(order.user_id), reason=event.reason)
    )


def subscribe(events: EventBus) -> None:
    events.subscribe(StockReserved, GROUP, confirm)
    events.subscribe(StockRejected, GROUP, reject)
