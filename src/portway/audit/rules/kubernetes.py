"""Kubernetes network policy: without a default-deny policy every pod accepts every connection."""

from __future__ import annotations

from collections.abc import Iterator

from portway.audit.findings import Finding, Rule, Severity
from portway.audit.model import Stack

NO_DEFAULT_DENY = Rule(
    "PW040",
    "No default-deny NetworkPolicy",
    Severity.WARNING,
    "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress]` (and no ingress rules) to the "
    "namespace, then one policy per allowed path (gateway -> services, services -> their data stores).",
)
RULES = (NO_DEFAULT_DENY,)


def check(stack: Stack) -> Iterator[Finding]:
    for namespace in stack.namespaces:
        if not namespace.default_deny:
            yield Finding(
                NO_DEFAULT_DENY,
                namespace.first_workload,
                namespace.name,
                f"namespace `{namespace.name}` has workloads but no default-deny NetworkPolicy: "
                "every pod accepts connections from every other pod",
            )
