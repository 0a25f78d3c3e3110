"""An upstream's ``Retry-After`` (RFC 9110 §10.2.3) on a 503: how long it asks to be left alone.

Rules:
- Only a 503 is heard. A 429 is left to the client it was meant for: an upstream that limits by
  end user (through ``X-Forwarded-For`` or identity headers) would otherwise take a whole target
  out of rotation for everyone because one user was too fast.
- The value is ``delay-seconds`` (digits) or an HTTP-date; anything else, a date in the past, or
  zero asks for nothing. The delay is capped (``cap``): an upstream cannot remove itself for an
  hour by mistake, and the target is a *soft* state (upstream/health.py ``DEFERRED``), so when
  every target says so the requests still go somewhere (panic mode).
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

# Without an outlier config (whose `max_ejection` caps it instead) a Retry-After lasts at most this.
DEFAULT_CAP = 60.0


def retry_after(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if len(name) == 11 and name.lower() == b"retry-after":
            return value
    return None


def parse_delay(value: bytes, wall_now: float, cap: float) -> float:
    """Seconds to avoid the target (0.0: none), given the wall-clock time now (an HTTP-date is absolute)."""
    text = value.strip()
    if text.isdigit():
        seconds = float(int(text[:12]))  # 12 digits: more than any cap, no giant int to build
    else:
        try:
            when = parsedate_to_datetime(text.decode("latin-1"))
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
        if when.tzinfo is None:  # asctime dates carry no zone: every HTTP-date is GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - wall_now
    return min(max(seconds, 0.0), cap)
