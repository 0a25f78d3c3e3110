"""When a failed attempt may be tried again, on another target (DESIGN.md §1: errors say what
happened). Pure rules over the error and the request; the exchange applies them.

- Nothing was sent (connect refused or timed out, pool exhausted, no target): always safe, so the
  request goes to another target while the upstream has one it has not tried.
- The request was sent and the upstream closed before a byte of answer: only a request that is
  idempotent (RFC 9110 §9.2.2) and has no body (nothing to replay from) is sent again, a bounded
  number of times; anything else may have been acted on.
"""

from __future__ import annotations

from portway.contract import RequestHead
from portway.errors import UpstreamDisconnected, UpstreamError

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def may_try_another(error: UpstreamError, untried: int) -> bool:
    """After a failed connect: ``untried`` targets are left to try."""
    return not error.sent and untried > 0


def may_replay(error: UpstreamError, head: RequestHead, replays: int, targets: int) -> bool:
    """After the upstream failed a request that went out, before any response head came back."""
    return (
        isinstance(error, UpstreamDisconnected)
        and not head.has_body
        and head.method in IDEMPOTENT
        and replays < max(2, targets)
    )
