"""Read YAML files into plain data while remembering the line of every key and list item.

Rules of this reader, chosen to match what Docker Compose and kubectl see (both parse YAML 1.2):
- `22:22` is the string "22:22", not the base-60 integer 1342 that YAML 1.1 makes of it;
  `yes`/`no`/`on`/`off` stay strings; only `true`/`false` are booleans.
- Merge keys (`<<: *defaults`) and anchors are honoured; a key that came from a merge reports
  the line where the anchored value was written.
- Unknown tags (`!reset`, `!override`, `!Ref`) are read as if untagged rather than refused; the
  two Compose merge tags are remembered by path (`Document.tags`) for the merge to honour.
- Recursive aliases and alias bombs are refused with an error, never expanded without end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from portway.audit.errors import AuditInputError

Key = str | int
NodePath = tuple[Key, ...]

# Enough for any real deploy file; an alias bomb reaches it quickly instead of eating memory.
MAX_NODES = 200_000
_CORE_TAG = "tag:yaml.org,2002:"
_MERGE_TAGS = ("!reset", "!override")


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: its data and the line (1-based) of every key path in it."""

    source: SourceFile
    index: int
    data: object
    lines: dict[NodePath, int]
    tags: dict[NodePath, str] = field(default_factory=dict)  # "!reset" / "!override" by path

    def line(self, *path: Key) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return self.lines.get((), 1)


@dataclass
class SourceFile:
    """A file's text, its documents, and the last line of every block that starts on a line."""

    display: str  # the name used in messages and reports
    path: Path
    text: str
    documents: list[Document] = field(default_factory=list)
    block_ends: dict[int, int] = field(default_factory=dict)

    def block_end(self, line: int) -> int:
        return self.block_ends.get(line, line)


def display_name(path: Path) -> str:
    """The path relative to the working directory when it is below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_yaml(path: Path) -> SourceFile:
    """Parse every document in `path`; raise AuditInputError with the file and line on failure."""
    display = display_name(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AuditInputError(f"{display}: no such file") from None
    except IsADirectoryError:
        raise AuditInputError(f"{display}: is a directory") from None
    except UnicodeDecodeError:
        raise AuditInputError(f"{display}: not UTF-8 text") from None
    except OSError as exc:
        raise AuditInputError(f"{display}: cannot read ({exc.strerror})") from None
    source = SourceFile(display=display, path=path, text=text)
    try:
        for index, node in enumerate(_compose_all(text)):
            builder = _Builder(source)
            data = builder.build(node, ())
            source.documents.append(Document(source, index, data, builder.lines, builder.tags))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}" if mark is not None else display
        problem = exc.problem or exc.context or "not valid YAML"
        raise AuditInputError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise AuditInputError(f"{display}: invalid YAML: {exc}") from None
    return source


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to compose nodes, flatten merges and construct plain scalars."""


def _compose_all(text: str) -> Iterator[Node]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.lines: dict[NodePath, int] = {}
        self.tags: dict[NodePath, str] = {}
        self.visited = 0
        self.active: set[int] = set()  # ids of the collection nodes being built: a cycle guard
        self.loader = _Loader("")

    def build(self, node: Node, path: NodePath) -> object:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise AuditInputError(
                f"{self.source.display}: too large after expanding aliases (over {MAX_NODES} nodes)"
            )
        start = node.start_mark.line + 1
        self.lines.setdefault(path, start)
        if node.tag in _MERGE_TAGS:
            self.tags[path] = node.tag
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise AuditInputError(f"{self.source.display}:{start}: recursive YAML alias")
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - PyYAML has no other node kinds

    def _mapping(self, node: MappingNode, path: NodePath) -> dict[str, object]:
        self.loader.flatten_mapping(node)
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(self._scalar(key_node)) if isinstance(key_node, ScalarNode) else "?"
            key_line = key_node.start_mark.line + 1
            self.lines[(*path, key)] = key_line
            self._note_block(key_line, value_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _sequence(self, node: SequenceNode, path: NodePath) -> list[object]:
        items: list[object] = []
        for index, item in enumerate(node.value):
            self._note_block(item.start_mark.line + 1, item)
            items.append(self.build(item, (*path, index)))
        return items

    def _note_block(self, line: int, value: Node) -> None:
        # The end mark sits just past the value: at column 0 of the next line for a block.
        end = value.end_mark.line + (0 if value.end_mark.column == 0 else 1)
        if end > self.source.block_ends.get(line, line):
            self.source.block_ends[line] = end

    def _scalar(self, node: ScalarNode) -> object:
        tag = node.tag
        if not tag.startswith(_CORE_TAG) or tag.endswith(":timestamp"):
            return node.value
        if tag.endswith(":bool") and node.value.lower() not in ("true", "false"):
            return node.value
        if (tag.endswith(":int") or tag.endswith(":float")) and ":" in node.value:
            return node.value  # YAML 1.1 base 60, e.g. a port mapping 22:22
        return self.loader.construct_object(node)
