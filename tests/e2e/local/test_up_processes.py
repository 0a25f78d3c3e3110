"""`portway up` with a tiny service (it starts in milliseconds): a service that cannot start fails
`portway up` with its name and last lines, `portway up` SIGKILLed takes its services with it, and
``--isolate`` puts the services in a network namespace with only loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import PortwayUp, alive, cmdline, listening_tcp, network_interfaces, process_tree, tiny_config


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def started() -> Iterator[list[PortwayUp]]:
    runs: list[PortwayUp] = []
    yield runs
    for run in runs:
        run.cleanup()


def _services(up: PortwayUp) -> list[int]:
    return [pid for pid in process_tree(up.pid) if "tiny_service.py" in cmdline(pid)]


def test_a_service_that_cannot_start_fails_up_naming_it(config_dir: Path, started: list[PortwayUp]) -> None:
    up = PortwayUp(tiny_config(config_dir, env={"TINY_FAIL": "cannot open the database"})).start()
    started.append(up)
    assert up.wait() == 1
    assert "service 'tiny' (replica 1) exited with status 3 before it was ready" in up.output
    assert "| cannot open the database" in up.output


def test_services_die_with_portway_up_even_when_it_is_sigkilled(
    config_dir: Path, started: list[PortwayUp]
) -> None:
    up = PortwayUp(tiny_config(config_dir, replicas=2)).start()
    started.append(up)
    up.wait_ready()
    services = set(_services(up))
    assert len(services) == 2
    up.stop(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(services) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(services) == set(), [cmdline(pid) for pid in services]


@pytest.mark.root
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux's")
def test_isolate_puts_services_in_a_loopback_only_namespace(
    config_dir: Path, started: list[PortwayUp]
) -> None:
    up = PortwayUp(tiny_config(config_dir, replicas=2), "--isolate").start()
    started.append(up)
    up.wait_ready()
    gateway_ns = os.readlink(f"/proc/{up.pid}/ns/net")
    for pid in _services(up):
        assert os.readlink(f"/proc/{pid}/ns/net") != gateway_ns
        assert network_interfaces(pid) == {"lo"}
    answers = {httpx.get(f"{up.base}/tiny/hello").json()["pid"] for _ in range(4)}
    assert answers == set(_services(up))  # both replicas answer, through their sockets
    assert {(a, p) for _, a, p in listening_tcp(process_tree(up.pid))} == {
        ("127.0.0.1", int(up.base.rsplit(":", 1)[1])),
        ("127.0.0.1", int(up.admin.rsplit(":", 1)[1])),
    }
    assert up.stop() == 0


def test_isolate_is_refused_with_a_reason_where_it_cannot_work(config_dir: Path) -> None:
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        pytest.skip("isolation is available here (root on Linux)")
    result = subprocess.run(
        [sys.executable, "-m", "portway", "up", str(tiny_config(config_dir)), "--isolate"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2 and "--isolate:" in result.stderr
