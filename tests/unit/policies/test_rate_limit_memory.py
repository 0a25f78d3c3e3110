"""GCRA and sliding-window arithmetic in the in-process store, on a clock moved by hand."""

from __future__ import annotations

import pytest
from policy_support import FakeClock

from portway.config.security import RateLimitRule
from portway.policies.rate_limit.memory import MemoryStore
from portway.policies.rate_limit.store import Limit

S = 1_000_000  # µs


def limit(n: int, per: float, algorithm: str = "gcra", index: int = 0) -> Limit:
    return Limit(RateLimitRule(limit=n, per=per, algorithm=algorithm), f"r:{index}:")  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock)


def test_gcra_burst_is_exactly_the_limit_then_one_per_interval(store: MemoryStore, clock: FakeClock) -> None:
    ten = limit(10, 1)
    verdicts = [store.acquire([ten], ["k"]) for _ in range(11)]
    assert [v[1] for v in verdicts[:10]] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert all(v[3] == 0 for v in verdicts[:10])
    assert verdicts[9][2] == S  # the bucket is full again one period later
    assert verdicts[10] == (0, 0, S, S // 10)  # refused: wait one emission interval
    clock.advance(0.1)
    assert store.acquire([ten], ["k"])[3] == 0
    assert store.acquire([ten], ["k"])[3] > 0


def test_gcra_exact_burst_with_an_interval_that_does_not_divide(store: MemoryStore) -> None:
    three = limit(3, 1)  # 333333 µs, rounded down so three fit in the period
    assert [store.acquire([three], ["k"])[3] for _ in range(4)] == [0, 0, 0, 333_333]


def test_gcra_steady_rate_at_the_interval_is_never_refused(store: MemoryStore, clock: FakeClock) -> None:
    five = limit(5, 1)
    for _ in range(5):
        store.acquire([five], ["k"])
    for _ in range(50):
        clock.advance(0.2)
        assert store.acquire([five], ["k"])[3] == 0


def test_gcra_refusals_are_not_charged(store: MemoryStore, clock: FakeClock) -> None:
    two = limit(2, 1)
    store.acquire([two], ["k"])
    store.acquire([two], ["k"])
    for _ in range(100):
        assert store.acquire([two], ["k"])[3] > 0
    clock.advance(0.5)
    assert store.acquire([two], ["k"])[3] == 0


def test_keys_are_independent(store: MemoryStore) -> None:
    one = limit(1, 60)
    assert store.acquire([one], ["a"])[3] == 0
    assert store.acquire([one], ["a"])[3] > 0
    assert store.acquire([one], ["b"])[3] == 0


def test_sliding_window_counts_exactly_in_any_window(store: MemoryStore, clock: FakeClock) -> None:
    three = limit(3, 10, "sliding_window")
    assert store.acquire([three], ["k"]) == (0, 2, 10 * S, 0)
    clock.advance(4)
    assert store.acquire([three], ["k"]) == (0, 1, 10 * S, 0)
    clock.advance(4)
    assert store.acquire([three], ["k"]) == (0, 0, 10 * S, 0)
    clock.advance(1)  # t=9: refused until the first (t=0) leaves at t=10, full at t=18
    assert store.acquire([three], ["k"]) == (0, 0, 9 * S, 1 * S)
    clock.advance(1)  # t=10: the first has left (a window is (now-10, now])
    assert store.acquire([three], ["k"]) == (0, 0, 10 * S, 0)
    assert store.acquire([three], ["k"])[3] == 4 * S  # the t=4 one leaves at t=14


def test_several_limits_most_restrictive_is_reported_and_refusal_charges_none(
    store: MemoryStore, clock: FakeClock
) -> None:
    per_second, per_hour = limit(2, 1, index=0), limit(3, 3600, "sliding_window", index=1)
    both = [per_second, per_hour]
    keys = ["s", "h"]
    assert store.acquire(both, keys) == (0, 1, S // 2, 0)  # 1 left of 2/s < 2 left of 3/h
    assert store.acquire(both, keys) == (0, 0, S, 0)
    assert store.acquire(both, keys) == (0, 0, S, S // 2)  # refused by 2/s
    clock.advance(1)
    assert store.acquire(both, keys) == (1, 0, 3600 * S, 0)  # the hour's last: not charged above
    clock.advance(1)
    verdict = store.acquire(both, keys)
    assert verdict[0] == 1 and verdict[3] == 3600 * S - 2 * S  # refused by the hour, the longer wait
    assert store.acquire([per_second], ["s"])[1] == 1  # and the refusal did not charge 2/s


def test_idle_keys_are_swept(store: MemoryStore, clock: FakeClock) -> None:
    gcra, window = limit(10, 1), limit(10, 2, "sliding_window")
    for i in range(100):
        store.acquire([gcra], [f"g{i}"])
        store.acquire([window], [f"w{i}"])
    assert len(store) == 200
    clock.advance(1.5)
    store.acquire([gcra], ["fresh"])  # the sweep runs from acquire, once a second
    assert len(store) == 101  # buckets full again are gone; windows still hold entries
    clock.advance(1)
    store.acquire([gcra], ["fresh"])
    assert len(store) == 1


def test_a_sweep_stops_at_the_first_live_key(store: MemoryStore, clock: FakeClock) -> None:
    gcra = limit(1, 10)
    store.acquire([gcra], ["early"])
    clock.advance(5)
    store.acquire([gcra], ["late"])
    clock.advance(6)  # "early" ran out, "late" has 4 s left
    store.sweep(clock())
    assert len(store) == 1
    assert store.acquire([gcra], ["late"])[3] > 0


def test_max_keys_evicts_the_least_recently_updated(clock: FakeClock) -> None:
    store = MemoryStore(clock, max_keys=3)
    one = limit(1, 3600)
    for key in "abcd":
        store.acquire([one], [key])
    assert len(store) == 3
    assert store.acquire([one], ["a"])[3] == 0  # evicted, so fresh again
    assert store.acquire([one], ["d"])[3] > 0


def test_a_limit_finer_than_a_microsecond_is_refused() -> None:
    with pytest.raises(ValueError, match="microsecond"):
        limit(2_000_000, 1)
