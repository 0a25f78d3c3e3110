"""Whom a service believes: the gateway's headers, or with PORTWAY_IDENTITY_REQUIRED its signed token."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from portway.identity import sign_identity
from shop.orders.app import create_app
from shop.testing import identity_headers, serve_asgi, settings_for

KEY = "internal-identity-key-for-tests-0123456789"
USER = str(uuid.uuid4())


@pytest.fixture
async def strict_orders(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(settings_for("orders", tmp_path), identity_required=True, identity_key=KEY)
    async with serve_asgi(create_app(settings), "orders") as client:
        yield client


def token(subject: str = USER, roles: tuple[str, ...] = ("customer",), key: str = KEY, age: float = 0) -> str:
    return sign_identity(subject, roles, frozenset(), None, key=key, ttl=30, now=time.time() - age)


async def test_a_verified_token_is_the_identity(strict_orders: httpx.AsyncClient) -> None:
    response = await strict_orders.get("/orders", headers={"X-Portway-Identity": token()})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        identity_headers(USER, "admin"),  # plain headers, as anything on the network could send them
        {"X-Portway-Identity": token(key="not-the-internal-key-0123456789-abcdef")},
        {"X-Portway-Identity": token(age=120)},
        {"X-Portway-Identity": "garbage"},
        {"X-Portway-Identity": token(subject="not-a-uuid")},
        {"X-Portway-Identity": token(roles=("root",))},
    ],
)
async def test_anything_else_is_refused(strict_orders: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await strict_orders.get("/orders", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_token_wins_over_the_plain_headers(strict_orders: httpx.AsyncClient) -> None:
    headers = {**identity_headers(str(uuid.uuid4()), "admin"), "X-Portway-Identity": token()}
    response = await strict_orders.get("/orders", params={"user_id": USER}, headers=headers)
    assert response.status_code == 200  # not an admin: the user_id filter is ignored, own orders only


def test_requiring_the_token_without_a_key_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PORTWAY_IDENTITY_KEY"):
        dataclasses.replace(settings_for("orders", tmp_path), identity_required=True)
