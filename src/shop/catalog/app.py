"""The catalog service's HTTP API: browse products (public), manage them and their stock (admin)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, status
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog import consumers
from shop.catalog.models import Product
from shop.catalog.schemas import MAX_CENTS, MAX_STOCK, ProductIn, ProductOut, ProductUpdate, StockAdjustment
from shop.common.identity import Admin
from shop.common.pagination import Page, Pagination
from shop.common.problems import Problem
from shop.common.service import DbSession, Service, create_service_app
from shop.common.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
SORTS = {"name": Product.name, "price": Product.price_cents, "newest": Product.created_at.desc()}

products = APIRouter(prefix="/products", tags=["products"])


@products.get("", summary="Browse products (public)")
async def list_products(
    session: DbSession,
    page: Pagination,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or SKU")] = None,
    min_price: Annotated[int | None, Query(ge=0, le=MAX_CENTS, description="In cents")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=MAX_CENTS, description="In cents")] = None,
    in_stock: Annotated[bool | None, Query(description="Only products with stock (true) or without")] = None,
    sort: Literal["name", "price", "newest"] = "name",
) -> Page[ProductOut]:
    query = select(Product)
    if q:
        query = query.where(
            or_(Product.name.icontains(q, autoescape=True), Product.sku.icontains(q, autoescape=True))
        )
    if min_price is not None:
        query = query.where(Product.price_cents >= min_price)
    if max_price is not None:
        query = query.where(Product.price_cents <= max_price)
    if in_stock is not None:
        query = query.where(Product.stock > 0 if in_stock else Product.stock == 0)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(SORTS[sort], Product.id).limit(page.limit).offset(page.offset)
    )
    return page.page([ProductOut.model_validate(p) for p in rows], total)


async def _get(session: DbSession, product_id: uuid.UUID) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise Problem(404, "No such product")
    return product


@products.get("/{product_id}", summary="One product (public)", responses={404: {}})
async def get_product(product_id: uuid.UUID, session: DbSession) -> ProductOut:
    return ProductOut.model_validate(await _get(session, product_id))


@products.post("", status_code=status.HTTP_201_CREATED, responses={401: {}, 403: {}, 409: {}})
async def create_product(body: ProductIn, _admin: Admin, session: DbSession) -> ProductOut:
    product = Product(**body.model_dump())
    try:
        async with session.begin():
            session.add(product)
    except IntegrityError:
        raise Problem(409, f"A product with SKU {body.sku!r} exists") from None
    return ProductOut.model_validate(product)


@products.patch("/{product_id}", responses={401: {}, 403: {}, 404: {}})
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, _admin: Admin, session: DbSession
) -> ProductOut:
    async with session.begin():
        product = await _get(session, product_id)
        for field, value in body.model_dump(exclude_none=True).items():
            setattr(product, field, value)
    return ProductOut.model_validate(product)


@products.post("/{product_id}/stock-adjustments", responses={401: {}, 403: {}, 404: {}, 409: {}})
async def adjust_stock(
    product_id: uuid.UUID, body: StockAdjustment, _admin: Admin, session: DbSession
) -> ProductOut:
    async with session.begin():
        await _get(session, product_id)
        result = await session.execute(
            update(Product)
            .where(Product.id == product_id, (Product.stock + body.delta).between(0, MAX_STOCK))
            .values(stock=Product.stock + body.delta)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Problem(409, f"Stock must stay between 0 and {MAX_STOCK}")
    async with session.begin():
        return ProductOut.model_validate(await session.get(Product, product_id, populate_existing=True))


def create_app(settings: Settings | None = None) -> FastAPI:
    service = Service(settings or Settings.from_env("catalog"), migrations=MIGRATIONS)
    consumers.subscribe(service.events)
    return create_service_app(
        service,
        title="Shop catalog",
        description="Products, prices and stock; stock is reserved and released by the order saga.",
        routers=[products],
    )
