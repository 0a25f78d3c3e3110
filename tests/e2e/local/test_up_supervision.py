"""`portway up` supervising for real (tiny services, real processes, loopback only): a replica frozen
with SIGSTOP is ejected, then killed and restarted while requests keep succeeding on the other one;
and until start-up, seeding included, is done, the public port answers 503 with ``Retry-After``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import SLOW_SEED, PortwayUp, alive, cmdline, process_tree, tiny_config

# Requests in flight on the frozen replica wait one per-try timeout, then go to the other.
RETRY_ON_HANG = {
    "timeouts": {"read": "5s"},
    "retries": {"attempts": 2, "on": ["connect", "timeout", "reset"], "per_try_timeout": "1s"},
}


@pytest.fixture
def started() -> Iterator[list[PortwayUp]]:
    runs: list[PortwayUp] = []
    yield runs
    for run in runs:
        run.cleanup()


def _replica_pid(up: PortwayUp, name: str) -> int:
    (pid,) = [pid for pid in process_tree(up.pid) if f"/{name}.sock" in cmdline(pid)]
    return pid


def _pool(up: PortwayUp, replica: str) -> dict[str, object]:
    pools = httpx.get(f"{up.admin}/status", timeout=5).json()["upstreams"]["tiny"]
    (pool,) = [pool for pool in pools if str(pool["target"]).endswith(f"/{replica}.sock")]
    return dict(pool)


def test_a_hung_replica_is_ejected_then_restarted_while_requests_keep_succeeding(
    tmp_path: Path, started: list[PortwayUp]
) -> None:
    up = PortwayUp(tiny_config(tmp_path, replicas=2, upstream=RETRY_ON_HANG)).start()
    started.append(up)
    up.wait_ready(within=30)
    victim, other = _replica_pid(up, "tiny-1"), _replica_pid(up, "tiny-2")

    results: list[tuple[int, int | None]] = []  # (status, the pid that answered)
    done = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=up.base, timeout=5) as client:
            while not done.is_set():
                try:
                    response = client.get("/tiny/item")
                    pid = response.json().get("pid") if response.status_code == 200 else None
                    results.append((response.status_code, pid))
                except httpx.HTTPError:
                    results.append((0, None))

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        deadline = time.monotonic() + 10
        while {victim, other} - {pid for _, pid in results}:  # both in rotation before the fault
            assert time.monotonic() < deadline, results[-10:]
            time.sleep(0.05)
        os.kill(victim, signal.SIGSTOP)

        # Ejected within seconds (two failed checks), out of the gateway's rotation...
        up.wait_for(rf"tiny-1 ejected \(pid {victim}", within=6)
        assert _pool(up, "tiny-1")["up"] is False
        # ...then killed after five and started again: a new process, its restart counted.
        restarted = up.wait_for(r"tiny-1 running \(pid (\d+), restarts 1\)", within=15)
        assert f"tiny-1 restarting (pid {victim}, restarts 0): hung: 5 health checks on /ready" in up.output
        fresh = int(restarted.group(1))
        assert fresh != victim and fresh == _replica_pid(up, "tiny-1")
        deadline = time.monotonic() + 10
        while fresh not in {pid for _, pid in results}:  # back in rotation
            assert time.monotonic() < deadline, results[-10:]
            time.sleep(0.05)
    finally:
        done.set()
        loader.join(10)
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGCONT)
    assert alive({victim}) == set()  # SIGKILLed, not left frozen
    failed = [status for status, _ in results if status != 200]
    assert failed == [] and len(results) > 20, (failed, len(results))
    assert up.stop() == 0


def test_until_started_and_seeded_every_request_gets_503_with_retry_after(
    tmp_path: Path, started: list[PortwayUp]
) -> None:
    seeding, release = tmp_path / "seeding", tmp_path / "release"
    seed = [sys.executable, str(SLOW_SEED), str(seeding), str(release)]
    up = PortwayUp(tiny_config(tmp_path, service={"seed": seed})).start()
    started.append(up)
    base = up.wait_for(r"(http://\S+) answers 503 until they are ready and seeded", within=30).group(1)
    deadline = time.monotonic() + 30
    while not seeding.exists():
        assert time.monotonic() < deadline and up.process is not None and up.process.poll() is None, up.output
        time.sleep(0.05)

    with httpx.Client(base_url=base, timeout=5) as client:  # one client: its keep-alive connection too
        for path in ("/tiny/item", "/no/such/route"):
            response = client.get(path)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "seeding demo data" in response.json()["detail"]
        assert client.post("/tiny/item", json={"a": 1}).status_code == 503

        release.touch()
        up.wait_ready(within=30)
        response = client.get("/tiny/item")
        assert response.status_code == 200, response.text
        assert response.json()["path"] == "/item"
    assert "tiny demo data:" in up.output and "slow_seed: seeded" in up.output
    assert f"portway up: dashboard: {up.admin}/" in up.output
    assert up.base == base  # the same port all along, handed from the placeholder to the gateway
    assert up.stop() == 0
