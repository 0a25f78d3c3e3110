"""The retry budget (upstream/budget.py) on a fake clock."""

from __future__ import annotations

from portway.config.resilience import RetryBudget as BudgetConfig
from portway.upstream.budget import RetryBudget


def budget(ratio: float = 0.2, floor: float = 0.0, window: float = 10.0) -> RetryBudget:
    return RetryBudget(BudgetConfig(ratio=ratio, min_per_second=floor, window=window))


def test_retries_stay_under_the_share_of_requests() -> None:
    b = budget(0.2)
    for _ in range(100):
        b.request(1.0)
    granted = sum(b.try_retry(1.0) for _ in range(50))
    assert granted == 20
    assert b.exhausted == 30 and b.spent == 20


def test_the_floor_lets_a_quiet_upstream_retry() -> None:
    b = budget(0.2, floor=0.3, window=10.0)  # 3 retries per window, whatever the traffic
    b.request(0.0)
    assert [b.try_retry(0.0) for _ in range(5)] == [True, True, True, False, False]


def test_the_window_slides_and_old_requests_stop_counting() -> None:
    b = budget(0.5, window=10.0)
    for _ in range(10):
        b.request(0.0)
    assert sum(b.try_retry(0.0) for _ in range(10)) == 5
    assert not b.try_retry(9.9)  # still in the window
    assert b.totals(10.5) == (0, 0)
    assert not b.try_retry(10.5)  # no requests: no share (and no floor here)
    for _ in range(4):
        b.request(10.5)
    assert sum(b.try_retry(10.6) for _ in range(4)) == 2


def test_a_budget_interleaved_with_traffic_keeps_attempts_bounded() -> None:
    b = budget(0.2, floor=0.1)
    attempts = 0
    now = 0.0
    for _ in range(1000):  # every request fails once and asks for a retry
        now += 0.01
        b.request(now)
        attempts += 1 + b.try_retry(now)
    assert attempts <= 1.2 * 1000 + 0.1 * 10 * 2
