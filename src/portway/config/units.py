"""Human units in config: durations (``250ms``, ``5s``, ``15m``, ``1h``) and sizes (``512KB``, ``10MB``).

Sizes use binary multiples (``1KB`` = 1024 bytes) as nginx and Envoy do; a bare number is seconds or
bytes. Both become plain ``float`` seconds / ``int`` bytes in the validated model.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|kib|mb|m|mib|gb|g|gib)?\s*$", re.IGNORECASE)
# The same grammar for JSON Schema validators (ECMA-262 regexes have no inline (?i) flag).
_SIZE_JSON_PATTERN = r"^\s*\d+(\.\d+)?\s*([bB]|[kK]([iI]?[bB])?|[mM]([iI]?[bB])?|[gG]([iI]?[bB])?)?\s*$"
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration like 250ms, 5s, 15m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f"invalid duration {value!r}: expected a number with ms, s, m, h or d, like 5s")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a size like 512KB or 10MB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        unit = (match.group(2) or "b").lower()[0]
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    else:
        raise ValueError(f"invalid size {value!r}: expected a number with B, KB, MB or GB, like 10MB")
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


# The JSON Schema shows what a *file* may hold (``5s`` or a number), not the validated float/int.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION.pattern}]}
    ),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": _SIZE_JSON_PATTERN}]}
    ),
]


def _positive_duration(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


def _positive_size(size: int) -> int:
    if size <= 0:
        raise ValueError("must be larger than 0 bytes")
    return size


# For limits where 0 would refuse everything (a 0s header timeout, a 0-byte request line): those
# are mistakes, not settings, and refusing them at load beats a gateway that answers nothing.
PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_positive_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION.pattern},
            ]
        }
    ),
]
PositiveSize = Annotated[
    int,
    BeforeValidator(parse_size),
    AfterValidator(_positive_size),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": _SIZE_JSON_PATTERN}]}
    ),
]
