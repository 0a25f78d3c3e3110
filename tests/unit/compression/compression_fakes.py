"""A policy's view of one request without a gateway, for the compression policy's pure tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from portway.contract import RequestHead
from portway.policies.base import BodyFilter, Identity


def request(method: str = "GET", accept: str | None = "gzip, br, zstd", **headers: str) -> RequestHead:
    pairs = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if accept is not None:
        pairs.append((b"accept-encoding", accept.encode()))
    return RequestHead(method, b"/", "1.1", pairs, True, False, "127.0.0.1", 40000, 0.0)


@dataclass
class FakeContext:
    head: RequestHead = field(default_factory=request)
    route_name: str = "api"
    identity: Identity | None = None
    client_ip: str = "127.0.0.1"
    query: bytes = b""
    upstream_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    request_filter: BodyFilter | None = None
