"""The whole shop as processes, and a client for its public API (``/api/...``).

:class:`DirectShopApi` plays the gateway's part until a test puts the real gateway in front: it
routes ``/api/<prefix>/`` with the rewrites of ``examples/shop/portway.yaml``, verifies the bearer
token against the users service's JWKS, and sets the identity headers the gateway would set. A
gateway-fronted client only has to offer the same :class:`ShopApi` method.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from shop.testing.asgi import identity_headers
from shop.testing.processes import ServiceProcess

SERVICES = ("users", "catalog", "orders", "notifications")
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
