"""A Compose file as nested mappings and lists that remember, entry by entry, where it was written.

Compose files are interpolated, merged (`-f a -f b`, `extends`, `include`) and only then judged, so
a value may come from another file than its neighbours. Each mapping (`LMap`) and list (`LSeq`)
carries a `Meta` per entry: its file and line, the `${VAR}`s that could not be resolved, the text as
written before interpolation, and the Compose merge tag (`!reset`, `!override`) it had.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from portway.audit.findings import Location
from portway.audit.yamlsource import Document, Key, NodePath


@dataclass(frozen=True)
class Meta:
    location: Location
    unknown: tuple[str, ...] = ()  # variables the value needed and the environment did not have
    raw: str | None = None  # the text before interpolation, when it had any `$`
    tag: str = ""
    env_sources: tuple[Location, ...] = ()  # the `.env` lines that supplied its variables


class LMap(dict[str, object]):
    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.meta: dict[str, Meta] = {}

    def put(self, key: str, value: object, meta: Meta) -> None:
        self[key] = value
        self.meta[key] = meta

    def drop(self, key: str) -> None:
        self.pop(key, None)
        self.meta.pop(key, None)


class LSeq(list[object]):
    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.meta: list[Meta] = []

    def add(self, value: object, meta: Meta) -> None:
        self.append(value)
        self.meta.append(meta)


def from_document(doc: Document) -> object:
    return _build(doc, doc.data, ())


def _build(doc: Document, data: object, path: NodePath) -> object:
    where = Location(doc.source.display, doc.line(*path))
    if isinstance(data, dict):
        mapping = LMap(where)
        for key, value in data.items():
            child = (*path, key)
            mapping.put(key, _build(doc, value, child), _meta(doc, child))
        return mapping
    if isinstance(data, list):
        sequence = LSeq(where)
        for index, value in enumerate(data):
            child = (*path, index)
            sequence.add(_build(doc, value, child), _meta(doc, child))
        return sequence
    return data


def _meta(doc: Document, path: NodePath) -> Meta:
    return Meta(Location(doc.source.display, doc.line(*path)), tag=doc.tags.get(path, ""))


def meta_of(root: object, *path: Key) -> Meta | None:
    """The Meta of the entry at `path`, None when the path does not exist."""
    node, meta = root, None
    for key in path:
        entry = _entry(node, key)
        if entry is None:
            return None
        meta, node = entry
    return meta


def _entry(node: object, key: Key) -> tuple[Meta, object] | None:
    if isinstance(node, LMap) and isinstance(key, str) and key in node:
        return node.meta[key], node[key]
    if isinstance(node, LSeq) and isinstance(key, int) and key < len(node):
        return node.meta[key], node[key]
    return None


def loc(root: object, *path: Key) -> Location:
    """Where `path` was written, or its nearest ancestor that exists."""
    node = root
    found = root.location if isinstance(root, LMap | LSeq) else Location("?", 1)
    for key in path:
        entry = _entry(node, key)
        if entry is None:
            break
        found, node = entry[0].location, entry[1]
    return found


def unknown(root: object, *path: Key) -> tuple[str, ...]:
    """The unresolved variables of the value at `path` and of everything inside it."""
    meta = meta_of(root, *path)
    names = list(meta.unknown) if meta else []
    node = _get(root, path)
    for inner in _metas(node):
        names.extend(inner.unknown)
    return tuple(dict.fromkeys(names))


def _metas(node: object) -> Iterator[Meta]:
    if isinstance(node, LMap):
        for key, value in node.items():
            yield node.meta[key]
            yield from _metas(value)
    elif isinstance(node, LSeq):
        for meta, value in zip(node.meta, node, strict=True):
            yield meta
            yield from _metas(value)


def _get(node: object, path: tuple[Key, ...]) -> object:
    for key in path:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return None
    return node


def copy(node: object) -> object:
    """A deep copy that keeps every Meta (merging mutates the base it merges into)."""
    if isinstance(node, LMap):
        mapping = LMap(node.location)
        for key, value in node.items():
            mapping.put(key, copy(value), node.meta[key])
        return mapping
    if isinstance(node, LSeq):
        sequence = LSeq(node.location)
        for meta, value in zip(node.meta, node, strict=True):
            sequence.add(copy(value), meta)
        return sequence
    return node


def untagged(meta: Meta) -> Meta:
    return replace(meta, tag="") if meta.tag else meta
