"""The acceptance journeys of the shop, against the four services running as real processes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shop.testing import ShopApi, eventually
from shop.testing.journeys import new_customer, new_product, settled, stock_of


async def test_register_login_browse_order_confirmed_notified(shop_api: ShopApi, admin_token: str) -> None:
    kettle = await new_product(shop_api, admin_token, stock=3, price_cents=990)
    token = await new_customer(shop_api)

    browse = await shop_api.request("GET", "/api/products", params={"q": "kettle", "in_stock": "true"})
    assert kettle["id"] in {p["id"] for p in browse.json()["items"]}
    seeded = await shop_api.request("GET", "/api/products", params={"q": "MUG-001"})
    assert seeded.json()["total"] == 1  # the demo data is there

    placed = await shop_api.request(
        "POST", "/api/orders", json={"items": [{"product_id": kettle["id"], "quantity": 2}]}, token=token
    )
    assert placed.status_code == 202 and placed.json()["status"] == "PENDING"
    order = await settled(shop_api, placed.json()["id"], token)
    assert (order["status"], order["total_cents"]) == ("CONFIRMED", 1980)
    assert await stock_of(shop_api, kettle["id"]) == 1

    async def confirmed_notice() -> list[dict[str, Any]] | None:
        items = (await shop_api.request("GET", "/api/notifications", token=token)).json()["items"]
        return [n for n in items if n["kind"] == "order_confirmed"] or None

    [notice] = await eventually(confirmed_notice, what="the order confirmation")
    assert placed.json()["id"] in notice["body"]


async def test_an_order_beyond_the_stock_is_cancelled_and_the_stock_unchanged(
    shop_api: ShopApi, admin_token: str
) -> None:
    kettle = await new_product(shop_api, admin_token, stock=2)
    token = await new_customer(shop_api)
    placed = await shop_api.request(
        "POST", "/api/orders", json={"items": [{"product_id": kettle["id"], "quantity": 3}]}, token=token
    )
    order = await settled(shop_api, placed.json()["id"], token)
    assert order["status"] == "CANCELLED" and "not enough stock" in order["cancel_reason"]
    assert await stock_of(shop_api, kettle["id"]) == 2


async def test_a_retried_post_with_the_same_idempotency_key_makes_one_order(
    shop_api: ShopApi, admin_token: str
) -> None:
    kettle = await new_product(shop_api, admin_token, stock=10)
    token = await new_customer(shop_api)
    body = {"items": [{"product_id": kettle["id"], "quantity": 1}]}
    headers = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(shop_api.request("POST", "/api/orders", json=body, headers=headers, token=token) for _ in range(3))
    )
    assert len({r.json()["id"] for r in responses}) == 1
    await settled(shop_api, responses[0].json()["id"], token)
    assert (await shop_api.request("GET", "/api/orders", token=token)).json()["total"] == 1
    assert await stock_of(shop_api, kettle["id"]) == 9
