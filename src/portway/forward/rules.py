"""What the forward stage is told at load: which request headers the gateway owns, and which
peers are trusted proxies. Compiled once per gateway from config; requests only read it.

Header families (DESIGN.md §1) are matched by name *and* by prefix, after mapping ``_`` to ``-``
(``X_User_Id`` reaches some frameworks as ``X-User-Id``): hop-by-hop, the headers the gateway
sets itself, forwarding (``X-Forwarded-*``, ``X-Real-IP``, ``Forwarded``…), path and method
overrides (``X-Original-URL``, ``X-HTTP-Method-Override``, ``X-Envoy-*``…), identity (``X-User-*``,
``X-Consumer*``, ``X-Portway-*`` and the configured claim headers), and ``HTTP2-Settings``. The
verdict per header name is cached: clients send a small set of names over and over.

Query parameters that carry a credential (``auth.api_keys.query``) are removed from the query sent
upstream on every route, so a key never lands in a back end's access log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote_plus

from portway.contract import RequestHead
from portway.headers import (
    FORWARDING,
    FORWARDING_PREFIXES,
    GATEWAY_SET,
    H2C,
    HOP_BY_HOP,
    IDENTITY_PREFIXES,
    PATH_OVERRIDE_PREFIXES,
    PATH_OVERRIDES,
)

_VERDICTS = 4096


class ForwardingRules:
    def __init__(
        self,
        trusted_proxies: Iterable[str],
        identity_headers: Iterable[str],
        secret_params: Iterable[str] = (),
        *,
        scheme: str = "http",
        response_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        # What the listener speaks (X-Forwarded-Proto), and headers every upstream response gets
        # (Strict-Transport-Security on a TLS listener that asks for it).
        self.proto = scheme.encode()
        self.response_headers = tuple(response_headers)
        self.secret_params = frozenset(secret_params)
        # A query can only hold such a parameter if it holds its name, or a name spelled encoded.
        self._secret_markers = (*(p.encode() for p in self.secret_params), b"%", b"+")
        self.exact = (
            HOP_BY_HOP
            | GATEWAY_SET
            | FORWARDING
            | PATH_OVERRIDES
            | H2C
            | {h.lower().encode() for h in identity_headers}
        )
        self.prefixes = (*FORWARDING_PREFIXES, *PATH_OVERRIDE_PREFIXES, *IDENTITY_PREFIXES)
        self.dropped = _Verdicts(self.exact, self.prefixes)  # name → the gateway's own? (hot path)
        self._trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies]
        self.is_trusted = lru_cache(maxsize=4096)(self._check_trusted) if self._trusted else _never

    def drops(self, name: bytes) -> bool:
        """Is this (lower-case) request header the gateway's own, never taken from a client?"""
        return self.dropped[name]

    def clean_query(self, query: bytes) -> bytes:
        """``query`` without the parameters that carry credentials (names compared decoded)."""
        if not self.secret_params or not any(m in query for m in self._secret_markers):
            return query
        kept = [
            part
            for part in query.split(b"&")
            if unquote_plus(part.partition(b"=")[0].decode("latin-1"), "latin-1") not in self.secret_params
        ]
        return b"&".join(kept)

    def client_ip(self, head: RequestHead) -> str:
        """The socket peer; with ``trusted_proxies``, the right-most X-Forwarded-For entry that is
        not a trusted proxy (entries left of it were written by the client and prove nothing)."""
        peer = head.client_ip
        if not self._trusted or not self.is_trusted(peer):
            return peer
        entries: list[str] = []
        for name, value in head.headers:
            if name == b"x-forwarded-for":
                entries += (e.strip() for e in value.decode("latin-1").split(","))
        for entry in reversed(entries):
            if entry and not self.is_trusted(entry):
                return entry
        return entries[0] if entries and entries[0] else peer

    def _check_trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)


class _Verdicts(dict[bytes, bool]):
    """Header name → dropped?, worked out on first sight; a dict subclass so that a hit (nearly
    every header of every request) is one subscript with no Python call."""

    def __init__(self, exact: frozenset[bytes], prefixes: tuple[bytes, ...]) -> None:
        super().__init__()
        self.exact = exact
        self.prefixes = prefixes

    def __missing__(self, name: bytes) -> bool:
        canonical = name.replace(b"_", b"-")
        verdict = canonical in self.exact or canonical.startswith(self.prefixes)
        if len(self) >= _VERDICTS:
            self.clear()
        self[name] = verdict
        return verdict


def _never(ip: str) -> bool:
    return False
