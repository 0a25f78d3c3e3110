"""When a failed delivery comes back, and when it stops coming back (both backends).

Rules:
- A consumer group's ``attempt`` counts the deliveries of one event to that group; the first is 1.
- After a failed attempt ``n`` the event comes back after ``min(backoff * 2**(n-1), backoff_max)``
  seconds, less up to ``jitter`` of that (drawn afresh each time), so replicas that failed together
  do not all retry in the same instant against a dependency that has just come back.
- The attempt that reaches ``max_attempts`` and fails moves the event to the dead letters instead.

Defaults: 5 attempts, 1 s doubling, capped at 30 s, 20 % jitter. The failures retrying is for (a
database restart, a lock, a deploy of the next service) clear within seconds, so four retries over
about 15 s ride them out; an event that still fails then is most likely poison, and waiting longer
only delays the operator who has to look at it. Set per ``EVENTS_URL`` query:
``?max_attempts=8&backoff=0.5&backoff_max=60&jitter=0.2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_BACKOFF_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Redelivery:
    max_attempts: int = 5
    backoff: float = 1.0
    backoff_max: float = DEFAULT_BACKOFF_MAX
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 < self.backoff <= self.backoff_max:
            raise ValueError(
                f"backoff must be positive and at most backoff_max, got {self.backoff} and {self.backoff_max}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def delay(self, attempt: int, draw: float) -> float:
        """Seconds before the delivery after failed ``attempt``; ``draw`` is uniform in [0, 1)."""
        ceiling = min(self.backoff * 2.0 ** (attempt - 1), self.backoff_max)
        return ceiling * (1.0 - self.jitter * draw)

    def exhausted(self, attempt: int) -> bool:
        """Whether a failure of ``attempt`` sends the event to the dead letters."""
        return attempt >= self.max_attempts

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> Redelivery:
        """Read the ``EVENTS_URL`` parameters this policy owns (others are left to the backend)."""
        values: dict[str, float | int] = {}
        for name, kind in (
            ("max_attempts", int),
            ("backoff", float),
            ("backoff_max", float),
            ("jitter", float),
        ):
            if name not in query:
                continue
            raw = query[name][-1]
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"EVENTS_URL: {name}={raw!r} is not a {kind.__name__}") from None
        if "backoff" in values and "backoff_max" not in values:
            values["backoff_max"] = max(float(values["backoff"]), DEFAULT_BACKOFF_MAX)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"EVENTS_URL: {exc}") from None
