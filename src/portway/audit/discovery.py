"""Turning the paths given on the command line into the files to audit.

- A file is audited as given and must be a Compose file or Kubernetes manifest.
- A directory is searched for `*.yaml`/`*.yml` (hidden directories and node_modules skipped, Go
  templates such as Helm charts passed over);
  files found this way that are neither (a gateway config, a CI workflow) are passed over.
- A directory holding a kustomization (`kustomization.yaml`, or any YAML file whose object is
  `kind: Kustomization` of `kustomize.config.k8s.io`) is read the way kustomize reads it: only its
  `resources` and `components` (followed into sub-kustomizations), with its `namespace` applied.
  Patches are not applied; remote resources are not fetched; every missing resource is named.
- `NAME.override.yaml` beside `NAME.yaml` in a directory is merged into it, as `docker compose`
  does with `compose.override.yaml` when run in that directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from portway.audit.errors import AuditInputError
from portway.audit.yamlsource import display_name, read_yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SKIPPED_DIRS = {"node_modules", "__pycache__", "venv"}


@dataclass(frozen=True)
class Target:
    path: Path
    explicit: bool  # named by the user or by a kustomization: it must be a file we can audit
    namespace: str = ""  # set by a kustomization's `namespace:`
    overrides: tuple[Path, ...] = ()  # Compose override files merged into this one


def discover(paths: Sequence[Path]) -> list[Target]:
    targets: list[Target] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise AuditInputError(f"{display_name(path)}: no such file or directory")
        found = _directory(path) if path.is_dir() else _file(path)
        for target in found:
            key = target.path.resolve()
            if key not in seen:
                seen.add(key)
                targets.append(target)
    return targets


def _file(path: Path) -> Iterator[Target]:
    if path.name in KUSTOMIZATION_NAMES or is_kustomization(path):
        yield from _kustomization(path, "", set())
    else:
        yield Target(path, explicit=True)


def is_kustomization(path: Path) -> bool:
    """A kustomize Kustomization by its kind (Flux's `Kustomization` CRD is another kind of thing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if "Kustomization" not in text:
        return False
    try:
        documents = read_yaml(path).documents
    except AuditInputError:
        return False
    return any(
        isinstance(d.data, dict)
        and d.data.get("kind") == "Kustomization"
        and str(d.data.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")
        for d in documents
    )


def _directory(root: Path) -> Iterator[Target]:
    for directory, subdirs, files in os.walk(root, onerror=_unreadable):
        here = Path(directory)
        kustomization = _kustomization_file(here)
        if kustomization is not None:
            subdirs.clear()  # kustomize decides what below it is a resource
            yield from _kustomization(kustomization, "", set())
            continue
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        names = sorted(n for n in files if n.endswith((".yaml", ".yml")))
        overrides = {n: _override_base(n, names) for n in names}
        for name in names:
            if overrides[name]:
                continue  # merged into its base file below
            merged = tuple(here / o for o, base in overrides.items() if base == name)
            yield Target(here / name, explicit=False, overrides=merged)


def _unreadable(error: OSError) -> None:
    # os.walk would skip a directory it cannot list; an audit that skips files passes them.
    raise AuditInputError(f"{error.filename}: cannot read ({error.strerror})")


def _override_base(name: str, names: list[str]) -> str:
    stem = name.rpartition(".")[0]
    if not stem.endswith(".override"):
        return ""
    base = stem.removesuffix(".override")
    return next((n for n in names if n.rpartition(".")[0] == base), "")


def _kustomization_file(directory: Path) -> Path | None:
    named = next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)
    if named is not None:
        return named
    candidates = sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return next((p for p in candidates if is_kustomization(p)), None)


def _kustomization(file: Path, outer_namespace: str, visiting: set[Path]) -> Iterator[Target]:
    if file.resolve() in visiting:
        raise AuditInputError(f"{display_name(file)}: kustomization includes itself")
    visiting = visiting | {file.resolve()}
    source = read_yaml(file)
    document = source.documents[0] if source.documents else None
    if document is None or not isinstance(document.data, dict):
        raise AuditInputError(f"{source.display}: not a kustomization (expected a mapping)")
    data = document.data
    # An overlay's namespace replaces the one its bases set, as kustomize does.
    namespace = outer_namespace or str(data.get("namespace") or "")
    missing: list[tuple[int, str]] = []
    for field in ("resources", "components", "bases"):
        entries = data.get(field) or []
        if not isinstance(entries, list):
            raise AuditInputError(f"{source.display}:{document.line(field)}: `{field}` must be a list")
        for index, entry in enumerate(entries):
            entry_text = str(entry)
            if "://" in entry_text or "?ref=" in entry_text or entry_text.startswith("github.com/"):
                continue  # remote bases are not fetched
            path = file.parent / entry_text
            if path.is_dir():
                nested = _kustomization_file(path)
                if nested is None:
                    line = document.line(field, index)
                    raise AuditInputError(
                        f"{source.display}:{line}: `{entry_text}` has no kustomization.yaml"
                    )
                yield from _kustomization(nested, namespace, visiting)
            elif path.is_file():
                yield Target(path, explicit=True, namespace=namespace)
            else:
                missing.append((document.line(field, index), entry_text))
    if len(missing) == 1:
        line, name = missing[0]
        raise AuditInputError(f"{source.display}:{line}: resource `{name}` not found")
    if missing:
        names = ", ".join(f"`{name}` (line {line})" for line, name in missing)
        raise AuditInputError(f"{source.display}:{missing[0][0]}: resources not found: {names}")
