"""The catalog service over its HTTP API: browsing, admin changes, stock adjustments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shop.catalog.app import create_app
from shop.testing import identity_headers, serve_asgi, settings_for

ADMIN = identity_headers(str(uuid.uuid4()), role="admin")
CUSTOMER = identity_headers(str(uuid.uuid4()))


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_asgi(create_app(settings_for("catalog", tmp_path)), "catalog") as client:
        for sku, name, price, stock in [
            ("MUG-1", "Blue mug", 900, 3),
            ("MUG-2", "Red mug", 1200, 0),
            ("PLT-1", "Plate", 1500, 10),
        ]:
            body = {"sku": sku, "name": name, "price_cents": price, "stock": stock}
            assert (await client.post("/products", json=body, headers=ADMIN)).status_code == 201
        yield client


async def names(client: httpx.AsyncClient, **params: object) -> list[str]:
    response = await client.get("/products", params=params)
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["items"]]


async def test_browsing_filters_sorts_and_pages(catalog: httpx.AsyncClient) -> None:
    assert await names(catalog) == ["Blue mug", "Plate", "Red mug"]
    assert await names(catalog, q="MUG", sort="price") == ["Blue mug", "Red mug"]
    assert await names(catalog, min_price=1000, max_price=1400) == ["Red mug"]
    assert await names(catalog, in_stock="true") == ["Blue mug", "Plate"]
    assert await names(catalog, in_stock="false") == ["Red mug"]
    page = (await catalog.get("/products", params={"limit": 2, "offset": 2})).json()
    assert (page["total"], [p["name"] for p in page["items"]]) == (3, ["Red mug"])
    assert await names(catalog, q="%") == []  # a LIKE wildcard is a character, not a pattern


async def test_only_admins_change_the_catalog(catalog: httpx.AsyncClient) -> None:
    body = {"sku": "X-1", "name": "X", "price_cents": 1}
    assert (await catalog.post("/products", json=body)).status_code == 401
    assert (await catalog.post("/products", json=body, headers=CUSTOMER)).status_code == 403
    assert (await catalog.post("/products", json={**body, "sku": "MUG-1"}, headers=ADMIN)).status_code == 409


async def test_admin_updates_a_product(catalog: httpx.AsyncClient) -> None:
    product = (await catalog.get("/products", params={"q": "Plate"})).json()["items"][0]
    updated = await catalog.patch(f"/products/{product['id']}", json={"price_cents": 1400}, headers=ADMIN)
    assert updated.json()["price_cents"] == 1400 and updated.json()["name"] == "Plate"
    assert (await catalog.get(f"/products/{uuid.uuid4()}")).status_code == 404


async def test_stock_adjustments_are_relative_and_never_go_below_zero(catalog: httpx.AsyncClient) -> None:
    product = (await catalog.get("/products", params={"q": "Blue"})).json()["items"][0]
    url = f"/products/{product['id']}/stock-adjustments"
    assert (await catalog.post(url, json={"delta": 5}, headers=ADMIN)).json()["stock"] == 8
    refused = await catalog.post(url, json={"delta": -9}, headers=ADMIN)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert (await catalog.post(url, json={"delta": -8}, headers=ADMIN)).json()["stock"] == 0


async def test_invalid_input_is_a_problem_with_its_errors(catalog: httpx.AsyncClient) -> None:
    body = {"sku": "bad sku", "name": "", "price_cents": -1}
    response = await catalog.post("/products", json=body, headers=ADMIN)
    assert response.status_code == 422
    problem = response.json()
    assert {tuple(e["loc"][-1:]) for e in problem["errors"]} == {("sku",), ("name",), ("price_cents",)}


async def test_probes_and_metrics(catalog: httpx.AsyncClient) -> None:
    assert (await catalog.get("/health")).json() == {"status": "ok", "service": "catalog"}
    assert (await catalog.get("/ready")).json()["status"] == "ready"
    metrics = (await catalog.get("/metrics")).text
    assert 'shop_http_requests_total{method="POST",route="/products",status="201"} 3.0' in metrics
