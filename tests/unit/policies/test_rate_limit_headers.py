from __future__ import annotations

import pytest

from portway.config.security import RateLimitRule
from portway.policies.rate_limit.headers import (
    policy_header,
    policy_item,
    quoted_name,
    ratelimit_header,
    retry_after_header,
)


@pytest.mark.parametrize(
    ("limit", "per", "name"),
    [(10, 1, '"10-per-1s"'), (1000, 3600, '"1000-per-1h"'), (5, 0.5, '"5-per-0.5s"'),
     (3, 90, '"3-per-90s"'), (100, 60, '"100-per-1m"'), (7, 172800, '"7-per-2d"')],
)  # fmt: skip
def test_default_names(limit: int, per: float, name: str) -> None:
    assert quoted_name(RateLimitRule(limit=limit, per=per)) == name.encode()


def test_configured_name_is_escaped_as_a_structured_string() -> None:
    assert quoted_name(RateLimitRule(limit=1, per=1, name='say "hi"\\')) == b'"say \\"hi\\"\\\\"'


def test_non_ascii_name_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        quoted_name(RateLimitRule(limit=1, per=1, name="débit"))


def test_policy_header_lists_every_limit_with_whole_second_windows() -> None:
    rules = [
        RateLimitRule(limit=10, per=1),
        RateLimitRule(limit=1000, per="1h"),
        RateLimitRule(limit=2, per=0.5),
    ]
    items = [policy_item(quoted_name(r), r) for r in rules]
    assert policy_header(items) == (
        b"ratelimit-policy",
        b'"10-per-1s";q=10;w=1, "1000-per-1h";q=1000;w=3600, "2-per-0.5s";q=2;w=1',
    )


def test_ratelimit_header_rounds_reset_up() -> None:
    assert ratelimit_header(b'"x"', 7, 1) == (b"ratelimit", b'"x";r=7;t=1')
    assert ratelimit_header(b'"x"', 0, 2_000_000) == (b"ratelimit", b'"x";r=0;t=2')
    assert ratelimit_header(b'"x"', 0, 2_000_001) == (b"ratelimit", b'"x";r=0;t=3')


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(1) == (b"retry-after", b"1")
    assert retry_after_header(1_000_000) == (b"retry-after", b"1")
    assert retry_after_header(1_500_000) == (b"retry-after", b"2")
