"""`portway up` as a real process, and what the kernel says about it: its process tree (from
/proc/*/stat), the TCP sockets that tree listens on (/proc/<pid>/net/tcp{,6} joined with the socket
inodes in /proc/<pid>/fd), and network namespaces."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SHOP_CONFIG = ROOT / "examples" / "shop" / "portway.yaml"
TINY_SERVICE = Path(__file__).with_name("tiny_service.py")
SLOW_SEED = Path(__file__).with_name("slow_seed.py")


def shop_config(directory: Path, **replicas: int) -> Path:
    """examples/shop/portway.yaml with more replicas of some services (nothing else changed)."""
    doc = yaml.safe_load(SHOP_CONFIG.read_text())
    for name, count in replicas.items():
        doc["services"][name]["replicas"] = count
    path = directory / "shop.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def tiny_config(
    directory: Path,
    replicas: int = 1,
    env: dict[str, str] | None = None,
    program: str = "python",
    upstream: dict[str, object] | None = None,
    service: dict[str, object] | None = None,
) -> Path:
    """One tiny service (tests/e2e/local/tiny_service.py) behind the gateway: starts in milliseconds.
    ``upstream`` and ``service`` add keys to its upstream and its `services:` entry."""
    doc = {
        "listen": "127.0.0.1:0",
        "admin": "127.0.0.1:0",
        "upstreams": {"tiny": {"targets": [], **(upstream or {})}},
        "routes": [{"path": "/tiny/", "upstream": "tiny", "rewrite": "/"}],
        "services": {
            "tiny": {
                "command": [program, str(TINY_SERVICE), "{socket}"],
                "replicas": replicas,
                "env": env or {},
                **(service or {}),
            }
        },
    }
    path = directory / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class PortwayUp:
    """``portway up CONFIG`` in a fresh data directory, its output collected line by line."""

    def __init__(self, config: Path, *flags: str) -> None:
        # Short: the run directory lives inside and unix socket paths are limited to ~100 bytes.
        self.data_dir = Path(tempfile.mkdtemp(prefix="pwup-"))
        self.args = [sys.executable, "-m", "portway", "up", str(config), "--data-dir", str(self.data_dir),
                     "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", *flags]  # fmt: skip
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.base = ""
        self.admin = ""

    def start(self) -> PortwayUp:
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.data_dir
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, within: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.process is not None
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader drain the pipe
                raise AssertionError(f"portway up exited {self.process.returncode}:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} within {within}s:\n{self.output}")

    def wait_ready(self, within: float = 60.0) -> None:
        match = self.wait_for(r"gateway on (http://\S+), admin on (http://\S+)", within)
        self.base, self.admin = match.group(1), match.group(2)
        self.wait_for(r"^Try it:", within)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait(self, within: float = 30.0) -> int:
        assert self.process is not None
        code = self.process.wait(within)
        time.sleep(0.2)  # let the reader drain the pipe
        return code

    def stop(self, signum: int = signal.SIGTERM, within: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.wait(within)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def process_tree(root: int) -> set[int]:
    """``root`` and every live descendant."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat[0]
    tree, changed = {root}, True
    while changed:
        grown = tree | {pid for pid, ppid in parents.items() if ppid in tree}
        changed, tree = grown != tree, grown
    return {pid for pid in tree if _stat(pid) is not None}


def alive(pids: set[int]) -> set[int]:
    """Those still running (a zombie is dead: it only waits to be reaped)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in reversed(raw))
    else:  # four little-endian 32-bit words
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        ip = ":".join(b"".join(words)[i : i + 2].hex() for i in range(0, 16, 2))
    return ip, int(port, 16)


def listening_tcp(pids: set[int]) -> set[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket in LISTEN state held open by one of ``pids``."""
    found = set()
    for pid in pids:
        inodes = _socket_inodes(pid)
        for table in ("tcp", "tcp6"):
            try:
                rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                    found.add((pid, *_address(fields[1])))
    return found


def network_interfaces(pid: int) -> set[str]:
    rows = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return {row.split(":")[0].strip() for row in rows}
