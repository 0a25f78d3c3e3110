"""Where `portway up` keeps things: a data directory that survives restarts, and inside it (or under
$XDG_RUNTIME_DIR when the path would be too long for a socket) a private run directory.

Rules:
- Both directories are mode 0700 and must belong to us: the sockets in the run directory accept
  anyone who can reach them, so only the owner may traverse it (the services have no other guard).
- ``--reset`` wipes only a directory `portway up` created (it holds :data:`MARKER`), never a user's
  directory given by mistake to ``--data-dir``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = ".portway-up"
# sun_path is 108 bytes on Linux and 104 on macOS; leave room for "<service>-<n>.sock".
_SOCKET_DIR_MAX = 80


class RunDirError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RunDir:
    root: Path  # the data directory given by --data-dir
    run: Path  # sockets and logs of this run

    @property
    def data(self) -> Path:
        """What the services get as ``PORTWAY_DATA_DIR`` (their databases, keys, demo accounts)."""
        return self.root / "data"

    def socket(self, service: str, replica: int) -> Path:
        return self.run / f"{service}-{replica}.sock"

    def log(self, name: str) -> Path:
        return self.run / f"{name}.log"

    def seeded(self, service: str) -> Path:
        return self.root / f".seeded-{service}"

    def identity_key(self) -> str:
        """The key the gateway signs X-Portway-Identity with and the services verify it with:
        made on the first run, kept (0600) with the data so restarts agree."""
        path = self.root / "identity.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def prepare(root: Path, reset: bool = False) -> RunDir:
    root = root.absolute()
    if reset and root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise RunDirError(f"{root} was not created by `portway up`; refusing to wipe it with --reset")
        shutil.rmtree(root)
    _private_dir(root)
    (root / MARKER).touch()
    _private_dir(root / "data")
    run = root / "run"
    if len(str(run)) > _SOCKET_DIR_MAX:
        run = _short_run_dir(root)
    _private_dir(run)
    return RunDir(root, run)


def _short_run_dir(root: Path) -> Path:
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    run = base / f"portway-{os.getuid()}-{digest}"
    if len(str(run)) > _SOCKET_DIR_MAX:
        raise RunDirError(f"no short enough place for unix sockets (tried {run})")
    return run


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        # In a shared /tmp someone else could have made the directory first to read our sockets.
        raise RunDirError(f"{path} is not a directory of ours")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
