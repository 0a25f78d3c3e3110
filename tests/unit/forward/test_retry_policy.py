"""Configured retries (forward/retry.py RetryPolicy, forward/attempts.py): data in, verdicts out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portway.config.resilience import Retries, RetryBudget, merge_retries
from portway.contract import RequestHead
from portway.errors import ReadTimeout, UpstreamDisconnected, UpstreamProtocolError
from portway.forward.attempts import Attempts
from portway.forward.retry import RetryPolicy
from portway.upstream.budget import RetryBudget as Budget


def head(
    method: str = "GET", body: bool = False, headers: list[tuple[bytes, bytes]] | None = None
) -> RequestHead:
    h = RequestHead(method, b"/", "1.1", headers or [], True, False, "127.0.0.1", 1, 0.0)
    h.content_length = 5 if body else None
    return h


def policy(budget: Budget | None = None, **kw: object) -> RetryPolicy:
    return RetryPolicy.build(Retries.model_validate({"on": ["reset", "timeout", 503]} | kw), budget, None)


def test_conditions_are_what_the_config_names() -> None:
    p = policy(on=["reset", 502])
    assert p.matches(UpstreamDisconnected("x")) and not p.matches(ReadTimeout("x"))
    assert not p.matches(UpstreamProtocolError("x"))
    assert p.statuses == frozenset({502})


@pytest.mark.parametrize(("method", "key", "opted_in", "safe"), [
    ("GET", False, False, True), ("DELETE", False, False, True), ("POST", False, True, False),
    ("POST", True, False, False), ("POST", True, True, True), ("PATCH", True, True, True),
])  # fmt: skip
def test_safety_is_idempotency_or_an_idempotency_key_on_an_opted_in_route(
    method: str, key: bool, opted_in: bool, safe: bool
) -> None:
    headers = [(b"idempotency-key", b"k")] if key else []
    assert policy(idempotency_key=opted_in).safe(head(method, headers=headers)) is safe


def test_attempts_bound_the_tries() -> None:
    attempts = Attempts(policy(attempts=3), has_body=False)
    verdicts = [attempts.may_retry(head(), 503) for _ in range(4)]
    assert verdicts == [True, True, False, False]


def test_a_body_is_replayable_only_while_it_fits_the_buffer() -> None:
    attempts = Attempts(policy(attempts=3, replay_buffer=10), has_body=True)
    attempts.keep(b"12345")
    assert attempts.body() == [b"12345"]
    assert attempts.may_retry(head("PUT", body=True), 503)
    attempts.keep(b"678901")
    assert attempts.body() is None
    assert not attempts.may_retry(head("PUT", body=True), 503)


def test_an_exhausted_budget_refuses_the_retry() -> None:
    budget = Budget(RetryBudget(ratio=0.0, min_per_second=0.0))
    attempts = Attempts(policy(budget), has_body=False)
    attempts.begin()
    assert not attempts.may_retry(head(), 503)
    assert budget.exhausted == 1


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    p = policy(backoff={"base": "10ms", "max": "50ms"})
    highest = [p.backoff(n, rand=lambda low, high: high) for n in range(1, 6)]
    assert highest == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])
    assert p.backoff(3, rand=lambda low, high: low) == 0.0


def test_the_deadline_caps_each_try_and_stops_retries() -> None:
    p = RetryPolicy.build(Retries(per_try_timeout=2.0), None, 5.0)
    assert p.try_timeout(30.0, started=100.0, now=100.0) == 2.0
    assert p.try_timeout(30.0, started=100.0, now=104.5) == pytest.approx(0.5)
    assert p.time_left(100.0, 104.9) and not p.time_left(100.0, 105.0)


def test_a_route_overrides_only_the_keys_it_sets_and_false_turns_retries_off() -> None:
    upstream = Retries(attempts=3, on=[502])
    route = Retries.model_validate({"idempotency_key": True})
    merged = merge_retries(upstream, route)
    assert merged is not None and (merged.attempts, merged.on, merged.idempotency_key) == (3, [502], True)
    assert merge_retries(upstream, False) is None
    assert merge_retries(None, route) is route


@pytest.mark.parametrize(
    "bad", [{"on": ["sometimes"]}, {"on": [200]}, {"attempts": 0}, {"budget": {"ratio": "120%"}}]
)
def test_bad_retry_config_is_refused_with_a_clear_message(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Retries.model_validate(bad)
