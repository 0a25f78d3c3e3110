"""Request-target normalisation, done once before routing so that what is matched is what is sent.

Rules (RFC 3986 §6.2.2 and §5.2.4), in order:
1. Only origin-form (``/path?query``) and absolute-form (``http://host/path``) targets are accepted.
2. Percent-encoded *unreserved* characters are decoded (``%61`` → ``a``, ``%2e`` → ``.``); every
   other escape is kept, with its hex digits upper-cased.
3. An encoded ``/`` (``%2F``) or ``\\`` (``%5C``) is refused unless allowed, since back-ends disagree
   on whether it separates segments; an encoded or raw NUL and other control bytes are always refused,
   and so is a raw ``\\`` (some servers read it as ``/``). A ``;`` is refused unless allowed: Tomcat
   and Spring strip ``;params`` from segments, so ``/api/admin;x`` would reach a route the gateway
   never matched.
4. Empty segments (``//``) collapse; ``.`` and ``..`` segments are removed, never climbing above ``/``.
So ``/api/public/../admin``, ``/api/public/%2e%2e/admin`` and ``/api//admin`` all become ``/api/admin``
and are routed (and forwarded) as such.
"""

from __future__ import annotations

import re

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(rb"[\x00-\x20\x7f]")


class BadTarget(ValueError):
    """The request target cannot be routed safely; rendered as 400."""


def _decode_unreserved(match: re.Match[bytes]) -> bytes:
    code = int(match.group(1), 16)
    if code in _UNRESERVED:
        return bytes((code,))
    return b"%" + match.group(1).upper()


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a raw request target into (path, query) — query without its ``?``, ``b""`` if none."""
    if target[:1] != b"/":
        lowered = target[:8].lower()
        if lowered.startswith(b"http://") or lowered.startswith(b"https:/"):
            start = target.find(b"/", target.find(b"//") + 2)
            target = target[start:] if start != -1 else b"/"
        else:
            raise BadTarget("the request target must be an absolute path")
    path, _, query = target.partition(b"?")
    path = path.partition(b"#")[0]
    return path, query


def normalize_path(path: bytes, allow_encoded_slash: bool = False, allow_semicolon: bool = False) -> str:
    """Return the normalised path as text (ASCII; non-ASCII stays percent-encoded)."""
    if _CONTROL.search(path):
        raise BadTarget("control characters in the path")
    if b"\\" in path:
        raise BadTarget("'\\' in the path")
    if not allow_semicolon and b";" in path:
        raise BadTarget("';' in the path")
    if b"%" in path:
        if _BAD_ESCAPE.search(path):
            raise BadTarget("malformed percent-encoding in the path")
        path = _ESCAPE.sub(_decode_unreserved, path)
        upper = path.upper()
        if b"%00" in upper:
            raise BadTarget("encoded NUL in the path")
        if not allow_encoded_slash and (b"%2F" in upper or b"%5C" in upper):
            raise BadTarget("encoded '/' or '\\' in the path")
    try:
        text = path.decode("ascii")
    except UnicodeDecodeError:
        # Raw non-ASCII bytes are not valid in a URI; encode them so the path stays ASCII.
        text = "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in path)
    if "//" not in text and "/." not in text:
        return text  # the common case: nothing to remove
    out: list[str] = []
    for segment in text.split("/")[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", ""):
            out.append(segment)
    trailing = text.endswith(("/", "/.", "/..")) and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")
