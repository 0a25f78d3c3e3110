"""The dashboard's series (telemetry/series.py): route counters and a fake clock in, frames out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from portway.telemetry.metrics import BOUNDS, ERRORS_KEPT, RouteStats, TargetSample, UpstreamSample
from portway.telemetry.series import SeriesRecorder, bucket_quantile


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeSource:
    def __init__(self, *routes: str) -> None:
        self.routes = {name: RouteStats() for name in routes}
        self.upstreams: list[UpstreamSample] = []
        self.reloads = 0
        self.version = "v0"

    def route_stats(self) -> Mapping[str, RouteStats]:
        return self.routes

    def upstream_samples(self) -> Sequence[UpstreamSample]:
        return self.upstreams

    def generation(self) -> tuple[int, str]:
        return self.reloads, self.version


def observe(stats: RouteStats, status: int, seconds: float, times: int = 1) -> None:
    for _ in range(times):
        stats.observe(status, seconds)


def recorder(source: FakeSource, clock: FakeClock, **kwargs: float) -> SeriesRecorder:
    return SeriesRecorder(source, clock=clock, **kwargs)


def test_a_frame_holds_each_routes_counts_since_the_previous_sample() -> None:
    source, clock = FakeSource("api", "static"), FakeClock()
    series = recorder(source, clock)
    api = source.routes["api"]
    observe(api, 200, 0.003, 5)
    observe(api, 404, 0.002, 2)
    observe(api, 503, 0.2, 1)
    first = series.sample()
    observe(api, 200, 0.003, 3)
    clock.now += 1
    second = series.sample()

    assert (first.seq, first.time) == (1, 1_000.0)
    point = first.routes["api"]
    assert (point.requests, point.client_errors, point.server_errors) == (8, 2, 1)
    assert "static" not in first.routes  # no answer on it: nothing to draw
    assert second.routes["api"].requests == 3
    assert (second.routes["api"].client_errors, second.routes["api"].server_errors) == (0, 0)
    assert second.elapsed == 1.0


def test_bucket_deltas_give_p50_and_p99_per_second() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock)
    api = source.routes["api"]
    observe(api, 200, 4.0, 100)  # a slow first second, which the next one must not inherit
    series.sample()
    observe(api, 200, 0.0075, 99)  # in (0.005, 0.01]
    observe(api, 200, 0.3, 1)  # in (0.25, 0.5]
    clock.now += 1
    point = series.sample().routes["api"]

    assert point.buckets[BOUNDS.index(0.01)] == 99 and sum(point.buckets) == 100
    assert point.quantile(0.5) == pytest.approx(0.005 + 0.005 * 50 / 99)
    assert point.quantile(0.99) == pytest.approx(0.005 + 0.005 * 99 / 99)
    assert point.quantile(0.999) == pytest.approx(0.25 + 0.25 * 0.9)


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        ([0] * (len(BOUNDS) + 1), 0.5, None),  # no requests: no latency
        ([10] + [0] * len(BOUNDS), 0.5, 0.0005),  # first bucket: from 0 to 1 ms
        ([0] * len(BOUNDS) + [4], 0.99, BOUNDS[-1]),  # all above the top bound: the top bound
        ([0, 0, 2, 2] + [0] * (len(BOUNDS) - 3), 0.5, 0.005),  # the rank at a bucket's upper edge
    ],
)
def test_bucket_quantile(buckets: list[int], q: float, expected: float | None) -> None:
    assert bucket_quantile(q, buckets) == (pytest.approx(expected) if expected is not None else None)


def test_the_ring_keeps_the_window_and_since_returns_only_newer_frames() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock, interval=1.0, window=5.0)
    for _ in range(8):
        observe(source.routes["api"], 200, 0.001)
        series.sample()
        clock.now += 1

    assert [f.seq for f in series.frames] == [4, 5, 6, 7, 8]
    assert series.cursor == 8
    assert [f.seq for f in series.since(6)] == [7, 8]
    assert [f.seq for f in series.since(0)] == [4, 5, 6, 7, 8]  # older than kept: all that is kept
    assert series.since(8) == [] and series.since(99) == []


def test_a_late_tick_spreads_its_count_over_the_time_it_really_covers() -> None:
    source, clock = FakeSource("api", "idle"), FakeClock()
    series = recorder(source, clock)
    series.sample()
    observe(source.routes["api"], 200, 0.002, 10)
    observe(source.routes["api"], 502, 0.002, 10)
    clock.now += 4  # the loop was busy: one sample for four seconds
    frame = series.sample()
    summary = series.summary(10.0)

    assert frame.elapsed == 4.0
    assert summary["api"].rate == pytest.approx(20 / 5)  # 20 requests over the 5 s the frames span
    assert summary["api"].error_ratio == pytest.approx(0.5)
    assert summary["api"].p50 == pytest.approx(0.001 + 0.0015 * 10 / 20)
    assert summary["idle"].rate == 0.0 and summary["idle"].p99 is None


def test_the_summary_reads_only_the_last_seconds() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock)
    observe(source.routes["api"], 500, 0.001, 50)  # an old burst of errors
    series.sample()
    for _ in range(10):
        clock.now += 1
        observe(source.routes["api"], 200, 0.001, 3)
        series.sample()

    summary = series.summary(10.0)["api"]

    assert summary.rate == pytest.approx(3.0)
    assert summary.error_ratio == 0.0


def test_reloads_are_noticed_by_generation_and_the_start_is_the_first() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock)
    series.sample()
    clock.now += 1
    series.sample()  # nothing changed
    source.reloads, source.version = 1, "v1"
    clock.now += 1
    series.sample()
    source.reloads = 2  # the same config again (a SIGHUP without edits) is still a reload
    clock.now += 1
    series.sample()

    assert [(r.time, r.generation, r.version) for r in series.reloads] == [
        (1_000.0, 0, "v0"),
        (1_002.0, 1, "v1"),
        (1_003.0, 2, "v1"),
    ]


def test_recent_errors_merge_every_route_newest_first_and_are_bounded() -> None:
    source, clock = FakeSource("api", "auth"), FakeClock()
    series = SeriesRecorder(source, clock=clock, errors_kept=3)
    source.routes["api"].errors.extend(
        [(10.0, "r1", 502, "http://a:1", ""), (12.0, "r3", 503, "", "t3"), (14.0, "r5", 500, "x", "")]
    )
    source.routes["auth"].errors.append((13.0, "r4", 504, "http://b:2", "t4"))

    errors = series.recent_errors()

    assert [(e.request_id, e.route, e.status) for e in errors] == [
        ("r5", "api", 500),
        ("r4", "auth", 504),
        ("r3", "api", 503),
    ]
    assert errors[1].target == "http://b:2" and errors[1].trace_id == "t4"


def test_route_stats_keep_only_their_newest_errors() -> None:
    stats = RouteStats()
    for i in range(ERRORS_KEPT + 5):
        stats.failed(f"id-{i}", 502, "http://127.0.0.1:1", "")

    assert len(stats.errors) == ERRORS_KEPT
    assert stats.errors[0][1] == "id-5"
    assert stats.errors[-1][1:] == (f"id-{ERRORS_KEPT + 4}", 502, "http://127.0.0.1:1", "")


def test_targets_are_the_last_sampled_upstream_state() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock)
    target = TargetSample("http://127.0.0.1:9", "ejected", False, 1, 0, 0, 0, "open")
    source.upstreams = [UpstreamSample("svc", ("healthy", "ejected"), ("closed", "open"), [target], 0, {}, 0)]
    assert series.targets == []
    series.sample()

    assert series.targets[0].targets[0].state == "ejected"
    assert series.targets[0].targets[0].breaker == "open"


def test_a_target_change_is_dated_at_the_sample_that_saw_it() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock)

    def upstream(state: str, breaker: str | None) -> list[UpstreamSample]:
        targets = [
            TargetSample("http://a:1", state, state == "healthy", 0, 0, 0, 0, breaker),
            TargetSample("http://b:2", "healthy", True, 0, 0, 0, 0, breaker),
        ]
        return [UpstreamSample("svc", (), (), targets, 0, {}, 0)]

    source.upstreams = upstream("healthy", "closed")
    series.sample()
    clock.now += 1
    series.sample()
    before = series.target_since("svc", "http://a:1")
    source.upstreams = upstream("ejected", "closed")
    clock.now += 1
    series.sample()
    ejected_at = series.target_since("svc", "http://a:1")
    source.upstreams = upstream("ejected", "open")
    clock.now += 1
    series.sample()

    assert before is None  # unchanged since first seen: the recorder cannot say since when
    assert ejected_at == 1_002.0
    assert series.target_since("svc", "http://a:1") == 1_003.0  # its breaker moved too
    assert series.target_since("svc", "http://b:2") == 1_003.0
    source.upstreams = []
    series.sample()
    assert series.target_since("svc", "http://a:1") is None  # gone with its upstream


async def test_run_samples_at_once_then_every_interval_until_cancelled() -> None:
    source, clock = FakeSource("api"), FakeClock()
    series = recorder(source, clock, interval=60.0)
    task = asyncio.get_running_loop().create_task(series.run())
    await asyncio.sleep(0)  # one step of the task: its first sample, then it waits a minute
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert series.cursor == 1


def test_a_window_shorter_than_the_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="window >= interval"):
        SeriesRecorder(FakeSource(), interval=2.0, window=1.0)
