"""Failed handshakes on the listener: counted by reason, logged in brief, never a traceback.

Rules:
- Handshake failures (plaintext on the TLS port, old protocol versions, no shared cipher, a client
  rejecting our certificate) never reach a traceback: they are counted by reason
  (``portway_tls_handshake_failures_total``) and logged at most once per :data:`LOG_EVERY` seconds
  with the counts since the last line.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter

log = logging.getLogger("portway.tls")

LOG_EVERY = 10.0

HANDSHAKE_FAILURES = Counter(
    "portway_tls_handshake_failures",
    "TLS handshakes on the listener that failed, by reason",
    ["reason"],
)


class HandshakeFailures:
    """Counts failed handshakes by reason; logs at most one line per ``every`` seconds."""

    def __init__(self, every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.pending: collections.Counter[str] = collections.Counter()
        self.last_line = -every

    def record(self, exc: BaseException) -> None:
        reason = classify(exc)
        HANDSHAKE_FAILURES.labels(reason).inc()
        self.pending[reason] += 1
        now = self.clock()
        if now - self.last_line >= self.every:
            counts = ", ".join(f"{r}: {n}" for r, n in self.pending.most_common())
            log.warning(
                "TLS handshakes failed (%s) since the last report; the latest: %s",
                counts, _describe(exc),
            )  # fmt: skip
            self.pending.clear()
            self.last_line = now


FAILURES = HandshakeFailures()

_PLAINTEXT = frozenset({"HTTP_REQUEST", "HTTPS_PROXY_REQUEST"})
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LENGTH_MISMATCH"})
_VERSION = frozenset({"UNSUPPORTED_PROTOCOL", "VERSION_TOO_LOW", "TLSV1_ALERT_PROTOCOL_VERSION"})


def classify(exc: BaseException) -> str:
    """A short, bounded label (the metric's ``reason``) for why a handshake failed."""
    reason = getattr(exc, "reason", None) or ""
    if reason in _PLAINTEXT:
        return "plaintext"
    if reason in _NOT_TLS:
        return "not_tls"
    if reason in _VERSION:
        return "protocol_version"
    if reason == "NO_SHARED_CIPHER":
        return "no_shared_cipher"
    if reason.startswith(("TLSV1_ALERT_", "SSLV3_ALERT_")):
        return "client_alert"  # the client refused us: often our certificate (unknown CA, bad name)
    return "other"


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else type(exc).__name__


_LoopHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class _TlsErrorFilter:
    """A loop exception handler: TLS errors are counted (no traceback), the rest passed on."""

    def __init__(self, previous: _LoopHandler | None) -> None:
        self.previous = previous

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, ssl.SSLError):
            FAILURES.record(exc)
        elif self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


def install_exception_filter(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio and uvloop may report TLS errors through the loop's exception handler (with a
    traceback, in debug mode or on some paths): count them instead."""
    previous = loop.get_exception_handler()
    if not isinstance(previous, _TlsErrorFilter):
        loop.set_exception_handler(_TlsErrorFilter(previous))
