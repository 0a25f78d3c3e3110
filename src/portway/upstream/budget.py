"""The retry budget of one upstream: retries stay under a share of its requests, so a sick upstream
never sees a retry storm (Finagle's and Linkerd's retry budgets).

Rules:
- Over the last ``window`` seconds, ``retries ≤ ratio x requests + min_per_second x window``.
  The floor lets a quiet upstream retry at all; the ratio caps the extra load a loud one gets.
- Pure accounting with the time given: ``request(now)`` for every first attempt, ``try_retry(now)``
  spends one retry when the budget has room (and says whether it had). Both are O(1): counts are
  kept in ``BUCKETS`` slices of the window.
"""

from __future__ import annotations

from portway.config.resilience import RetryBudget as BudgetConfig


class RetryBudget:
    BUCKETS = 10

    def __init__(self, config: BudgetConfig) -> None:
        self.config = config
        self.floor = config.min_per_second * config.window
        self.exhausted = 0  # retries refused for want of budget: for the admin API
        self.spent = 0
        self._width = config.window / self.BUCKETS
        self._slot = [-1] * self.BUCKETS
        self._requests = [0] * self.BUCKETS
        self._retries = [0] * self.BUCKETS

    def __repr__(self) -> str:
        return f"<RetryBudget ratio={self.config.ratio} spent={self.spent} exhausted={self.exhausted}>"

    def inherit(self, old: RetryBudget) -> None:
        """A reload: the counters go on (they are Prometheus counters); the window starts afresh."""
        self.exhausted, self.spent = old.exhausted, old.spent

    def _bucket(self, now: float) -> int:
        slot = int(now / self._width)
        index = slot % self.BUCKETS
        if self._slot[index] != slot:
            self._slot[index] = slot
            self._requests[index] = 0
            self._retries[index] = 0
        return index

    def request(self, now: float) -> None:
        self._requests[self._bucket(now)] += 1

    def totals(self, now: float) -> tuple[int, int]:
        """(requests, retries) over the window ending now."""
        oldest = int(now / self._width) - self.BUCKETS + 1
        requests = retries = 0
        for i in range(self.BUCKETS):
            if self._slot[i] >= oldest:
                requests += self._requests[i]
                retries += self._retries[i]
        return requests, retries

    def try_retry(self, now: float) -> bool:
        requests, retries = self.totals(now)
        if retries + 1 > self.config.ratio * requests + self.floor:
            self.exhausted += 1
            return False
        self._retries[self._bucket(now)] += 1
        self.spent += 1
        return True

    def snapshot(self, now: float) -> dict[str, object]:
        requests, retries = self.totals(now)
        return {"requests": requests, "retries": retries, "spent": self.spent, "exhausted": self.exhausted}
