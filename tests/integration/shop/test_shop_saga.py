"""The four services in one process, sharing one event backend: the saga and its edge cases.

The same flows run as separate processes in tests/e2e/shop; here they are quicker to vary.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shop.catalog.app import create_app as catalog_app
from shop.notifications.app import create_app as notifications_app
from shop.orders.app import create_app as orders_app
from shop.testing import eventually, identity_headers, serve_asgi, settings_for
from shop.users.app import create_app as users_app

ADMIN = identity_headers(str(uuid.uuid4()), role="admin")


@dataclass
class Shop:
    users: httpx.AsyncClient
    catalog: httpx.AsyncClient
    orders: httpx.AsyncClient
    notifications: httpx.AsyncClient

    async def customer(self, email: str = "carol@example.com") -> dict[str, str]:
        response = await self.users.post(
            "/auth/register", json={"email": email, "password": "password123", "name": "Carol"}
        )
        return identity_headers(response.json()["id"])

    async def product(self, stock: int, price_cents: int = 1250) -> str:
        body = {
            "sku": f"SKU-{uuid.uuid4().hex[:8]}",
            "name": "Mug",
            "price_cents": price_cents,
            "stock": stock,
        }
        response = await self.catalog.post("/products", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def stock(self, product_id: str) -> int:
        return int((await self.catalog.get(f"/products/{product_id}")).json()["stock"])

    async def settled(self, order_id: str, who: dict[str, str]) -> dict:
        async def probe() -> dict | None:
            order = (await self.orders.get(f"/orders/{order_id}", headers=who)).json()
            return order if order["status"] != "PENDING" else None

        return await eventually(probe, what=f"order {order_id} to settle")

    async def notifications_of(self, who: dict[str, str], count: int) -> list[dict]:
        async def probe() -> list[dict] | None:
            items = (await self.notifications.get("/notifications", headers=who)).json()["items"]
            return items if len(items) >= count else None

        return await eventually(probe, what=f"{count} notifications")


@pytest.fixture
async def shop(tmp_path: Path, events_url: str) -> AsyncIterator[Shop]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for name, factory in (
            ("users", users_app),
            ("catalog", catalog_app),
            ("orders", orders_app),
            ("notifications", notifications_app),
        ):
            app = factory(settings_for(name, tmp_path, events_url=events_url))
            clients.append(await stack.enter_async_context(serve_asgi(app, name)))
        yield Shop(*clients)


async def test_an_order_is_confirmed_priced_and_notified(shop: Shop) -> None:
    carol = await shop.customer()
    mug = await shop.product(stock=5, price_cents=1250)
    placed = await shop.orders.post(
        "/orders", json={"items": [{"product_id": mug, "quantity": 2}]}, headers=carol
    )
    assert placed.status_code == 202 and placed.json()["status"] == "PENDING"
    assert placed.headers["location"] == f"/orders/{placed.json()['id']}"

    order = await shop.settled(placed.json()["id"], carol)
    assert order["status"] == "CONFIRMED" and order["total_cents"] == 2500
    assert order["created_at"].endswith("Z") and order["updated_at"].endswith("Z")  # read back as UTC
    assert order["lines"] == [{"product_id": mug, "quantity": 2, "unit_price_cents": 1250}]
    assert await shop.stock(mug) == 3
    kinds = {n["kind"] for n in await shop.notifications_of(carol, 2)}
    assert kinds == {"welcome", "order_confirmed"}


async def test_an_order_beyond_the_stock_is_cancelled_and_takes_nothing(shop: Shop) -> None:
    carol = await shop.customer()
    mug, plate = await shop.product(stock=5), await shop.product(stock=1)
    items = [{"product_id": mug, "quantity": 2}, {"product_id": plate, "quantity": 2}]
    placed = await shop.orders.post("/orders", json={"items": items}, headers=carol)
    order = await shop.settled(placed.json()["id"], carol)
    assert order["status"] == "CANCELLED" and "not enough stock" in order["cancel_reason"]
    assert (await shop.stock(mug), await shop.stock(plate)) == (5, 1)  # all or nothing
    assert "order_cancelled" in {n["kind"] for n in await shop.notifications_of(carol, 2)}


async def test_an_unknown_product_cancels_the_order(shop: Shop) -> None:
    carol = await shop.customer()
    placed = await shop.orders.post(
        "/orders", json={"items": [{"product_id": str(uuid.uuid4()), "quantity": 1}]}, headers=carol
    )
    order = await shop.settled(placed.json()["id"], carol)
    assert order["status"] == "CANCELLED" and "unknown product" in order["cancel_reason"]


async def test_cancelling_a_confirmed_order_gives_the_stock_back(shop: Shop) -> None:
    carol = await shop.customer()
    mug = await shop.product(stock=5)
    placed = await shop.orders.post(
        "/orders", json={"items": [{"product_id": mug, "quantity": 3}]}, headers=carol
    )
    await shop.settled(placed.json()["id"], carol)
    assert await shop.stock(mug) == 2
    cancelled = await shop.orders.post(f"/orders/{placed.json()['id']}/cancel", headers=carol)
    assert cancelled.json()["status"] == "CANCELLED"
    await eventually(lambda: _equals(shop.stock(mug), 5), what="stock to come back")
    again = await shop.orders.post(f"/orders/{placed.json()['id']}/cancel", headers=carol)
    assert again.status_code == 200
    await asyncio.sleep(0.5)
    assert await shop.stock(mug) == 5  # released once


async def _equals(value: asyncio.Future | object, expected: object) -> bool:
    return await value == expected  # type: ignore[misc]


async def test_a_repeated_idempotency_key_returns_the_first_order(shop: Shop) -> None:
    carol = await shop.customer()
    mug = await shop.product(stock=5)
    body = {"items": [{"product_id": mug, "quantity": 1}]}
    headers = {**carol, "Idempotency-Key": "checkout-42"}
    first, second = await asyncio.gather(
        shop.orders.post("/orders", json=body, headers=headers),
        shop.orders.post("/orders", json=body, headers=headers),
    )
    third = await shop.orders.post("/orders", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    assert third.headers["idempotent-replayed"] == "true" and third.status_code == 202
    mine = (await shop.orders.get("/orders", headers=carol)).json()
    assert mine["total"] == 1
    reused = await shop.orders.post(
        "/orders", json={"items": [{"product_id": mug, "quantity": 2}]}, headers=headers
    )
    assert reused.status_code == 422


async def test_concurrent_orders_never_oversell(shop: Shop) -> None:
    mug = await shop.product(stock=4)
    customers = [await shop.customer(f"c{i}@example.com") for i in range(6)]
    placed = await asyncio.gather(
        *(
            shop.orders.post("/orders", json={"items": [{"product_id": mug, "quantity": 1}]}, headers=c)
            for c in customers
        )
    )
    orders = [await shop.settled(p.json()["id"], c) for p, c in zip(placed, customers, strict=True)]
    assert sorted(o["status"] for o in orders) == ["CANCELLED"] * 2 + ["CONFIRMED"] * 4
    assert await shop.stock(mug) == 0


async def test_customers_see_only_their_own_orders(shop: Shop) -> None:
    carol, dave = await shop.customer(), await shop.customer("dave@example.com")
    mug = await shop.product(stock=5)
    placed = await shop.orders.post(
        "/orders", json={"items": [{"product_id": mug, "quantity": 1}]}, headers=carol
    )
    assert (await shop.orders.get(f"/orders/{placed.json()['id']}", headers=dave)).status_code == 404
    assert (await shop.orders.post(f"/orders/{placed.json()['id']}/cancel", headers=dave)).status_code == 404
    assert (await shop.orders.get("/orders", headers=dave)).json()["total"] == 0
    assert (await shop.orders.get("/orders", headers=ADMIN)).json()["total"] == 1
