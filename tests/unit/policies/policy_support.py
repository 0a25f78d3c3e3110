"""A policy's view of a request without a gateway: the Context protocol as a dataclass, and a clock
the test moves by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from portway.contract import RequestHead
from portway.policies.base import Identity


def head(method: str = "GET", headers: dict[str, str] | None = None, peer: str = "10.0.0.1") -> RequestHead:
    pairs = [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return RequestHead(method, b"/", "1.1", pairs, True, False, peer, 40000, 0.0)


@dataclass
class FakeContext:
    head: RequestHead = field(default_factory=head)
    route_name: str = "api"
    identity: Identity | None = None
    client_ip: str = "10.0.0.1"
    upstream_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        """A response header the policy added (first value)."""
        return next((v for k, v in self.response_headers if k == name), None)


class FakeClock:
    """Monotonic microseconds, moved by ``advance(seconds)``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = round(start * 1_000_000)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)
