"""`audit(paths)`: read the files, build stacks, assign roles, run the rules, apply suppressions."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from portway.audit import compose, compose_project, kubernetes, rules, suppressions
from portway.audit.discovery import Target, discover
from portway.audit.errors import AuditInputError
from portway.audit.findings import Finding
from portway.audit.interpolation import Environment
from portway.audit.model import Stack
from portway.audit.report import Report
from portway.audit.roles import assign_roles
from portway.audit.yamlsource import SourceFile, display_name, read_yaml


def audit(
    paths: Sequence[Path],
    gateways: Collection[str] = (),
    *,
    compose_files: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
    env_files: Sequence[Path] = (),
    profiles: Sequence[str] = (),
) -> Report:
    """Audit compose, stack and Kubernetes files (or directories of them).

    `compose_files` are one Compose project merged in order, as `docker compose -f a -f b` does;
    each compose file among `paths` is a project of its own (with its `compose.override.yaml` when
    found in a directory). `environ` (default: the process's) and `env_files` (default: `.env`
    beside the first file) feed `${VAR}` interpolation; `profiles` limits the services audited to
    what `docker compose --profile …` would run.

    Raises AuditInputError for a missing, empty, malformed or unrecognised file that was named
    explicitly, and when nothing auditable was found at all.
    """
    environment = Environment(dict(os.environ if environ is None else environ))
    wanted = list(profiles) or [p for p in environment.process.get("COMPOSE_PROFILES", "").split(",") if p]
    auditor = _Auditor(environment, list(env_files), wanted)
    if compose_files:
        for file in compose_files:
            if not file.is_file():
                raise AuditInputError(f"{display_name(file)}: no such file")
        auditor.project(list(compose_files))
    for target in discover(paths):
        if not target.explicit and _is_template(target.path):
            continue  # a Helm or other Go template is not YAML until rendered
        auditor.target(target)
    auditor.drop_consumed()
    if auditor.objects:
        auditor.stacks.append(kubernetes.build_stack(auditor.objects))
    if not auditor.stacks:
        names = ", ".join(display_name(p) for p in paths)
        raise AuditInputError(f"{names}: no Compose files or Kubernetes manifests found")
    findings: list[Finding] = []
    for stack in auditor.stacks:
        assign_roles(stack, gateways)
        findings.extend(rules.check(stack))
    active: list[suppressions.Suppression] = []
    for source in auditor.sources.values():
        parsed, problems = suppressions.parse(source, rules.RULES, rules.SUPPRESSION_RULE)
        active.extend(parsed)
        findings.extend(problems)
    kept, silenced = suppressions.apply(findings, active)
    return Report([s.display for s in auditor.sources.values()], auditor.stacks, kept, silenced)


class _Auditor:
    def __init__(self, environment: Environment, env_files: list[Path], profiles: list[str]) -> None:
        self.environment, self.env_files, self.profiles = environment, env_files, profiles
        self.stacks: list[Stack] = []
        self.objects: list[kubernetes.K8sObject] = []
        self.sources: dict[str, SourceFile] = {}
        # per project stack: its own files, and those it reads through `include`/`extends`
        self.projects: list[tuple[Stack, set[Path], set[Path], bool]] = []

    def project(self, files: list[Path], explicit: bool = True) -> None:
        project = compose_project.load(files, self.environment, self.env_files)
        compose_project.active_profiles(project.root, self.profiles)
        stack = compose.build_stack(project)
        self.stacks.append(stack)
        own = {f.resolve() for f in files}
        read = {s.path.resolve() for s in project.sources} - own
        self.projects.append((stack, own, read, explicit))
        for source in project.sources:
            self.sources.setdefault(source.display, source)

    def drop_consumed(self) -> None:
        """A file found in a directory that another project includes or extends is part of that
        project, not a project of its own (Compose would never run it alone)."""
        consumed = {path for _, _, read, _ in self.projects for path in read}
        for stack, own, _, explicit in self.projects:
            if not explicit and own & consumed:
                self.stacks.remove(stack)

    def target(self, target: Target) -> None:
        """Sort the file's documents into a Compose project or Kubernetes objects."""
        source = read_yaml(target.path)
        documents = [doc for doc in source.documents if doc.data is not None]
        if not documents:
            if target.explicit:
                raise AuditInputError(f"{source.display}: empty file, nothing to audit")
            return
        for doc in documents:
            if kubernetes.is_manifest(doc.data):
                self.objects.extend(kubernetes.objects_of(doc, target.namespace))
                self.sources.setdefault(source.display, source)
            elif compose.is_compose(doc.data):
                self.project([target.path, *target.overrides], target.explicit)
                return  # Compose reads one document per file
            elif target.explicit:
                where = f"{source.display}:{doc.line()}" if len(documents) > 1 else source.display
                raise AuditInputError(
                    f"{where}: not a Compose file or Kubernetes manifest "
                    "(no top-level `services:`, no `apiVersion`/`kind`)"
                )


def _is_template(path: Path) -> bool:
    """A Helm (or other Go) template: a file of a chart's `templates/`, or one whose `{{ }}` stand
    where YAML structure goes (a line, a key or an unquoted value of their own), or that does not
    parse until rendered. `{{ }}` inside a quoted value (a healthcheck's `--format`, a label)
    is only text."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if "{{" not in text:
        return False
    if path.parent.name == "templates" and (path.parent.parent / "Chart.yaml").is_file():
        return True
    if _STRUCTURAL_TEMPLATE.search(text):
        return True
    try:
        read_yaml(path)
    except AuditInputError:
        return True
    return False


# `{{- if … }}` on its own line, `key: {{ .Values.x }}` unquoted, `- {{ … }}` as a list item.
_STRUCTURAL_TEMPLATE = re.compile(r"^\s*(-\s+)?\{\{|^\s*[\w.-]+:\s+\{\{", re.MULTILINE)
