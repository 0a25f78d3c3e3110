from __future__ import annotations

import pytest
from policy_support import FakeContext, head

from portway.policies.base import Identity
from portway.policies.rate_limit.keys import MAX_KEY, compile_key


def ctx(**kw: object) -> FakeContext:
    return FakeContext(**kw)  # type: ignore[arg-type]


def test_ip() -> None:
    assert compile_key("ip")(ctx(client_ip="203.0.113.9")) == "i:203.0.113.9"


def test_user_and_its_anonymous_fallback_never_share_a_bucket() -> None:
    key = compile_key("user")
    assert key(ctx(identity=Identity("alice"))) == "u:alice"
    assert key(ctx(client_ip="10.0.0.1")) == "i:10.0.0.1"
    # a subject that looks like an address is still a user
    assert key(ctx(identity=Identity("10.0.0.1"))) != key(ctx(client_ip="10.0.0.1"))


def test_api_key_consumer_falls_back_to_ip() -> None:
    key = compile_key("api_key")
    assert key(ctx(identity=Identity("svc", consumer="billing"))) == "k:billing"
    assert key(ctx(identity=Identity("alice"))) == "i:10.0.0.1"  # a JWT user has no consumer


def test_route() -> None:
    assert compile_key("route")(ctx(route_name="orders")) == "r:orders"


def test_header_by_lower_case_name_and_missing_header_falls_back_to_ip() -> None:
    key = compile_key("header:X-Tenant")
    assert key(ctx(head=head(headers={"X-Tenant": "acme"}))) == "h:acme"
    assert key(ctx()) == "i:10.0.0.1"


def test_combination_is_unambiguous() -> None:
    key = compile_key("header:X-A+header:X-B")
    one = key(ctx(head=head(headers={"X-A": "a+b", "X-B": "c"})))
    two = key(ctx(head=head(headers={"X-A": "a", "X-B": "b+c"})))
    assert one != two
    assert compile_key("user+ip")(ctx(identity=Identity("bob"), client_ip="::1")) == "5u:bob5i:::1"


def test_huge_header_is_hashed_to_a_bounded_key() -> None:
    key = compile_key("header:X-Tenant")
    big = key(ctx(head=head(headers={"X-Tenant": "x" * 100_000})))
    other = key(ctx(head=head(headers={"X-Tenant": "x" * 99_999 + "y"})))
    assert len(big) <= MAX_KEY and big.startswith("#")
    assert big != other


def test_unknown_part_is_a_construction_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        compile_key("ip+cookie")
