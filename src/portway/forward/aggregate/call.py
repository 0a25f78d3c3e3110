"""One aggregation call: a GET over the upstream's own pool, its body collected under a shared
byte budget.

Rules:
- The call borrows a pooled keep-alive connection like a proxied request does (same balancer,
  health, breaker, TLS); a response read to its end gives the connection back to the pool.
- Its request carries only what the gateway vouches for (:func:`call_head`): ``Host``,
  ``X-Forwarded-For``/``-Proto``/``-Host``, ``X-Request-Id``, the policies' headers (identity,
  header transforms) and trace context; none of the client's own headers.
- The call's ``timeout`` covers the connect and the whole answer. Waiting for a connection is
  never cancelled (the pool's books must stay right): a call that gives up leaves the acquire to
  finish on its own, and a connection it brings is closed.
- A non-2xx answer, an encoded body, an upstream fault or the timeout fail the call
  (:class:`CallFailed`); the body of a failed answer is read off and discarded, so the connection
  survives. Bytes past the shared :class:`Budget` fail the whole aggregate (:class:`TooLarge`).
"""

from __future__ import annotations

import asyncio

from portway.contract import RequestHead
from portway.errors import UpstreamError
from portway.tasks import spawn
from portway.upstream.connection import UpstreamConnection
from portway.upstream.pool import TargetPool

Header = tuple[bytes, bytes]


class TooLarge(UpstreamError):
    public = "the aggregated response is larger than the route allows"


class CallFailed(Exception):
    """One call gave no usable answer; ``reason`` is for the gateway's log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Budget:
    """Bytes all the calls of one aggregate may still bring."""

    __slots__ = ("limit", "remaining")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def take(self, size: int) -> bool:
        self.remaining -= size
        return self.remaining >= 0


def call_head(
    target: bytes,
    host: bytes,
    head: RequestHead,
    client_ip: str,
    proto: bytes,
    extra: list[Header],
) -> bytes:
    """The call's request head: bytes out, nothing of the client's headers but what is vouched for."""
    parts = [b"GET ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\naccept: application/json\r\n"]
    parts += (b"x-forwarded-for: ", client_ip.encode(), b"\r\nx-forwarded-proto: ", proto, b"\r\n")
    if head.host:
        parts += (b"x-forwarded-host: ", head.host, b"\r\n")
    parts += (b"x-request-id: ", head.request_id.encode(), b"\r\n")
    for name, value in extra:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class _Collect:
    """The call's :class:`~portway.upstream.connection.ResponseSink`: the body, bounded."""

    __slots__ = ("budget", "chunks", "conn", "done", "failure", "status")

    def __init__(self, done: asyncio.Future[bytes], conn: UpstreamConnection, budget: Budget) -> None:
        self.done = done
        self.conn = conn
        self.budget = budget
        self.chunks: list[bytes] = []
        self.status = 0
        self.failure = ""

    def on_response_head(self, status: int, reason: bytes, headers: list[Header]) -> None:
        self.status = status
        if not 200 <= status < 300:
            self.failure = f"status {status}"
            return
        for name, value in headers:
            if name.lower() == b"content-encoding" and value.strip().lower() != b"identity":
                self.failure = f"encoded body ({value.decode('latin-1')})"

    def on_response_body(self, data: bytes) -> None:
        if self.failure or self.done.done():
            return
        if not self.budget.take(len(data)):
            self.done.set_exception(TooLarge(f"over {self.budget.limit} bytes"))
            self.conn.detach()  # the rest is not wanted: this connection cannot be reused
            return
        self.chunks.append(data)

    def on_response_end(self) -> None:
        if self.done.done():
            return
        if self.failure:
            self.done.set_exception(CallFailed(self.failure))
        else:
            self.done.set_result(b"".join(self.chunks))

    def on_upstream_error(self, error: UpstreamError) -> None:
        if not self.done.done():
            self.done.set_exception(CallFailed(f"{type(error).__name__}: {error}"))

    def on_upstream_writable(self) -> None:
        pass  # the request is whole with its head: nothing waits to be written

    def on_tunnel_data(self, data: bytes) -> None:
        pass  # never asked for an upgrade

    def flush_head(self) -> None:
        pass


async def _acquire(pool: TargetPool) -> UpstreamConnection | UpstreamError:
    try:
        return await pool.acquire()
    except UpstreamError as exc:  # returned, not raised: an abandoned acquire is no crash to log
        return exc


def _close_unused(task: asyncio.Task[UpstreamConnection | UpstreamError]) -> None:
    if not task.cancelled() and isinstance(conn := task.result(), UpstreamConnection):
        conn.close()


async def fetch(pool: TargetPool, head: bytes, seconds: float, budget: Budget) -> bytes:
    """The call's body; raises :class:`CallFailed` or :class:`TooLarge`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    conn = pool.acquire_nowait()
    if conn is None:
        acquiring = spawn(_acquire(pool), name=f"aggregate acquire {pool.target}")
        try:
            await asyncio.wait({acquiring}, timeout=seconds)
        finally:
            if not acquiring.done():
                acquiring.add_done_callback(_close_unused)
        if not acquiring.done():
            _observe(pool, True)
            raise CallFailed(f"no connection to {pool.target} within {seconds:g}s")
        got = acquiring.result()
        if isinstance(got, UpstreamError):
            raise CallFailed(f"{type(got).__name__}: {got}")
        conn = got
    done: asyncio.Future[bytes] = loop.create_future()
    sink = _Collect(done, conn, budget)
    conn.begin(sink, False, max(deadline - loop.time(), 0.001), head, True)
    try:
        async with asyncio.timeout_at(deadline):
            body = await done
    except TimeoutError:
        _observe(pool, True)
        raise CallFailed(f"{pool.target} did not answer within {seconds:g}s") from None
    except CallFailed:
        _observe(pool, sink.status == 0 or sink.status >= 500)  # a 404 says nothing of its health
        raise
    finally:
        # Timed out or cancelled mid-answer (the awaited future is then cancelled with the task):
        # the connection's state is unknown, so it is closed rather than given back.
        if not done.done() or done.cancelled():
            done.cancel()
            conn.detach()
    _observe(pool, False)
    return body


def _observe(pool: TargetPool, failed: bool) -> None:
    if pool.observing:  # passive health and breakers hear calls as they hear proxied requests
        pool.outcome(failed)
