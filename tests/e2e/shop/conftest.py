"""The shop as real processes: four services on unix sockets, with SQLite databases and the embedded
event log, or with PostgreSQL (a database and a role per service) and NATS JetStream.

``shop_api`` is the client tests use; see :class:`shop.testing.DirectShopApi` for why it can stand in
for the gateway, and where a gateway-fronted variant plugs in.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from shop.testing import SERVICES, DirectShopApi, ShopApi, ShopStack, nats_namespace, postgres_database
from shop.testing.journeys import login

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@shop.example", "admin-password-for-tests"
BACKINGS = ["sqlite", pytest.param("postgres+nats", marks=[pytest.mark.postgres, pytest.mark.nats])]


@contextlib.asynccontextmanager
async def backing_env(kind: str, data_dir: Path) -> AsyncIterator[dict[str, str]]:
    if kind == "sqlite":
        yield {"EVENTS_URL": f"sqlite:///{data_dir / 'events.db'}"}
        return
    async with contextlib.AsyncExitStack() as stack:
        env = {"EVENTS_URL": await stack.enter_async_context(nats_namespace())}
        for name in SERVICES:
            env[f"{name.upper()}_DATABASE_URL"] = await stack.enter_async_context(postgres_database(name))
        yield env


@contextlib.asynccontextmanager
async def running_shop(kind: str, **extra_env: str) -> AsyncIterator[ShopStack]:
    """All four services started, ready and seeded; stopped and removed afterwards."""
    # Not under pytest's tmp_path: a unix socket path must stay under ~100 bytes. Private, like `portway up`.
    run_dir = Path(tempfile.mkdtemp(prefix="shop-"))
    try:
        async with backing_env(kind, run_dir / "data") as env:
            data = {"PORTWAY_DATA_DIR": str(run_dir / "data"), "SHOP_DEMO_ADMIN_PASSWORD": ADMIN_PASSWORD}
            stack = ShopStack(run_dir, {**data, **env, **extra_env})
            try:
                await stack.start_all()
                await stack.seed()
                yield stack
            finally:
                stack.stop_all()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module", params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop_stack(backing: str) -> AsyncIterator[ShopStack]:
    """One stack per module and backing: journeys use fresh accounts and products, so they can share it."""
    async with running_shop(backing) as stack:
        yield stack


@pytest.fixture
def shop_api(shop_stack: ShopStack) -> ShopApi:
    return DirectShopApi(shop_stack)


@pytest_asyncio.fixture(loop_scope="module")
async def admin_token(shop_api: ShopApi) -> str:
    return await login(shop_api, ADMIN_EMAIL, ADMIN_PASSWORD)
