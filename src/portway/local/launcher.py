"""The child side of starting a replica on Linux: ``python -S launcher.py PARENT_PID [--isolate] CMD...``.

It runs between fork and the service, and then replaces itself with the service (``execvp``):
- ``PR_SET_PDEATHSIG`` = SIGKILL, so the service dies with `portway up` even when `portway up` is
  SIGKILLed and has no chance to stop it (the setting survives exec). If the parent died before the
  setting took effect, the launcher exits instead of leaving an orphan.
- ``--isolate``: a new network namespace with only loopback, brought up. The service then cannot
  reach or be reached over any network; its unix socket still works (a socket file is reached through
  the filesystem, not the network namespace).

It is a separate program, not a ``preexec_fn``, because code run between fork and exec in a process
with threads (the access log's) can deadlock; and it imports only the standard library (``-S``) so it
costs a few milliseconds.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import struct
import sys

PR_SET_PDEATHSIG = 1
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _libc_call(name: str, *args: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def enter_private_network() -> None:
    _libc_call("unshare", CLONE_NEWNET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def main(argv: list[str]) -> None:
    parent, rest = int(argv[0]), argv[1:]
    _libc_call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)
    if rest[:1] == ["--isolate"]:
        rest = rest[1:]
        enter_private_network()
    try:
        os.execvp(rest[0], rest)  # noqa: S606 (the service command from the config, as an argv list)
    except OSError as exc:
        print(f"cannot run {rest[0]!r}: {exc.strerror}", file=sys.stderr)
        sys.exit(127)  # the shell's "command not found"


if __name__ == "__main__":
    main(sys.argv[1:])
