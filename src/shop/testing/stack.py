"""The whole shop as processes, and clients for its public API (``/api/...``).

:class:`GatewayShopApi` goes through a real gateway. :class:`DirectShopApi` plays the gateway's part
where a test needs none (crash tests that kill services): it routes ``/api/<prefix>/`` with the
rewrites of ``examples/shop/portway.yaml``, verifies the bearer token against the users service's
JWKS, and sets the identity headers the gateway would set.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from shop.testing.asgi import identity_headers
from shop.testing.backing import nats_namespace, postgres_database
from shop.testing.processes import ServiceProcess

SERVICES = ("users", "catalog", "orders", "notifications")
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@shop.example", "admin-password-for-tests"  # the seeded admin
ROUTES = {  # public prefix → (service, rewrite), as in examples/shop/portway.yaml
    "/api/auth/": ("users", "/auth/"),
    "/api/users/": ("users", "/users/"),
    "/api/products/": ("catalog", "/products/"),
    "/api/orders/": ("orders", "/orders/"),
    "/api/notifications/": ("notifications", "/notifications/"),
}


class ShopApi(Protocol):
    async def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """``path`` is public (``/api/orders``); ``token`` is the bearer token from login."""


@dataclass
class ShopStack:
    """The four services as processes in ``run_dir``; tests kill and restart them."""

    run_dir: Path
    env: dict[str, str]
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, name: str, **extra_env: str) -> ServiceProcess:
        process = ServiceProcess(name, self.run_dir, {**self.env, **extra_env})
        process.start()
        self.processes[name] = process
        return process

    async def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)
        await asyncio.gather(*(p.wait_ready() for p in self.processes.values()))

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    async def seed(self) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shop.seed",
            env={**self.processes["users"].env, **self.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise AssertionError(f"python -m shop.seed failed:\n{output.decode()}")
        return output.decode()


class GatewayShopApi:
    """The public API through a running gateway: the token goes as ``Authorization: Bearer``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as client:
            return await client.request(method, path, headers=headers, **kwargs)


class DirectShopApi:
    def __init__(self, stack: ShopStack) -> None:
        self.stack = stack
        self._jwks: dict[str, Any] | None = None

    async def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        prefix = next(p for p in ROUTES if path.startswith(p) or path == p.rstrip("/"))
        service, rewrite = ROUTES[prefix]
        upstream_path = rewrite.rstrip("/") if path == prefix.rstrip("/") else rewrite + path[len(prefix) :]
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.update(await self._identity(token))
        async with self.stack.processes[service].client(timeout=10.0) as client:
            return await client.request(method, upstream_path, headers=headers, **kwargs)

    async def _identity(self, token: str) -> dict[str, str]:
        if self._jwks is None:
            async with self.stack.processes["users"].client() as client:
                self._jwks = (await client.get("/.well-known/jwks.json")).json()
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in self._jwks["keys"] if k["kid"] == kid)
        claims = jwt.decode(
            token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="shop", issuer="shop-users"
        )
        return identity_headers(claims["sub"], claims["role"])


@contextlib.asynccontextmanager
async def backing_env(kind: str, data_dir: Path) -> AsyncIterator[dict[str, str]]:
    """``sqlite``: database files and the embedded log; ``postgres+nats``: a database and role each."""
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
