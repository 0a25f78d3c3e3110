"""Keep-alive connections to one target.

Rules:
- ``acquire_nowait()`` hands out the most recently used idle connection (LIFO keeps few sockets
  warm and lets the rest expire) or ``None``; ``acquire()`` is the slow path that connects, or waits
  for a release when ``max_connections`` are open, up to ``acquire_timeout``.
- A connection comes back through ``release()`` only when its last exchange ended cleanly;
  ``forget()`` drops it from the books whatever its state. Idle connections expire after
  ``idle_timeout`` (the sweeper closes them).
- A failed connect marks the target down for a short backoff, so balancers skip it while other
  targets are up (passive health). Connect faults say nothing was sent: :class:`ConnectError`,
  :class:`ConnectTimeout` (a blackholed target), :class:`PoolTimeout` (every connection busy).
- The pool is the connections' :class:`~portway.upstream.connection.Owner`: it alone keeps the
  counts (``open``, ``busy``, ``idle``); ``snapshot()`` is what the admin API reads.
- ``mark_down()`` takes the target out of rotation until ``mark_up()``, whatever connects succeed
  meanwhile: a supervisor that knows the process is dead or still starting (``portway up``) says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque

from portway.config.models import Pool as PoolConfig
from portway.errors import ConnectError, ConnectTimeout, PoolTimeout, TlsHandshakeError, TlsVerifyError
from portway.sweeper import Sweeper
from portway.upstream.connection import ResponseLimits, UpstreamConnection
from portway.upstream.target import Target

_DOWN_BACKOFF = (0.5, 1.0, 2.0, 5.0)


class TargetPool:
    def __init__(
        self,
        target: Target,
        config: PoolConfig,
        connect_timeout: float,
        sweeper: Sweeper,
        limits: ResponseLimits | None = None,
    ) -> None:
        self.target = target
        self.limits = limits or ResponseLimits()
        self.config = config
        self.connect_timeout = connect_timeout
        self.sweeper = sweeper
        self.loop = sweeper.loop
        self.idle: list[UpstreamConnection] = []
        self.open = 0  # connecting + busy + idle
        self.busy = 0
        self.down_until = 0.0
        self.failures = 0
        self.retired = False
        self.held_down = False  # set by whoever supervises the target's process
        self._waiters: deque[asyncio.Future[UpstreamConnection]] = deque()

    def __repr__(self) -> str:
        return f"<TargetPool {self.target} open={self.open} busy={self.busy} idle={len(self.idle)}>"

    @property
    def available(self) -> bool:
        return not self.held_down and self.down_until <= self.loop.time()

    def acquire_nowait(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.usable:
                self.busy += 1
                conn.claim()
                return conn
            conn.close()
        return None

    async def acquire(self) -> UpstreamConnection:
        conn = self.acquire_nowait()
        if conn is not None:
            return conn
        if self.open < self.config.max_connections:
            return await self._connect()
        waiter: asyncio.Future[UpstreamConnection] = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.config.acquire_timeout):
                conn = await waiter
        except TimeoutError:
            raise PoolTimeout(
                f"all {self.config.max_connections} connections to {self.target} busy"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
        return conn

    async def _connect(self) -> UpstreamConnection:
        self.open += 1
        target = self.target

        def protocol() -> UpstreamConnection:
            return UpstreamConnection(self, self.loop, target.address, self.limits)

        try:
            async with asyncio.timeout(self.connect_timeout):
                if target.path is not None:
                    _, conn = await self.loop.create_unix_connection(protocol, target.path)
                elif target.tls is None:
                    _, conn = await self.loop.create_connection(
                        protocol, target.host or "127.0.0.1", target.port
                    )
                else:
                    _, conn = await self.loop.create_connection(
                        protocol,
                        target.host or "127.0.0.1",
                        target.port,
                        ssl=target.tls,
                        server_hostname=target.server_name,
                    )
        except TimeoutError:
            self.open -= 1
            self._mark_down()
            raise ConnectTimeout(f"connect to {target} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            self.open -= 1
            self._mark_down()
            raise TlsVerifyError(f"{target}: certificate not verified: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            self.open -= 1
            self._mark_down()
            raise TlsHandshakeError(f"{target}: TLS handshake failed: {exc.reason or exc}") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            # A TCP connect is refused, never reset: this peer hung up during the TLS handshake
            # (often: it wanted a client certificate we did not send, or did not trust ours).
            self.open -= 1
            self._mark_down()
            if target.tls is None:
                raise ConnectError(f"cannot connect to {target}: {exc.strerror or exc!r}") from None
            raise TlsHandshakeError(f"{target}: closed during the TLS handshake ({exc!r})") from None
        except OSError as exc:
            self.open -= 1
            self._mark_down()
            raise ConnectError(f"cannot connect to {target}: {exc.strerror or exc}") from None
        sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.failures = 0
        self.down_until = 0.0
        self.busy += 1
        conn.claim()
        self.sweeper.timed.add(conn)
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        self.busy -= 1
        if self.retired:
            conn.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.busy += 1
                conn.claim()
                waiter.set_result(conn)
                return
        conn.deadline = self.loop.time() + self.config.idle_timeout
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection, was_busy: bool) -> None:
        """A connection closed or failed; called exactly once per connection."""
        self.sweeper.timed.discard(conn)
        if was_busy:
            self.busy -= 1
        elif conn in self.idle:
            self.idle.remove(conn)
        self.open -= 1

    def _mark_down(self) -> None:
        self.down_until = self.loop.time() + _DOWN_BACKOFF[min(self.failures, len(_DOWN_BACKOFF) - 1)]
        self.failures += 1

    def mark_down(self) -> None:
        self.held_down = True

    def mark_up(self) -> None:
        self.held_down = False
        self.failures = 0
        self.down_until = 0.0

    def snapshot(self) -> dict[str, object]:
        return {
            "target": self.target.address,
            "open": self.open,
            "busy": self.busy,
            "idle": len(self.idle),
            "up": self.available,
            "held_down": self.held_down,
            "failures": self.failures,
        }

    def retire(self) -> None:
        """The config was reloaded: close idle connections now, busy ones when they are released."""
        self.retired = True
        for conn in list(self.idle):
            conn.close()
