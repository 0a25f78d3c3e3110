"""Events the catalog publishes (its contract with the others)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from shop.common.events import Event


class ReservedLine(BaseModel):
    product_id: str
    quantity: int
    unit_price_cents: int


class StockReserved(Event):
    """The order's items are set aside, at these prices (the catalog's prices at reservation time)."""

    topic: ClassVar[str] = "catalog.stock_reserved"
    version: ClassVar[int] = 1

    order_id: str
    lines: list[ReservedLine]
    total_cents: int


class StockRejected(Event):
    topic: ClassVar[str] = "catalog.stock_rejected"
    version: ClassVar[int] = 1

    order_id: str
    reason: str
