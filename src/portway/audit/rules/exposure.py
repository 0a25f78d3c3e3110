"""Who can be reached from outside: only the gateway should be, and only on its traffic ports.

One finding per exposure, the first that applies:
- loopback only (PW003, info; not counted as exposed);
- a debugger's port (PW005: JDWP, Node inspector, debugpy, Delve), whoever listens on it;
- a data store (PW001), published, on the host network, behind a NodePort/LoadBalancer/Ingress;
- the gateway's port that serves its admin API, dashboard or metrics rather than traffic (PW006);
- any other service than the gateway (PW002).
An exposure whose address or port comes from a `${VAR}` that is not set says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from portway.audit import catalog
from portway.audit.findings import Finding, Rule, Severity
from portway.audit.model import Exposure, Platform, Role, Stack, Workload

DATASTORE_EXPOSED = Rule(
    "PW001",
    "Data store reachable from outside",
    Severity.ERROR,
    "Remove the published port (Compose `ports:`, NodePort/LoadBalancer, hostPort, Ingress, host "
    "network): services reach it over an internal network. For a debugging session, `docker exec`/"
    "`kubectl port-forward`.",
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
DEBUG_PORT = Rule(
    "PW005",
    "Debugger port reachable from outside",
    Severity.ERROR,
    "Do not publish debugger ports: whoever reaches one runs code in the process. Bind the debugger to "
    "127.0.0.1 (`127.0.0.1:9229:9229`) or reach it through `docker exec`/`kubectl port-forward`.",
)
GATEWAY_ADMIN = Rule(
    "PW006",
    "Gateway's admin, dashboard or metrics port reachable from outside",
    Severity.WARNING,
    "Publish only the gateway's traffic ports; serve its dashboard or admin API on a loopback or "
    "internal address, or behind the gateway's own authenticated route.",
)
RULES = (DATASTORE_EXPOSED, SERVICE_EXPOSED, LOOPBACK_ONLY, GATEWAY_UNKNOWN, DEBUG_PORT, GATEWAY_ADMIN)


def check(stack: Stack) -> Iterator[Finding]:
    if stack.gateway_unknown is not None:
        reachable = ", ".join(w.name for w in stack.workloads if w.public_exposures and not w.datastore)
        yield Finding(
            GATEWAY_UNKNOWN,
            stack.gateway_unknown,
            stack.name,
            f"reachable from outside: {reachable}; none is marked as the gateway",
        )
    for workload in stack.workloads:
        yield from _workload(stack, workload)


def judge(workload: Workload, exposure: Exposure) -> tuple[Rule, str] | None:
    """The rule an exposure breaks and why ("" for the general reason), None when it is fine."""
    if exposure.loopback_only:
        return LOOPBACK_ONLY, ""
    command = [a.value for a in workload.arguments]
    ports = _ports(exposure)
    debuggers = {
        **{p: d for p, d in catalog.DEBUG_PORTS.items() if p in ports},
        **catalog.debug_ports(command),
    }
    hit = next((debuggers[p] for p in ports if p in debuggers), "")
    if hit:
        return DEBUG_PORT, hit
    if workload.role is Role.DATASTORE:
        return DATASTORE_EXPOSED, ""
    if workload.role is Role.GATEWAY:
        software = catalog.gateway_software(workload.image)
        purpose = next((x for p in ports if (x := catalog.gateway_admin_port(software, p, command))), "")
        return (GATEWAY_ADMIN, purpose) if purpose else None
    return SERVICE_EXPOSED, ""


def _workload(stack: Stack, workload: Workload) -> Iterator[Finding]:
    what = _describe(workload)
    for exposure in workload.exposures:
        verdict = judge(workload, exposure)
        if verdict is None:
            continue
        rule, why = verdict
        where = f"{exposure.port} via {exposure.via}" + _caveats(workload, exposure)
        if rule is LOOPBACK_ONLY:
            message = f"{what} publishes {where}"
        elif rule is DEBUG_PORT:
            message = f"{what} opens {why} to outside: {where}"
        elif rule is GATEWAY_ADMIN:
            message = f"gateway `{workload.name}` publishes its {why}: {where}"
        else:
            message = f"{what} is reachable from outside: {where}"
        fix = _fix_for(stack.platform) if rule is SERVICE_EXPOSED else ""
        yield Finding(rule, exposure.location, workload.name, message, fix)


def _ports(exposure: Exposure) -> list[int]:
    low, _, high = exposure.target.partition("-")
    if not low.isdigit():
        return []
    return list(range(int(low), (int(high) if high.isdigit() else int(low)) + 1))


def _caveats(workload: Workload, exposure: Exposure) -> str:
    notes = []
    if exposure.unknown:
        names = ", ".join(f"${{{name}}}" for name in exposure.unknown)
        notes.append(f"depends on {names}, not set here: judged as Compose would run it unset")
    if workload.profiles:
        notes.append(f"only with profile {', '.join(workload.profiles)}")
    return f" ({'; '.join(notes)})" if notes else ""


def _describe(workload: Workload) -> str:
    kind = workload.datastore or workload.kind.lower()
    return f"{kind} `{workload.name}`"


def _fix_for(platform: Platform) -> str:
    if platform is Platform.KUBERNETES:
        return (
            "Make the Service `type: ClusterIP` (no hostPort, no Ingress backend); route through the gateway."
        )
    if platform is Platform.HOST:
        return "Bind the process to 127.0.0.1 or an internal address, or firewall the port."
    return (
        "Remove `ports:` (use `expose:` to document the port) and route to the service through the gateway."
    )
