"""``portway run --workers 2``: the admin listener (worker 0's) answers for both workers: status
lists each and sums them, metrics add the workers' counters, a reload is done by both."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from portway.testing import GatewayProcess, gateway_process, upstream_server

from .support import one_upstream, write_config

pytestmark = pytest.mark.timeout(60)


async def admin_address(gw: GatewayProcess) -> str:
    line = await gw.wait_for_line("admin API on http://", within=15)
    return line.rsplit("http://", 1)[1].strip()


async def both_answering(http: httpx.AsyncClient) -> dict[str, object]:
    """The status once both workers' private admin sockets answer (each binds its own at start)."""
    async with asyncio.timeout(15):
        while True:
            status: dict = (await http.get("/status")).json()
            if status["totals"]["answering"] == 2:
                return status
            await asyncio.sleep(0.05)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_status_and_metrics_cover_both_workers(tmp_path: Path) -> None:
    async with upstream_server() as up:
        config = one_upstream(up.address) | {"admin": "127.0.0.1:0"}
        async with (
            gateway_process(config, tmp_path, "--workers", "2") as gw,
            httpx.AsyncClient(base_url=f"http://{await admin_address(gw)}", timeout=10) as http,
            # a new connection per request: the kernel spreads connections over the workers
            httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client,
        ):
            await both_answering(http)
            sent, per_worker = 0, [0, 0]
            while min(per_worker) == 0 and sent < 400:  # bounded: each try lands on either at random
                for _ in range(10):
                    assert (await client.get(f"http://127.0.0.1:{gw.port}/x")).status_code == 200
                    sent += 1
                per_worker = [int(w["requests"]) for w in (await http.get("/status")).json()["workers"]]
            status = (await http.get("/status")).json()
            metrics = (await http.get("/metrics")).text
            gw.signal(signal.SIGTERM)
            assert await gw.wait(within=15) == 0
    assert min(per_worker) > 0, f"one worker served all {sent} requests"
    workers = status["workers"]
    assert [w["worker"] for w in workers] == [0, 1] and workers[0]["pid"] != workers[1]["pid"]
    assert status["totals"]["workers"] == 2 and status["totals"]["answering"] == 2
    assert status["totals"]["requests"] == sent == sum(w["requests"] for w in workers)
    assert len(status["totals"]["versions"]) == 1
    scraped = samples(metrics)
    assert scraped[("portway_requests_total", frozenset({("route", "/"), ("status", "200")}))] == sent
    duration_count = ("portway_request_duration_seconds_count", frozenset({("route", "/")}))
    assert scraped[duration_count] == sent
    assert scraped[("portway_workers", frozenset({("state", "answering")}))] == 2
    for worker in ("0", "1"):  # a gauge is each worker's own state
        labels = frozenset({("upstream", "svc"), ("target", up.address), ("worker", worker)})
        assert scraped[("portway_upstream_target_available", labels)] == 1


async def test_a_reload_through_the_admin_api_is_done_by_every_worker(tmp_path: Path) -> None:
    async with upstream_server() as first, upstream_server() as second:
        config = one_upstream(first.address) | {"admin": "127.0.0.1:0"}
        async with (
            gateway_process(config, tmp_path, "--workers", "2") as gw,
            httpx.AsyncClient(base_url=f"http://{await admin_address(gw)}", timeout=10) as http,
            httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client,
        ):
            before = await both_answering(http)
            write_config(gw.config_path, one_upstream(second.address) | {"admin": "127.0.0.1:0"})
            reloaded = await http.post("/reload")
            after = (await http.get("/status")).json()
            for _ in range(20):
                assert (await client.get(f"http://127.0.0.1:{gw.port}/x")).status_code == 200
            broken = one_upstream(second.address, routes=[{"path": "/", "upstream": "nowhere"}])
            write_config(gw.config_path, broken | {"admin": "127.0.0.1:0"})
            refused = await http.post("/reload")
            last = (await http.get("/status")).json()
            gw.signal(signal.SIGTERM)
            assert await gw.wait(within=15) == 0
    version = reloaded.json()["version"]
    assert reloaded.status_code == 200 and version not in before["totals"]["versions"]  # type: ignore[index]
    assert [w["version"] for w in reloaded.json()["workers"]] == [version, version]
    assert after["totals"]["versions"] == [version] and after["totals"]["reloads"] == 2
    assert len(second.requests) == 20 and not first.requests  # both workers route to the new target
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "routes[0].upstream"
    assert last["totals"]["versions"] == [version] and last["totals"]["reloads"] == 2


async def test_a_worker_that_does_not_answer_is_listed_and_left_out_of_the_sums(tmp_path: Path) -> None:
    async with upstream_server() as up:
        config = one_upstream(up.address) | {"admin": "127.0.0.1:0"}
        async with (
            gateway_process(config, tmp_path, "--workers", "2") as gw,
            httpx.AsyncClient(base_url=f"http://{await admin_address(gw)}", timeout=10) as http,
        ):
            stuck = int((await both_answering(http))["workers"][1]["pid"])  # type: ignore[index]
            os.kill(stuck, signal.SIGSTOP)  # alive, holding its socket, answering nothing
            try:
                status = (await http.get("/status")).json()
                metrics = samples((await http.get("/metrics")).text)
            finally:
                os.kill(stuck, signal.SIGCONT)
            gw.signal(signal.SIGTERM)
            assert await gw.wait(within=15) == 0
    assert status["workers"][1] == {"worker": 1, "error": "ReadTimeout"}
    assert status["workers"][0]["pid"] != stuck and status["totals"]["answering"] == 1
    assert metrics[("portway_workers", frozenset({("state", "unreachable")}))] == 1
    assert metrics[("portway_workers", frozenset({("state", "answering")}))] == 1
    assert not any(("worker", "1") in labels for _, labels in metrics)
