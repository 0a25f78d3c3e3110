"""Deciding which workload is the gateway and which are data stores.

The gateway is, in order of precedence:
1. any workload named with `--gateway NAME`;
2. any workload labelled `portway.role: gateway`;
3. among the non-data-store workloads reachable from outside, those that look like a gateway
   (image or name: portway, traefik, nginx, envoy, haproxy, caddy, kong, "gateway", "proxy", …);
4. the only non-data-store workload reachable from outside, when there is exactly one.
When several workloads are reachable from outside and none is picked, the stack has no gateway and
`gateway_unknown` is set so the report can say how to name it.
A `portway.role` label of `datastore` (or `database`, `cache`, `broker`, `search`) or `service`
overrides the image-based guess.
"""

from __future__ import annotations

from collections.abc import Collection

from portway.audit import catalog
from portway.audit.model import Role, Stack, Workload

ROLE_LABEL = "portway.role"


def assign_roles(stack: Stack, gateway_names: Collection[str] = ()) -> None:
    for workload in stack.workloads:
        workload.datastore = _datastore(workload)
        workload.role = Role.DATASTORE if workload.datastore else Role.SERVICE
    for workload in _gateways(stack, gateway_names):
        workload.role = Role.GATEWAY
        workload.datastore = ""


def _datastore(workload: Workload) -> str:
    label = workload.labels.get(ROLE_LABEL, "")
    guessed = catalog.datastore_kind(workload.image, workload.name)
    if label == "datastore":
        return guessed or "database"
    if label in ("database", "cache", "broker", "search"):
        return label
    return "" if label else guessed


def _gateways(stack: Stack, gateway_names: Collection[str]) -> list[Workload]:
    named = [w for w in stack.workloads if w.name in gateway_names]
    if named:
        return named
    labelled = [w for w in stack.workloads if w.labels.get(ROLE_LABEL) == "gateway"]
    if labelled:
        return labelled
    reachable = [w for w in stack.workloads if w.public_exposures and not w.datastore]
    lookalikes = [w for w in reachable if catalog.looks_like_gateway(w.image, w.name)]
    if lookalikes:
        return lookalikes
    if len(reachable) == 1:
        return reachable
    if len(reachable) > 1:
        stack.gateway_unknown = reachable[0].location
    return []
