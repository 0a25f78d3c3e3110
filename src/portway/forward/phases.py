"""The phases of one exchange (DESIGN.md §1: state machines are tables)."""

from __future__ import annotations

import enum


class Phase(enum.IntEnum):
    # IntEnum: members hash in C, so a transition check costs ~0.1 µs on the hot path (an
    # Enum's hash is a Python call, ~0.35 µs, and every request makes about ten of them).
    POLICIES = 1  # the route's request hooks run (or one is awaited)
    CONNECTING = 2  # waiting for an upstream connection (nothing sent yet)
    FORWARDING = 3  # the request head went out; no response head yet
    RESPONDING = 4  # the response head arrived; relaying the body
    TUNNEL = 5  # 101: bytes pumped both ways
    DONE = 6


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.POLICIES: frozenset({Phase.CONNECTING, Phase.FORWARDING, Phase.DONE}),
    Phase.CONNECTING: frozenset({Phase.FORWARDING, Phase.DONE}),
    Phase.FORWARDING: frozenset({Phase.RESPONDING, Phase.TUNNEL, Phase.CONNECTING, Phase.DONE}),
    Phase.RESPONDING: frozenset({Phase.DONE}),
    Phase.TUNNEL: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}
