"""Per-request (or per-event) correlation: the gateway's ``X-Request-Id`` and the W3C trace context.

Held in context variables so that log lines and outgoing events pick them up without being passed
around. A ``traceparent`` is ``00-<trace-id 32 hex>-<parent-id 16 hex>-<flags 2 hex>``; we keep the
caller's trace id, make our own span id, and hand ``00-<trace>-<our span>-<flags>`` downstream.
"""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Correlation:
    request_id: str
    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


_current: ContextVar[Correlation | None] = ContextVar("shop_correlation", default=None)


def correlation_from(request_id: str | None, traceparent: str | None) -> Correlation:
    """Continue the caller's request id and trace, or start new ones when they are absent or invalid."""
    if not request_id or not _REQUEST_ID.match(request_id):
        request_id = uuid.uuid4().hex
    match = _TRACEPARENT.match(traceparent.strip().lower()) if traceparent else None
    if match and match.group(1) != _INVALID_TRACE and match.group(2) != _INVALID_SPAN:
        trace_id, flags = match.group(1), match.group(3)
    else:
        trace_id, flags = secrets.token_hex(16), "01"
    return Correlation(request_id, trace_id, secrets.token_hex(8), flags)


def current() -> Correlation | None:
    return _current.get()


def bind(correlation: Correlation) -> object:
    """Make ``correlation`` current; returns a token for :func:`unbind`."""
    return _current.set(correlation)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
