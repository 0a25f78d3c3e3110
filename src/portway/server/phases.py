"""The client connection's phases (DESIGN.md §1: state machines are tables).

The phase says where the connection is in answering requests; the parser's position (reading a
head, a body, or nothing) is a second axis kept by the reader, since a pipelined request's head may
be read while the one before it is answered.
"""

from __future__ import annotations

import enum


class Phase(enum.IntEnum):
    # IntEnum: members hash in C, so a transition check costs ~0.1 µs on the hot path (an
    # Enum's hash is a Python call, ~0.35 µs, and every request makes about ten of them).
    WAITING = 1  # no request being answered (reading one, or idle between requests)
    ACTIVE = 2  # a request was handed to its handler; no byte of its response yet
    RESPONDING = 3  # its response has started
    TUNNEL = 4  # a raw byte pump after 101 Switching Protocols
    CLOSED = 5


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.ACTIVE, Phase.CLOSED}),
    Phase.ACTIVE: frozenset({Phase.RESPONDING, Phase.WAITING, Phase.CLOSED}),
    Phase.RESPONDING: frozenset({Phase.WAITING, Phase.TUNNEL, Phase.CLOSED}),
    Phase.TUNNEL: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
