"""Choosing a response's content coding from the request's ``Accept-Encoding`` (RFC 9110 §12.5.3).

Rules:
- No ``Accept-Encoding`` at all: identity. (The RFC lets a server pick any coding then, but a client
  that sent nothing may not decode anything; no browser omits the field, and nginx does the same.)
- An empty field: identity only.
- Each member is ``coding[;q=value]``; names are case-insensitive; ``x-gzip`` is ``gzip`` (§8.4.1.3).
  A member whose ``q`` is not a valid qvalue (§12.4.2) is ignored, as if it were not there.
- ``q=0`` refuses a coding; ``*`` gives its weight to every coding not listed by name.
- The coding with the highest weight wins; among equal weights the server's preference order wins.
- ``identity`` is acceptable unless refused (``identity;q=0``, or ``*;q=0`` without ``identity``);
  listed with a weight above the best coding's, it wins and nothing is compressed.
- Nothing acceptable, identity refused: still identity. A gateway cannot make the upstream's
  representation acceptable by refusing it (406); the client decides what to do with it.
"""

from __future__ import annotations

import re

# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(rb"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
_ALIASES = {b"x-gzip": b"gzip"}


def weights(field: bytes) -> dict[bytes, float]:
    """The field's codings (lower-case) and their weights; malformed members left out."""
    out: dict[bytes, float] = {}
    for member in field.split(b","):
        coding, _, params = member.partition(b";")
        name = coding.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(b";"):
            key, _, value = param.partition(b"=")
            if key.strip().lower() == b"q":
                value = value.strip()
                if not _QVALUE.match(value):
                    weight = -1.0
                    break
                weight = float(value)
        if weight < 0:
            continue
        name = _ALIASES.get(name, name)
        out[name] = max(weight, out.get(name, 0.0))  # listed twice: the kinder reading
    return out


def choose(field: bytes | None, offered: tuple[bytes, ...]) -> bytes | None:
    """The coding to send from ``offered`` (the server's preference order), or None for identity."""
    if field is None:
        return None
    accepted = weights(field)
    if not accepted:
        return None
    star = accepted.get(b"*")
    best: bytes | None = None
    best_weight = 0.0
    for coding in offered:  # in preference order: a later coding must weigh strictly more
        weight = accepted.get(coding, star if star is not None else 0.0)
        if weight > best_weight:
            best, best_weight = coding, weight
    if best is None:
        return None
    identity = accepted.get(b"identity")
    if identity is not None and identity > best_weight:
        return None
    return best
