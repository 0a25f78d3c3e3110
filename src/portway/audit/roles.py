"""Deciding which workload is the gateway and which are data stores.

A data store is what the evidence shows (catalog.py): image, command, well-known ports; a
`portway.role` label of `datastore` (or a kind: `database`, `cache`, `broker`, `search`,
`metrics`, `coordination`) or `service` overrides it.

The gateway is, in order of precedence:
1. any workload named with `--gateway NAME`;
2. any workload labelled `portway.role: gateway`;
3. among the non-data-store workloads reachable from outside, those that look like a gateway
   (image or name: portway, traefik, nginx, envoy, haproxy, caddy, kong, "gateway", "proxy", …);
4. the only non-data-store workload reachable from outside, as the entry point, unless it is a
   tool (an admin UI, a mail catcher, an exporter) or publishes nothing but a debugger's port:
   being the only one that publishes does not make those the gateway, and whatever the gateway
   is, its debugger and admin ports stay findings (rules/exposure.py).
When several workloads are reachable from outside and none is picked, the stack has no gateway and
`gateway_unknown` is set so the report can say how to name it.
"""

from __future__ import annotations

from collections.abc import Collection

from portway.audit import catalog
from portway.audit.model import Platform, Role, Stack, Workload

ROLE_LABEL = "portway.role"
_TOOLS = {"adminer", "pgadmin", "phpmyadmin", "commander", "exporter", "mailhog", "mailpit", "kafdrop"}


def assign_roles(stack: Stack, gateway_names: Collection[str] = ()) -> None:
    for workload in stack.workloads:
        workload.datastore = _datastore(workload)
        workload.role = Role.DATASTORE if workload.datastore else Role.SERVICE
    for workload in _gateways(stack, gateway_names):
        workload.role = Role.GATEWAY
        workload.datastore = ""


def _datastore(workload: Workload) -> str:
    label = workload.labels.get(ROLE_LABEL, "")
    guessed = catalog.datastore_kind(
        workload.image,
        workload.name,
        built=workload.built,
        command=[a.value for a in workload.arguments],
        container_ports=workload.container_ports,
    )
    if label == "datastore":
        return guessed or "database"
    if label in catalog.DATASTORE_KINDS:
        return label
    return "" if label else guessed


def _gateways(stack: Stack, gateway_names: Collection[str]) -> list[Workload]:
    named = [w for w in stack.workloads if _names(w) & set(gateway_names)]
    if named:
        return named
    labelled = [w for w in stack.workloads if w.labels.get(ROLE_LABEL) == "gateway"]
    if labelled:
        return labelled
    reachable = [w for w in stack.workloads if w.public_exposures and not w.datastore]
    lookalikes = [w for w in reachable if catalog.looks_like_gateway(w.image, _identity(w), w.built)]
    if lookalikes:
        return lookalikes
    if stack.platform is not Platform.HOST and len(reachable) == 1 and _entry_point(reachable[0]):
        return reachable
    if reachable:
        stack.gateway_unknown = reachable[0].location
    return []


def _names(workload: Workload) -> set[str]:
    """What `--gateway NAME` may name: the service, or for a live process its program or pid."""
    names = {
        workload.name,
        workload.labels.get("portway.program", ""),
        workload.labels.get("portway.pid", ""),
    }
    return names - {""}


def _identity(workload: Workload) -> str:
    return f"{workload.name} {workload.labels.get('portway.command', '')}"


def _entry_point(workload: Workload) -> bool:
    words = set(catalog.words(workload.image)) | set(catalog.words(workload.name))
    if words & _TOOLS:
        return False
    debuggers = set(catalog.DEBUG_PORTS) | set(catalog.debug_ports([a.value for a in workload.arguments]))
    return any(
        not exposure.target.isdigit() or int(exposure.target) not in debuggers
        for exposure in workload.public_exposures
    )
