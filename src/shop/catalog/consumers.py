"""How the catalog takes part in the order saga: reserve on OrderPlaced, release on OrderCancelled.

A reservation row per order makes each decision once: a second OrderPlaced for the same order (a
retried publish with a new event id cannot happen, but an operator's replay can) finds it and does
nothing; an OrderCancelled that overtakes its OrderPlaced leaves a ``released`` row, so the late
OrderPlaced reserves nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.events import ReservedLine, StockRejected, StockReserved
from shop.catalog.models import Product, Reservation, ReservationLine
from shop.common.events import EventBus, publish
from shop.orders.events import OrderCancelled, OrderPlaced

GROUP = "catalog"


class _OutOfStock(Exception):
    pass


async def reserve_stock(session: AsyncSession, event: OrderPlaced) -> None:
    order_id = uuid.UUID(event.order_id)
    if await session.get(Reservation, order_id) is not None:
        return
    wanted: Counter[uuid.UUID] = Counter()
    for item in event.items:
        wanted[uuid.UUID(item.product_id)] += item.quantity
    products = {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_(wanted)))}
    if missing := [str(pid) for pid in wanted if pid not in products]:
        await _reject(session, order_id, f"unknown product {missing[0]}")
        return
    try:
        async with session.begin_nested():  # all items or none
            for product_id in sorted(wanted):  # a fixed order, so two reservations cannot deadlock
                await _take(session, product_id, wanted[product_id])
    except _OutOfStock as exc:
        await _reject(session, order_id, f"not enough stock for product {exc}")
        return
    lines = [
        ReservationLine(product_id=pid, quantity=qty, unit_price_cents=products[pid].price_cents)
        for pid, qty in sorted(wanted.items())
    ]
    session.add(Reservation(order_id=order_id, status="reserved", lines=lines))
    await publish(
        session,
        StockReserved(
            order_id=event.order_id,
            lines=[
                ReservedLine(
                    product_id=str(x.product_id), quantity=x.quantity, unit_price_cents=x.unit_price_cents
                )
                for x in lines
            ],
            total_cents=sum(x.quantity * x.unit_price_cents for x in lines),
        ),
    )


async def _take(session: AsyncSession, product_id: uuid.UUID, quantity: int) -> None:
    result = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _OutOfStock(product_id)


async def _reject(session: AsyncSession, order_id: uuid.UUID, reason: str) -> None:
    session.add(Reservation(order_id=order_id, status="rejected"))
    await publish(session, StockRejected(order_id=str(order_id), reason=reason))


async def release_stock(session: AsyncSession, event: OrderCancelled) -> None:
    order_id = uuid.UUID(event.order_id)
    reservation = await session.get(Reservation, order_id)
    if reservation is None:
        session.add(Reservation(order_id=order_id, status="released"))
        return
    if reservation.status != "reserved":
        return
    for line in sorted(reservation.lines, key=lambda x: x.product_id):
        await session.execute(
            update(Product)
            .where(Product.id == line.product_id)
            .values(stock=Product.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )
    reservation.status = "released"


def subscribe(events: EventBus) -> None:
    events.subscribe(OrderPlaced, GROUP, reserve_stock)
    events.subscribe(OrderCancelled, GROUP, release_stock)
