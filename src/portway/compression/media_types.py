"""Which ``Content-Type`` values are worth compressing: a set of patterns compiled once.

A pattern is ``type/subtype`` (exact), ``type/*`` (any subtype) or ``type/*+suffix`` (a structured
syntax suffix, RFC 6838 §4.2.8: ``application/*+json`` takes ``application/problem+json``).
Parameters (``; charset=utf-8``) and case are ignored; a response without ``Content-Type`` is not
compressed, since nothing says what it is.
"""

from __future__ import annotations


class MediaTypes:
    __slots__ = ("exact", "suffixes", "types")

    def __init__(self, patterns: list[str]) -> None:
        exact: set[bytes] = set()
        types: set[bytes] = set()
        suffixes: set[tuple[bytes, bytes]] = set()
        for pattern in patterns:
            kind, _, sub = pattern.lower().encode().partition(b"/")
            if sub == b"*":
                types.add(kind)
            elif sub.startswith(b"*+"):
                suffixes.add((kind, sub[1:]))
            else:
                exact.add(kind + b"/" + sub)
        self.exact = frozenset(exact)
        self.types = frozenset(types)
        self.suffixes = tuple(suffixes)

    def __contains__(self, content_type: bytes) -> bool:
        media = content_type.partition(b";")[0].strip().lower()
        if media in self.exact:
            return True
        kind, _, sub = media.partition(b"/")
        if not sub:
            return False
        if kind in self.types:
            return True
        return any(kind == k and sub.endswith(suffix) for k, suffix in self.suffixes)
