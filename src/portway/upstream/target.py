"""Where an upstream's requests go: ``http://host:port`` or ``unix:/path/to.sock``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    address: str  # as written in the config, used in logs and for hashing
    host: str | None
    port: int
    path: str | None  # unix socket path
    host_header: bytes

    @classmethod
    def parse(cls, address: str) -> Target:
        if address.startswith("unix:"):
            return cls(address, None, 0, address[5:], b"localhost")
        hostport = address.removeprefix("http://").rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep:
            host, port = hostport, "80"
        return cls(address, host.strip("[]"), int(port), None, hostport.encode())

    def __str__(self) -> str:
        return self.address
