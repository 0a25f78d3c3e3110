"""The catalog API's request and response bodies. Prices are integer cents of the shop's currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]


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

    delta: Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)]


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
