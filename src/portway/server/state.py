"""What every connection of one server shares: the swappable application, limits and the sweeper."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from portway.config.models import Limits
from portway.sweeper import Sweeper

if TYPE_CHECKING:
    from portway.server.protocol import HttpConnection
    from portway.server.request import RequestHead


class Handler(Protocol):
    """One request's handler, made by the application; the connection feeds it events."""

    def on_body(self, data: bytes) -> None: ...
    def on_end(self) -> None: ...
    def on_client_lost(self) -> None: ...
    def on_writable(self) -> None: ...


class _Answered:
    """The handler for a request already answered in full: it ignores whatever follows."""

    def on_body(self, data: bytes) -> None: ...
    def on_end(self) -> None: ...
    def on_client_lost(self) -> None: ...
    def on_writable(self) -> None: ...


ANSWERED = _Answered()


class Application(Protocol):
    def handle(self, head: RequestHead, conn: HttpConnection) -> Handler: ...


class ServerState:
    def __init__(self, app: Application, limits: Limits, sweeper: Sweeper) -> None:
        self.app = app
        self.limits = limits
        self.loop = sweeper.loop
        self.timed = sweeper.timed
        self.connections: set[HttpConnection] = set()
        self.draining = False
        self.drained: asyncio.Event | None = None  # set when the last connection closes while draining
        sweeper.fit(min(limits.header_timeout, limits.body_timeout, limits.keepalive_timeout))
