"""Who can be reached from outside: only the gateway should be."""

from __future__ import annotations

from collections.abc import Iterator

from portway.audit.findings import Finding, Rule, Severity
from portway.audit.model import Platform, Role, Stack, Workload

DATASTORE_EXPOSED = Rule(
    "PW001",
    "Data store reachable from outside",
    Severity.ERROR,
    "Remove the published port (Compose `ports:`, NodePort/LoadBalancer, hostPort, Ingress): services "
    "reach it over an internal network. For a debugging session, `docker exec`/`kubectl port-forward`.",
)
SERVICE_EXPOSED = Rule(
    "PW002",
    "Service other than the gateway reachable from outside",
    Severity.WARNING,
    "Remove the published port and route to the service through the gateway; Compose `expose:` "
    "documents an internal port without publishing it, a ClusterIP Service keeps it in the cluster.",
)
LOOPBACK_ONLY = Rule(
    "PW003",
    "Port published on the host's loopback only",
    Severity.INFO,
    "Reachable from the host itself, not from the network. Fine for local debugging; drop it for production.",
)
GATEWAY_UNKNOWN = Rule(
    "PW004",
    "Cannot tell which service is the gateway",
    Severity.INFO,
    "Label the gateway `portway.role: gateway`, or name it with `portway audit --gateway NAME`.",
)
RULES = (DATASTORE_EXPOSED, SERVICE_EXPOSED, LOOPBACK_ONLY, GATEWAY_UNKNOWN)


def check(stack: Stack) -> Iterator[Finding]:
    if stack.gateway_unknown is not None:
        reachable = ", ".join(w.name for w in stack.workloads if w.public_exposures and not w.datastore)
        yield Finding(
            GATEWAY_UNKNOWN,
            stack.gateway_unknown,
            stack.name,
            f"several services are reachable from outside ({reachable}) and none is marked as the gateway",
        )
    for workload in stack.workloads:
        yield from _workload(stack, workload)


def _workload(stack: Stack, workload: Workload) -> Iterator[Finding]:
    what = _describe(workload)
    for exposure in workload.exposures:
        where = f"{exposure.port} via {exposure.via}"
        if exposure.loopback_only:
            yield Finding(LOOPBACK_ONLY, exposure.location, workload.name, f"{what} publishes {where}")
        elif workload.role is Role.DATASTORE:
            yield Finding(
                DATASTORE_EXPOSED,
                exposure.location,
                workload.name,
                f"{what} is reachable from outside: {where}",
            )
        elif workload.role is Role.SERVICE:
            fix = _fix_for(stack.platform)
            yield Finding(
                SERVICE_EXPOSED,
                exposure.location,
                workload.name,
                f"{what} is reachable from outside: {where}",
                fix,
            )


def _describe(workload: Workload) -> str:
    kind = workload.datastore or workload.kind.lower()
    return f"{kind} `{workload.name}`"


def _fix_for(platform: Platform) -> str:
    if platform is Platform.KUBERNETES:
        return (
            "Make the Service `type: ClusterIP` (no hostPort, no Ingress backend); route through the gateway."
        )
    return (
        "Remove `ports:` (use `expose:` to document the port) and route to the service through the gateway."
    )
