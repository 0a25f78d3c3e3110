"""The orders API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shop.orders.models import OrderStatus


class ItemIn(BaseModel):
    product_id: uuid.UUID
    quantity: Annotated[int, Field(ge=1, le=1000)]


class OrderIn(BaseModel):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)]


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    quantity: int
    unit_price_cents: int | None = Field(description="Set when the catalog reserved the stock")


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    status: OrderStatus
    total_cents: int | None
    cancel_reason: str | None
    lines: list[LineOut]
    created_at: datetime
    updated_at: datetime
