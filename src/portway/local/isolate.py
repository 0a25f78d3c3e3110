"""``--isolate``: whether the services can be put in a network namespace of their own, and the command
prefix that does it (the namespace itself is entered by :mod:`portway.local.launcher` in the child).

Each replica gets its own namespace with only loopback. The gateway stays in the host's namespace and
reaches the replicas over their unix sockets, so the system works exactly as without isolation; what
changes is that the kernel, not just the services' bind addresses, guarantees that nothing but the
gateway can be reached from outside. The shop's services talk to each other through the event log
(a file in local mode), so no service needs the network.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LAUNCHER = Path(__file__).with_name("launcher.py")


def unavailable() -> str | None:
    """Why ``--isolate`` cannot work here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating a network namespace needs root (or CAP_SYS_ADMIN)"
    return None


def launch_prefix(isolate: bool) -> list[str]:
    """What runs before a replica's command: the launcher on Linux, nothing elsewhere."""
    if not sys.platform.startswith("linux"):
        return []  # no PR_SET_PDEATHSIG: the process groups are stopped on every normal exit
    prefix = [sys.executable, "-S", str(LAUNCHER), str(os.getpid())]
    return [*prefix, "--isolate"] if isolate else prefix
