"""The data plane flows one way (DESIGN.md §1): accept → route → policies → forward. Read from the
source with ``ast`` (``TYPE_CHECKING`` blocks and function-level imports included, since a
type-only import is still a knot): no module imports one in a later stage, and no two modules
import each other, directly or round a longer loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import portway

ROOT = Path(portway.__file__).parent

# In stage order; a module may import its own layer and the layers before it, never after.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "portway.build",
            "portway.errors",
            "portway.contract",
            "portway.transitions",
            "portway.headers",
            "portway.sweeper",
            "portway.tasks",
            "portway.identity",
            "portway.config",
            "portway.telemetry",
        ),
    ),
    ("accept", ("portway.server",)),
    ("route", ("portway.routing",)),
    ("policies", ("portway.cache", "portway.policies", "portway.compression")),
    ("upstream", ("portway.upstream",)),
    ("forward", ("portway.forward",)),
    ("trace", ("portway.tracing",)),
    ("compose", ("portway.gateway",)),
    (
        "operate",
        (
            "portway.admin",
            "portway.runtime",
            "portway.testing",
            "portway.local",
            "portway.commands",
            "portway.cli",
            "portway.__main__",
        ),
    ),
]
SEPARATE = ("portway.audit",)  # the auditor reads deployment files; it needs nothing of the gateway


def module_name(path: Path) -> str:
    parts = ["portway", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # each name is a submodule or a name in `base`; graph() resolves which
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "portway" or m.startswith("portway.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path, name):
            # `from portway.x import y` names module portway.x.y when it exists, else portway.x
            while imported not in modules and "." in imported:
                imported = imported.rpartition(".")[0]
            if imported in modules and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def test_every_module_has_a_place() -> None:
    unplaced = sorted(
        m for m in graph() if m != "portway" and layer_of(m) is None and not m.startswith(SEPARATE)
    )
    assert not unplaced, f"put these in a layer of LAYERS: {unplaced}"


def test_no_module_imports_a_later_stage() -> None:
    wrong = []
    for module, targets in graph().items():
        mine = layer_of(module)
        if module.startswith(SEPARATE):
            wrong += [f"{module} → {t}" for t in targets if not t.startswith(SEPARATE) and layer_of(t) != 0]
            continue
        if mine is None:
            continue
        for target in targets:
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{module} ({LAYERS[mine][0]}) → {target} ({LAYERS[theirs][0]})")
    assert not wrong, "imports against the stage order:\n" + "\n".join(sorted(wrong))


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycles() -> None:
    edges = graph()
    # the package's own __init__ imports lazily by name (strings), so it has no edges to follow
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.parametrize(
    ("edges", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(edges) is not None) is cyclic


def test_type_checking_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from portway.gateway import Gateway\n"
    )
    assert "portway.gateway.Gateway" in imports_of(source, "portway.server.m")
