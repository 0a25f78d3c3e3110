"""The orders service's HTTP API: place (idempotently), list, get and cancel orders."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.common.events import publish
from shop.common.identity import CurrentUser, Identity
from shop.common.pagination import Page, Pagination
from shop.common.problems import Problem
from shop.common.service import DbSession, Service, create_service_app
from shop.common.settings import Settings
from shop.orders import consumers
from shop.orders.events import OrderCancelled, OrderItem, OrderPlaced
from shop.orders.models import IdempotencyRecord, Order, OrderLine, OrderStatus
from shop.orders.schemas import OrderIn, OrderOut

MIGRATIONS = Path(__file__).parent / "migrations"
REPLAYED = "Idempotent-Replayed"

orders = APIRouter(prefix="/orders", tags=["orders"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried POST safe: a repeated key returns the first answer",
    ),
]


def _replay(record: IdempotencyRecord, request_hash: str) -> JSONResponse:
    if record.request_hash != request_hash:
        raise Problem(422, "This Idempotency-Key was used with a different request body")
    return JSONResponse(json.loads(record.response_body), record.status_code, headers={REPLAYED: "true"})


@orders.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderOut,
    summary="Place an order; it is PENDING until the catalog reserves the stock",
    responses={401: {}, 422: {"description": "Invalid body, or a key reused with another body"}},
)
async def place_order(
    body: OrderIn,
    identity: CurrentUser,
    session: DbSession,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut | JSONResponse:
    user_id = uuid.UUID(identity.user_id)
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    try:
        async with session.begin():
            if idempotency_key and (
                record := await session.get(IdempotencyRecord, (user_id, idempotency_key))
            ):
                return _replay(record, request_hash)
            out = await _place(session, user_id, body)
            if idempotency_key:
                session.add(
                    IdempotencyRecord(
                        user_id=user_id,
                        key=idempotency_key,
                        request_hash=request_hash,
                        status_code=status.HTTP_202_ACCEPTED,
                        response_body=out.model_dump_json(),
                    )
                )
    except IntegrityError:  # the same key, committed by a concurrent request first
        if not idempotency_key:
            raise
        async with session.begin():
            record = await session.get(IdempotencyRecord, (user_id, idempotency_key))
            if record is None:
                raise
            return _replay(record, request_hash)
    response.headers["Location"] = f"/orders/{out.id}"
    return out


async def _place(session: DbSession, user_id: uuid.UUID, body: OrderIn) -> OrderOut:
    quantities: dict[uuid.UUID, int] = {}
    for item in body.items:
        quantities[item.product_id] = quantities.get(item.product_id, 0) + item.quantity
    order = Order(
        user_id=user_id,
        status=OrderStatus.PENDING,
        lines=[OrderLine(product_id=pid, quantity=qty) for pid, qty in sorted(quantities.items())],
    )
    session.add(order)
    await session.flush()
    await publish(
        session,
        OrderPlaced(
            order_id=str(order.id),
            user_id=str(user_id),
            items=[
                OrderItem(product_id=str(line.product_id), quantity=line.quantity) for line in order.lines
            ],
        ),
    )
    return OrderOut.model_validate(order)


@orders.get("", summary="My orders (all orders, for an admin)", responses={401: {}})
async def list_orders(
    identity: CurrentUser,
    session: DbSession,
    page: Pagination,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Admin only: one user's orders")] = None,
) -> Page[OrderOut]:
    query = select(Order)
    if not identity.is_admin:
        query = query.where(Order.user_id == uuid.UUID(identity.user_id))
    elif user_id is not None:
        query = query.where(Order.user_id == user_id)
    if order_status is not None:
        query = query.where(Order.status == order_status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Order.created_at.desc(), Order.id).limit(page.limit).offset(page.offset)
    )
    return page.page([OrderOut.model_validate(o) for o in rows], total)


async def _get(session: DbSession, order_id: uuid.UUID, identity: Identity) -> Order:
    order = await session.get(Order, order_id)
    if order is None or not identity.can_see(str(order.user_id)):
        raise Problem(
            404, "No such order"
        )  # not 403: whether someone else's order exists is not yours to know
    return order


@orders.get("/{order_id}", responses={401: {}, 404: {}})
async def get_order(order_id: uuid.UUID, identity: CurrentUser, session: DbSession) -> OrderOut:
    return OrderOut.model_validate(await _get(session, order_id, identity))


@orders.post(
    "/{order_id}/cancel",
    summary="Cancel an order; stock reserved for it is given back",
    responses={401: {}, 404: {}},
)
async def cancel_order(order_id: uuid.UUID, identity: CurrentUser, session: DbSession) -> OrderOut:
    async with session.begin():
        order = await _get(session, order_id, identity)
        if order.status is not OrderStatus.CANCELLED:
            order.status = OrderStatus.CANCELLED
            order.cancel_reason = (
                "cancelled by an admin" if identity.is_admin else "cancelled by the customer"
            )
            await publish(
                session,
                OrderCancelled(
                    order_id=str(order.id), user_id=str(order.user_id), reason=order.cancel_reason
                ),
            )
    return OrderOut.model_validate(order)


def create_app(settings: Settings | None = None) -> FastAPI:
    service = Service(settings or Settings.from_env("orders"), migrations=MIGRATIONS)
    consumers.subscribe(service.events)
    return create_service_app(
        service,
        title="Shop orders",
        description="Orders, placed as a saga with the catalog; POST /orders honours Idempotency-Key.",
        routers=[orders],
    )
