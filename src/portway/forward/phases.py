"""The phases of one exchange (DESIGN.md §1: state machines are tables)."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    POLICIES = "policies"  # the route's request hooks run (or one is awaited)
    CONNECTING = "connecting"  # waiting for an upstream connection (nothing sent yet)
    FORWARDING = "forwarding"  # the request head went out; no response head yet
    RESPONDING = "responding"  # the response head arrived; relaying the body
    TUNNEL = "tunnel"  # 101: bytes pumped both ways
    DONE = "done"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.POLICIES: frozenset({Phase.CONNECTING, Phase.FORWARDING, Phase.DONE}),
    Phase.CONNECTING: frozenset({Phase.FORWARDING, Phase.DONE}),
    Phase.FORWARDING: frozenset({Phase.RESPONDING, Phase.TUNNEL, Phase.CONNECTING, Phase.DONE}),
    Phase.RESPONDING: frozenset({Phase.DONE}),
    Phase.TUNNEL: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}
