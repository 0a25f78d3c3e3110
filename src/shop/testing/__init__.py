"""Test harness for the shop services, shipped with them (like ``portway.testing``).

- in-process: :func:`serve_asgi` runs an app's lifespan and gives an httpx client on it;
- processes: :class:`ServiceProcess`, :class:`ShopStack` (all four), and public-API clients
  :class:`GatewayShopApi` (through a gateway) and :class:`DirectShopApi` (playing the gateway);
- backing services: :func:`postgres_database` (a database and a role), :func:`nats_namespace`;
- :func:`eventually` waits for an asynchronous outcome, with a deadline.
"""

from shop.testing.asgi import identity_headers, serve_asgi, settings_for
from shop.testing.backing import nats_namespace, postgres_database
from shop.testing.processes import ServiceProcess
from shop.testing.stack import SERVICES, DirectShopApi, GatewayShopApi, ShopApi, ShopStack
from shop.testing.waiting import eventually

__all__ = [
    "SERVICES",
    "DirectShopApi",
    "GatewayShopApi",
    "ServiceProcess",
    "ShopApi",
    "ShopStack",
    "eventually",
    "identity_headers",
    "nats_namespace",
    "postgres_database",
    "serve_asgi",
    "settings_for",
]
