"""The rate-limit response headers of draft-ietf-httpapi-ratelimit-headers (RFC 8941 structured
fields), plus ``Retry-After``:

    RateLimit-Policy: "10-per-1s";q=10;w=1, "1000-per-1h";q=1000;w=3600   (every limit on the route)
    RateLimit: "10-per-1s";r=7;t=1                                         (the most restrictive one)
    Retry-After: 3                                                         (on 429 only)

``q`` is the quota, ``w`` the window in seconds, ``r`` the requests left, ``t`` the seconds until the
quota is fully back. Structured-field integers are whole numbers, so sub-second windows and reset
times are rounded *up*: a client that waits what we say is never refused for having waited too little.
"""

from __future__ import annotations

from portway.config.security import RateLimitRule

POLICY = b"ratelimit-policy"
RATELIMIT = b"ratelimit"
RETRY_AFTER = b"retry-after"
_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def _ceil_seconds(micros: int) -> int:
    return -(-micros // 1_000_000)


def _period(per: float) -> str:
    for seconds, unit in _UNITS:
        if per >= seconds and per % seconds == 0:
            return f"{int(per // seconds)}{unit}"
    return f"{per:g}s"


def quoted_name(rule: RateLimitRule) -> bytes:
    """The rule's name as a structured-field string: its configured ``name``, else ``10-per-1s``."""
    name = rule.name if rule.name is not None else f"{rule.limit}-per-{_period(rule.per)}"
    if not name.isascii() or not name.isprintable():
        raise ValueError(f"rate-limit name {name!r} must be printable ASCII (it is sent in a header)")
    return b'"' + name.replace("\\", "\\\\").replace('"', '\\"').encode("ascii") + b'"'


def policy_item(name: bytes, rule: RateLimitRule) -> bytes:
    window = max(1, _ceil_seconds(round(rule.per * 1_000_000)))
    return b"%s;q=%d;w=%d" % (name, rule.limit, window)


def policy_header(items: list[bytes]) -> tuple[bytes, bytes]:
    return POLICY, b", ".join(items)


def ratelimit_header(name: bytes, remaining: int, reset_us: int) -> tuple[bytes, bytes]:
    return RATELIMIT, b"%s;r=%d;t=%d" % (name, remaining, _ceil_seconds(reset_us))


def retry_after_header(retry_us: int) -> tuple[bytes, bytes]:
    return RETRY_AFTER, b"%d" % max(1, _ceil_seconds(retry_us))
