"""Build hook: compiles the request-path modules with mypyc at install time, or says why it did not.

Rules:
- The modules compiled are listed once, in pyproject.toml (``[tool.hatch.build.targets.wheel.hooks.custom]``
  ``modules``); their ``.py`` sources stay in the package as the reference and the fallback.
- ``pip install -e .`` builds the extensions in place, beside the sources in ``src/`` (git ignores
  them); a wheel carries them. Either way the hook writes ``portway/_build.json``: the build kind
  and a SHA-256 of each compiled module's source, which :mod:`portway.build` checks at import so an
  edited ``.py`` is never shadowed by a stale extension.
- No C compiler, no Python headers, ``PORTWAY_PURE=1``, or a compile that fails: the install still
  succeeds, as a pure-Python build, and the stamp says why (``portway run`` logs it at start).

``python hatch_build.py`` rebuilds in place with the current interpreter (what an edit needs);
``PORTWAY_PURE=1 python hatch_build.py`` removes the extensions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import tomllib
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STAMP = "src/portway/_build.json"
GROUP = "portway_hot"  # mypyc's shared library: portway_hot__mypyc.<ext>


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def why_not_compile(environ: dict[str, str]) -> str | None:
    """The reason this machine gets a pure-Python build, or None if it can compile."""
    if environ.get("PORTWAY_PURE", "") not in ("", "0"):
        return "PORTWAY_PURE=1 at install"
    if sys.implementation.name != "cpython":
        return f"mypyc needs CPython, not {sys.implementation.name}"
    compiler = (environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler at install ({compiler} not found)"
    if importlib.util.find_spec("mypyc") is None:  # a rebuild with a venv that lacks the dev extra
        return "mypyc is not installed (it comes with mypy: pip install mypy)"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return f"no Python headers at install ({include}/Python.h not found)"
    return None


def clean(root: Path) -> None:
    """Remove the extensions an earlier in-place build left in src/ (a pure build must not keep them)."""
    for path in (root / "src").rglob("*.so"):
        stem = path.name.split(".", 1)[0]  # reader.cpython-311-x86_64-linux-gnu.so -> reader
        if stem.startswith(GROUP) or path.with_name(stem + ".py").is_file():
            path.unlink()


def compile_modules(root: Path, modules: list[str], build_lib: Path | None) -> list[Path]:
    """mypyc + the machine's C compiler; in place in src/ when ``build_lib`` is None. Returns the
    extension files written."""
    from mypyc.build import mypycify  # build requirements: only imported when compiling
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    sources = [f"src/{name.replace('.', '/')}.py" for name in modules]
    previous = Path.cwd()
    os.chdir(root)  # mypyc and setuptools resolve these relative paths from the project root
    try:
        with tempfile.TemporaryDirectory(prefix="portway-mypyc-") as scratch:
            extensions = mypycify(
                ["--config-file", "pyproject.toml", "--explicit-package-bases", *sources],
                opt_level="3",
                debug_level="0",
                group_name=GROUP,
                target_dir=str(Path(scratch, "c")),
            )
            dist = Distribution({"name": "portway", "ext_modules": extensions, "package_dir": {"": "src"}})
            command = build_ext(dist)
            command.build_temp = str(Path(scratch, "obj"))
            if build_lib is None:
                command.inplace = True
            else:
                command.build_lib = str(build_lib)
            command.parallel = os.cpu_count() or 1
            command.ensure_finalized()
            command.run()
            return [Path(output).resolve() for output in command.get_outputs()]
    finally:
        os.chdir(previous)


def build(root: Path, modules: Iterable[str], build_lib: Path | None) -> tuple[dict[str, Any], list[Path]]:
    """Compile (or not) and write the stamp: in place in src/ when ``build_lib`` is None, else into
    ``build_lib`` (a wheel's tree). Returns the stamp and the files written."""
    modules = list(modules)
    if build_lib is None:
        clean(root)
    why = why_not_compile(dict(os.environ))
    outputs: list[Path] = []
    if why is None:
        try:
            outputs = compile_modules(root, modules, build_lib)
        except (Exception, SystemExit) as exc:  # mypyc exits on a type error; a failed compile
            # still installs: the pure build is the reference
            traceback.print_exc()
            if build_lib is None:
                clean(root)
            outputs = []
            why = f"the mypyc compile failed at install ({type(exc).__name__}: {exc})"
    if why is not None:
        print(f"portway: pure-Python build: {why}", file=sys.stderr)
        stamp: dict[str, Any] = {"build": "pure", "why": why}
    else:
        import mypy.version

        stamp = {
            "build": "mypyc",
            "mypy": mypy.version.__version__,
            "cache_tag": sys.implementation.cache_tag,
            "modules": {name: source_hash(root / "src" / f"{name.replace('.', '/')}.py") for name in modules},
        }
        print(f"portway: compiled build (mypyc, {len(modules)} modules)", file=sys.stderr)
    path = root / STAMP if build_lib is None else build_lib / "portway" / "_build.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamp, indent=2) + "\n")
    return stamp, [*outputs, path]


def configured_modules(root: Path) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text())
    modules: list[str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]["modules"]
    return modules


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script (`python hatch_build.py`), outside a build
    BuildHookInterface = object


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc, valid-type, unused-ignore]
    """hatchling's hook: in place for an editable install, into the wheel otherwise."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        modules = list(self.config.get("modules", []))
        if version == "editable":  # the .pth points at src/, where the extensions are built
            stamp, _ = build(root, modules, build_lib=None)
        else:
            self._lib = Path(tempfile.mkdtemp(prefix="portway-wheel-")).resolve()
            stamp, outputs = build(root, modules, build_lib=self._lib)
            for output in outputs:
                build_data["force_include"][str(output)] = str(output.relative_to(self._lib))
        if stamp["build"] != "pure":
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None:
            shutil.rmtree(lib, ignore_errors=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    if sys.argv[1:] == ["--sources"]:  # for the Makefile: what a rebuild depends on
        print(" ".join(f"src/{name.replace('.', '/')}.py" for name in configured_modules(here)))
    else:
        build(here, configured_modules(here), build_lib=None)
