"""``POST /cache/purge``: the seam between the admin API and a response cache.

The admin API knows no cache; whoever builds one passes a :class:`Purger` to the admin app, which
calls it with a validated :class:`Purge` (one exact key, or every key under a prefix) and answers
with the count it returns. Without a purger the answer is a 404 problem, "no cache configured".

A selector is a JSON object with exactly one of ``key`` or ``prefix``, a non-empty string: an empty
prefix would empty the whole cache, which deserves a request that says so, not a typo.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from portway.errors import ClientError


@dataclass(frozen=True, slots=True)
class Purge:
    key: str | None = None
    prefix: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key} if self.key is not None else {"prefix": self.prefix or ""}


class Purger(Protocol):
    def __call__(self, purge: Purge) -> Awaitable[int]:
        """Remove the entries the selector names; return how many there were."""
        ...


def parse_purge(body: bytes) -> Purge | ClientError:
    try:
        doc = json.loads(body)
    except ValueError:
        return ClientError(400, 'the body must be JSON: {"key": ...} or {"prefix": ...}')
    if not isinstance(doc, dict) or len(doc) != 1 or not {"key", "prefix"} >= doc.keys():
        return ClientError(422, 'expected exactly one of "key" or "prefix"')
    ((name, value),) = doc.items()
    if not isinstance(value, str) or not value:
        return ClientError(422, f'"{name}" must be a non-empty string')
    return Purge(key=value) if name == "key" else Purge(prefix=value)
