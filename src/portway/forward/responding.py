"""The responding half of :class:`~portway.forward.exchange.Exchange` (its base class): the
upstream's response head through the route's response hooks to the client, the body relayed (and
through a policy's body filter) with back-pressure both ways, and upgraded connections pumped.
Apart so each half stays readable; the rules are the exchange's (see its module).
"""

from __future__ import annotations

import logging
from typing import cast

from mypy_extensions import mypyc_attr

from portway.errors import UpstreamProtocolError
from portway.forward import heads
from portway.forward.attempts import Discard
from portway.forward.connecting import Connecting
from portway.forward.phases import Phase
from portway.policies.base import BodyFilter, Context, Reply
from portway.policies.runner import run_response

log = logging.getLogger("portway.proxy")

_FORWARDING, _RESPONDING, _TUNNEL, _DONE = Phase.FORWARDING, Phase.RESPONDING, Phase.TUNNEL, Phase.DONE


# Compiled (mypyc) like its halves: the interpreted subclasses' overrides must still be called.
@mypyc_attr(allow_interpreted_subclasses=True)
class Responding(Connecting):
    # The exchange's state this half reads and writes (Exchange adds the rest of its slots).
    # fmt: off
    __slots__ = (
        "body_filter", "bytes_in", "chunk_out", "head_out", "keep_client", "response_headers", "status",
        "up_read_paused",
    )
    # fmt: on
    body_filter: BodyFilter | None  # what response hooks asked the body to stream through
    bytes_in: int
    chunk_out: bool
    head_out: bytes | None  # response head held back to go out with the first body bytes
    keep_client: bool
    response_headers: list[tuple[bytes, bytes]]
    status: int
    up_read_paused: bool

    def _complete(self, status: int) -> None:
        raise NotImplementedError

    # -- response (upstream → here → client) -----------------------------------------------------
    def on_response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        head = self.head
        pool = self.pool
        if pool is not None:
            if pool.observing:
                pool.outcome(status >= 500)
            if status == 503:
                pool.deferred(headers)  # honours the target's Retry-After
        attempts = self.attempts
        if attempts is not None and status in attempts.policy.statuses and attempts.may_retry(head, status):
            up, self.up = self.up, None
            assert up is not None
            up.divert(Discard(self._retry))  # read to its end (the connection may be reused), then retry
            self._hold_client()
            return
        self.status = status
        if status == 101 and not head.upgrade:
            self._fail(UpstreamProtocolError("upstream switched protocols unasked"))
            return
        hooks = self.route.chain.response_hooks
        if hooks:
            reply = Reply(status, reason, headers)
            self.body_filter = run_response(hooks, cast(Context, self), reply)  # an Exchange
            status, reason, headers = reply.status, reply.reason, reply.headers
            self.status = status
        client = self.client
        data, self.chunk_out, keep = heads.response_head(
            status,
            reason,
            headers,
            head,
            self.response_headers,
            head.keep_alive and not client.closing,
            self.rules.response_headers,
        )
        self.keep_client = keep
        if status == 101:
            self._enter(_TUNNEL)
            client.write(data)
            up = self.up
            assert up is not None
            up.open_tunnel()
            rest = client.start_tunnel(self._client_tunnel_data)
            if rest:
                up.write(rest)
            return
        if self.phase is not _FORWARDING:
            self._enter(_RESPONDING)  # raises: only forwarding moves on to responding
        self.phase = _RESPONDING
        # Held until the body bytes of this same read arrive (or the read ends: flush_head), so a
        # small response leaves in one send() and one TCP segment instead of two.
        self.head_out = data

    def flush_head(self) -> None:
        if self.head_out is not None:
            head_out, self.head_out = self.head_out, None
            self.client.write(head_out)

    def on_response_body(self, data: bytes) -> None:
        body_filter = self.body_filter
        if body_filter is not None:
            try:
                data = body_filter.data(data)
            except Exception:
                self._filter_failed()
                return
            if not data:
                return  # nothing to send yet (and an empty chunk would end a chunked body)
        self._send_out(data)

    def _send_out(self, data: bytes) -> None:
        client = self.client
        if self.chunk_out:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        if self.head_out is not None:
            data = self.head_out + data
            self.head_out = None
        client.write(data)
        if client.write_paused and not self.up_read_paused and self.up is not None:
            self.up_read_paused = True
            self.up.pause_reading()

    def on_writable(self) -> None:
        if self.up_read_paused and self.up is not None:
            self.up_read_paused = False
            self.up.resume_reading()

    def on_response_end(self) -> None:
        self.up = None
        if self.phase is _DONE:
            return
        body_filter = self.body_filter
        if body_filter is not None:
            self.body_filter = None
            try:
                tail = body_filter.end()
            except Exception:
                self.body_filter = body_filter
                self._filter_failed()
                return
            if tail:
                self._send_out(tail)
        if self.chunk_out:
            self._send_out(b"")  # a zero-length chunk is the terminator
        else:
            self.flush_head()
        self._complete(self.status)
        self.client.finish(self.keep_client)

    def _filter_failed(self) -> None:
        # A body half-sent cannot become an error response: the client sees an aborted body, as
        # with an upstream that fails mid-body, and the filter drops what it kept.
        log.exception("response body filter failed for request %s", self.head.request_id)
        up, self.up = self.up, None
        if up is not None:
            up.detach()
        self._complete(self.status)
        self.client.abort()

    # -- WebSocket and other upgrades: a byte pump in both directions ----------------------------
    def _client_tunnel_data(self, data: bytes) -> None:
        up = self.up
        if up is None:
            return
        self.bytes_in += len(data)
        up.write(data)
        if up.write_paused and not self.client_held:
            self.client_held = True
            self.client.hold_reading()

    def on_tunnel_data(self, data: bytes) -> None:
        self.on_response_body(data)
