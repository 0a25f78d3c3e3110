from __future__ import annotations

from collections.abc import Sequence

import pytest
from policy_support import FakeClock, FakeContext

from portway.config.security import RateLimitRule
from portway.errors import ClientError
from portway.policies.base import Denial, Identity
from portway.policies.rate_limit import Limit, MemoryStore, RateLimit, Verdict


def policy(*rules: RateLimitRule, clock: FakeClock | None = None, route: str = "api") -> RateLimit:
    return RateLimit(list(rules), MemoryStore(clock or FakeClock()), route=route)


def test_allowed_requests_carry_both_headers() -> None:
    limit = policy(RateLimitRule(limit=10, per=1), RateLimitRule(limit=1000, per="1h", name="hourly"))
    ctx = FakeContext()
    assert limit.request(ctx) is None
    assert ctx.response_headers == [
        (b"ratelimit-policy", b'"10-per-1s";q=10;w=1, "hourly";q=1000;w=3600'),
        (b"ratelimit", b'"10-per-1s";r=9;t=1'),
    ]


def test_refusal_is_a_429_with_retry_after_and_the_headers() -> None:
    limit = policy(RateLimitRule(limit=2, per=10))
    for _ in range(2):
        assert limit.request(FakeContext()) is None
    ctx = FakeContext()
    denial = limit.request(ctx)
    assert isinstance(denial, Denial)
    assert isinstance(denial, ClientError) and denial.status == 429
    assert denial.headers == [(b"retry-after", b"5")]
    assert denial.detail == 'rate limit "2-per-10s" exceeded'
    assert ctx.header(b"ratelimit") == b'"2-per-10s";r=0;t=10'


def test_limits_are_per_client_and_per_route() -> None:
    store = MemoryStore(FakeClock())
    rule = RateLimitRule(limit=1, per=60)
    orders, users = RateLimit(rule, store, route="orders"), RateLimit(rule, store, route="users")
    assert orders.request(FakeContext(client_ip="10.0.0.1")) is None
    assert orders.request(FakeContext(client_ip="10.0.0.2")) is None
    assert users.request(FakeContext(client_ip="10.0.0.1")) is None
    assert isinstance(orders.request(FakeContext(client_ip="10.0.0.1")), Denial)


def test_user_key_follows_the_identity_not_the_address() -> None:
    limit = policy(RateLimitRule(limit=1, per=60, key="user"))
    assert limit.request(FakeContext(identity=Identity("alice"), client_ip="10.0.0.1")) is None
    assert isinstance(limit.request(FakeContext(identity=Identity("alice"), client_ip="10.0.0.2")), Denial)
    assert limit.request(FakeContext(identity=Identity("bob"), client_ip="10.0.0.1")) is None
    assert limit.request(FakeContext(client_ip="10.0.0.1")) is None  # anonymous: its own bucket


def test_a_rule_list_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RateLimit([], MemoryStore(), route="api")


class FailingStore:
    """A networked store that could not answer (what RedisStore returns after a timeout)."""

    def __init__(self, fail_open: bool) -> None:
        self.fail_open = fail_open

    async def acquire(self, limits: Sequence[Limit], keys: Sequence[str]) -> Verdict | None:
        return None

    async def aclose(self) -> None:
        pass


async def test_store_failure_open_lets_through_without_headers() -> None:
    ctx = FakeContext()
    result = RateLimit(RateLimitRule(limit=1, per=1), FailingStore(True), route="api").request(ctx)
    assert not isinstance(result, Denial) and result is not None
    assert await result is None
    assert ctx.response_headers == []


async def test_store_failure_closed_answers_503() -> None:
    result = RateLimit(RateLimitRule(limit=1, per=1), FailingStore(False), route="api").request(FakeContext())
    assert not isinstance(result, Denial) and result is not None
    denial = await result
    assert denial is not None and denial.status == 503
    assert denial.headers == [(b"retry-after", b"1")]
