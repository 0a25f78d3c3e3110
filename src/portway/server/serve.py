"""Serving one application on a listening socket, and draining it (DESIGN.md §1, accept stage).

This module knows the server's own state only; what the application is (the gateway, the admin
API) is the caller's business (:mod:`portway.runtime` composes them).

Drain: stop accepting, close idle keep-alive connections, let requests in flight end (their
responses then carry ``Connection: close``) for up to ``grace`` seconds, then abort what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from portway.server.protocol import HttpConnection
from portway.server.state import ServerState


async def listen(state: ServerState, sock: socket.socket) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpConnection(state), sock=sock)


async def drain(state: ServerState, servers: list[asyncio.Server], grace: float) -> None:
    state.draining = True
    state.drained = asyncio.Event()
    for server in servers:
        server.close()
    for conn in list(state.connections):
        conn.close_if_idle()
    if state.connections:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await state.drained.wait()
    for conn in list(state.connections):
        conn.abort()
