"""Config models for resilience (docs/resilience.md): active health checks, passive outlier
detection, circuit breakers, retries with a budget, and a concurrency limit per upstream.

Everything here is opt-in: an upstream without these keys behaves as before (a failed connect
takes a target out of rotation for a short backoff, an unanswered idempotent bodiless request is
replayed once on another target). Each default below is explained in docs/resilience.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.units import Duration, Size

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_RANGE = re.compile(r"^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d))?\s*$")
RETRY_CONDITIONS = ("connect", "timeout", "reset")


def parse_ratio(value: object) -> float:
    """``20%`` or ``0.2`` → 0.2 (a share between 0 and 1)."""
    if isinstance(value, bool):
        raise ValueError("expected a share like 20% or 0.2")
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        ratio = float(match.group(1)) / 100
    elif isinstance(value, int | float):
        ratio = float(value)
    else:
        raise ValueError(f"invalid share {value!r}: expected a percentage like 20% or a number like 0.2")
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("a share must be between 0% and 100%")
    return ratio


Ratio = Annotated[
    float,
    BeforeValidator(parse_ratio),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string"}]}),
]


def parse_statuses(values: list[int | str]) -> frozenset[int]:
    """``[200-399, 418]`` → the set of statuses it names."""
    statuses: set[int] = set()
    for value in values:
        match = _RANGE.match(str(value))
        if match is None:
            raise ValueError(f"invalid status {value!r}: expected a status like 200 or a range like 200-399")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise ValueError(f"invalid status range {value!r}: the end is below the start")
        statuses.update(range(low, high + 1))
    return frozenset(statuses)


class HealthCheck(Model):
    """Active checks: ``GET path`` every ``interval`` (± ``jitter`` of it), one in flight per target."""

    path: str = "/health"
    interval: Duration = Field(default=2.0, gt=0)
    jitter: Ratio = 0.1
    timeout: Duration = Field(default=1.0, gt=0)
    healthy: int = Field(default=2, ge=1)  # consecutive passes to come back
    unhealthy: int = Field(default=2, ge=1)  # consecutive failures to leave rotation
    expect: list[int | str] = ["200-399"]

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in " \r\n"):
            raise ValueError("must be a path starting with '/', without spaces")
        return value

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: list[int | str]) -> list[int | str]:
        if not value:
            raise ValueError("expect at least one status")
        parse_statuses(value)
        return value

    @property
    def statuses(self) -> frozenset[int]:
        return parse_statuses(self.expect)


class Outlier(Model):
    """Passive ejection on consecutive failed answers (5xx, read timeouts, resets)."""

    consecutive_failures: int = Field(default=5, ge=1)
    base_ejection: Duration = Field(default=10.0, gt=0)  # x the number of ejections so far
    max_ejection: Duration = Field(default=300.0, gt=0)
    max_ejected: Ratio = 0.5  # of the upstream's targets (at least one may always be ejected)

    @model_validator(mode="after")
    def _order(self) -> Outlier:
        if self.max_ejection < self.base_ejection:
            raise ValueError("max_ejection must be at least base_ejection")
        return self


class Breaker(Model):
    """Per target: open on ``failures`` consecutive failures, or on a failure ``ratio`` over
    ``window`` once ``min_requests`` were seen; after ``cooldown``, ``half_open`` probes decide."""

    failures: int = Field(default=5, ge=1)
    ratio: Ratio | None = None
    window: Duration = Field(default=10.0, gt=0)
    min_requests: int = Field(default=20, ge=1)
    cooldown: Duration = Field(default=10.0, gt=0)
    half_open: int = Field(default=2, ge=1)


class Backoff(Model):
    base: Duration = 0.025
    max: Duration = 0.25


class RetryBudget(Model):
    """Retries stay under ``ratio`` of the requests over ``window``, plus ``min_per_second``."""

    ratio: Ratio = 0.2
    min_per_second: float = Field(default=3.0, ge=0)
    window: Duration = Field(default=10.0, gt=0)


class Retries(Model):
    """``attempts`` counts every try, the first included (``attempts: 2`` is one retry)."""

    attempts: int = Field(default=2, ge=1, le=10)
    on: list[int | str] = ["connect", "reset", 502, 503, 504]
    per_try_timeout: Duration | None = None
    backoff: Backoff = Backoff()
    budget: RetryBudget = RetryBudget()
    # A route may let a POST/PATCH carrying `Idempotency-Key` be retried after it was sent.
    idempotency_key: bool = False
    # A request body is replayable while it fits here; past it the request is never sent twice.
    replay_buffer: Size = 64 * 1024

    @field_validator("on")
    @classmethod
    def _on(cls, values: list[int | str]) -> list[int | str]:
        for value in values:
            if isinstance(value, str) and value in RETRY_CONDITIONS:
                continue
            if isinstance(value, int) and 400 <= value <= 599:
                continue
            raise ValueError(
                f"invalid retry condition {value!r}: expected one of {', '.join(RETRY_CONDITIONS)} "
                "or a status between 400 and 599"
            )
        return values

    @property
    def statuses(self) -> frozenset[int]:
        return frozenset(v for v in self.on if isinstance(v, int))

    @property
    def conditions(self) -> frozenset[str]:
        return frozenset(v for v in self.on if isinstance(v, str))


class Discovery(Model):
    """A hostname target stands for all its addresses, re-resolved every ``interval``
    (upstream/discovery.py); ``discovery: false`` uses the name as one target, resolved per connect."""

    interval: Duration = Field(default=30.0, gt=0)


RouteRetries = Retries | Literal[False]


def merge_retries(upstream: Retries | None, route: RouteRetries | None) -> Retries | None:
    """A route's ``retries`` overrides the keys it sets over its upstream's; ``false`` turns them off."""
    if route is False:
        return None
    if route is None:
        return upstream
    if upstream is None:
        return route
    return upstream.model_copy(update={key: getattr(route, key) for key in route.model_fields_set})
