"""The shop as real processes: the gateway (``portway run`` on examples/shop/portway.yaml) in front
of four services on unix sockets, with SQLite databases and the embedded event log, or with PostgreSQL
(a database and a role per service) and NATS JetStream.

The services run with ``PORTWAY_IDENTITY_REQUIRED=1``: they accept only requests carrying the
gateway's signed ``X-Portway-Identity``, so every journey here proves it went through the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from portway.testing import gateway_process, load_yaml
from shop.testing import GatewayShopApi, ShopApi, ShopStack
from shop.testing.journeys import login
from shop.testing.stack import ADMIN_EMAIL, ADMIN_PASSWORD, SERVICES, running_shop

BACKINGS = ["sqlite", pytest.param("postgres+nats", marks=[pytest.mark.postgres, pytest.mark.nats])]
GATEWAY_CONFIG = Path(__file__).parents[3] / "examples" / "shop" / "portway.yaml"


def gateway_config(stack: ShopStack, identity_key: str) -> dict[str, Any]:
    """examples/shop/portway.yaml with the stack's sockets filled in, as `portway up` does."""
    config: dict[str, Any] = load_yaml(GATEWAY_CONFIG.read_text())
    config.pop("services", None)
    config.pop("listen", None)  # gateway_process listens on a free port
    config.pop("admin", None)
    for name in SERVICES:
        config["upstreams"][name]["targets"] = [f"unix:{stack.processes[name].socket}"]
    config["auth"]["jwt"]["jwks_url"] = f"unix:{stack.processes['users'].socket}:/.well-known/jwks.json"
    config["auth"]["identity"] = {"signing_key": identity_key}
    for route in config["routes"]:
        if route["path"] == "/api/auth/":  # the journeys register and log in more than 10 times a minute
            route["rate_limit"]["limit"] = 1000
    return config


@pytest.fixture(scope="module", params=BACKINGS)
def backing(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop_api(backing: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ShopApi]:
    """One shop per module and backing: journeys use fresh accounts and products, so they can share it."""
    key = secrets.token_urlsafe(32)
    async with running_shop(backing, PORTWAY_IDENTITY_REQUIRED="1", PORTWAY_IDENTITY_KEY=key) as stack:
        config = gateway_config(stack, key)
        async with gateway_process(config, tmp_path_factory.mktemp("gateway")) as gateway:
            yield GatewayShopApi(f"http://127.0.0.1:{gateway.port}")


@pytest_asyncio.fixture(loop_scope="module")
async def admin_token(shop_api: ShopApi) -> str:
    return await login(shop_api, ADMIN_EMAIL, ADMIN_PASSWORD)
