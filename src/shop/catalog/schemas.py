"""The catalog API's request and response bodies. Prices are integer cents of the shop's currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
MAX_CENTS = 100_000_000
MAX_STOCK = 1_000_000_000  # well inside a 32-bit INTEGER column, whatever the adjustments add up to
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]


class ProductIn(BaseModel):
    sku: Sku
    name: Name
    description: Description = ""
    price_cents: Cents
    stock: Stock = 0


class ProductUpdate(BaseModel):
    name: Name | None = None
    description: Description | None = None
    price_cents: Cents | None = None


class StockAdjustment(BaseModel):
    """A relative change, so that it cannot undo a reservation made since the caller last looked."""

    delta: Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK)]


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku: str
    name: str
    description: str
    price_cents: int
    stock: int
    created_at: datetime
    updated_at: datetime
