"""pydantic's errors in the config's words: key paths without union member tags, plain messages.

A union field (``rate_limit: RateLimitRule | list[RateLimitRule]``) makes pydantic report one error
per member, each under a tag naming the member's type (``RateLimitRule``, ``list[RateLimitRule]``,
``function-after[_wildcard(), CorsConfig]``, ``literal[False]``). A user wrote neither, so:

- tags are dropped from the key path (a part is a tag when the input has no such key there and it
  looks like a type: ``Name``, ``kind[...]`` or a primitive's name);
- of a union's members, those the input did not even have the shape of (a mapping given to a list
  member) are dropped; if that leaves none, the union gets one message saying what it accepts;
- messages that name pydantic's types are rewritten (``expected a mapping``, ``unknown key``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import ErrorDetails

Loc = tuple[int | str, ...]
_TAG = re.compile(r"^(?:[A-Z][A-Za-z0-9_]*|[a-z][a-z-]*\[.*\]|str|int|float|bool|none|bytes)$")
# Errors that only say "the input is not of this member's type".
_SHAPE = {"model_type", "model_attributes_type", "dict_type", "list_type", "string_type", "int_type",
          "int_from_float", "float_type", "bool_type", "literal_error", "none_required", "is_instance_of",
          "int_parsing", "float_parsing", "bool_parsing"}  # fmt: skip
# What a union accepts, by its field's name; others are described from their tags.
_ACCEPTS = {
    "rate_limit": "expected a rate-limit rule ({limit, per}) or a list of them",
    "cors": "expected a CORS mapping ({origins: [...]}) or false",
    "audience": "expected a string or a list of strings",
    "roles": "expected a list of roles, or a mapping of METHOD to a list of roles",
    "scopes": "expected a list of scopes, or a mapping of METHOD to a list of scopes",
}


def translate(errors: list[ErrorDetails], data: Any) -> list[tuple[Loc, str]]:
    """``(loc, message)`` per problem, in the order pydantic found them, without duplicates."""
    unions: dict[Loc, dict[str, list[tuple[Loc, ErrorDetails]]]] = {}
    order: list[tuple[Loc, ErrorDetails | None]] = []  # None: the union at loc goes here
    for error in errors:
        loc, union_at, tag = _strip(tuple(error["loc"]), data)
        if union_at is None:
            order.append((loc, error))
            continue
        if union_at not in unions:
            order.append((union_at, None))
        unions.setdefault(union_at, {}).setdefault(tag, []).append((loc, error))
    out: list[tuple[Loc, str]] = []
    for loc, found in order:
        out += [(loc, message(found))] if found is not None else _union(loc, unions[loc])
    return list(dict.fromkeys(out))


def _strip(loc: Loc, data: Any) -> tuple[Loc, Loc | None, str]:
    """The loc without tags, where the first union is (None if none) and that union's member tag."""
    kept: list[int | str] = []
    union_at: Loc | None = None
    tag = ""
    node = data
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a mapping's key: the key names it
            continue
        if _has(node, part):
            node = node[part]
        elif isinstance(part, str) and _TAG.match(part):
            if union_at is None:
                union_at, tag = tuple(kept), part
            continue
        else:
            node = None
        kept.append(part)
    return tuple(kept), union_at, tag


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _union(at: Loc, members: dict[str, list[tuple[Loc, ErrorDetails]]]) -> list[tuple[Loc, str]]:
    relevant = {
        tag: found
        for tag, found in members.items()
        if not all(loc == at and error["type"] in _SHAPE for loc, error in found)
    }
    if relevant:
        # The input had the shape of these members: their complaints are about its content.
        return [(loc, message(error)) for found in relevant.values() for loc, error in found]
    field = next((part for part in reversed(at) if isinstance(part, str)), "")
    accepts = _ACCEPTS.get(field) or "expected " + " or ".join(dict.fromkeys(_describe(t) for t in members))
    return [(at, accepts)]


def _describe(tag: str) -> str:
    if tag.startswith("literal["):
        return tag[8:-1].replace("'", "").replace("False", "false").replace("True", "true")
    if tag.startswith("list["):
        return "a list"
    if tag.startswith(("dict[", "function-")) or tag[:1].isupper():
        return "a mapping"
    return {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
            "none": "null"}.get(tag, "a value")  # fmt: skip


def message(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    plain = {
        "missing": "required key is missing",
        "extra_forbidden": "unknown key",
        "model_type": "expected a mapping",
        "model_attributes_type": "expected a mapping",
        "dict_type": "expected a mapping",
        "list_type": "expected a list",
        "string_type": "expected a string",
        "int_type": "expected a whole number",
        "int_parsing": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_type": "expected a number",
        "float_parsing": "expected a number",
        "bool_type": "expected true or false",
        "bool_parsing": "expected true or false",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "too_short": f"needs at least {ctx.get('min_length')} item(s)",
        "too_long": f"takes at most {ctx.get('max_length')} item(s)",
        "literal_error": f"expected {ctx.get('expected')}",
    }
    return plain.get(kind, error["msg"])
