"""`audit(paths)`: read the files, build stacks, assign roles, run the rules, apply suppressions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from portway.audit import compose, kubernetes, rules, suppressions
from portway.audit.discovery import Target, discover
from portway.audit.errors import AuditInputError
from portway.audit.findings import Finding
from portway.audit.model import Stack
from portway.audit.report import Report
from portway.audit.roles import assign_roles
from portway.audit.yamlsource import SourceFile, display_name, read_yaml


def audit(paths: Sequence[Path], gateways: Collection[str] = ()) -> Report:
    """Audit compose, stack and Kubernetes files (or directories of them).

    Raises AuditInputError for a missing, empty, malformed or unrecognised file that was named
    explicitly, and when nothing auditable was found at all.
    """
    stacks: list[Stack] = []
    objects: list[kubernetes.K8sObject] = []
    sources: list[SourceFile] = []
    for target in discover(paths):
        if not target.explicit and _is_template(target.path):
            continue  # a Helm or other Go template is not YAML until rendered
        source = read_yaml(target.path)
        if _collect(source, target, stacks, objects):
            sources.append(source)
    if objects:
        stacks.append(kubernetes.build_stack(objects))
    if not stacks:
        names = ", ".join(display_name(p) for p in paths)
        raise AuditInputError(f"{names}: no Compose files or Kubernetes manifests found")
    findings: list[Finding] = []
    for stack in stacks:
        assign_roles(stack, gateways)
        findings.extend(rules.check(stack))
    active: list[suppressions.Suppression] = []
    for source in sources:
        parsed, problems = suppressions.parse(source, rules.RULES, rules.SUPPRESSION_RULE)
        active.extend(parsed)
        findings.extend(problems)
    kept, silenced = suppressions.apply(findings, active)
    return Report([s.display for s in sources], stacks, kept, silenced)


def _collect(
    source: SourceFile, target: Target, stacks: list[Stack], objects: list[kubernetes.K8sObject]
) -> bool:
    """Sort the file's documents into stacks and Kubernetes objects; True when any was auditable."""
    documents = [doc for doc in source.documents if doc.data is not None]
    if not documents:
        if target.explicit:
            raise AuditInputError(f"{source.display}: empty file, nothing to audit")
        return False
    used = False
    for doc in documents:
        if kubernetes.is_manifest(doc.data):
            objects.extend(kubernetes.objects_of(doc, target.namespace))
            used = True
        elif compose.is_compose(doc.data):
            stacks.append(compose.build_stack(doc))
            used = True
        elif target.explicit:
            where = f"{source.display}:{doc.line()}" if len(documents) > 1 else source.display
            raise AuditInputError(
                f"{where}: not a Compose file or Kubernetes manifest "
                "(no top-level `services:`, no `apiVersion`/`kind`)"
            )
    return used


def _is_template(path: Path) -> bool:
    try:
        return "{{" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
