"""What the forward stage knows of a route: compiled once at load by the gateway, read per request."""

from __future__ import annotations

from dataclasses import dataclass

from portway.forward.aggregate.plan import AggregatePlan
from portway.forward.retry import RetryPolicy
from portway.policies.chain import Chain
from portway.telemetry.metrics import RouteStats
from portway.upstream import Upstream


@dataclass(frozen=True, slots=True)
class RouteRuntime:
    name: str
    upstream: Upstream
    max_body: int | None
    chain: Chain
    stats: RouteStats
    retry: RetryPolicy | None = None  # retries and the total deadline (forward/attempts.py)
    aggregate: AggregatePlan | None = None  # an aggregate route: its calls (forward/aggregate/)
