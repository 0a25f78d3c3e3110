"""Keep-alive connections to one target.

Rules:
- ``acquire_nowait()`` hands out the most recently used idle connection (LIFO keeps few sockets
  warm and lets the rest expire) or ``None``; ``acquire()`` is the slow path that connects, or waits
  for a release when ``max_connections`` are open, up to ``acquire_timeout``.
- A connection comes back through ``release()`` only when its last exchange ended cleanly;
  ``forget()`` drops it from the books whatever its state. Idle connections expire after
  ``idle_timeout`` (the sweeper closes them).
- The target's :class:`~portway.upstream.health.TargetHealth` (and optional
  :class:`~portway.upstream.breaker.CircuitBreaker`) decide ``available``: the pool feeds them what
  it sees (connects), the exchange what it hears (answers), the prober its checks, the supervisor
  its hold. After each event ``blocked_until`` is recomputed, so ``available`` stays one float
  comparison on the hot path. Connect faults say nothing was sent: :class:`ConnectError`,
  :class:`ConnectTimeout` (a blackholed target), :class:`PoolTimeout` (every connection busy).
- The pool is the connections' :class:`~portway.upstream.connection.Owner`: it alone keeps the
  counts (``open``, ``busy``, ``idle``); ``snapshot()`` is what the admin API reads.
- ``mark_down()`` takes the target out of rotation until ``mark_up()``, whatever connects succeed
  meanwhile: a supervisor that knows the process is dead or still starting (``portway up``) says so.
- ``outcome(failed)`` is called by the exchange only when ``observing`` (an outlier or breaker
  config): with neither, answers cost the pool nothing. ``deferred(headers)`` is called on every
  503: a ``Retry-After`` in it takes the target out for that long (upstream/retry_after.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
import time
from collections import deque

from portway.config.models import Pool as PoolConfig
from portway.errors import ConnectError, ConnectTimeout, PoolTimeout, TlsHandshakeError, TlsVerifyError
from portway.sweeper import Sweeper
from portway.upstream import breaker as circuit
from portway.upstream.breaker import CircuitBreaker
from portway.upstream.connection import ResponseLimits, UpstreamConnection
from portway.upstream.health import Event, Health, TargetHealth
from portway.upstream.latency import PeakEwma
from portway.upstream.retry_after import DEFAULT_CAP, parse_delay, retry_after
from portway.upstream.target import Target


class TargetPool:
    def __init__(
        self,
        target: Target,
        config: PoolConfig,
        connect_timeout: float,
        sweeper: Sweeper,
        limits: ResponseLimits | None = None,
        health: TargetHealth | None = None,
        breaker: CircuitBreaker | None = None,
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
        self.health = health if health is not None else TargetHealth(target.address)
        self.breaker = breaker
        self.observing = breaker is not None or self.health.outlier is not None
        self.blocked_until = 0.0  # balancers skip the target until then (inf: until an event)
        self.hard = False  # blocked for a reason panic mode must respect (checks, hold, breaker)
        self.retired = False
        self.latency: PeakEwma | None = None  # set by the `ewma` balancer: then each request is timed
        self._waiters: deque[asyncio.Future[UpstreamConnection]] = deque()

    def __repr__(self) -> str:
        return f"<TargetPool {self.target} open={self.open} busy={self.busy} idle={len(self.idle)}>"

    @property
    def available(self) -> bool:
        blocked = self.blocked_until
        return blocked == 0.0 or blocked <= self.loop.time()

    @property
    def failures(self) -> int:
        """Consecutive failed connects."""
        return self.health.connect_failures

    @property
    def held_down(self) -> bool:
        return self.health.state is Health.HELD

    # -- what the target's health and breaker hear -----------------------------------------------
    def event(self, event: Event) -> None:
        self.health.step(event, self.loop.time())
        self._recompute()

    def outcome(self, failed: bool) -> None:
        """An answer (or its absence) from this target: a 5xx, a timeout or a reset is a failure."""
        now = self.loop.time()
        self.health.step(Event.FAILURE if failed else Event.SUCCESS, now)
        breaker = self.breaker
        if breaker is not None:
            breaker.step(circuit.Event.FAILURE if failed else circuit.Event.SUCCESS, now)
        self._recompute()

    def deferred(self, headers: list[tuple[bytes, bytes]], wall_now: float | None = None) -> None:
        """A 503 from this target: its ``Retry-After``, if any, keeps it out that long."""
        value = retry_after(headers)
        if value is None:
            return
        outlier = self.health.outlier
        cap = outlier.max_ejection if outlier is not None else DEFAULT_CAP
        delay = parse_delay(value, time.time() if wall_now is None else wall_now, cap)
        if delay > 0.0:
            self.health.step(Event.RETRY_AFTER, self.loop.time(), delay)
            self._recompute()

    def admit(self) -> None:
        """A balancer picked this target: a half-open breaker counts its probes."""
        breaker = self.breaker
        if breaker is not None and breaker.state is not circuit.Circuit.CLOSED:
            breaker.step(circuit.Event.ADMIT, self.loop.time())
            self._recompute()

    def _recompute(self) -> None:
        health = self.health
        blocked = health.blocked_until
        hard = health.hard
        breaker = self.breaker
        if breaker is not None:
            until = breaker.blocked_until
            if until > self.loop.time():
                hard = True
                blocked = max(blocked, until)
        self.blocked_until = blocked
        self.hard = hard

    def retry_in(self, now: float) -> float:
        """Seconds until this target may be back (for ``Retry-After``); inf when unknown."""
        if self.blocked_until == math.inf:
            check = self.health.check
            return check.interval * check.healthy if check is not None else math.inf
        return max(self.blocked_until - now, 0.0)

    def acquire_nowait(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.usable:
                self.busy += 1
                conn.claim()
                if self.latency is not None:
                    conn.claimed_at = self.loop.time()
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
        started = self.loop.time()
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
            self._connect_failed()
            raise ConnectTimeout(f"connect to {target} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            self.open -= 1
            self._connect_failed()
            raise TlsVerifyError(f"{target}: certificate not verified: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            self.open -= 1
            self._connect_failed()
            raise TlsHandshakeError(f"{target}: TLS handshake failed: {exc.reason or exc}") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            # A TCP connect is refused, never reset: this peer hung up during the TLS handshake
            # (often: it wanted a client certificate we did not send, or did not trust ours).
            self.open -= 1
            self._connect_failed()
            if target.tls is None:
                raise ConnectError(f"cannot connect to {target}: {exc.strerror or exc!r}") from None
            raise TlsHandshakeError(f"{target}: closed during the TLS handshake ({exc!r})") from None
        except OSError as exc:
            self.open -= 1
            self._connect_failed()
            raise ConnectError(f"cannot connect to {target}: {exc.strerror or exc}") from None
        sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.health.connect_failures or self.blocked_until:
            self.event(Event.CONNECT_OK)
        self.busy += 1
        conn.claim()
        if self.latency is not None:
            conn.claimed_at = started  # the connect counts: a target slow to accept is slow
        self.sweeper.timed.add(conn)
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        self.busy -= 1
        latency = self.latency
        if latency is not None:
            now = self.loop.time()
            latency.observe(now - conn.claimed_at, now)
        if self.retired:
            conn.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.busy += 1
                conn.claim()
                if latency is not None:
                    conn.claimed_at = self.loop.time()
                waiter.set_result(conn)
                return
        conn.deadline = self.loop.time() + self.config.idle_timeout
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection, was_busy: bool) -> None:
        """A connection closed or failed; called exactly once per connection."""
        self.sweeper.timed.discard(conn)
        if was_busy:
            self.busy -= 1
            latency = self.latency
            if latency is not None:  # an error or a timeout is an answer as slow as it took
                now = self.loop.time()
                latency.observe(now - conn.claimed_at, now)
        elif conn in self.idle:
            self.idle.remove(conn)
        self.open -= 1

    def _connect_failed(self) -> None:
        self.event(Event.CONNECT_FAILURE)
        if self.breaker is not None:
            self.breaker.step(circuit.Event.FAILURE, self.loop.time())
            self._recompute()

    def mark_down(self) -> None:
        self.event(Event.HOLD)

    def mark_up(self) -> None:
        if self.held_down:
            self.event(Event.RELEASE)

    def snapshot(self) -> dict[str, object]:
        now = self.loop.time()
        out: dict[str, object] = {
            "target": self.target.address,
            "open": self.open,
            "busy": self.busy,
            "idle": len(self.idle),
            "waiting": len(self._waiters),  # requests queued for a connection (max_connections reached)
            "up": self.available,
            "held_down": self.held_down,
            "failures": self.failures,
            "health": self.health.snapshot(now),
        }
        if self.breaker is not None:
            out["breaker"] = self.breaker.snapshot(now)
        return out

    def retire(self) -> None:
        """The config was reloaded: close idle connections now, busy ones when they are released."""
        self.retired = True
        for conn in list(self.idle):
            conn.close()
