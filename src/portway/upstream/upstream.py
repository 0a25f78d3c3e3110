"""An upstream: its targets' pools, the balancer over them and the timeouts that apply.

Rules:
- ``pick()`` asks the balancer for an available target. When none is, targets that are out only
  softly (a failed connect, an outlier ejection) are still used in turn (panic mode); when every
  target is out hard (failing checks, held by the supervisor, an open breaker) the request is
  refused at once with a 503 and ``Retry-After``: no connect is tried.
- ``max_concurrent`` bounds the requests in flight to the whole upstream; past it a fast 503, not a
  queue (the exchange counts with ``enter``/``leave``).
- On reload, each target that survives (same address) inherits its health and breaker state from
  the previous gateway's upstream of the same name; its pool (connections) is new.
- Active health checks (``health:``) run as one background task per target, started by
  :meth:`start` and cancelled by :meth:`retire`: never on the request path.
- A hostname target expands to its addresses (upstream/discovery.py), re-resolved by one
  background task; a changed answer rebuilds ``pools`` and the balancer and swaps both
  references, keeping the pools of the addresses that stay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import ssl

from portway.config.models import Upstream as UpstreamConfig
from portway.config.resilience import RetryBudget as BudgetConfig
from portway.contract import RequestHead
from portway.errors import NoHealthyTarget
from portway.sweeper import Sweeper
from portway.tasks import spawn
from portway.telemetry.metrics import TargetSample, UpstreamSample
from portway.upstream.balancer import BALANCERS, Balancer, Ewma
from portway.upstream.breaker import Circuit, CircuitBreaker
from portway.upstream.budget import RetryBudget
from portway.upstream.connection import ResponseLimits
from portway.upstream.discovery import HostRecord, Resolver, address_of, is_hostname, resolve
from portway.upstream.health import Health, TargetHealth
from portway.upstream.pool import TargetPool
from portway.upstream.probe import probe_forever
from portway.upstream.target import Target

log = logging.getLogger("portway.discovery")
_HEALTH_STATES = tuple(state.value for state in Health)
_BREAKER_STATES = tuple(state.value for state in Circuit)


class TargetsUnavailable(NoHealthyTarget):
    """Every target is out of rotation (or the upstream is at ``max_concurrent``): a fast 503."""

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        seconds = 1 if math.isinf(retry_after) else min(max(math.ceil(retry_after), 1), 60)
        self.headers = [(b"retry-after", str(seconds).encode())]


class Upstream:
    def __init__(
        self,
        name: str,
        config: UpstreamConfig,
        sweeper: Sweeper,
        limits: ResponseLimits | None = None,
        tls: ssl.SSLContext | None = None,  # for its https:// targets (server.tls.build_contexts)
        previous: Upstream | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.loop = sweeper.loop
        self.read_timeout = config.timeouts.read
        self.preserve_host = config.preserve_host
        self.max_concurrent = config.max_concurrent or 0
        self.in_flight = 0
        self._sweeper, self._limits = sweeper, limits
        inherited = {pool.target.address: pool for pool in previous.pools} if previous is not None else {}
        old_records = previous.records if previous is not None else {}
        self._peers: list[TargetHealth] = []
        # Per configured target: its pools (one, or one per resolved address), in config order.
        self.groups: list[list[TargetPool]] = []
        self.records: dict[str, HostRecord] = {}  # hostname targets, by configured address
        self.resolver: Resolver = resolve
        discovery = config.discovery
        for address in config.targets:
            target = Target.parse(address, tls, config.tls.server_name)
            record = None
            if discovery is not False and target.path is None and is_hostname(target.host):
                assert target.host is not None
                record = HostRecord(address, target.host, target.port, discovery.interval)
                if address in old_records:
                    record.inherit(old_records[address])
                self.records[address] = record
            if record is not None and record.answer is not None:
                resolved = [self._resolved(target, ip) for ip in record.answer]
                self.groups.append([self._pool(t, inherited) for t in resolved])
            else:
                self.groups.append([self._pool(target, inherited)])
        self.pools: list[TargetPool] = self._flatten()
        self.balancer: Balancer | None = self._balancer(self.pools)
        self.gated = config.breaker is not None  # a half-open breaker counts the requests let through
        self.budget: RetryBudget | None = None
        self._old_budget = previous.budget if previous is not None else None
        if config.retries is not None:
            self.budget = self._new_budget(config.retries.budget)
        # Requests sent again, by reason (`connect`, `replay`, `reset`, `timeout`, a status): counters.
        self.retries: dict[str, int] = dict(previous.retries) if previous is not None else {}
        hashing = config.balance == "hash"
        self._hash_ip = hashing and config.hash_on == "ip"
        self._hash_header = config.hash_on[7:].lower().encode() if hashing and not self._hash_ip else None
        self._panic = 0
        self._probes: dict[TargetPool, asyncio.Task[None]] = {}
        self._discovering: asyncio.Task[None] | None = None
        self.retired_flag = False

    def _pool(self, target: Target, inherited: dict[str, TargetPool]) -> TargetPool:
        config = self.config
        health = TargetHealth(target.address, config.outlier, config.health, self._peers)
        breaker = CircuitBreaker(config.breaker) if config.breaker is not None else None
        old = inherited.get(target.address)
        if old is not None:
            health.inherit(old.health)
            if breaker is not None and old.breaker is not None:
                breaker.inherit(old.breaker)
        pool = TargetPool(
            target, config.pool, config.timeouts.connect, self._sweeper, self._limits, health, breaker
        )
        pool._recompute()
        return pool

    @staticmethod
    def _resolved(target: Target, ip: str) -> Target:
        scheme = "https" if target.tls is not None else "http"
        return dataclasses.replace(target, address=address_of(scheme, ip, target.port), host=ip)

    def _flatten(self) -> list[TargetPool]:
        seen: set[str] = set()
        pools = []
        for group in self.groups:
            for pool in group:
                if pool.target.address not in seen:  # two names for one address: one target
                    seen.add(pool.target.address)
                    pools.append(pool)
        return pools

    # -- discovery -------------------------------------------------------------------------------
    async def refresh(self, now: float | None = None) -> bool:
        """Resolve every hostname target that is due (all of them without ``now``); re-expand the
        upstream when an answer changed. Returns whether it did."""
        changed = False
        removed: list[TargetPool] = []
        for index, address in enumerate(self.config.targets):
            record = self.records.get(address)
            if record is None or (now is not None and not record.due(now)):
                continue
            error: Exception | None = None
            try:
                addresses = await self.resolver(record.host, record.port)
            except (OSError, TimeoutError, UnicodeError, ValueError) as exc:  # a bad name, too
                addresses, error = [], exc
            if self.retired_flag:
                return False
            at = self.loop.time()
            if not addresses:
                record.failed(at)
                kept = ", ".join(record.answer) if record.answer else "the name itself"
                log.warning(
                    "upstream %s: resolving %s failed (%s); keeping %s",
                    self.name, record.host, error or "no address", kept,
                )  # fmt: skip
            elif record.answered(addresses, at):
                removed += self._expand(index, record)
                changed = True
        if not changed:
            return False
        self.pools = self._flatten()
        self.balancer = self._balancer(self.pools)
        live = set(self.pools)
        for pool in removed:
            if pool in live:  # still named by another hostname target
                continue
            task = self._probes.pop(pool, None)
            if task is not None:
                task.cancel()
            if pool.health in self._peers:
                self._peers.remove(pool.health)
            pool.retire()  # idle connections now, busy ones as their requests end
        self._start_probes()
        return True

    def _expand(self, index: int, record: HostRecord) -> list[TargetPool]:
        """Re-expand one hostname target to its new answer; returns the pools it no longer has.
        (The first answer always replaces the pool of the name itself: it is a new target.)"""
        assert record.answer is not None
        group = self.groups[index]
        current = {pool.target.address: pool for pool in group if pool.target.host != record.host}
        template = Target.parse(record.address, group[0].target.tls, self.config.tls.server_name)
        fresh = [self._resolved(template, ip) for ip in record.answer]
        self.groups[index] = kept = [current.get(t.address) or self._pool(t, {}) for t in fresh]
        log.info("upstream %s: %s is now %s", self.name, record.host, ", ".join(record.answer))
        return [pool for pool in group if pool not in kept]

    async def _discover(self) -> None:
        while not self.retired_flag:
            now = self.loop.time()
            await self.refresh(now)
            soonest = min(record.next_at for record in self.records.values())
            await asyncio.sleep(max(soonest - self.loop.time(), 0.05))

    def _balancer(self, pools: list[TargetPool]) -> Balancer | None:
        if not pools:
            return None
        if self.config.balance == "ewma":
            return Ewma(pools, self.loop.time)
        return BALANCERS[self.config.balance](pools)

    def __repr__(self) -> str:
        return f"<Upstream {self.name} {self.config.balance} targets={len(self.pools)}>"

    def budget_for(self, config: BudgetConfig) -> RetryBudget:
        """The upstream's retry budget (a route's own retries share it when the upstream has one)."""
        if self.budget is None:
            self.budget = self._new_budget(config)
        return self.budget

    def _new_budget(self, config: BudgetConfig) -> RetryBudget:
        budget = RetryBudget(config)
        if self._old_budget is not None:
            budget.inherit(self._old_budget)
        return budget

    def count_retry(self, reason: str) -> None:
        self.retries[reason] = self.retries.get(reason, 0) + 1

    def pick(self, head: RequestHead) -> TargetPool:
        balancer = self.balancer
        if balancer is None:
            raise NoHealthyTarget(f"upstream {self.name} has no targets")
        if self._hash_ip:
            pool = balancer.pick(head.client_ip.encode())
        elif self._hash_header is not None:
            pool = balancer.pick(head.header(self._hash_header))
        else:
            pool = balancer.pick(None)
        if pool is None:
            pool = self._panic_pick()
        if self.gated:
            pool.admit()
        return pool

    def pick_other(self, head: RequestHead, tried: list[TargetPool]) -> TargetPool:
        """A target for a retry: an available one not tried yet when there is one."""
        pool = self.pick(head)
        if pool not in tried:
            return pool
        for other in self.pools:
            if other not in tried and other.available:
                if self.gated:
                    other.admit()
                return other
        return pool

    def _panic_pick(self) -> TargetPool:
        pools = self.pools
        count = len(pools)
        for _ in range(count):
            pool = pools[self._panic % count]
            self._panic += 1
            if not pool.hard:
                return pool
        now = self.loop.time()
        raise TargetsUnavailable(
            f"upstream {self.name}: all {count} targets are out of rotation",
            min(pool.retry_in(now) for pool in pools),
        )

    def busy_error(self) -> TargetsUnavailable:
        return TargetsUnavailable(f"upstream {self.name}: {self.max_concurrent} requests in flight", 1.0)

    def start(self) -> None:
        """Start the active health checks and discovery (needs a running loop)."""
        self._start_probes()
        if self.records and self._discovering is None:
            self._discovering = spawn(self._discover(), name=f"discovery {self.name}")

    def _start_probes(self) -> None:
        check = self.config.health
        if check is None or self.retired_flag:
            return
        for pool in self.pools:
            if pool not in self._probes:
                name = f"health {self.name} {pool.target}"
                self._probes[pool] = spawn(probe_forever(pool, check), name=name)

    def snapshot(self) -> list[dict[str, object]]:
        return [pool.snapshot() for pool in self.pools]

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {"in_flight": self.in_flight, "retries": dict(self.retries)}
        if self.budget is not None:
            out["retry_budget"] = self.budget.snapshot(self.loop.time())
        return out

    def sample(self) -> UpstreamSample:
        """Plain numbers for /metrics (telemetry/metrics.py renders them)."""
        now = self.loop.time()
        targets = []
        for pool in self.pools:
            breaker = pool.breaker
            moves = {(a.value, b.value): n for (a, b), n in breaker.moves.items()} if breaker else {}
            target = TargetSample(
                pool.target.address,
                pool.health.state_at(now).value,
                pool.available,
                pool.health.ejected_total,
                pool.open,
                pool.busy,
                len(pool.idle),
                breaker.state_at(now).value if breaker is not None else None,
                moves,
            )
            targets.append(target)
        exhausted = self.budget.exhausted if self.budget is not None else 0
        resolve_failures = {r.host: r.failures_total for r in self.records.values()}
        return UpstreamSample(
            self.name, _HEALTH_STATES, _BREAKER_STATES, targets, self.in_flight, dict(self.retries),
            exhausted, resolve_failures,
        )  # fmt: skip

    def retire(self) -> None:
        self.retired_flag = True
        if self._discovering is not None:
            self._discovering.cancel()
        for task in self._probes.values():
            task.cancel()
        self._probes.clear()
        for pool in self.pools:
            pool.retire()
