"""The retry state of one request, for routes with ``retries:`` (or a total ``timeout``): how many
tries were made, which targets failed, and the replay buffer of the request body.

Rules (the verdicts themselves are pure, in :mod:`portway.forward.retry`):
- Created per request only when the route has a :class:`~portway.forward.retry.RetryPolicy`; a
  route without one pays a single ``is None`` check per stage.
- The body is kept while it fits ``replay_buffer``; past it the buffer is dropped and the request
  is never sent twice once it reached an upstream (nothing sent: it may still go elsewhere).
- A response whose status is a retry condition is swallowed by :class:`Discard` (the rest of it is
  read off the connection, so a kept-alive connection survives) and nothing reaches the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from portway.contract import RequestHead
from portway.errors import ReadTimeout, UpstreamError
from portway.forward.retry import RetryPolicy
from portway.upstream.pool import TargetPool


class Attempts:
    __slots__ = ("policy", "reason", "replay", "replay_size", "tried", "tries")

    def __init__(self, policy: RetryPolicy, has_body: bool) -> None:
        self.policy = policy
        self.tries = 1
        self.tried: list[TargetPool] = []
        self.replay: list[bytes] | None = [] if has_body and policy.attempts > 1 else None
        self.replay_size = 0
        self.reason = ""  # why the last retry was allowed: `reset`, `timeout` or the status

    def __repr__(self) -> str:
        return f"<Attempts {self.tries}/{self.policy.attempts} tried={len(self.tried)}>"

    def begin(self) -> None:
        """The request goes to the upstream: it counts towards the retry budget's share."""
        budget = self.policy.budget
        if budget is not None:
            budget.request(time.perf_counter())

    def keep(self, chunk: bytes) -> None:
        replay = self.replay
        if replay is not None:
            self.replay_size += len(chunk)
            if self.replay_size > self.policy.replay_buffer:
                self.replay = None
            else:
                replay.append(chunk)

    def body(self) -> list[bytes] | None:
        return list(self.replay) if self.replay else None

    def timeout(self, read_timeout: float, started: float) -> float:
        return self.policy.try_timeout(read_timeout, started, time.perf_counter())

    def may_retry(self, head: RequestHead, failure: UpstreamError | int) -> bool:
        """After a try that reached the upstream failed (an error, or a status to retry on)."""
        policy = self.policy
        now = time.perf_counter()
        if self.tries >= policy.attempts or not policy.time_left(head.start, now):
            return False
        if isinstance(failure, int):
            if failure not in policy.statuses:
                return False
            reason = str(failure)
        elif not policy.matches(failure):
            return False
        else:
            reason = "timeout" if isinstance(failure, ReadTimeout) else "reset"
        if not policy.safe(head) or (head.has_body and self.replay is None):
            return False
        budget = policy.budget
        if budget is not None and not budget.try_retry(now):
            return False
        self.tries += 1
        self.reason = reason
        return True

    def delay(self) -> float:
        return self.policy.backoff(self.tries - 1)


class Discard:
    """The sink of an answer being retried: reads it to its end, then calls ``done``."""

    __slots__ = ("done",)

    def __init__(self, done: Callable[[], None]) -> None:
        self.done = done

    def on_response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        pass

    def on_response_body(self, data: bytes) -> None:
        pass

    def on_response_end(self) -> None:
        self.done()

    def on_upstream_error(self, error: UpstreamError) -> None:
        self.done()

    def on_upstream_writable(self) -> None:
        pass

    def on_tunnel_data(self, data: bytes) -> None:
        pass

    def flush_head(self) -> None:
        pass
