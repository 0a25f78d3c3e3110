"""Request-target normalisation, done once before routing so that what is matched is what is sent.

Rules (RFC 3986 §6.2.2 and §5.2.4; docs/routing.md), in order:
1. Only origin-form (``/path?query``) and absolute-form (``http://host/path``) targets are accepted.
2. Raw bytes: control characters and space, and a raw ``\\`` (some servers read it as ``/``), are
   always refused; a raw ``;`` unless ``allow_semicolon`` (Tomcat and Spring strip ``;params``
   from segments, so ``/api/admin;x`` would reach a route the gateway never matched).
3. Every ``%`` starts exactly two hex digits: ``%u002F`` (IIS), ``%%``, ``%2`` are malformed.
4. Percent-encoded *unreserved* characters are decoded (``%61`` → ``a``, ``%2e`` → ``.``); every
   other escape is kept, with its hex digits upper-cased (``%2f`` → ``%2F``). Escapes are decoded
   once: ``%252F`` stays ``%252F`` and the back end, decoding once, sees the text ``%2F``.
5. Encoded bytes a back end may decode into something the gateway did not route:
   - control bytes ``%00`` to ``%1F`` and ``%7F`` are always refused;
   - ``%2F`` (``/``), ``%5C`` (``\\``) and ``%3B`` (``;``) are refused unless ``allow_encoded_slash``,
     ``allow_encoded_backslash`` or ``allow_encoded_semicolon`` (``paths:`` in the config) allows
     that one; an allowed escape is kept encoded, inside its segment.
6. Encoded bytes ≥ 0x80 must be well-formed UTF-8 (no overlong ``%C0%AF`` for ``/``, no surrogates),
   must not decode to a control character (C1 such as U+0085), and must not fold under NFKC into
   a delimiter or a dot segment (fullwidth solidus U+FF0F; ``%EF%BC%8E%EF%BC%8E``, fullwidth
   ``..``), as "best-fit" decoders do.
7. Empty segments (``//``) collapse; ``.`` and ``..`` segments are removed, never climbing above ``/``.
So ``/api/public/../admin``, ``/api/public/%2e%2e/admin`` and ``/api//admin`` all become ``/api/admin``
and are routed (and forwarded) as such.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote_to_bytes

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(rb"[\x00-\x20\x7f]")
_HIGH_ESCAPE = re.compile(r"%[89A-F][0-9A-F]")  # after rule 4 the hex digits are upper-case
_ENCODED_CONTROL = frozenset(range(0x20)) | {0x7F}
# Characters that, appearing only after NFKC folding, would let a back end that folds split, climb
# or re-decode the path differently from the gateway.
_FOLDED_DELIMITERS = "/\\;%?#"


class BadTarget(ValueError):
    """The request target cannot be routed safely; rendered as 400."""


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


@lru_cache(maxsize=16)
def _escape_decoder(slash: bool, backslash: bool, semicolon: bool) -> Callable[[re.Match[bytes]], bytes]:
    """The ``re.sub`` callback for one combination of options (built once per combination)."""
    refused: dict[int, str] = {code: "an encoded control character" for code in _ENCODED_CONTROL}
    if not slash:
        refused[0x2F] = "an encoded '/'"
    if not backslash:
        refused[0x5C] = "an encoded '\\'"
    if not semicolon:
        refused[0x3B] = "an encoded ';'"

    def decode(match: re.Match[bytes]) -> bytes:
        code = int(match.group(1), 16)
        if code in _UNRESERVED:
            return bytes((code,))
        reason = refused.get(code)
        if reason is not None:
            raise BadTarget(f"{reason} in the path")
        return b"%" + match.group(1).upper()

    return decode


def normalize_path(
    path: bytes,
    allow_encoded_slash: bool = False,
    allow_semicolon: bool = False,
    *,
    allow_encoded_backslash: bool = False,
    allow_encoded_semicolon: bool = False,
) -> str:
    """Return the normalised path as text (ASCII; non-ASCII stays percent-encoded).
    Raises :class:`BadTarget` for anything the rules above refuse."""
    if _CONTROL.search(path):
        raise BadTarget("control characters in the path")
    if b"\\" in path:
        raise BadTarget("'\\' in the path")
    if not allow_semicolon and b";" in path:
        raise BadTarget("';' in the path")
    if b"%" in path:
        if _BAD_ESCAPE.search(path):
            raise BadTarget("malformed percent-encoding in the path")
        decoder = _escape_decoder(allow_encoded_slash, allow_encoded_backslash, allow_encoded_semicolon)
        path = _ESCAPE.sub(decoder, path)
    try:
        text = path.decode("ascii")
    except UnicodeDecodeError:
        # Raw non-ASCII bytes are not valid in a URI (the server's parser refuses them on the wire);
        # encode them so the path stays ASCII and rule 6 sees them like any other escape.
        text = "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in path)
    if "//" in text or "/." in text:
        text = _remove_dot_segments(text)
    if _HIGH_ESCAPE.search(text):
        _check_non_ascii(text)
    return text


def _remove_dot_segments(text: str) -> str:
    out: list[str] = []
    for segment in text.split("/")[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", ""):
            out.append(segment)
    trailing = text.endswith(("/", "/.", "/..")) and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")


def _check_non_ascii(text: str) -> None:
    """Rule 6, for the rare path that carries encoded non-ASCII bytes, one segment at a time (a
    UTF-8 sequence cannot span a ``/``, and an allowed encoded delimiter is not a new one)."""
    for segment in text.split("/"):
        if not _HIGH_ESCAPE.search(segment):
            continue
        try:
            decoded = unquote_to_bytes(segment).decode("utf-8")  # strict: no overlong forms, surrogates
        except UnicodeDecodeError:
            raise BadTarget("percent-encoded bytes in the path that are not UTF-8") from None
        if any(ord(ch) >= 0x80 and unicodedata.category(ch) == "Cc" for ch in decoded):
            raise BadTarget("an encoded control character in the path")
        folded = unicodedata.normalize("NFKC", decoded)
        if folded in (".", "..") or any(folded.count(c) > decoded.count(c) for c in _FOLDED_DELIMITERS):
            raise BadTarget("encoded characters in the path that fold into a delimiter")
