"""The TLS files a config names: problems reported at the line of the key that names the file,
PEM certificates and keys loaded and checked, and a cheap stamp that changes with a file."""

from __future__ import annotations

import datetime
import logging
import os
import ssl
from collections.abc import Iterable
from pathlib import Path

import yaml
from cryptography import x509

from portway.config.errors import ConfigError, ConfigProblem, format_path

log = logging.getLogger("portway.tls")

Loc = tuple[int | str, ...]


# -- config errors with their line ---------------------------------------------------------------
class Problems:
    """Collects problems as ``file:line: key.path: message``, finding lines in the source file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigProblem] = []
        self._lines: dict[Loc, int] | None = None

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(ConfigProblem(self.source, self._line(loc), format_path(loc), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def _line(self, loc: Loc) -> int | None:
        if self._lines is None:
            self._lines = _line_map(self.source)
        for end in range(len(loc), -1, -1):
            if (line := self._lines.get(loc[:end])) is not None:
                return line
        return None


def _line_map(source: str) -> dict[Loc, int]:
    try:
        root = yaml.compose(Path(source).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[Loc, int] = {}

    def walk(node: yaml.Node, loc: Loc) -> None:
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*loc, key.value)] = key.start_mark.line + 1
                    walk(value, (*loc, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))

    if root is not None:
        walk(root, ())
    return lines


class _Encrypted(Exception):
    pass


def no_passphrase() -> bytes:
    raise _Encrypted


def load_pair(ctx: ssl.SSLContext, cert: str, key: str, loc: Loc, problems: Problems) -> bool:
    """Load a certificate chain and its key into ``ctx``; report why not, at the right key."""
    for name, path in (("cert", cert), ("key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            problems.add((*loc, name), f"cannot read {path}: {exc.strerror or exc}")
            return False
    try:
        ctx.load_cert_chain(cert, key, password=no_passphrase)
    except _Encrypted:
        problems.add((*loc, "key"), f"{key} is encrypted with a passphrase (not supported)")
        return False
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            problems.add((*loc, "key"), f"{key} does not match the certificate in {cert}")
        elif "PEM" in str(exc.reason) or exc.library == "PEM":
            problems.add((*loc, "cert"), f"{cert} or {key} is not valid PEM ({exc.reason})")
        else:
            problems.add((*loc, "cert"), f"cannot use {cert} with {key}: {exc.reason or exc}")
        return False
    try:
        if os.stat(key).st_mode & 0o077:
            log.warning("%s is readable by other users: it should be mode 0600 or 0400", key)
    except OSError:
        pass
    return True


def leaf(cert: str, loc: Loc, problems: Problems) -> x509.Certificate | None:
    """The chain's first certificate, checked for its validity period."""
    try:
        with open(cert, "rb") as f:
            chain = x509.load_pem_x509_certificates(f.read())
    except (OSError, ValueError) as exc:
        problems.add((*loc, "cert"), f"{cert} holds no PEM certificate ({exc})")
        return None
    leaf = chain[0]
    now = datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= now:
        problems.add((*loc, "cert"), f"{cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        return None
    if leaf.not_valid_before_utc > now:
        problems.add((*loc, "cert"), f"{cert} is not valid before {leaf.not_valid_before_utc:%Y-%m-%d} UTC")
        return None
    return leaf


def san_names(leaf: x509.Certificate) -> list[str]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)]


def file_stamp(files: Iterable[str]) -> tuple[tuple[int, int, int], ...]:
    """What changes when a file is replaced or rewritten (inode, size, mtime): cheap to poll."""
    out = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            out.append((0, 0, 0))
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)
