"""Which build this process runs: the request path compiled with mypyc, or the pure-Python sources.

Rules:
- The install (``hatch_build.py``) leaves ``_build.json`` beside this file: the build kind and,
  for a compiled build, a SHA-256 of each compiled module's source.
- The compiled modules are imported only if the stamp says so, every one of their sources still
  hashes as it did when it was compiled, each extension is there, and ``PORTWAY_PURE`` is not set.
  Otherwise the whole package imports from its ``.py`` files (an extension beside a source is
  ignored, never half of the build): an edited source is never shadowed by a stale extension.
- :func:`select` runs once, from ``portway/__init__``, before any other module of the package is
  imported; :data:`CURRENT` says what it chose, and :func:`describe` is the line ``portway run``
  logs at start.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).parent  # as the import system spells it: the finders' cache is keyed so
STAMP = PACKAGE / "_build.json"


@dataclass(frozen=True)
class Build:
    compiled: bool
    modules: tuple[str, ...] = ()
    why: str = ""  # why the build is pure-Python, when it is


def describe(build: Build | None = None) -> str:
    build = build or CURRENT
    if build.compiled:
        return f"compiled build (mypyc, {len(build.modules)} modules)"
    return f"pure-Python build: {build.why}"


def decide(stamp_path: Path, package: Path, environ: Mapping[str, str]) -> Build:
    """What to import, from the stamp and the sources as they are now."""
    if environ.get("PORTWAY_PURE", "") not in ("", "0"):
        return Build(False, why="PORTWAY_PURE is set")
    try:
        stamp = json.loads(stamp_path.read_text())
    except FileNotFoundError:
        return Build(False, why="not built by the install hook (no portway/_build.json)")
    except (OSError, ValueError) as exc:
        return Build(False, why=f"unreadable {stamp_path.name}: {exc}")
    if stamp.get("build") != "mypyc":
        return Build(False, why=str(stamp.get("why", "built without compiling")))
    if stamp.get("cache_tag") != sys.implementation.cache_tag:
        return Build(
            False, why=f"compiled for {stamp.get('cache_tag')}, running {sys.implementation.cache_tag}"
        )
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    modules: dict[str, str] = stamp.get("modules", {})
    for name, digest in modules.items():
        source = package.parent.joinpath(*name.split(".")).with_suffix(".py")
        try:
            current = hashlib.sha256(source.read_bytes()).hexdigest()
        except OSError:
            return Build(False, why=f"{name}: its source is missing")
        if current != digest:
            return Build(
                False,
                why=f"{source.relative_to(package.parent)} changed since it was compiled "
                "(rebuild: pip install -e . or python hatch_build.py)",
            )
        if not source.with_suffix(suffix).is_file():
            return Build(False, why=f"{name}: its compiled extension is missing")
    return Build(True, tuple(modules))


def _sources_only(package: Path) -> None:
    """Import every module of the package from its source, ignoring extensions beside it."""
    loaders = (
        (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    )
    root = str(package)

    def hook(path: str) -> importlib.machinery.FileFinder:
        if path == root or path.startswith(root + os.sep):
            return importlib.machinery.FileFinder(path, *loaders)
        raise ImportError  # not ours: the next hook answers

    sys.path_hooks.insert(0, hook)
    for path in [p for p in sys.path_importer_cache if p == root or p.startswith(root + os.sep)]:
        del sys.path_importer_cache[path]  # finders made before the hook, for the package's own dirs


def select(environ: Mapping[str, str] = os.environ) -> Build:
    build = decide(STAMP, PACKAGE, environ)
    if not build.compiled:
        _sources_only(PACKAGE)
    return build


CURRENT = select()
