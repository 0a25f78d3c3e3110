"""Peak-EWMA latency of one target, the cost the ``ewma`` balancer compares (Finagle's and
Linkerd's load metric).

Rules:
- ``observe(rtt, now)``: a slower answer than the current estimate replaces it at once (the
  *peak*: a target that turns slow is avoided on its first slow answer); a faster one pulls it down
  as an exponentially weighted average whose weight decays with the time since the last answer
  (``DECAY``, 10 s), so the estimate tracks a change within seconds, not within N requests.
- ``score(busy, now)``: the estimate, decayed towards zero by the time since the last answer (a
  target avoided for being slow gets a request again after a while, and is re-measured), times
  ``busy + 1`` (requests in flight: a fast target that is piling up requests stops looking fast).
- A target never measured scores 0 while idle (try it) and ``PENALTY`` per request in flight
  (its first answer is not back: it may be the slow one).
- Pure: the time is given. Durations are the pool's: from handing a connection out to taking it
  back, whether the exchange ended well or not (a timeout is a very slow answer).
"""

from __future__ import annotations

import math

DECAY = 10.0  # seconds: the time constant of the average and of the idle decay
PENALTY = 1e6  # seconds, per request in flight to a target not measured yet


class PeakEwma:
    __slots__ = ("cost", "stamp")

    def __init__(self) -> None:
        self.cost = 0.0  # seconds
        self.stamp = 0.0  # when ``cost`` was last set

    def __repr__(self) -> str:
        return f"<PeakEwma {self.cost * 1000:.1f} ms>"

    def observe(self, rtt: float, now: float) -> None:
        if rtt > self.cost:
            self.cost = rtt
        else:
            weight = math.exp(-max(now - self.stamp, 0.0) / DECAY)
            self.cost = self.cost * weight + rtt * (1.0 - weight)
        self.stamp = now

    def score(self, busy: int, now: float) -> float:
        cost = self.cost
        if cost == 0.0:
            return PENALTY * busy
        return cost * math.exp(-max(now - self.stamp, 0.0) / DECAY) * (busy + 1)
