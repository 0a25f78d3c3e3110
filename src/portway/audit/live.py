"""`portway audit --live`: what this host really listens on, judged with the same roles and rules.

Rules:
- Listening sockets come from `/proc/net/tcp`, `tcp6` (state LISTEN) and `udp`, `udp6` (bound,
  no peer); each is located at its line of that file.
- A socket's owner is the process holding its inode among its `/proc/PID/fd` links; its argv
  (`/proc/PID/cmdline`) is the evidence for its role, as a compose file's command is. A socket
  whose owner cannot be seen (another PID namespace, no permission) is reported as unknown.
- Sockets bound to a loopback address are not reachable from the network and are left out; one
  port bound on both `0.0.0.0` and `::` by one process is one exposure.
- Only the exposure rules apply (there is no file to hold networks, credentials or mounts).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from portway.audit.errors import AuditInputError
from portway.audit.findings import Location
from portway.audit.model import Exposure, Platform, Setting, Stack, Workload
from portway.audit.report import Report
from portway.audit.roles import assign_roles
from portway.audit.rules import check

TABLES = ("tcp", "tcp6", "udp", "udp6")
_TCP_LISTEN, _UDP_UNCONNECTED = "0A", "07"


@dataclass(frozen=True)
class Listener:
    protocol: str  # "tcp" or "udp"
    address: str
    port: int
    inode: int
    location: Location

    @property
    def loopback(self) -> bool:
        address = ipaddress.ip_address(self.address)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback


def audit_live(gateways: Collection[str] = (), proc: Path = Path("/proc")) -> Report:
    stack = live_stack(proc)
    assign_roles(stack, gateways)
    return Report([str(proc / "net" / t) for t in TABLES], [stack], check(stack), [])


def live_stack(proc: Path = Path("/proc")) -> Stack:
    listeners = [item for table in TABLES for item in read_table(proc, table)]
    owners = socket_owners(proc)
    stack = Stack(platform=Platform.HOST, name="this host (live)")
    by_owner: dict[int, Workload] = {}
    seen: set[tuple[int, str, int]] = set()
    for listener in listeners:
        if listener.loopback:
            continue
        pid = owners.get(listener.inode, 0)
        key = (pid or -listener.inode, listener.protocol, listener.port)
        if key in seen:
            continue
        seen.add(key)
        workload = by_owner.get(key[0])
        if workload is None:
            workload = _process(proc, pid, listener)
            by_owner[key[0]] = workload
            stack.workloads.append(workload)
        workload.container_ports.append(listener.port)
        workload.exposures.append(
            Exposure(
                port=f"{_host(listener.address)}:{listener.port}/{listener.protocol}",
                via="listening socket",
                location=listener.location,
                host_ip=listener.address,
                target=str(listener.port),
            )
        )
    return stack


def read_table(proc: Path, table: str) -> Iterator[Listener]:
    path = proc / "net" / table
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return  # no IPv6 on this host, say
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"{path}: cannot read ({exc})") from None
    protocol = table.rstrip("6")
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if protocol == "tcp" and state != _TCP_LISTEN:
            continue
        if protocol == "udp" and (state != _UDP_UNCONNECTED or remote.split(":")[1] != "0000"):
            continue
        try:
            address_hex, port_hex = local.split(":")
            listener = Listener(
                protocol, _address(address_hex), int(port_hex, 16), int(inode), Location(str(path), number)
            )
        except ValueError:
            raise AuditInputError(f"{path}:{number}: cannot read the socket line") from None
        yield listener


def _address(text: str) -> str:
    """/proc/net writes addresses as 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(text)
    if len(raw) not in (4, 16):
        raise ValueError(text)
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(ordered))


def socket_owners(proc: Path) -> dict[int, int]:
    """socket inode -> pid, for every process whose descriptors this user may read."""
    owners: dict[int, int] = {}
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to read
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(int(target[8:-1]), int(entry.name))
    return owners


def _process(proc: Path, pid: int, listener: Listener) -> Workload:
    argv: list[str] = []
    if pid:
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace")
            argv = [word for word in raw.split("\0") if word]
        except OSError:
            argv = []
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    name = f"{program or '?'} (pid {pid})" if pid else f"unknown process (socket {listener.inode})"
    workload = Workload(name=name, kind="process", location=listener.location, image="")
    workload.arguments.extend(Setting(word, listener.location) for word in argv)
    # Not labels a user wrote: how `--gateway NAME` and the gateway look-alike test see a process.
    workload.labels.update(
        {"portway.program": program, "portway.pid": str(pid), "portway.command": " ".join(argv)}
    )
    return workload


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
