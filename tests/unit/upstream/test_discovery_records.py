"""Discovery (upstream/discovery.py): a hostname record on a fake clock, and an upstream re-expanded
by an injected resolver (no DNS, no sockets: the pools are built, never connected)."""

from __future__ import annotations

import asyncio

import pytest

from portway.config.models import Upstream as UpstreamConfig
from portway.sweeper import Sweeper
from portway.upstream import Upstream
from portway.upstream.discovery import RETRY_AFTER_FAILURE, HostRecord, address_of, is_hostname
from portway.upstream.health import Event, Health


def test_which_hosts_are_names_and_how_addresses_are_written() -> None:
    assert is_hostname("users") and is_hostname("localhost") and is_hostname("a.b.svc.cluster.local")
    assert not is_hostname("10.0.0.1") and not is_hostname("::1") and not is_hostname(None)
    assert address_of("http", "10.0.0.1", 80) == "http://10.0.0.1:80"
    assert address_of("https", "fd00::5", 8443) == "https://[fd00::5]:8443"


def test_a_record_is_due_at_once_then_every_interval_and_keeps_its_last_answer_on_failure() -> None:
    r = HostRecord("http://users:8000", "users", 8000, interval=30.0)
    assert r.due(0.0)
    assert r.answered(["10.0.0.1", "10.0.0.2"], now=0.0) is True
    assert not r.due(29.9) and r.due(30.0)
    assert r.answered(["10.0.0.1", "10.0.0.2"], now=30.0) is False  # same answer: nothing to do
    r.failed(now=60.0)
    assert r.answer == ("10.0.0.1", "10.0.0.2") and r.failures == 1 and r.failures_total == 1
    assert r.next_at == 60.0 + RETRY_AFTER_FAILURE  # asked again sooner than the interval
    assert r.answered([], now=65.0) is False  # an empty answer is a failure too
    assert r.answer == ("10.0.0.1", "10.0.0.2") and r.failures == 2
    assert r.answered(["10.0.0.2"], now=70.0) is True and r.failures == 0 and r.failures_total == 2


class FakeResolver:
    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if not self.answer:
            raise OSError("Name or service not known")
        return list(self.answer)


def build(targets: list[str], previous: Upstream | None = None, **extra: object) -> Upstream:
    config = UpstreamConfig.model_validate({"targets": targets, "outlier": {}, **extra})
    return Upstream("svc", config, Sweeper(asyncio.get_running_loop()), previous=previous)


async def test_an_answer_expands_the_name_and_a_change_keeps_the_pools_and_state_of_the_others() -> None:
    up = build(["http://users:8000", "http://10.9.9.9:80"])
    assert [p.target.address for p in up.pools] == ["http://users:8000", "http://10.9.9.9:80"]  # as written
    fixed = up.pools[1]
    up.resolver = resolver = FakeResolver(["10.0.0.1", "10.0.0.2"])
    assert await up.refresh() is True
    assert resolver.asked == [("users", 8000)]  # the IP literal is never resolved
    addresses = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", fixed.target.address]
    assert [p.target.address for p in up.pools] == addresses
    assert all(p.target.host_header == b"users:8000" for p in up.pools[:2])  # Host: the name
    first, second = up.pools[0], up.pools[1]
    for _ in range(5):
        first.outcome(True)
    assert first.health.state is Health.EJECTED
    resolver.answer = ["10.0.0.1", "10.0.0.3"]
    assert await up.refresh() is True
    assert up.pools[0] is first and first.health.state is Health.EJECTED  # kept, state and all
    assert up.pools[1].target.address == "http://10.0.0.3:8000" and up.pools[2] is fixed
    assert second.retired and second.health not in first.health.peers
    assert len(first.health.peers) == 3
    assert up.balancer is not None and up.balancer.pick(None) in (up.pools[1], fixed)


async def test_a_failing_resolver_keeps_the_last_answer_and_a_reload_starts_from_it() -> None:
    up = build(["http://users:8000"], discovery={"interval": "10s"})
    up.resolver = resolver = FakeResolver(["10.0.0.1"])
    await up.refresh()
    pool = up.pools[0]
    pool.event(Event.HOLD)
    resolver.answer = []
    assert await up.refresh() is False
    assert up.pools == [pool] and up.sample().resolve_failures == {"users": 1}
    reloaded = build(["http://users:8000"], previous=up, discovery={"interval": "10s"})
    assert [p.target.address for p in reloaded.pools] == ["http://10.0.0.1:8000"]
    assert reloaded.pools[0].health.state is Health.HELD  # inherited by address
    assert reloaded.records["http://users:8000"].failures_total == 1


async def test_discovery_false_uses_the_name_as_one_target() -> None:
    up = build(["http://users:8000"], discovery=False)
    assert up.records == {}
    assert await up.refresh() is False


@pytest.mark.parametrize("target", ["unix:/run/users.sock", "http://[::1]:8000", "http://127.0.0.1:80"])
async def test_addresses_and_sockets_are_never_resolved(target: str) -> None:
    assert build([target]).records == {}
