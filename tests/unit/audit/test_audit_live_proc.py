"""`--live` on a /proc laid out by hand: socket tables, descriptors and command lines in, the
same findings as files out."""

from __future__ import annotations

import os
from pathlib import Path

from portway.audit.live import audit_live, read_table

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _socket(index: int, local: str, state: str, inode: int, remote: str = "00000000:0000") -> str:
    queues = "00000000:00000000 00:00000000 00000000     0        0"
    return f"   {index}: {local} {remote} {state} {queues} {inode}\n"


def _process(proc: Path, pid: int, argv: list[str], inodes: list[int]) -> None:
    (proc / str(pid) / "fd").mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
    for number, inode in enumerate(inodes, start=3):
        os.symlink(f"socket:[{inode}]", proc / str(pid) / "fd" / str(number))


def _host(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(
        HEADER
        + _socket(0, "00000000:1F90", "0A", 101)  # 0.0.0.0:8080 gateway
        + _socket(1, "0100007F:1538", "0A", 102)  # 127.0.0.1:5432 postgres, loopback
        + _socket(2, "0A00000A:0CEA", "0A", 103)  # 10.0.0.10:3306 mysqld
        + _socket(3, "0A00000A:1F90", "01", 104, "0B00000A:C350")  # an established connection
    )
    (proc / "net" / "tcp6").write_text(
        HEADER
        + _socket(0, "00000000000000000000000000000000:1F90", "0A", 105)  # [::]:8080, the gateway again
        + _socket(1, "00000000000000000000000000000000:15B3", "0A", 106)  # [::]:5555 unknown owner
    )
    (proc / "net" / "udp").write_text(HEADER + _socket(0, "00000000:14E9", "07", 107))  # *:5353 avahi
    _process(proc, 10, ["/usr/bin/portway", "run", "gateway.yaml"], [101, 105])
    _process(proc, 11, ["postgres", "-D", "/var/lib/postgresql/data"], [102])
    _process(proc, 12, ["/usr/sbin/mysqld"], [103])
    _process(proc, 13, ["avahi-daemon: running"], [107])
    return proc


def test_socket_tables_are_decoded(tmp_path: Path) -> None:
    proc = _host(tmp_path)
    tcp = list(read_table(proc, "tcp"))
    assert [(s.address, s.port, s.loopback) for s in tcp] == [
        ("0.0.0.0", 8080, False),
        ("127.0.0.1", 5432, True),
        ("10.0.0.10", 3306, False),
    ]
    assert tcp[2].location.line == 4
    first = next(read_table(proc, "tcp6"))
    assert (first.address, first.port) == ("::", 8080)


def test_live_findings(tmp_path: Path) -> None:
    report = audit_live(proc=_host(tmp_path))
    found = sorted((f.rule.id, f.subject) for f in report.findings)
    assert found == [
        ("PW001", "mysqld (pid 12)"),
        ("PW002", "avahi-daemon: running (pid 13)"),
        ("PW002", "unknown process (socket 106)"),
    ]
    assert (report.before, report.after) == (4, 1)  # 8080 once for both families


def test_gateway_named_by_program(tmp_path: Path) -> None:
    proc = _host(tmp_path)
    report = audit_live(gateways=["mysqld"], proc=proc)
    assert "PW001" not in {f.rule.id for f in report.findings}
