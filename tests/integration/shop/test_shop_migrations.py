"""Each service's migrations build exactly the schema its models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from shop.catalog import app as catalog
from shop.catalog.models import Base as CatalogBase
from shop.common.db import Database
from shop.common.events.tables import EVENTS_METADATA
from shop.common.migrations import upgrade_to_head
from shop.notifications import app as notifications
from shop.notifications.models import Base as NotificationsBase
from shop.orders import app as orders
from shop.orders.models import Base as OrdersBase
from shop.testing import postgres_database
from shop.users import app as users
from shop.users.models import Base as UsersBase

SERVICES = {
    "users": (users.MIGRATIONS, UsersBase.metadata),
    "catalog": (catalog.MIGRATIONS, CatalogBase.metadata),
    "orders": (orders.MIGRATIONS, OrdersBase.metadata),
    "notifications": (notifications.MIGRATIONS, NotificationsBase.metadata),
}


@contextlib.asynccontextmanager
async def database(kind: str, service: str, tmp_path: Path) -> AsyncIterator[Database]:
    if kind == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / service}.db")
        yield db
        await db.close()
    else:
        async with postgres_database(service) as url:
            db = Database(url)
            yield db
            await db.close()


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_migrations_match_the_models(kind: str, service: str, tmp_path: Path) -> None:
    migrations, metadata = SERVICES[service]
    async with database(kind, service, tmp_path) as db:
        await upgrade_to_head(db, migrations)
        await upgrade_to_head(db, migrations)  # a restart finds nothing to do
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff, [metadata, EVENTS_METADATA])
    assert diff == []


def _diff(connection, metadata: list[MetaData]) -> list:  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)  # type: ignore[arg-type]
