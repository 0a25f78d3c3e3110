"""Peak EWMA (upstream/latency.py) and the `ewma` balancer on a fake clock and a seeded random."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from portway.upstream.balancer import Ewma
from portway.upstream.latency import DECAY, PENALTY, PeakEwma
from portway.upstream.target import Target


def test_a_slower_answer_replaces_the_estimate_at_once_a_faster_one_pulls_it_down() -> None:
    e = PeakEwma()
    e.observe(0.010, now=1.0)
    assert e.cost == 0.010
    e.observe(0.200, now=1.1)
    assert e.cost == 0.200  # the peak
    e.observe(0.010, now=1.1 + DECAY)  # a faster answer DECAY later: weight e^-1 on the old cost
    assert math.isclose(e.cost, 0.200 * math.exp(-1) + 0.010 * (1 - math.exp(-1)))
    before = e.cost
    e.observe(0.010, now=1.1 + DECAY)  # right after: barely moves
    assert e.cost == before


def test_the_score_decays_while_idle_and_grows_with_requests_in_flight() -> None:
    e = PeakEwma()
    assert e.score(0, 0.0) == 0.0 and e.score(2, 0.0) == 2 * PENALTY  # never measured
    e.observe(0.1, now=0.0)
    assert e.score(0, 0.0) == 0.1 and e.score(3, 0.0) == 0.4
    assert math.isclose(e.score(0, 2 * DECAY), 0.1 * math.exp(-2))


@dataclass
class FakePool:
    target: Target
    busy: int = 0
    available: bool = True
    latency: PeakEwma | None = None


def test_power_of_two_choices_avoids_a_slow_target_and_a_loaded_one() -> None:
    now = [0.0]
    pools = [FakePool(Target.parse(f"http://10.0.0.{i}:80")) for i in range(3)]
    balancer = Ewma(pools, clock=lambda: now[0], rand=random.Random(3).random)  # type: ignore[arg-type]
    rtts = {0: 0.200, 1: 0.002, 2: 0.002}
    picks: Counter[int] = Counter()
    for _ in range(300):
        pool = balancer.pick(None)
        assert pool is not None and pool.latency is not None
        index = pools.index(pool)
        picks[index] += 1
        now[0] += 0.01
        pool.latency.observe(rtts[index], now[0])
    assert picks[0] <= 3  # measured slow once, then seen again only after decay brings it down
    assert picks[1] > 120 and picks[2] > 120
    # a fast target piling up requests in flight (2 ms x 201 > the slow one's decayed 200 ms) loses
    pools[1].busy = 200
    assert all(balancer.pick(None) is not pools[1] for _ in range(20))


def test_an_unmeasured_target_with_a_request_in_flight_is_avoided_until_it_answers() -> None:
    pools = [FakePool(Target.parse(f"http://10.0.0.{i}:80")) for i in range(2)]
    balancer = Ewma(pools, clock=lambda: 0.0, rand=random.Random(1).random)  # type: ignore[arg-type]
    pools[0].busy = 1
    assert all(balancer.pick(None) is pools[1] for _ in range(10))
    pools[1].available = False
    assert balancer.pick(None) is pools[0]  # the only one left, whatever it scores
