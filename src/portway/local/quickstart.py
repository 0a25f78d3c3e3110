"""What `portway up` prints once the system answers: where it listens, the curl lines to try, and how
long it took from the start (of `make up`, when it says so through ``PORTWAY_STARTED_AT``) to the
first request answered through the gateway.

That first request is made by `portway up` itself: a GET on the first public, parameter-free route
that allows GET, which proves the whole path (listener, route, upstream, unix socket, service).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import httpx

from portway.config.models import GatewayConfig

# The reference shop's public API; its curl lines are printed when a config routes these prefixes.
SHOP_PREFIXES = ("/api/auth/", "/api/products/", "/api/orders/")


def base_url(address: str, scheme: str = "http") -> str:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # a wildcard listener is reached on loopback from this machine
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def public_paths(config: GatewayConfig) -> list[str]:
    has_auth = config.auth.jwt is not None or config.auth.api_keys is not None
    return [
        route.path.rstrip("/") or "/"
        for route in config.routes
        if route.auth_mode(has_auth) == "none"
        and (route.methods is None or "GET" in route.methods)
        and "{" not in route.path
        and route.host is None
    ]


async def first_request(
    base: str, config: GatewayConfig, within: float = 10.0, ca: Path | None = None
) -> str | None:
    """The path of the first public route that answers 2xx through the gateway, or None; ``ca``
    is the private CA to trust when the gateway serves HTTPS (``portway up --tls``)."""
    paths = public_paths(config)
    if not paths:
        return None
    deadline = time.monotonic() + within
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca is not None else True
    async with httpx.AsyncClient(base_url=base, timeout=2.0, verify=verify) as client:
        while time.monotonic() < deadline:
            for path in paths:
                try:
                    if (await client.get(path)).is_success:
                        return path
                except httpx.TransportError:
                    pass
            await asyncio.sleep(0.1)
    return None


def curl_lines(base: str, config: GatewayConfig) -> list[str]:
    routed = {route.path for route in config.routes}
    if not all(prefix in routed for prefix in SHOP_PREFIXES):
        return [f"curl -s {base}{path}" for path in public_paths(config)]
    json_in = "-H 'content-type: application/json'"
    pick = "python3 -c 'import json,sys; print(json.load(sys.stdin)"
    return [
        f"B={base}",
        f"curl -s $B/api/auth/register {json_in} "
        """-d '{"email":"you@example.com","password":"a long password","name":"You"}'""",
        f"TOKEN=$(curl -s $B/api/auth/login {json_in} "
        f"""-d '{{"email":"you@example.com","password":"a long password"}}' | {pick}["access_token"])')""",
        f"""PRODUCT=$(curl -s $B/api/products | {pick}["items"][0]["id"])')""",
        f"""curl -s $B/api/orders -H "authorization: Bearer $TOKEN" {json_in} """
        """-d '{"items":[{"product_id":"'$PRODUCT'","quantity":1}]}'""",
        """curl -s $B/api/orders -H "authorization: Bearer $TOKEN"     """
        """# the order: PENDING, then CONFIRMED""",
    ]
