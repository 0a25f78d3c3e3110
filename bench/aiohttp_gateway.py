"""The usual Python gateway: an aiohttp server forwarding with one shared aiohttp ClientSession.

This is what a careful Python developer writes first, and the row that shows what a coroutine per
request costs: every request runs a handler coroutine on the server side and a client request
coroutine (with its own tasks and futures) on the upstream side. We give it every fair advantage:
uvloop (as portway has), one ClientSession with a keep-alive TCPConnector created once at startup,
no access log, and it does the same header work as the others (hop-by-hop removal,
X-Forwarded-For, X-Request-Id).

    python bench/aiohttp_gateway.py PORT UPSTREAM_URL      # serves /api/... -> UPSTREAM/...
"""

from __future__ import annotations

import sys
import uuid

import uvloop
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)
PREFIX = "/api"
SESSION = web.AppKey("session", ClientSession)
UPSTREAM = web.AppKey("upstream", str)


async def forward(request: web.Request) -> web.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["X-Forwarded-For"] = request.remote or ""
    headers["X-Request-Id"] = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    path = request.rel_url.raw_path_qs[len(PREFIX) :] or "/"
    body = await request.read() if request.can_read_body else None
    async with request.app[SESSION].request(
        request.method, request.app[UPSTREAM] + path, headers=headers, data=body, allow_redirects=False
    ) as upstream:
        payload = await upstream.read()
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return web.Response(status=upstream.status, headers=out, body=payload)


async def open_session(app: web.Application) -> None:
    # One pool for the process: keep-alive connections to the upstream are reused across requests.
    connector = TCPConnector(limit=256, keepalive_timeout=300)
    app[SESSION] = ClientSession(connector=connector, timeout=ClientTimeout(total=5), auto_decompress=False)


async def close_session(app: web.Application) -> None:
    await app[SESSION].close()


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    app = web.Application()
    app[UPSTREAM] = upstream
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", PREFIX + "/{tail:.*}", forward)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
