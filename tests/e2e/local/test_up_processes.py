"""`portway up` as a whole process: a service that cannot start fails `portway up` with its name and
last lines, `portway up` SIGKILLed takes its services with it (both with a tiny service that starts
in milliseconds), and ``--isolate`` runs the shop's services in network namespaces with only loopback."""

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

from .support import (
    PortwayUp,
    alive,
    cmdline,
    listening_tcp,
    network_interfaces,
    process_tree,
    shop_config,
    tiny_config,
)


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


def test_a_missing_program_fails_up_naming_it(config_dir: Path, started: list[PortwayUp]) -> None:
    up = PortwayUp(tiny_config(config_dir, program="no-such-program-here")).start()
    started.append(up)
    assert up.wait() == 1
    assert "service 'tiny' (replica 1) exited with status 127" in up.output
    assert "cannot run 'no-such-program-here'" in up.output


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
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux's")
def test_isolate_puts_services_in_a_loopback_only_namespace(
    config_dir: Path, started: list[PortwayUp]
) -> None:
    up = PortwayUp(shop_config(config_dir), "--isolate").start()
    started.append(up)
    up.wait_ready(within=90)
    gateway_ns = os.readlink(f"/proc/{up.pid}/ns/net")
    services = [pid for pid in process_tree(up.pid) if "-m shop." in cmdline(pid)]
    assert len(services) == 4
    for pid in services:
        assert os.readlink(f"/proc/{pid}/ns/net") != gateway_ns, cmdline(pid)
        assert network_interfaces(pid) == {"lo"}, cmdline(pid)
    # The system still answers through the gateway, tokens included (the JWKS comes over a socket).
    with httpx.Client(base_url=up.base, timeout=10) as client:
        account = {"email": "iso@example.com", "password": "a long password"}
        assert client.post("/api/auth/register", json={**account, "name": "Iso"}).status_code == 201
        token = client.post("/api/auth/login", json=account).json()["access_token"]
        me = client.get("/api/users/me", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == "iso@example.com"
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
