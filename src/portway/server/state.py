"""What every connection of one server shares: the swappable application, limits and the sweeper."""

from __future__ import annotations

import asyncio
from typing import Protocol

from portway.config.models import Limits
from portway.contract import Application
from portway.sweeper import Sweeper


class Connection(Protocol):
    """What the server's drain needs of a client connection."""

    def close_if_idle(self) -> bool: ...
    def abort(self) -> None: ...


class ServerState:
    def __init__(self, app: Application, limits: Limits, sweeper: Sweeper) -> None:
        self.app = app
        self.limits = limits
        self.loop = sweeper.loop
        self.timed = sweeper.timed
        self.connections: set[Connection] = set()
        self.draining = False
        self.drained: asyncio.Event | None = None  # set when the last connection closes while draining
        sweeper.fit(min(limits.header_timeout, limits.body_timeout, limits.keepalive_timeout))
