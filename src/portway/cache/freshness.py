"""Freshness and age of a stored response, for a shared cache (RFC 9111 §4.2). Pure: headers and
times in, seconds out; the caller owns the clock.

Rules:
- Lifetime: ``s-maxage``, else ``max-age``, else ``Expires - Date``; an ``Expires`` that is not a
  valid date means already expired (§5.3). Only without any of them, a heuristic (§4.2.2): 10% of
  the time since ``Last-Modified``, capped, and only for a status that is heuristically cacheable
  or a response marked ``public``.
- Age: the corrected initial age of §4.2.3 (the larger of the apparent age and ``Age`` plus the
  response delay), then plus the time resident.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from portway.cache.directives import Directives, seconds

# RFC 9110 §15.1: statuses a cache may give a heuristic lifetime.
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
HEURISTIC_FRACTION = 0.1


def http_date(value: bytes | None) -> float | None:
    """An HTTP-date as epoch seconds; ``None`` when absent or invalid."""
    if value is None:
        return None
    try:
        moment = parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 §5.6.7: HTTP dates are GMT
        return moment.replace(tzinfo=UTC).timestamp()
    return moment.timestamp()


def lifetime(
    status: int,
    cc: Directives,
    date: float,
    expires: bytes | None,
    last_modified: bytes | None,
    max_heuristic: float,
) -> float:
    """How long the response is fresh from its ``date``, in seconds (0: stale on arrival)."""
    shared = seconds(cc, b"s-maxage")
    if shared is not None:
        return float(shared)
    own = seconds(cc, b"max-age")
    if own is not None:
        return float(own)
    if expires is not None:
        moment = http_date(expires)
        return max(0.0, moment - date) if moment is not None else 0.0
    if status not in HEURISTIC_STATUSES and b"public" not in cc:
        return 0.0
    modified = http_date(last_modified)
    if modified is None or modified >= date:
        return 0.0
    return min((date - modified) * HEURISTIC_FRACTION, max_heuristic)


def stated_age(values: list[bytes]) -> float:
    """``Age`` in seconds. A list (several members, several lines) counts by its first member
    (RFC 9111 §5.1); a first member that is not a non-negative integer (a sign, a fraction, a
    parameter, a word) makes the response older than any lifetime: §5.1 says to ignore such a
    value, but a cache that cannot date a response should not serve it as fresh (the reading of
    the test suite and of Squid, ATS and Varnish)."""
    if not values:
        return 0.0
    member = values[0].split(b",", 1)[0].strip()
    if member.isdigit():
        return float(min(int(member), 2**31))
    return float(2**31)


def initial_age(ages: list[bytes], date: float | None, request_time: float, response_time: float) -> float:
    """The corrected initial age (§4.2.3) of a response received at ``response_time``."""
    apparent = max(0.0, response_time - date) if date is not None else 0.0
    return max(apparent, stated_age(ages) + (response_time - request_time))


def has_explicit_lifetime(cc: Directives, expires: bytes | None) -> bool:
    return expires is not None or b"max-age" in cc or b"s-maxage" in cc
