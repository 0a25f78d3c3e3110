"""Compose and Swarm networks: private traffic on internal networks, data apart from the edge,
overlays encrypted and closed to ad-hoc containers. External networks are not judged: their
settings live outside the file."""

from __future__ import annotations

import re
from collections.abc import Iterator

from portway.audit.findings import Finding, Location, Rule, Severity
from portway.audit.model import Network, Platform, Role, Stack, Workload

DATASTORE_ON_EDGE = Rule(
    "PW010",
    "Data store shares a network with the gateway",
    Severity.WARNING,
    "Put data stores on an internal network the gateway does not join; the services that use them "
    "join both their own tier and the data tier.",
)
NOT_INTERNAL = Rule(
    "PW011",
    "Private services on a network that is not internal (a warning when a data store is on it)",
    Severity.INFO,
    "Set `internal: true` on networks that carry only private traffic and keep the gateway alone on "
    "an edge network. A service that truly needs outbound internet access may be suppressed with a reason.",
)
GATEWAY_UNREACHABLE = Rule(
    "PW012",
    "Gateway publishes ports but joins only internal networks",
    Severity.WARNING,
    "Docker does not publish ports of a container on internal networks only: add the gateway to a "
    "non-internal edge network.",
)
OVERLAY_UNENCRYPTED = Rule(
    "PW013",
    "Overlay network not encrypted",
    Severity.WARNING,
    'Add `driver_opts: {encrypted: ""}` to the overlay network so traffic between nodes is IPsec-encrypted.',
)
OVERLAY_ATTACHABLE = Rule(
    "PW014",
    "Overlay network is attachable",
    Severity.WARNING,
    "Set `attachable: false` (the default) so only the stack's services can join the network.",
)
RULES = (DATASTORE_ON_EDGE, NOT_INTERNAL, GATEWAY_UNREACHABLE, OVERLAY_UNENCRYPTED, OVERLAY_ATTACHABLE)


def check(stack: Stack) -> Iterator[Finding]:
    if stack.platform in (Platform.KUBERNETES, Platform.HOST):
        return
    members: dict[str, list[Workload]] = {}
    for workload in stack.workloads:
        for ref in workload.networks:
            members.setdefault(ref.name, []).append(workload)
    gateways = [w for w in stack.workloads if w.role is Role.GATEWAY]
    yield from _datastores_on_edge(stack, gateways)
    for network in stack.networks.values():
        if network.external:
            continue
        yield from _not_internal(stack, network, members.get(network.name, []))
        if network.driver == "overlay":
            yield from _overlay(network)
    if stack.platform is Platform.COMPOSE:
        yield from _unreachable_gateways(stack, gateways)


def _datastores_on_edge(stack: Stack, gateways: list[Workload]) -> Iterator[Finding]:
    gateway_networks = {ref.name: gateway.name for gateway in gateways for ref in gateway.networks}
    for workload in stack.workloads:
        if workload.role is not Role.DATASTORE:
            continue
        for ref in workload.networks:
            if ref.name in gateway_networks:
                yield Finding(
                    DATASTORE_ON_EDGE,
                    ref.location,
                    workload.name,
                    f"{workload.datastore} `{workload.name}` shares network `{ref.name}` with the gateway "
                    f"`{gateway_networks[ref.name]}`",
                )


def _not_internal(stack: Stack, network: Network, members: list[Workload]) -> Iterator[Finding]:
    """One finding per network: who sits on it, which of them show a need for outbound access
    (and so belong on an egress network of their own), and a warning only when a data store
    could reach out or be reached through it."""
    private = [w for w in members if w.role is not Role.GATEWAY]
    if network.internal or not private:
        return
    where = network.location
    if not network.declared:  # the implicit default network: point at the first private service on it
        where = next(ref.location for ref in private[0].networks if ref.name == network.name)
    implicit = "" if network.declared else " (the implicit default network)"
    stores = [w.name for w in private if w.role is Role.DATASTORE]
    names = set(stack_names(stack))
    outbound = [f"{w.name} ({reach})" for w in private if (reach := _outbound(w, names))]
    message = (
        f"network `{network.name}`{implicit} is not internal; on it: {_names([w.name for w in private])}"
    )
    if stores:
        message += f"; data stores that can reach out and be reached: {_names(stores)}"
    message += (
        f"; outbound access seen for {_names(outbound)} (give them an egress network)"
        if outbound
        else "; no service shows a need for outbound access"
    )
    level = Severity.WARNING if stores else None
    yield Finding(NOT_INTERNAL, where, network.name, message, level=level)


def stack_names(stack: Stack) -> list[str]:
    return [w.name for w in stack.workloads]


_URL_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[^:/?#\s]+)", re.IGNORECASE)
_OUTBOUND_NAMES = re.compile(
    r"SMTP|MAIL_HOST|WEBHOOK|_API_URL|OIDC|OAUTH|S3_ENDPOINT|SENTRY_DSN", re.IGNORECASE
)


def _outbound(workload: Workload, service_names: set[str]) -> str:
    """Evidence that the service talks to the internet: a URL or mail host outside the stack."""
    for env in workload.env:
        value = (env.value or "").strip()
        match = _URL_HOST.match(value)
        host = match["host"] if match else (value if _OUTBOUND_NAMES.search(env.name) else "")
        internal = host.endswith((".local", ".internal", ".svc", ".cluster.local", "localhost"))
        if "." in host and not host.replace(".", "").isdigit() and host not in service_names and not internal:
            return f"{env.name} → {host}"
    return ""


def _overlay(network: Network) -> Iterator[Finding]:
    if not network.encrypted:
        detail = (
            "; `encrypted` is not a network option Docker reads, it belongs under `driver_opts`"
            if network.encrypted_misplaced
            else ""
        )
        yield Finding(
            OVERLAY_UNENCRYPTED,
            network.location,
            network.name,
            f"overlay network `{network.name}` is not encrypted{detail}",
        )
    if network.attachable:
        yield Finding(
            OVERLAY_ATTACHABLE,
            network.location,
            network.name,
            f"overlay network `{network.name}` lets any container attach to it",
        )


def _unreachable_gateways(stack: Stack, gateways: list[Workload]) -> Iterator[Finding]:
    for gateway in gateways:
        if not gateway.public_exposures or not gateway.networks:
            continue
        networks = [stack.networks.get(ref.name) for ref in gateway.networks]
        if all(n is not None and n.internal for n in networks):
            location: Location = gateway.public_exposures[0].location
            yield Finding(
                GATEWAY_UNREACHABLE,
                location,
                gateway.name,
                f"gateway `{gateway.name}` publishes ports but every network it joins is internal",
            )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")
