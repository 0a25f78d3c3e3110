"""What the public port answers while `portway up` starts: 503 problem+json with ``Retry-After``.

Why a placeholder in front rather than the gateway with its targets held: until every service is
ready and seeded nothing behind the port can answer correctly, so every request (any route, any
method) gets the same honest answer; and the gateway itself starts only once the services answer,
so its start-up work (the JWKS fetch over the users service's socket, say) finds them ready.

Rules:
- `portway up` binds the public socket once, before any service starts (a port in use fails at
  once, not after the services came up). The placeholder serves a duplicate of it (``sock.dup()``):
  closing the placeholder leaves the socket open and listening, so a connection arriving during the
  handover waits in the kernel's backlog and is accepted by the gateway; none is refused.
- It is served by the same server code as the gateway (framing, limits, TLS with the same
  certificate, problem+json rendered in one place); only the application differs.
- Handover: drain the placeholder (stop accepting, close idle keep-alive connections so their
  clients reconnect, to the gateway), then the gateway adopts the socket.
"""

from __future__ import annotations

import asyncio
import socket

from portway.config.models import GatewayConfig
from portway.contract import Decision, RequestHead, Responder
from portway.errors import ClientError
from portway.server.serve import drain, listen
from portway.server.state import ServerState
from portway.server.tls import ListenerCertificates, build_contexts, listen_tls
from portway.sweeper import Sweeper

RETRY_AFTER = 1  # seconds: start-up takes a few; a client asking again each second costs nothing
DRAIN_GRACE = 2.0  # its answers are immediate: only a client slow to send its request waits


class Starting:
    """The placeholder's application: every request is answered 503, naming the phase start-up is in."""

    def __init__(self) -> None:
        self.phase = "starting the services"
        self._headers = [(b"retry-after", str(RETRY_AFTER).encode())]

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        detail = f"portway up is still starting ({self.phase}); try again in a moment"
        return ClientError(503, detail, headers=self._headers)


class Placeholder:
    def __init__(self, app: Starting, state: ServerState, server: asyncio.Server, sweeper: Sweeper) -> None:
        self.app = app
        self._state, self._server, self._sweeper = state, server, sweeper

    @classmethod
    async def open(cls, config: GatewayConfig, sock: socket.socket) -> Placeholder:
        sweeper = Sweeper(asyncio.get_running_loop())
        app = Starting()
        state = ServerState(app, config.limits, sweeper)
        served = sock.dup()
        if config.tls is not None:
            contexts = build_contexts(config)
            assert contexts.listener is not None  # a `tls:` section always makes one
            certificates = ListenerCertificates(config.tls, contexts.listener, "<config>")
            server = await listen_tls(state, served, certificates)
        else:
            server = await listen(state, served)
        sweeper.start()
        return cls(app, state, server, sweeper)

    async def close(self) -> None:
        """Stop answering; the socket it served a duplicate of stays open for the gateway."""
        await drain(self._state, [self._server], DRAIN_GRACE)
        self._sweeper.stop()
