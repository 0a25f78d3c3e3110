"""The client connection's phases (DESIGN.md §1: state machines are tables).

The phase says where the connection is in answering requests; the parser's position (reading a
head, a body, or nothing) is a second axis kept by the reader, since a pipelined request's head may
be read while the one before it is answered.
"""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    WAITING = "waiting"  # no request being answered (reading one, or idle between requests)
    ACTIVE = "active"  # a request was handed to its handler; no byte of its response yet
    RESPONDING = "responding"  # its response has started
    TUNNEL = "tunnel"  # a raw byte pump after 101 Switching Protocols
    CLOSED = "closed"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.ACTIVE, Phase.CLOSED}),
    Phase.ACTIVE: frozenset({Phase.RESPONDING, Phase.WAITING, Phase.CLOSED}),
    Phase.RESPONDING: frozenset({Phase.WAITING, Phase.TUNNEL, Phase.CLOSED}),
    Phase.TUNNEL: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
_WAITING, _ACTIVE, _RESPONDING, _TUNNEL, _CLOSED = Phase  # module-level: cheap to compare on the hot path
