"""The normalised picture of a deployment that every rule reads, whatever file format it came from.

A Compose file, a Swarm stack and a set of Kubernetes manifests all become a `Stack` of
`Workload`s; each workload lists how it can be reached from outside (`Exposure`) and the
security-relevant settings it carries, each with the file and line it was written on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

from portway.audit.findings import Location

# How the reachable list and the summary name a host-network container's ports.
ALL_PORTS = "all ports the container listens on"


class Platform(StrEnum):
    COMPOSE = "compose"
    SWARM = "swarm"
    KUBERNETES = "kubernetes"
    HOST = "host"  # `--live`: the sockets this machine listens on


class Role(StrEnum):
    GATEWAY = "gateway"
    DATASTORE = "data store"
    SERVICE = "service"


@dataclass(frozen=True)
class Exposure:
    """One way in from outside: a published port, a NodePort, a hostPort, an Ingress backend…"""

    port: str  # for people: "8080→80/tcp", "30080 (NodePort)→http"
    via: str  # "ports", "NodePort", "LoadBalancer", "hostPort", "host network", "Ingress web"
    location: Location
    host_ip: str = ""
    count: int = 1  # a published range "9000-9002:9000-9002" counts 3
    target: str = ""  # the container port (or range) behind it, "" when not known
    unknown: tuple[str, ...] = ()  # `${VAR}`s its address or port depend on, not set here
    host_network: bool = False  # every port the container listens on is on the host's interfaces

    @property
    def loopback_only(self) -> bool:
        """Bound to 127.0.0.1/::1 only: reachable from the host, not from the network."""
        host = self.host_ip.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class Setting:
    """A security-relevant value as written: `privileged`, `cap_add: SYS_ADMIN`, a mount…"""

    value: str
    location: Location


@dataclass(frozen=True)
class Mount:
    """A host path mounted into the container."""

    source: str
    location: Location
    target: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None  # None: passed through from the environment, no value in the file
    location: Location
    from_env_file: bool = False
    raw: str | None = None  # as written, before `${VAR}` interpolation (None when it had no `$`)
    env_sources: tuple[Location, ...] = ()  # `.env` lines that supplied the value's variables


@dataclass(frozen=True)
class NetworkRef:
    name: str
    location: Location


@dataclass
class Workload:
    """A Compose service or a Kubernetes workload (Deployment, StatefulSet, Pod, …)."""

    name: str
    kind: str  # "service" for Compose, the object kind for Kubernetes
    location: Location
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    role: Role = Role.SERVICE
    datastore: str = ""  # "database", "cache", "broker", "search" when the workload is one
    exposures: list[Exposure] = field(default_factory=list)
    networks: list[NetworkRef] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)  # host paths mounted into the container
    privileged: list[Setting] = field(default_factory=list)
    host_namespaces: list[Setting] = field(default_factory=list)  # "network", "pid", "ipc"
    capabilities: list[Setting] = field(default_factory=list)
    arguments: list[Setting] = field(default_factory=list)  # command words, for auth switches
    container_ports: list[int] = field(default_factory=list)  # ports it listens on, as declared
    built: bool = False  # built from source (`build:`): its image name is the project's own
    profiles: tuple[str, ...] = ()  # Compose profiles it runs under; () for always
    secrets: list[Setting] = field(default_factory=list)  # Docker/Kubernetes secrets it reads

    @property
    def public_exposures(self) -> list[Exposure]:
        return [exposure for exposure in self.exposures if not exposure.loopback_only]


@dataclass(frozen=True)
class Network:
    """A Compose network as declared (or the implicit `default` one)."""

    name: str
    location: Location
    declared: bool = True
    driver: str = "bridge"
    internal: bool = False
    external: bool = False
    attachable: bool = False
    encrypted: bool = False
    encrypted_misplaced: bool = False  # `encrypted: true` written beside driver_opts, not in it


@dataclass(frozen=True)
class Namespace:
    """A Kubernetes namespace seen in the manifests, and whether a default-deny policy covers it."""

    name: str
    first_workload: Location
    default_deny: bool


@dataclass
class Stack:
    """Everything one audit unit deploys: one Compose/stack file, or all Kubernetes manifests."""

    platform: Platform
    name: str
    workloads: list[Workload] = field(default_factory=list)
    networks: dict[str, Network] = field(default_factory=dict)
    namespaces: list[Namespace] = field(default_factory=list)
    committed_secrets: list[Setting] = field(default_factory=list)  # Secret manifests with values
    gateway_unknown: Location | None = None  # several services publish and none is the gateway

    def workload(self, name: str) -> Workload | None:
        return next((w for w in self.workloads if w.name == name), None)
