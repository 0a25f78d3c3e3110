"""The steps a shopper and an admin take through the public API, for end-to-end tests."""

from __future__ import annotations

import uuid
from typing import Any

from shop.testing.stack import ShopApi
from shop.testing.waiting import eventually


async def login(api: ShopApi, email: str, password: str) -> str:
    response = await api.request("POST", "/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def new_customer(api: ShopApi) -> str:
    """Register a fresh customer and return their token."""
    email, password = f"c-{uuid.uuid4().hex[:8]}@example.com", "a long password"
    registered = await api.request(
        "POST", "/api/auth/register", json={"email": email, "password": password, "name": "Casey"}
    )
    assert registered.status_code == 201, registered.text
    return await login(api, email, password)


async def new_product(api: ShopApi, admin_token: str, stock: int, price_cents: int = 990) -> dict[str, Any]:
    body = {
        "sku": f"T-{uuid.uuid4().hex[:8]}",
        "name": "Test kettle",
        "price_cents": price_cents,
        "stock": stock,
    }
    response = await api.request("POST", "/api/products", json=body, token=admin_token)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stock_of(api: ShopApi, product_id: str) -> int:
    return int((await api.request("GET", f"/api/products/{product_id}")).json()["stock"])


async def settled(api: ShopApi, order_id: str, token: str, within: float = 20.0) -> dict[str, Any]:
    """The order once the saga has decided it (CONFIRMED or CANCELLED)."""

    async def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = (await api.request("GET", f"/api/orders/{order_id}", token=token)).json()
        return order if order["status"] != "PENDING" else None

    return await eventually(probe, within=within, what=f"order {order_id} to settle")
