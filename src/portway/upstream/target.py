"""Where an upstream's requests go: ``http://host:port``, ``https://host:port`` or
``unix:/path/to.sock``. An https target carries its client context and the name its certificate
must show (``tls.server_name``, else the target's host)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    address: str  # as written in the config, used in logs and for hashing
    host: str | None
    port: int
    path: str | None  # unix socket path
    host_header: bytes
    tls: ssl.SSLContext | None = None
    server_name: str | None = None

    @classmethod
    def parse(cls, address: str, tls: ssl.SSLContext | None = None, server_name: str | None = None) -> Target:
        if address.startswith("unix:"):
            return cls(address, None, 0, address[5:], b"localhost")
        secure = address.startswith("https://")
        hostport = address.removeprefix("https://" if secure else "http://").rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep:
            host, port = hostport, "443" if secure else "80"
        host = host.strip("[]")
        if not secure:
            return cls(address, host, int(port), None, hostport.encode())
        if tls is None:
            raise ValueError(f"{address}: an https target needs a TLS client context")
        return cls(address, host, int(port), None, hostport.encode(), tls, server_name or host)

    def __str__(self) -> str:
        return self.address
