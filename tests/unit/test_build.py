"""Which build a process imports (portway.build): the stamp the install wrote against the sources
as they are now. Data in, a decision out; and, in a subprocess, that a pure-Python decision really
imports the sources when an extension sits beside them."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
import subprocess
import sys
from pathlib import Path

import pytest

from portway import build
from portway.build import Build, decide, describe

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """src/portway/ with one compiled module (its source, its extension) and a stamp that matches."""
    package = tmp_path / "portway"
    (package / "server").mkdir(parents=True)
    source = package / "server" / "reader.py"
    source.write_text("X = 1\n")
    source.with_suffix(SUFFIX).write_bytes(b"an extension")
    stamp = {
        "build": "mypyc",
        "cache_tag": sys.implementation.cache_tag,
        "modules": {"portway.server.reader": hashlib.sha256(source.read_bytes()).hexdigest()},
    }
    (package / "_build.json").write_text(json.dumps(stamp))
    return package


def test_a_stamp_that_matches_the_sources_is_the_compiled_build(tree: Path) -> None:
    chosen = decide(tree / "_build.json", tree, {})
    assert chosen == Build(True, ("portway.server.reader",))
    assert describe(chosen) == "compiled build (mypyc, 1 modules)"


def test_an_edited_source_falls_back_to_the_sources_and_names_the_file(tree: Path) -> None:
    (tree / "server" / "reader.py").write_text("X = 2\n")
    chosen = decide(tree / "_build.json", tree, {})
    assert not chosen.compiled
    assert describe(chosen).startswith(
        "pure-Python build: portway/server/reader.py changed since it was compiled"
    )


def test_portway_pure_wins_over_a_good_stamp(tree: Path) -> None:
    assert decide(tree / "_build.json", tree, {"PORTWAY_PURE": "1"}) == Build(
        False, why="PORTWAY_PURE is set"
    )
    assert decide(tree / "_build.json", tree, {"PORTWAY_PURE": "0"}).compiled


def test_a_missing_extension_is_not_claimed_as_compiled(tree: Path) -> None:
    (tree / "server" / "reader.py").with_suffix(SUFFIX).unlink()
    chosen = decide(tree / "_build.json", tree, {})
    assert chosen == Build(False, why="portway.server.reader: its compiled extension is missing")


def test_another_interpreter_does_not_use_the_extensions(tree: Path) -> None:
    stamp = json.loads((tree / "_build.json").read_text())
    (tree / "_build.json").write_text(json.dumps({**stamp, "cache_tag": "cpython-399"}))
    chosen = decide(tree / "_build.json", tree, {})
    assert not chosen.compiled
    assert "compiled for cpython-399" in chosen.why


def test_the_install_hooks_reason_is_the_one_given(tree: Path) -> None:
    (tree / "_build.json").write_text(
        json.dumps({"build": "pure", "why": "no C compiler at install (cc not found)"})
    )
    chosen = decide(tree / "_build.json", tree, {})
    assert describe(chosen) == "pure-Python build: no C compiler at install (cc not found)"


def test_no_stamp_and_a_broken_stamp(tree: Path) -> None:
    assert "no portway/_build.json" in decide(tree / "absent.json", tree, {}).why
    (tree / "_build.json").write_text("{not json")
    assert decide(tree / "_build.json", tree, {}).why.startswith("unreadable _build.json")


def test_the_sources_are_imported_when_an_extension_sits_beside_them(tmp_path: Path) -> None:
    """A stale extension (here: bytes no loader accepts) next to the source: the default finder
    would load it and fail; under the pure-Python decision the source is what imports."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("WHERE = 'source'\n")
    (package / "sub" / f"mod{SUFFIX}").write_bytes(b"not an ELF file")
    script = (
        "import sys, pkg; from pathlib import Path; from portway import build\n"
        "if sys.argv[1] == 'pure': build._sources_only(Path(pkg.__file__).parent)\n"
        "from pkg.sub import mod; print(mod.WHERE)\n"
    )

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, mode],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PYTHONPATH": f"{tmp_path}:{Path(build.__file__).parent.parent}"},
        )

    pure = run("pure")
    assert pure.returncode == 0, pure.stderr
    assert pure.stdout.strip() == "source"
    default = run("default")
    assert default.returncode != 0 and "ImportError" in default.stderr  # what the decision avoids


def test_this_process_imports_what_the_build_says() -> None:
    """Compiled: each module the stamp names is its extension; pure: the sources, even where an
    extension sits beside them."""
    reader = importlib.import_module("portway.server.reader")
    if build.CURRENT.compiled:
        assert build.CURRENT.modules
        for name in build.CURRENT.modules:
            assert str(importlib.import_module(name).__file__).endswith(SUFFIX), name
    else:
        assert str(reader.__file__).endswith(".py")
