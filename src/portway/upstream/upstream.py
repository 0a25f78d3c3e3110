"""An upstream: its targets' pools, the balancer over them and the timeouts that apply."""

from __future__ import annotations

import ssl

from portway.config.models import Upstream as UpstreamConfig
from portway.contract import RequestHead
from portway.errors import NoHealthyTarget
from portway.sweeper import Sweeper
from portway.upstream.balancer import BALANCERS, Balancer
from portway.upstream.connection import ResponseLimits
from portway.upstream.pool import TargetPool
from portway.upstream.target import Target


class Upstream:
    def __init__(
        self,
        name: str,
        config: UpstreamConfig,
        sweeper: Sweeper,
        limits: ResponseLimits | None = None,
        tls: ssl.SSLContext | None = None,  # for its https:// targets (server.tls.build_contexts)
    ) -> None:
        self.name = name
        self.config = config
        self.read_timeout = config.timeouts.read
        self.preserve_host = config.preserve_host
        server_name, timeout = config.tls.server_name, config.timeouts.connect
        self.pools = [
            TargetPool(Target.parse(t, tls, server_name), config.pool, timeout, sweeper, limits)
            for t in config.targets
        ]
        self.balancer: Balancer | None = BALANCERS[config.balance](self.pools) if self.pools else None
        hashing = config.balance == "hash"
        self._hash_ip = hashing and config.hash_on == "ip"
        self._hash_header = config.hash_on[7:].lower().encode() if hashing and not self._hash_ip else None

    def __repr__(self) -> str:
        return f"<Upstream {self.name} {self.config.balance} targets={len(self.pools)}>"

    def pick(self, head: RequestHead) -> TargetPool:
        balancer = self.balancer
        if balancer is None:
            raise NoHealthyTarget(f"upstream {self.name} has no targets")
        if self._hash_ip:
            return balancer.pick(head.client_ip.encode())
        if self._hash_header is not None:
            return balancer.pick(head.header(self._hash_header))
        return balancer.pick(None)

    def snapshot(self) -> list[dict[str, object]]:
        return [pool.snapshot() for pool in self.pools]

    def retire(self) -> None:
        for pool in self.pools:
            pool.retire()
