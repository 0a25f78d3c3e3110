"""The users service over its HTTP API (ASGI, real SQLite database and event log)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest

from shop.testing import eventually, identity_headers, serve_asgi, settings_for
from shop.users.app import create_app
from shop.users.tokens import KeyFile

ALICE = {"email": "Alice@Example.com", "password": "correct horse", "name": "Alice"}


@pytest.fixture
async def users(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_asgi(create_app(settings_for("users", tmp_path)), "users") as client:
        yield client


async def register(client: httpx.AsyncClient, **fields: str) -> dict:
    response = await client.post("/auth/register", json={**ALICE, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_register_then_login_issues_a_token_the_jwks_verifies(users: httpx.AsyncClient) -> None:
    alice = await register(users)
    assert alice["email"] == "alice@example.com" and alice["role"] == "customer"
    login = await users.post("/auth/login", json={"email": "alice@example.com", "password": "correct horse"})
    assert login.status_code == 200
    token = login.json()["access_token"]

    jwks = (await users.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="shop", issuer="shop-users")
    assert claims["sub"] == alice["id"] and claims["role"] == "customer"
    assert claims["exp"] - claims["iat"] == login.json()["expires_in"]


async def test_a_taken_email_is_a_conflict_whatever_its_case(users: httpx.AsyncClient) -> None:
    await register(users)
    response = await users.post("/auth/register", json={**ALICE, "email": "ALICE@example.com"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("password", ["wrong password", "correct horse "])
async def test_a_wrong_password_or_unknown_email_is_one_answer(
    users: httpx.AsyncClient, password: str
) -> None:
    await register(users)
    wrong = await users.post("/auth/login", json={"email": ALICE["email"], "password": password})
    unknown = await users.post("/auth/login", json={"email": "bob@example.com", "password": password})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_profile_needs_the_gateway_identity(users: httpx.AsyncClient) -> None:
    alice = await register(users)
    assert (await users.get("/users/me")).status_code == 401
    me = await users.get("/users/me", headers=identity_headers(alice["id"]))
    assert me.json()["name"] == "Alice"
    renamed = await users.patch("/users/me", json={"name": "Alice B."}, headers=identity_headers(alice["id"]))
    assert renamed.json()["name"] == "Alice B."


async def test_only_admins_list_users_and_see_others(users: httpx.AsyncClient) -> None:
    alice = await register(users)
    bob = await register(users, email="bob@example.com", name="Bob")
    as_alice = identity_headers(alice["id"])
    assert (await users.get("/users", headers=as_alice)).status_code == 403
    assert (await users.get(f"/users/{bob['id']}", headers=as_alice)).status_code == 403
    as_admin = identity_headers(bob["id"], role="admin")
    page = (await users.get("/users", params={"email": "example.com", "limit": 1}, headers=as_admin)).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    promoted = await users.patch(f"/users/{alice['id']}", json={"role": "admin"}, headers=as_admin)
    assert promoted.json()["role"] == "admin"


async def test_forged_identity_headers_are_refused(users: httpx.AsyncClient) -> None:
    for headers in ({"X-User-Id": "1", "X-User-Role": "admin"}, identity_headers(ALICE_ID, role="root")):
        response = await users.get("/users", headers=headers)
        assert response.status_code == 401


ALICE_ID = "00000000-0000-4000-8000-000000000001"


async def test_registration_publishes_user_registered(tmp_path: Path) -> None:
    async with serve_asgi(create_app(settings_for("users", tmp_path)), "users") as client:
        alice = await register(client)

        async def published() -> list:
            with sqlite3.connect(tmp_path / "events.db") as db:
                return db.execute("SELECT topic, envelope FROM events").fetchall()

        [(topic, raw)] = await eventually(published, what="the outbox to ship")
    assert topic == "users.user_registered"
    assert json.loads(raw)["data"] == {"user_id": alice["id"], "email": "alice@example.com", "name": "Alice"}


async def test_rotate_key_command_keeps_the_old_key_published(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    old = KeyFile(key_file, token_ttl=900).ring().active.kid
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shop.users",
        "rotate-key",
        env={**os.environ, "USERS_SIGNING_KEY_FILE": str(key_file)},
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0
    ring = KeyFile(key_file, token_ttl=900).ring()
    assert ring.active.kid != old and ring.active.kid in output.decode()
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old, ring.active.kid}
