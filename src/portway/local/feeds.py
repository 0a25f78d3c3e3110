"""What `portway up` changes in the upstreams its services feed (data in, data out).

- ``targets`` become the ``unix:`` sockets of the replicas, in replica order (whatever the file lists).
- ``health``: unless the upstream has its own, the gateway's active health checks are turned on with
  the service's health path and the supervisor's pace (``checks.interval``, ``checks.timeout``,
  ``checks.eject_after`` as ``unhealthy``). The gateway then takes a hung replica out of rotation
  by its own probes too, which ``/status`` and ``/metrics`` show as ``unhealthy``; the supervisor,
  which can also restart it, holds it out as soon as it ejects it (``TargetPool.mark_down``).
- An upstream fed by several services takes the first one's health path.
"""

from __future__ import annotations

from portway.config.local import ServiceConfig
from portway.config.models import Upstream
from portway.config.resilience import HealthCheck


def fed_upstreams(
    upstreams: dict[str, Upstream], services: dict[str, ServiceConfig], targets: dict[str, list[str]]
) -> dict[str, Upstream]:
    """``upstreams`` with those named in ``targets`` (upstream → replica sockets) fed by ``services``."""
    feeder: dict[str, ServiceConfig] = {}
    for name, service in services.items():
        feeder.setdefault(service.upstream or name, service)
    out = {}
    for name, upstream in upstreams.items():
        if name not in targets:
            out[name] = upstream
            continue
        update: dict[str, object] = {"targets": targets[name]}
        if upstream.health is None:
            service = feeder[name]
            checks = service.checks
            update["health"] = HealthCheck(
                path=service.health,
                interval=checks.interval,
                timeout=checks.timeout,
                unhealthy=checks.eject_after,
                expect=[200],  # what the supervisor calls ready
            )
        out[name] = upstream.model_copy(update=update)
    return out
