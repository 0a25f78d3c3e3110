"""The aggregate's JSON from its calls' bodies: pure data in, data out.

Rules:
- A call's body counts only when it parses as JSON (and, under ``merge``, is an object); else the
  call failed like a timeout or a 5xx did.
- ``merge``: the objects are deep-merged in call order (the config's, never the order answers
  arrived in): nested objects merge, any other value of a later call replaces an earlier one.
- ``group``: each call's value under its key; a failed call's key is absent.
- Partial (some calls failed, at least one answered): the top-level object gets
  ``"_partial": [keys of the failed calls, in call order]``, the gateway's field over any a call sent.
- Every call failed: :func:`combine` returns ``None`` (the exchange answers 502).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from portway.config.aggregate import PARTIAL_FIELD

Outcome = bytes | None  # a call's body, or None when it failed
NOT_JSON = object()  # what parse() returns for a body that cannot count (JSON's null is None)


def parse(body: bytes, mode: str) -> object:
    """The call's JSON value, or NOT_JSON when it is not JSON (or not an object, under merge)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return NOT_JSON
    if mode == "merge" and not isinstance(value, dict):
        return NOT_JSON
    return value


def deep_merge(into: dict[str, object], other: dict[str, object]) -> None:
    for key, value in other.items():
        mine = into.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            deep_merge(mine, value)
        else:
            into[key] = value


def combine(
    mode: str, keys: Sequence[str], outcomes: Sequence[Outcome]
) -> tuple[dict[str, object], list[str]] | None:
    """``(document, failed keys)`` from the calls' outcomes (in call order), or None if none answered."""
    document: dict[str, object] = {}
    failed: list[str] = []
    for key, body in zip(keys, outcomes, strict=True):
        value = parse(body, mode) if body is not None else NOT_JSON
        if value is NOT_JSON:
            failed.append(key)
        elif mode == "group":
            document[key] = value
        else:
            assert isinstance(value, dict)
            try:
                deep_merge(document, value)
            except RecursionError:  # nested deeper than the merge can walk: treated as not JSON
                failed.append(key)
    if len(failed) == len(keys):
        return None
    if failed:
        document[PARTIAL_FIELD] = failed
    return document, failed
