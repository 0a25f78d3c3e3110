"""Demo data for a fresh machine: an admin, a customer and a few products, created once.

``python -m shop.seed`` (run by ``portway up`` after the services are ready) writes straight into the
users and catalog databases, through the same code and migrations the services use, so the users'
``UserRegistered`` events go out through the users outbox like any other. Running it again changes
nothing. Passwords come from ``SHOP_DEMO_ADMIN_PASSWORD`` / ``SHOP_DEMO_CUSTOMER_PASSWORD``, or are
generated and kept in ``$PORTWAY_DATA_DIR/demo-accounts.json`` (mode 0600) so that they can be looked up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shop.catalog.app import MIGRATIONS as CATALOG_MIGRATIONS
from shop.catalog.models import Product
from shop.common.db import Database
from shop.common.migrations import upgrade_to_head
from shop.common.settings import Settings
from shop.users.app import MIGRATIONS as USERS_MIGRATIONS
from shop.users.app import create_user
from shop.users.models import User

ACCOUNTS = (
    ("admin", "admin@shop.example", "Shop Admin", "SHOP_DEMO_ADMIN_PASSWORD"),
    ("customer", "customer@shop.example", "Demo Customer", "SHOP_DEMO_CUSTOMER_PASSWORD"),
)
PRODUCTS = (
    ("MUG-001", "Enamel mug", "A camp mug that survives the camp.", 1250, 40),
    ("TEE-001", "Portway T-shirt", "Organic cotton, one front door printed on it.", 2200, 25),
    ("BAG-001", "Canvas tote", "Carries more than it looks.", 1800, 15),
    ("PEN-001", "Fountain pen", "Writes the saga down.", 3500, 5),
)


def _passwords(path: Path) -> dict[str, str]:
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for _role, email, _name, variable in ACCOUNTS:
        wanted = os.environ.get(variable)
        if wanted and known.get(email) != wanted:
            known[email], changed = wanted, True
        elif email not in known:
            known[email], changed = secrets.token_urlsafe(12), True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(known, handle, indent=1)
    return known


async def seed_users(settings: Settings) -> list[dict[str, Any]]:
    passwords = _passwords(settings.data_dir / "demo-accounts.json")
    db = Database(settings.database_url, service=settings.service)
    accounts = []
    try:
        await upgrade_to_head(db, USERS_MIGRATIONS)
        async with db.sessions() as session, session.begin():
            for role, email, name, _variable in ACCOUNTS:
                exists = await session.scalar(select(User.id).where(User.email == email))
                if exists is None:
                    await create_user(session, email, passwords[email], name, role)
                accounts.append(
                    {"email": email, "role": role, "password": passwords[email], "created": not exists}
                )
    finally:
        await db.close()
    return accounts


async def seed_catalog(settings: Settings) -> list[str]:
    db = Database(settings.database_url, service=settings.service)
    created = []
    try:
        await upgrade_to_head(db, CATALOG_MIGRATIONS)
        async with db.sessions() as session, session.begin():
            existing = set(await session.scalars(select(Product.sku)))
            for sku, name, description, price, stock in PRODUCTS:
                if sku not in existing:
                    session.add(
                        Product(sku=sku, name=name, description=description, price_cents=price, stock=stock)
                    )
                    created.append(sku)
    finally:
        await db.close()
    return created


async def seed() -> dict[str, Any]:
    accounts = await seed_users(Settings.from_env("users"))
    products = await seed_catalog(Settings.from_env("catalog"))
    return {"accounts": accounts, "products_created": products}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shop.seed", description="Create the shop's demo data, once"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = asyncio.run(seed())
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for account in result["accounts"]:
        state = "created" if account["created"] else "exists"
        print(f"{account['role']:<9} {account['email']:<24} password {account['password']}  ({state})")
    print(f"products created: {', '.join(result['products_created']) or 'none (already there)'}")


if __name__ == "__main__":
    main()
