"""A request the gateway sends on its own behalf (a cache's background revalidation): the same
exchange as a client's, with a responder that sends nowhere. Its response still runs through the
route's response hooks, which is the point: they store what came back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from portway.contract import Answer, RequestHead
from portway.errors import GatewayError

log = logging.getLogger("portway.proxy")


class NoClient:
    """A :class:`~portway.contract.Responder` with nobody on the other end."""

    bytes_out = 0
    write_paused = False
    tls_version = ""

    @property
    def closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        pass

    def finish(self, keep_alive: bool) -> None:
        pass

    def refuse(self, error: GatewayError, head: RequestHead) -> None:
        log.info("background request %s failed: %s", head.request_id, error)

    def answer(self, answer: Answer, head: RequestHead) -> None:
        pass

    def send_continue(self) -> None:
        pass

    def hold_reading(self) -> None:
        pass

    def release_reading(self) -> None:
        pass

    def start_tunnel(self, receive: Callable[[bytes], None]) -> bytes:
        return b""

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass
