"""Forwarding: upstream targets, keep-alive pools, balancers."""

from portway.upstream.pool import TargetPool
from portway.upstream.target import Target
from portway.upstream.upstream import Upstream

__all__ = ["Target", "TargetPool", "Upstream"]
