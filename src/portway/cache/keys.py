"""Cache keys (RFC 9111 §4.1, §2): a primary key per URI and a secondary key per variant.

Rules:
- The primary key is ``host + path [+ '?' + query]`` of the request as the client sent it (the host
  lower-cased), with no method: only GET responses are stored, HEAD is answered from them, and an
  unsafe method invalidates them by the same key (§4.4). Purge by prefix reads keys this way.
- The route's opt-in ``key_headers`` act like a ``Vary`` the gateway adds: their request values are
  part of every stored variant's secondary key.
- A variant matches a request when every field it varies on has the same value in the request
  (:func:`request_value` normalises it); ``Vary: *`` is never stored, so it never has to match.
"""

from __future__ import annotations

from collections.abc import Iterable

from portway.contract import RequestHead


def primary(head: RequestHead, query: bytes) -> str:
    path = head.target.partition(b"?")[0]
    host = (head.host or b"").lower()
    key = host + path
    if query:
        key += b"?" + query
    return key.decode("latin-1")


def uri_key(host: bytes, reference: bytes) -> str | None:
    """The primary key a ``Location`` / ``Content-Location`` names, when it is on the request's own
    origin (§4.4: a cache must not invalidate other origins on an attacker's say-so)."""
    reference = reference.strip()
    if reference.startswith(b"/") and not reference.startswith(b"//"):
        return (host.lower() + reference).decode("latin-1")
    for scheme in (b"http://", b"https://"):
        if reference[: len(scheme)].lower() == scheme:
            rest = reference[len(scheme) :]
            slash = rest.find(b"/")
            authority, path = (rest, b"/") if slash == -1 else (rest[:slash], rest[slash:])
            if authority.lower() == host.lower():
                return (host.lower() + path).decode("latin-1")
            return None
    return None


def request_value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    """A request's value for a field a response varies on, normalised so that spellings of one
    value match: its lines combined, list members trimmed of whitespace, and for the Accept-*
    fields (case-insensitive tokens) lower-cased."""
    parts = [part.strip() for n, v in headers if n == name for part in v.split(b",")]
    value = b",".join(parts)
    return value.lower() if name.startswith(b"accept") else value


def vary_names(values: Iterable[bytes]) -> list[bytes] | None:
    """The field names a response varies on; ``None`` for ``Vary: *`` (never matches, never stored)."""
    names: list[bytes] = []
    for value in values:
        for token in value.split(b","):
            name = token.strip().lower()
            if name == b"*":
                return None
            if name and name not in names:
                names.append(name)
    return names


def secondary(names: Iterable[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name, request_value(headers, name)) for name in names)


def matches(vary: tuple[tuple[bytes, bytes], ...], headers: list[tuple[bytes, bytes]]) -> bool:
    return all(request_value(headers, name) == value for name, value in vary)
