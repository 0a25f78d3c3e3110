"""Compose `ports:` entries, short and long syntax, as the Compose Specification defines them.

Short syntax: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`, where ports may be ranges
(`9090-9091:8080-8081`), HOST_IP may be IPv6 in brackets (`[::1]:6001:6001`), HOST_PORT may be
empty (`127.0.0.1::5000`: an ephemeral port on that address) and any part may be a `${VAR}`.
A container port alone (`"3000"`) still publishes it, on an ephemeral host port on every interface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class PortSpec:
    target: str
    published: str = ""  # "" means an ephemeral host port
    host_ip: str = ""
    protocol: str = "tcp"

    @property
    def count(self) -> int:
        """How many ports the entry publishes: the size of its range, 1 when not a plain range."""
        for part in (self.target, self.published):
            low, _, high = part.partition("-")
            if high and low.isdigit() and high.isdigit() and int(high) >= int(low):
                return int(high) - int(low) + 1
        return 1

    def describe(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = self.published or "(ephemeral)"
        return f"{host}{published}→{self.target}/{self.protocol}"


def parse_short(entry: str | int) -> PortSpec:
    text = str(entry).strip()
    # Hide ${VAR:-default} while splitting on ':' so the default's ':' is not taken for a separator.
    hidden = _INTERPOLATION.findall(text)
    masked = _INTERPOLATION.sub("\0", text)
    body, _, protocol = masked.partition("/")
    host_ip = ""
    if body.startswith("["):
        closing = body.find("]")
        host_ip, body = body[: closing + 1], body[closing + 2 :]
    parts = body.split(":")
    target = parts[-1]
    published = parts[-2] if len(parts) >= 2 else ""
    if len(parts) >= 3 and not host_ip:
        host_ip = ":".join(parts[:-2])

    values = iter(hidden)

    def unmask(part: str) -> str:
        return re.sub("\0", lambda _: next(values), part)

    # Parts are unmasked in the order they were written, so each placeholder gets its own value.
    host_ip, published, target, protocol = (unmask(p) for p in (host_ip, published, target, protocol))
    return PortSpec(target=target, published=published, host_ip=host_ip, protocol=protocol or "tcp")


def parse_long(entry: dict[str, object]) -> PortSpec:
    published = entry.get("published")
    return PortSpec(
        target=str(entry.get("target", "")),
        published="" if published is None else str(published),
        host_ip=str(entry.get("host_ip") or ""),
        protocol=str(entry.get("protocol") or "tcp"),
    )
