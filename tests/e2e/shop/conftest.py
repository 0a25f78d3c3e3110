"""The shop as real processes: four services on unix sockets, with SQLite databases and the embedded
event log, or with PostgreSQL (a database and a role per service) and NATS JetStream.

``shop_api`` is the client tests use; see :class:`shop.testing.DirectShopApi` for why it can stand in
for the gateway, and where a gateway-fronted variant plugs in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from shop.testing import DirectShopApi, ShopApi, ShopStack
from shop.testing.journeys import login
from shop.testing.stack import ADMIN_EMAIL, ADMIN_PASSWORD, running_shop

BACKINGS = ["sqlite", pytest.param("postgres+nats", marks=[pytest.mark.postgres, pytest.mark.nats])]


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
