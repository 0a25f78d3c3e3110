"""The result of an audit: findings, suppressed findings, and per stack the exposure summary
("exposed ports before -> after the fixes") in the spirit of the seeds' "9 exposed ports -> 2"."""

from __future__ import annotations

from dataclasses import dataclass, field

from portway.audit.findings import Finding, Location, Severity, Suppressed
from portway.audit.model import Role, Stack, Workload
from portway.audit.rules.exposure import DATASTORE_EXPOSED, DEBUG_PORT, GATEWAY_ADMIN, SERVICE_EXPOSED, judge


@dataclass(frozen=True)
class ExposedPort:
    owner: str
    role: Role
    port: str
    via: str
    location: Location
    count: int


@dataclass(frozen=True)
class StackSummary:
    """`before`: ports reachable from outside as written; `after`: those left once every reported
    exposure is fixed (the gateway's traffic ports, plus any whose finding was suppressed with a
    reason). A host-network container counts each port it declares, or 1 for "all ports the
    container listens on" when it declares none, and is named in `host_network`."""

    name: str
    platform: str
    exposed: tuple[ExposedPort, ...]
    kept: tuple[ExposedPort, ...]
    exposed_datastores: tuple[str, ...]
    host_network: tuple[str, ...] = ()  # containers with every port they listen on exposed

    @property
    def before(self) -> int:
        return sum(port.count for port in self.exposed)

    @property
    def after(self) -> int:
        return sum(port.count for port in self.kept)


@dataclass
class Report:
    files: list[str]
    stacks: list[Stack]
    findings: list[Finding]
    suppressed: list[Suppressed]
    summaries: list[StackSummary] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings.sort(key=Finding.sort_key)
        silenced = {
            s.finding.location
            for s in self.suppressed
            if s.finding.rule in (DATASTORE_EXPOSED, SERVICE_EXPOSED, DEBUG_PORT, GATEWAY_ADMIN)
        }
        self.summaries = [summarise(stack, silenced) for stack in self.stacks]

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)

    def fails(self, threshold: Severity) -> bool:
        return any(finding.severity >= threshold for finding in self.findings)

    @property
    def before(self) -> int:
        return sum(summary.before for summary in self.summaries)

    @property
    def after(self) -> int:
        return sum(summary.after for summary in self.summaries)

    @property
    def host_network(self) -> list[str]:
        return [name for summary in self.summaries for name in summary.host_network]


def summarise(stack: Stack, silenced: set[Location]) -> StackSummary:
    exposed: dict[tuple[Location, str], ExposedPort] = {}
    fine: set[tuple[Location, str]] = set()
    for workload in stack.workloads:
        for exposure in workload.public_exposures:
            key = (exposure.location, exposure.port)
            exposed.setdefault(
                key, _port(workload, exposure.port, exposure.via, exposure.location, exposure.count)
            )
            if judge(workload, exposure) is None:
                fine.add(key)
    kept = tuple(p for key, p in exposed.items() if key in fine or p.location in silenced)
    datastores = tuple(w.name for w in stack.workloads if w.role is Role.DATASTORE and w.public_exposures)
    host = tuple(w.name for w in stack.workloads if any(e.host_network for e in w.exposures))
    return StackSummary(stack.name, stack.platform.value, tuple(exposed.values()), kept, datastores, host)


def _port(workload: Workload, port: str, via: str, location: Location, count: int) -> ExposedPort:
    return ExposedPort(workload.name, workload.role, port, via, location, count)
