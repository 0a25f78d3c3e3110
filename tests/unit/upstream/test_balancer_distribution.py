"""Balancers as pure objects: fake pools in, picks out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from portway.upstream.balancer import BALANCERS, ConsistentHash, LeastConn, RoundRobin
from portway.upstream.latency import PeakEwma
from portway.upstream.target import Target


@dataclass
class FakePool:
    target: Target
    busy: int = 0
    available: bool = True
    latency: PeakEwma | None = None

    def __repr__(self) -> str:
        return self.target.address


def pools(n: int) -> list[FakePool]:
    return [FakePool(Target.parse(f"http://10.0.0.{i}:8000")) for i in range(1, n + 1)]


@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_every_balancer_skips_down_targets_while_one_is_up(name: str) -> None:
    targets = pools(3)
    targets[0].available = False
    targets[2].available = False
    balancer = BALANCERS[name](targets)  # type: ignore[arg-type]
    for key in (None, b"k1", b"k2", b"k3", b"k4"):
        assert balancer.pick(key) is targets[1]


@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_every_balancer_says_none_when_all_are_down(name: str) -> None:
    """The upstream then decides: panic mode over soft-down targets, or a fast 503 (upstream.py)."""
    targets = pools(2)
    for pool in targets:
        pool.available = False
    balancer = BALANCERS[name](targets)  # type: ignore[arg-type]
    assert balancer.pick(b"key") is None
    assert balancer.pick(None) is None


def test_the_hash_ring_moves_only_the_keys_of_an_ejected_target() -> None:
    targets = pools(4)
    balancer = ConsistentHash(targets)  # type: ignore[arg-type]
    keys = [f"user-{i}".encode() for i in range(2000)]
    before = {key: balancer.pick(key) for key in keys}
    targets[1].available = False
    after = {key: balancer.pick(key) for key in keys}
    moved = [key for key in keys if after[key] is not before[key]]
    assert moved and all(before[key] is targets[1] for key in moved)
    assert all(after[key] is not targets[1] for key in keys)
    assert len(moved) == sum(1 for key in keys if before[key] is targets[1])
    targets[1].available = True
    assert {key: balancer.pick(key) for key in keys} == before  # and they come back


def test_round_robin_cycles() -> None:
    targets = pools(3)
    balancer = RoundRobin(targets)  # type: ignore[arg-type]
    assert [balancer.pick(None) for _ in range(6)] == targets * 2


def test_least_conn_prefers_the_least_busy_and_alternates_ties() -> None:
    targets = pools(3)
    balancer = LeastConn(targets)  # type: ignore[arg-type]
    targets[0].busy = 5
    picks = Counter(balancer.pick(None).target.address for _ in range(100))
    assert targets[0].target.address not in picks
    assert picks[targets[1].target.address] == picks[targets[2].target.address] == 50
    targets[0].busy = 0
    targets[1].busy = 1
    targets[2].busy = 2
    assert balancer.pick(None) is targets[0]


def test_least_conn_ties_are_round_robin() -> None:
    targets = pools(4)
    balancer = LeastConn(targets)  # type: ignore[arg-type]
    assert Counter(id(balancer.pick(None)) for _ in range(400)) == {id(p): 100 for p in targets}


def test_consistent_hash_is_stable_and_spreads() -> None:
    targets = pools(4)
    balancer = ConsistentHash(targets)  # type: ignore[arg-type]
    keys = [f"user-{i}".encode() for i in range(4000)]
    first = [balancer.pick(k) for k in keys]
    assert [balancer.pick(k) for k in keys] == first
    counts = Counter(id(p) for p in first)
    assert len(counts) == 4
    assert min(counts.values()) > 4000 / 4 * 0.7  # 160 virtual nodes keep the spread fair


@pytest.mark.parametrize("n", [3, 5, 10])
def test_consistent_hash_moves_about_one_nth_of_keys_when_a_target_is_added(n: int) -> None:
    keys = [f"user-{i}".encode() for i in range(5000)]
    before_pools = pools(n)
    after_pools = pools(n + 1)  # the same n targets plus one
    before = ConsistentHash(before_pools)  # type: ignore[arg-type]
    after = ConsistentHash(after_pools)  # type: ignore[arg-type]
    moved = 0
    for key in keys:
        old, new = before.pick(key).target.address, after.pick(key).target.address
        if old != new:
            moved += 1
            assert new == after_pools[-1].target.address  # keys only move to the new target
    expected = len(keys) / (n + 1)
    assert 0.6 * expected < moved < 1.4 * expected


def test_consistent_hash_down_target_only_moves_its_own_keys() -> None:
    targets = pools(4)
    balancer = ConsistentHash(targets)  # type: ignore[arg-type]
    keys = [f"k{i}".encode() for i in range(2000)]
    owners = {k: balancer.pick(k) for k in keys}
    targets[2].available = False
    for key in keys:
        if owners[key] is not targets[2]:
            assert balancer.pick(key) is owners[key]
        else:
            assert balancer.pick(key) is not targets[2]
    targets[2].available = True
    assert all(balancer.pick(k) is owners[k] for k in keys)  # the owner gets its keys back


def test_consistent_hash_without_a_key_round_robins() -> None:
    targets = pools(3)
    balancer = ConsistentHash(targets)  # type: ignore[arg-type]
    assert [balancer.pick(None) for _ in range(3)] == targets
