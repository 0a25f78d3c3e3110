"""Events the orders service publishes (its contract with the others)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from shop.common.events import Event


class OrderItem(BaseModel):
    product_id: str
    quantity: int = Field(gt=0)


class OrderPlaced(Event):
    """A customer asked for these items; the catalog answers with StockReserved or StockRejected."""

    topic: ClassVar[str] = "orders.order_placed"
    version: ClassVar[int] = 1

    order_id: str
    user_id: str
    items: list[OrderItem]


class OrderConfirmed(Event):
    topic: ClassVar[str] = "orders.order_confirmed"
    version: ClassVar[int] = 1

    order_id: str
    user_id: str
    total_cents: int


class OrderCancelled(Event):
    """The order will not be fulfilled; any stock reserved for it goes back."""

    topic: ClassVar[str] = "orders.order_cancelled"
    version: ClassVar[int] = 1

    order_id: str
    user_id: str
    reason: str
