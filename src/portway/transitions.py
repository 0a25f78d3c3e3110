"""One rule for every state machine of the data plane (DESIGN.md §1: state machines are tables):
a state moves only along its table's edges, and a move the table does not list is a bug."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

S = TypeVar("S")


def advance(table: Mapping[S, frozenset[S]], current: S, new: S, what: str) -> S:
    """``new``, if ``table`` lets ``current`` move there; raises AssertionError naming ``what``."""
    if new not in table[current]:
        raise AssertionError(
            f"{what} {getattr(current, 'name', current)} → {getattr(new, 'name', new)} is not allowed"
        )
    return new
