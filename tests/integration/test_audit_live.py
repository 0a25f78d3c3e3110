"""`portway audit --live` on a real network stack: a namespace of its own with a gateway, a
database and a debugger on a non-loopback address, and a database on loopback only."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "10.213.0.1"
# A listener that looks like whatever its argv[0] says (bash `exec -a`), and says when it listens.
LISTENER = (
    "import signal, socket, sys;"
    " s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET);"
    " s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2])));"
    " s.listen(); print('ready', flush=True); signal.pause()"
)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"pwaudit{os.getpid()}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        # Both ends of the pair inside the namespace: nothing of the host's is touched.
        _ip("-n", name, "link", "add", "audit0", "type", "veth", "peer", "name", "audit1")
        _ip("-n", name, "addr", "add", f"{ADDRESS}/24", "dev", "audit0")
        _ip("-n", name, "link", "set", "audit0", "up")
        _ip("-n", name, "link", "set", "audit1", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=10)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    try:
        yield processes
    finally:
        for process in processes:  # each by its own pid
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()


def _start(processes: list[subprocess.Popen[str]], namespace: str, argv: list[str], ready: str) -> None:
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Under another argv[0] Python cannot find its own library: point it there.
        env={**os.environ, "PYTHONHOME": sys.base_prefix},
    )
    processes.append(process)
    assert process.stdout is not None
    output = ""
    # Read the pipe's bytes as they come (os.read), not lines: a buffered readline() after select()
    # keeps the lines a process wrote at once in Python's buffer, where select() cannot see them,
    # and waited for more that never came (redis-server writes its start-up lines in one go).
    fd = process.stdout.fileno()
    deadline = time.monotonic() + 30  # bounded: 30 s in all for the process to say it is ready
    while ready not in output:
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        data = os.read(fd, 65536) if readable else b""
        assert data, f"{argv[:3]} did not start: {output}"
        output += data.decode(errors="replace")


def _listener(program: str, address: str, port: int, *extra: str) -> list[str]:
    script = f'exec -a {program} {sys.executable} -c "{LISTENER}" {address} {port} {" ".join(extra)}'
    return ["bash", "-c", script]


def _audit_live(namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-m", "portway", "audit", "--live", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )


def test_live_reports_the_exposed_database_and_debugger_only(
    namespace: str, started: list[subprocess.Popen[str]]
) -> None:
    _start(started, namespace, _listener("portway", "0.0.0.0", 8080), "ready")  # the gateway
    _start(started, namespace, _listener("postgres", ADDRESS, 5432), "ready")
    _start(started, namespace, _listener("node", "::", 9229, "--inspect=0.0.0.0:9229"), "ready")
    redis = shutil.which("redis-server")
    if redis:  # a real data store, on loopback only
        argv = [redis, "--port", "6391", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        _start(started, namespace, argv, "Ready to accept connections")
    else:
        _start(started, namespace, _listener("redis-server", "127.0.0.1", 6391), "ready")

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            sys.executable,
            "-m",
            "portway",
            "audit",
            "--live",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    found = sorted((f["rule"], f["subject"].split(" ")[0]) for f in report["findings"])
    assert found == [("PW001", "postgres"), ("PW005", "node")]
    roles = {s["name"].split(" ")[0]: s["role"] for s in report["services"]}
    assert roles == {"portway": "gateway", "postgres": "data store", "node": "service"}
    assert report["summary"]["exposed_ports"] == {"before": 3, "after": 1}


def test_live_table_and_sarif_formats(namespace: str, started: list[subprocess.Popen[str]]) -> None:
    _start(started, namespace, _listener("mongod", ADDRESS, 27017), "ready")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    base = ["ip", "netns", "exec", namespace, sys.executable, "-m", "portway", "audit", "--live"]

    table = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env, check=False)
    sarif = subprocess.run(
        [*base, "--format", "sarif"], capture_output=True, text=True, timeout=60, env=env, check=False
    )

    assert table.returncode == 1 and "PW001" in table.stdout and "/proc/net/tcp" in table.stdout
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["PW001"]
