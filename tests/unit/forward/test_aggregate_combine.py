"""Aggregation as data: the calls' bodies merged or grouped, failures marked partial, and each
call's request head as bytes."""

from __future__ import annotations

from portway.contract import RequestHead
from portway.forward.aggregate.call import Budget, call_head
from portway.forward.aggregate.combine import combine


def test_merge_deep_merges_objects_in_call_order() -> None:
    bodies = [b'{"user": {"id": 1, "name": "a"}, "n": 1}', b'{"user": {"name": "b", "vip": true}, "n": 2}']
    assert combine("merge", ["users", "profiles"], bodies) == (
        {"user": {"id": 1, "name": "b", "vip": True}, "n": 2},
        [],
    )


def test_group_puts_each_value_under_its_key_null_included() -> None:
    bodies = [b'{"id": 1}', b"[1, 2]", b"null"]
    assert combine("group", ["user", "orders", "note"], bodies) == (
        {"user": {"id": 1}, "orders": [1, 2], "note": None},
        [],
    )


def test_failed_and_unusable_calls_mark_the_answer_partial() -> None:
    bodies = [b'{"a": 1, "_partial": "theirs"}', None, b"<html>", b"[1]"]
    document, failed = combine("merge", ["a", "down", "html", "list"], bodies) or ({}, [])
    assert failed == ["down", "html", "list"]  # a list cannot be merged into an object
    assert document == {"a": 1, "_partial": ["down", "html", "list"]}


def test_no_answer_at_all_is_none() -> None:
    assert combine("group", ["a", "b"], [None, b"not json"]) is None


def test_a_shared_budget_counts_every_calls_bytes() -> None:
    budget = Budget(10)
    assert budget.take(6) and budget.take(4) and not budget.take(1)


def test_a_call_carries_only_what_the_gateway_vouches_for() -> None:
    head = RequestHead("GET", b"/me", "1.1", [(b"cookie", b"s=1")], True, False, "10.0.0.1", 1, 0.0)
    head.host = b"shop.example"
    head.request_id = "r-1"
    data = call_head(
        b"/users/alice", b"users:8000", head, "203.0.113.7", b"https", [(b"x-user-id", b"alice")]
    )
    assert data == (
        b"GET /users/alice HTTP/1.1\r\nhost: users:8000\r\naccept: application/json\r\n"
        b"x-forwarded-for: 203.0.113.7\r\nx-forwarded-proto: https\r\nx-forwarded-host: shop.example\r\n"
        b"x-request-id: r-1\r\nx-user-id: alice\r\n\r\n"
    )
