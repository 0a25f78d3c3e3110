"""An admin request answered later: its body is read (up to a small limit), then a coroutine makes
the answer (a reload, a fan-in over the workers), and the server renders it like any other.

Rules:
- A body past :data:`MAX_BODY` is refused with 413 as soon as it is known to be too large (by
  ``Content-Length`` before a byte is read, else by what arrived); nothing the admin API takes
  is larger than a purge selector.
- The work runs as a background task (tasks.spawn); a client that goes away cancels it, and a
  crash in it is a 500 problem (logged), never a hung connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from portway.contract import Answer, RequestHead, Responder
from portway.errors import ClientError, GatewayError
from portway.tasks import spawn

MAX_BODY = 64 * 1024
Result = Answer | GatewayError
Work = Callable[[bytes], Awaitable[Result]]
log = logging.getLogger("portway.admin")


def too_large(head: RequestHead) -> ClientError | None:
    if head.content_length is not None and head.content_length > MAX_BODY:
        return ClientError(413, f"an admin request body is at most {MAX_BODY} bytes")
    return None


class Deferred:
    """The :class:`~portway.contract.Handler` of one admin request whose answer takes I/O."""

    def __init__(self, head: RequestHead, responder: Responder, work: Work) -> None:
        self.head = head
        self.responder = responder
        self.work = work
        self.chunks: list[bytes] = []
        self.size = 0
        self.task: asyncio.Task[None] | None = None
        self.done = False

    def on_body(self, data: bytes) -> None:
        if self.done:
            return
        self.size += len(data)
        if self.size > MAX_BODY:
            self._finish(ClientError(413, f"an admin request body is at most {MAX_BODY} bytes"))
            return
        self.chunks.append(data)

    def on_end(self) -> None:
        if not self.done and self.task is None:
            self.task = spawn(
                self._run(b"".join(self.chunks)), name=f"admin {self.head.method} {self.head.target!r}"
            )

    def on_client_lost(self) -> None:
        self.done = True
        if self.task is not None:
            self.task.cancel()

    def on_writable(self) -> None:
        pass  # the answer is one small write

    async def _run(self, body: bytes) -> None:
        try:
            result = await self.work(body)
        except Exception:
            log.exception("admin %s %r failed", self.head.method, self.head.target)
            result = GatewayError("admin request failed")  # a 500; its detail stays in the log
        self._finish(result)

    def _finish(self, result: Result) -> None:
        if self.done:
            return
        self.done = True
        if isinstance(result, GatewayError):
            self.responder.refuse(result, self.head)
        else:
            self.responder.answer(result, self.head)
