"""Merging Compose files the way `docker compose -f a.yaml -f b.yaml` does (the Compose
Specification's "Merge" rules), also used for `extends`.

Rules:
- Mappings merge key by key; a scalar from the later file replaces the earlier one.
- Sequences append, except `command`, `entrypoint` and `healthcheck.test`, which are replaced.
- `environment`, `labels`, `deploy.labels`, `build.args`, `extra_hosts`, `sysctls` and a service's
  `networks` and `depends_on` merge as mappings, whichever of the list or map syntax each file uses.
- Unique resources: `ports` by (host ip, target, published, protocol), `volumes` by target,
  `secrets`/`configs` by target (or source): a later entry with the same key replaces the earlier.
- `!reset` removes the value the earlier file set, `!override` replaces it whole.
"""

from __future__ import annotations

from dataclasses import replace

from portway.audit import ports, tree
from portway.audit.findings import Location
from portway.audit.tree import LMap, LSeq, Meta

_REPLACED = {"command", "entrypoint", "test"}
_AS_MAPPING = {"environment", "labels", "args", "extra_hosts", "sysctls", "networks", "depends_on"}
_UNIQUE_BY = {"ports", "volumes", "secrets", "configs"}


def merge(base: object, override: object, key: str = "") -> object:
    """`override` merged onto `base` (which is modified and returned when both are mappings)."""
    if isinstance(base, LMap) and isinstance(override, LMap):
        return _merge_mappings(base, override)
    if key in _AS_MAPPING and isinstance(base, LMap | LSeq) and isinstance(override, LMap | LSeq):
        return _merge_mappings(as_mapping(base), as_mapping(override))
    if isinstance(base, LSeq) and isinstance(override, LSeq) and key not in _REPLACED:
        if key in _UNIQUE_BY:
            return _merge_unique(base, override, key)
        merged = tree.copy(base)
        assert isinstance(merged, LSeq)
        for meta, value in zip(override.meta, override, strict=True):
            merged.add(tree.copy(value), meta)
        return merged
    return tree.copy(override)


def _merge_mappings(base: LMap, override: LMap) -> LMap:
    for key, value in override.items():
        meta = override.meta[key]
        if meta.tag == "!reset":
            base.drop(key)
        elif meta.tag == "!override" or key not in base:
            base.put(key, tree.copy(value), tree.untagged(meta))
        else:
            base.put(key, merge(base[key], value, key), meta)
    return base


def _merge_unique(base: LSeq, override: LSeq, key: str) -> LSeq:
    merged = LSeq(base.location)
    entries: dict[object, tuple[object, Meta]] = {}
    for sequence in (base, override):
        for meta, value in zip(sequence.meta, sequence, strict=True):
            identity = _identity(key, value)
            # A re-declared entry takes the earlier one's place, as Compose keeps the order.
            entries[identity if identity is not None else id(value)] = (tree.copy(value), meta)
    for value, meta in entries.values():
        merged.add(value, meta)
    return merged


def _identity(key: str, value: object) -> object:
    if key == "ports":
        if isinstance(value, dict):
            spec = ports.parse_long(value)
        elif isinstance(value, str | int):
            spec = ports.parse_short(value)
        else:
            return None
        return (spec.host_ip, spec.target, spec.published, spec.protocol)
    if isinstance(value, dict):
        return value.get("target") or value.get("source")
    text = str(value)
    if key == "volumes":
        parts = text.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return text


def as_mapping(value: object) -> LMap:
    """A list-form `environment`/`labels`/`networks` (`KEY=VALUE` or names) as a mapping."""
    if isinstance(value, LMap):
        return value
    mapping = LMap(value.location if isinstance(value, LSeq) else Location("?", 1))
    if isinstance(value, LSeq):
        for meta, entry in zip(value.meta, value, strict=True):
            name, separator, text = str(entry).partition("=")
            raw = meta.raw.partition("=")[2] if meta.raw is not None and separator else None
            mapping.put(name.strip(), text if separator else None, replace(meta, raw=raw))
    return mapping
