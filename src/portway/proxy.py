"""One proxied request, from the client's head to the upstream's last byte (DESIGN.md §1).

An :class:`Exchange` is the handler the server feeds with request events and the sink the upstream
connection feeds with response events. With a warm pool the whole exchange runs in callbacks: the
request head is written to a pooled connection as soon as the client's head is parsed, and each
body chunk is relayed as it arrives, both ways, pausing the sending side while the receiving side's
buffer is full. Only acquiring a new upstream connection runs as a coroutine (the slow path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from portway.errors import GatewayError, UpstreamConnectError
from portway.headers import HOP_BY_HOP, connection_tokens
from portway.policies.base import Denial, Identity
from portway.server.problem import reason as default_reason
from portway.server.protocol import HttpConnection
from portway.server.request import RequestHead
from portway.tasks import spawn
from portway.upstream.connection import UpstreamConnection
from portway.upstream.pool import TargetPool

if TYPE_CHECKING:
    from portway.gateway import Gateway, RouteRuntime

log = logging.getLogger("portway.proxy")

_NO_BODY_STATUS = frozenset({204, 304})
_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive"})


def _without(parts: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """Header lines (as 4-part groups: name, ': ', value, CRLF) minus those whose name is listed."""
    out: list[bytes] = []
    for i in range(0, len(parts), 4):
        if parts[i].lower() not in names:
            out += parts[i : i + 4]
    return out


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# What the client is told; the specifics (which target, which errno) go to the gateway's log only.
_PUBLIC_DETAIL = {
    502: "the upstream service failed to answer",
    503: "no upstream service is available",
    504: "the upstream service did not answer in time",
}


class Exchange:
    __slots__ = (
        "_client_ip",
        "bytes_in",
        "chunk_out",
        "client_held",
        "client_path",
        "conn",
        "done",
        "gateway",
        "head",
        "head_out",
        "identity",
        "keep_client",
        "out_start",
        "path",
        "pending",
        "pool",
        "query",
        "replays",
        "request_done",
        "response_headers",
        "response_started",
        "route",
        "status",
        "tunnel",
        "up",
        "up_read_paused",
        "upstream_headers",
    )

    def __init__(
        self,
        gateway: Gateway,
        head: RequestHead,
        conn: HttpConnection,
        route: RouteRuntime,
        client_path: str,
        path: str,
        query: bytes,
    ) -> None:
        self.gateway = gateway
        self.client_path = client_path
        self.head = head
        self.conn = conn
        self.route = route
        self.path = path
        self.query = query
        self.up: UpstreamConnection | None = None
        self.pool: TargetPool | None = None
        self.pending: list[bytes] | None = None  # body chunks that arrived before the upstream did
        self.request_done = False
        self.response_started = False
        self.done = False
        self.tunnel = False
        self.chunk_out = False
        self.keep_client = head.keep_alive
        self.client_held = False
        self.up_read_paused = False
        self.bytes_in = 0
        self.out_start = conn.bytes_out
        self.status = 0
        self.replays = 0
        self.identity: Identity | None = None
        self.head_out: bytes | None = None  # response head held back to go out with the first body bytes
        self.upstream_headers: list[tuple[bytes, bytes]] = []
        self.response_headers: list[tuple[bytes, bytes]] = []
        self._client_ip: str | None = None

    def __repr__(self) -> str:
        return f"<Exchange {self.head.method} {self.path} id={self.head.request_id} status={self.status}>"

    # -- the policy context ----------------------------------------------------------------------
    @property
    def route_name(self) -> str:
        return self.route.name

    @property
    def client_ip(self) -> str:
        """The socket peer; with ``trusted_proxies``, the right-most X-Forwarded-For entry that is
        not a trusted proxy (entries left of it were written by the client and prove nothing)."""
        if self._client_ip is None:
            self._client_ip = self.gateway.client_ip(self.head)
        return self._client_ip

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the route's policies; forward unless one answers. An awaitable result moves the rest
        of the chain to a coroutine while the client's body is held back."""
        policies = self.route.policies
        for index, policy in enumerate(policies):
            try:
                result = policy.request(self)
            except Exception:  # a faulty policy is contained: this request gets a 500, nothing else
                log.exception("policy %s failed for request %s", policy.name, self.head.request_id)
                self._deny(Denial(500, "the gateway could not evaluate this request"))
                return
            if result is None:
                continue
            if isinstance(result, Denial):
                self._deny(result)
                return
            if self.head.has_body:
                self.conn.hold_reading()
                self.client_held = True
            spawn(self._continue_chain(result, index + 1), name=f"policy {policy.name}")
            return
        self._forward()

    async def _continue_chain(self, pending: Awaitable[Denial | None], index: int) -> None:
        policies = self.route.policies
        while True:
            try:
                denial = await pending
            except Exception:
                log.exception("policy failed for request %s", self.head.request_id)
                denial = Denial(500, "the gateway could not evaluate this request")
            if self.done:
                return
            if denial is not None:
                self._deny(denial)
                return
            while index < len(policies):
                try:
                    result = policies[index].request(self)
                except Exception:
                    log.exception(
                        "policy %s failed for request %s", policies[index].name, self.head.request_id
                    )
                    result = Denial(500, "the gateway could not evaluate this request")
                index += 1
                if result is None:
                    continue
                if isinstance(result, Denial):
                    self._deny(result)
                    return
                pending = result
                break
            else:
                self._forward()
                return

    def _deny(self, denial: Denial) -> None:
        self._complete(denial.status)
        headers = denial.headers + self.response_headers
        if denial.problem:
            self.conn.refuse(denial.status, denial.detail or "", self.head, headers=headers)
        else:
            self.conn.respond_empty(denial.status, headers, self.head)

    def _forward(self) -> None:
        try:
            pool = self.route.upstream.pick(self.head)
        except GatewayError as exc:
            self._fail(exc)
            return
        self.pool = pool
        up = pool.acquire_nowait()
        if up is not None:
            self._attach(up)
            return
        if self.head.has_body:
            self.conn.hold_reading()
            self.client_held = True
        spawn(self._acquire(pool), name=f"acquire {pool.target}")

    async def _acquire(self, pool: TargetPool) -> None:
        upstream = self.route.upstream
        tries = len(upstream.pools)
        while True:
            try:
                up = await pool.acquire()
                break
            except UpstreamConnectError as exc:
                tries -= 1
                # Nothing was sent yet, so another target can take the request safely.
                if tries <= 0 or self.done:
                    self._fail(exc)
                    return
                pool = upstream.pick(self.head)
                self.pool = pool
            except GatewayError as exc:
                self._fail(exc)
                return
        if self.done:
            up.close()
            return
        self._attach(up)

    def _attach(self, up: UpstreamConnection) -> None:
        self.up = up
        head = self.head
        up.begin(self, head.method == "HEAD", self.route.upstream.read_timeout)
        up.write(self._request_head())
        pending, self.pending = self.pending, None
        if pending:
            for chunk in pending:
                self._send_body(chunk)
        if self.request_done:
            self._end_request()
        elif head.expect_continue:
            self.conn.send_continue()
        if self.client_held and not up.write_paused:
            self.client_held = False
            self.conn.release_reading()

    def _request_head(self) -> bytes:
        head = self.head
        gateway = self.gateway
        target = self.path.encode()
        if self.query:
            target += b"?" + self.query
        upstream = self.route.upstream
        assert self.pool is not None
        host = head.host if upstream.preserve_host and head.host else self.pool.target.host_header
        parts = [head.method.encode(), b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
        named = connection_tokens(head.headers, lower=True) if head.header(b"connection") else frozenset()
        drop = gateway.drop_request_headers
        client_xff = None
        client_proto = None
        for name, value in head.headers:
            if (
                name in drop
                or name in named
                # `X_User_Id` reaches some frameworks as X-User-Id: never let a spelling slip through
                or (b"_" in name and name.replace(b"_", b"-") in drop)
            ):
                if name == b"x-forwarded-for":
                    client_xff = value if client_xff is None else client_xff + b", " + value
                elif name == b"x-forwarded-proto":
                    client_proto = value
                continue
            parts += (name, b": ", value, b"\r\n")
        ip = head.client_ip.encode()
        if client_xff is not None and gateway.is_trusted(head.client_ip):
            xff = client_xff + b", " + ip
            proto = client_proto or b"http"
        else:
            xff, proto = ip, b"http"
        parts += (b"x-forwarded-for: ", xff, b"\r\nx-forwarded-proto: ", proto, b"\r\n")
        if head.host:
            parts += (b"x-forwarded-host: ", head.host, b"\r\n")
        parts += (b"x-request-id: ", head.request_id.encode(), b"\r\n")
        for name, value in self.upstream_headers:
            parts += (name, b": ", value, b"\r\n")
        if head.upgrade:
            parts += (b"connection: upgrade\r\nupgrade: ", head.header(b"upgrade") or b"", b"\r\n")
        if head.body_chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        elif head.content_length is not None:
            parts += (b"content-length: ", str(head.content_length).encode(), b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    # -- request body (server → here → upstream) -------------------------------------------------
    def on_body(self, data: bytes) -> None:
        if self.done:
            return
        self.bytes_in += len(data)
        limit = self.route.max_body
        if limit is not None and self.bytes_in > limit:
            self._abort_request(413, f"request body larger than {limit} bytes")
            return
        if self.up is None:
            if self.pending is None:
                self.pending = []
            self.pending.append(data)
            return
        self._send_body(data)
        if self.up is not None and self.up.write_paused and not self.client_held:
            self.client_held = True
            self.conn.hold_reading()

    def _send_body(self, data: bytes) -> None:
        up = self.up
        if up is None or self.tunnel:
            return
        if self.head.body_chunked:
            up.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            up.write(data)

    def on_end(self) -> None:
        self.request_done = True
        if self.up is not None:
            self._end_request()

    def _end_request(self) -> None:
        up = self.up
        if up is None:
            return
        if self.head.body_chunked:
            up.write(b"0\r\n\r\n")
        up.request_complete()

    def on_upstream_writable(self) -> None:
        if self.client_held:
            self.client_held = False
            self.conn.release_reading()

    # -- response (upstream → here → client) -----------------------------------------------------
    def on_response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], conn: UpstreamConnection
    ) -> None:
        head = self.head
        self.status = status
        if status == 101 and not head.upgrade:
            self._fail(GatewayError("upstream switched protocols unasked"), status=502)
            return
        parts = [b"HTTP/1.1 %d %b\r\n" % (status, reason or default_reason(status))]
        content_length = None
        chunked = False
        upgrade = b""
        named: frozenset[bytes] = frozenset()
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-length":
                content_length = value
            elif lname in HOP_BY_HOP or lname == b"x-request-id":
                if lname == b"transfer-encoding":
                    chunked = True
                elif lname == b"upgrade":
                    upgrade = value
                elif lname == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
                    named = connection_tokens(headers, lower=False) - _CONNECTION_OPTIONS
                continue
            parts += (name, b": ", value, b"\r\n")
        if named:  # rare: the upstream named its own hop-by-hop headers; drop them too
            parts = [parts[0], *_without(parts[1:], named)]
        parts += (b"x-request-id: ", head.request_id.encode(), b"\r\n")
        for name, value in self.response_headers:
            parts += (name, b": ", value, b"\r\n")
        if status == 101:
            parts += (b"connection: upgrade\r\nupgrade: ", upgrade, b"\r\n\r\n")
            self.response_started = True
            self.conn.write(b"".join(parts))
            self._open_tunnel(conn)
            return
        keep = head.keep_alive and not self.conn.closing and not self.gateway.draining
        if head.method == "HEAD" or status in _NO_BODY_STATUS:
            if chunked and content_length is None:
                parts.append(b"transfer-encoding: chunked\r\n")
        elif content_length is None:
            # Chunked or close-delimited upstream body: re-chunk for HTTP/1.1, close-delimit for 1.0.
            if head.version == "1.1":
                self.chunk_out = True
                parts.append(b"transfer-encoding: chunked\r\n")
            else:
                keep = False
        self.keep_client = keep
        parts.append(b"\r\n" if keep else b"connection: close\r\n\r\n")
        self.response_started = True
        # Held until the body bytes of this same read arrive (or the read ends: flush_head), so a
        # small response leaves in one send() and one TCP segment instead of two.
        self.head_out = b"".join(parts)

    def flush_head(self) -> None:
        if self.head_out is not None:
            head_out, self.head_out = self.head_out, None
            self.conn.write(head_out)

    def on_response_body(self, data: bytes) -> None:
        conn = self.conn
        if self.chunk_out:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        if self.head_out is not None:
            data = self.head_out + data
            self.head_out = None
        conn.write(data)
        if conn.write_paused and not self.up_read_paused and self.up is not None:
            self.up_read_paused = True
            self.up.pause_reading()

    def on_writable(self) -> None:
        if self.up_read_paused and self.up is not None:
            self.up_read_paused = False
            self.up.resume_reading()

    def on_response_end(self) -> None:
        self.up = None
        if self.done:
            return
        if self.chunk_out:
            self.on_response_body(b"")  # a zero-length chunk is the terminator
        else:
            self.flush_head()
        self._complete(self.status)
        self.conn.finish(self.keep_client)

    # -- WebSocket and other upgrades: a byte pump in both directions ----------------------------
    def _open_tunnel(self, up: UpstreamConnection) -> None:
        self.tunnel = True
        up.open_tunnel()
        rest = self.conn.start_tunnel(self._client_tunnel_data)
        if rest:
            up.write(rest)

    def _client_tunnel_data(self, data: bytes) -> None:
        up = self.up
        if up is None:
            return
        self.bytes_in += len(data)
        up.write(data)
        if up.write_paused and not self.client_held:
            self.client_held = True
            self.conn.hold_reading()

    def on_tunnel_data(self, data: bytes) -> None:
        self.on_response_body(data)

    # -- endings ---------------------------------------------------------------------------------
    def on_client_lost(self) -> None:
        if self.done:
            return
        up, self.up = self.up, None
        if up is not None:
            up.detach()
        self._complete(self.status if self.tunnel else 499)

    def on_upstream_error(self, error: GatewayError) -> None:
        self.up = None
        if self.done:
            return
        if self.tunnel:
            self._complete(self.status)
            self.conn.close()
            return
        if (
            isinstance(error, UpstreamConnectError)
            and not self.response_started
            and not self.head.has_body
            and self.head.method in _IDEMPOTENT
            and self.pool is not None
            and self.replays < max(2, len(self.route.upstream.pools))
        ):
            # The upstream closed without a byte of answer (a kept-alive connection reused as the
            # peer closed it, or a replica that died): an idempotent request may be replayed
            # (RFC 9110 §9.2.2), a bounded number of times; any other may have been acted on, so
            # the client hears 502 instead.
            self.replays += 1
            self.pool = self.route.upstream.pick(self.head)
            spawn(self._acquire(self.pool), name=f"reconnect {self.pool.target}")
            return
        self._fail(error)

    def _abort_request(self, status: int, detail: str) -> None:
        up, self.up = self.up, None
        if up is not None:
            up.detach()
        if self.response_started:
            self._complete(self.status)
            self.conn.abort()
        else:
            self._complete(status)
            self.conn.refuse(status, detail, self.head)

    def _fail(self, error: GatewayError, status: int | None = None) -> None:
        status = status or error.status
        log.warning(
            "upstream %s failed for %s %s (request %s): %s",
            self.route.upstream.name, self.head.method, self.path, self.head.request_id, error,
        )  # fmt: skip
        if self.response_started:
            self._complete(self.status)
            self.conn.abort()
            return
        self._complete(status)
        self.conn.refuse(status, _PUBLIC_DETAIL.get(status, "the request could not be proxied"), self.head)

    def _complete(self, status: int) -> None:
        self.done = True
        self.status = status
        elapsed = time.perf_counter() - self.head.start
        self.route.stats.observe(status, elapsed)
        access_log = self.gateway.access_log
        if access_log is not None:
            head = self.head
            access_log.record(
                (
                    time.time(),
                    head.request_id,
                    head.client_ip,
                    head.method,
                    self.client_path,
                    self.route.name,
                    self.pool.target.address if self.pool is not None else "",
                    status,
                    self.bytes_in,
                    self.conn.bytes_out - self.out_start,
                    elapsed * 1000.0,
                )
            )
