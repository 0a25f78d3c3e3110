"""IP allow/deny rules per route (``ip:`` in config): deny wins over allow; a non-empty ``allow``
admits only its CIDRs. Refused requests get a 403 problem.

The address is ``ctx.client_ip``, which already applies ``trusted_proxies`` (a client cannot
choose it with X-Forwarded-For). IPv4-mapped IPv6 addresses (``::ffff:10.0.0.1``, what a dual-stack
socket reports) are matched as the IPv4 address. An address that does not parse matches no rule and
is refused: it can only come from a misbehaving proxy, and a filter that cannot tell must not pass.

Decisions are cached per address, so the hot path is one dict look-up; the cache is cleared when it
reaches ``cache_size`` (a flood of distinct addresses costs a re-match, never unbounded memory).
"""

from __future__ import annotations

import ipaddress

from portway.config.security import IpRules
from portway.errors import ClientError
from portway.policies.base import Context

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(cidrs: list[str]) -> tuple[Network, ...]:
    nets = [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]
    v4 = ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv4Network))
    v6 = ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv6Network))
    return (*v4, *v6)


def _address(ip: str) -> Address | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class IpFilter:
    name = "ip_filter"

    def __init__(self, rules: IpRules, cache_size: int = 65_536) -> None:
        if not rules.allow and not rules.deny:
            raise ValueError("an IP filter needs `allow` or `deny` CIDRs")
        self.allow = _networks(rules.allow)
        self.deny = _networks(rules.deny)
        self.cache_size = cache_size
        self._cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"<IpFilter allow={[str(n) for n in self.allow]} deny={[str(n) for n in self.deny]}>"

    def admits(self, ip: str) -> bool:
        address = _address(ip)
        if address is None:
            return False
        if any(address in net for net in self.deny):
            return False
        return not self.allow or any(address in net for net in self.allow)

    def request(self, ctx: Context) -> ClientError | None:
        ip = ctx.client_ip
        admitted = self._cache.get(ip)
        if admitted is None:
            admitted = self.admits(ip)
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[ip] = admitted
        return None if admitted else ClientError(403, "this address may not use this route")
