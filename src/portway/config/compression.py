"""``compression:``, top-level (defaults for every route) and per route (docs/compression.md).

Off unless configured: compressing a response that carries a secret next to text an attacker
chooses leaks the secret over TLS (BREACH), so each gateway turns it on knowingly. A route's keys
override the top-level ones they name; ``compression: false`` turns it off for that route.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from portway.config.models_base import Model
from portway.config.units import PositiveSize, Size

Coding = Literal["zstd", "br", "gzip"]

# What is worth compressing: text, and the structured formats served as application/*. Images,
# audio, video, fonts in WOFF/WOFF2, archives and PDFs are compressed already: a second pass costs
# CPU and saves nothing.
DEFAULT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/x-ndjson",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/xml",
    "application/*+xml",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "application/wasm",
    "application/vnd.ms-fontobject",
    "font/ttf",
    "font/otf",
    "image/svg+xml",
    "image/x-icon",
    "image/bmp",
)
_NAME = r"[a-z0-9!#$&^_.+-]+"
_TYPE = re.compile(rf"^{_NAME}/(\*|\*\+{_NAME}|{_NAME})$")
# Defaults for on-the-fly compression, where each byte is compressed once per response: fast levels
# with most of the ratio (bench/compress.py shows MB/s and ratio per level).
DEFAULT_LEVELS: dict[Coding, int] = {"gzip": 5, "br": 4, "zstd": 3}
LEVEL_RANGES = {"gzip": (1, 9), "br": (0, 11), "zstd": (1, 19)}  # zstd 20-22 need > 8 MB windows


class Decompress(Model):
    """Request bodies in one of ``encodings`` are decoded before the upstream gets them, within
    limits: past ``max_size`` decoded bytes, or (once past 64 KB) more than ``max_ratio`` times the
    bytes received, the request is refused with 413."""

    encodings: list[Coding] = Field(default=["gzip", "br", "zstd"], min_length=1)
    max_size: PositiveSize = 10 * 1024**2
    max_ratio: float = Field(default=100.0, ge=1.0)


class Compression(Model):
    # Preference when the client weighs several equally: zstd compresses about as well as br at a
    # low level and several times faster, br beats gzip on text, gzip is what every client has.
    encodings: list[Coding] = Field(default=["zstd", "br", "gzip"], min_length=1)
    levels: dict[Coding, int] = {}  # over DEFAULT_LEVELS
    min_size: Size = 1024  # below about one TCP segment, compressing saves no round trip
    types: list[str] = Field(default=list(DEFAULT_TYPES), min_length=1)
    decompress: Decompress | Literal[False] | None = None  # request bodies: not decoded unless set

    @field_validator("encodings")
    @classmethod
    def _once(cls, encodings: list[str]) -> list[str]:
        if len(set(encodings)) != len(encodings):
            raise ValueError("a coding is listed twice")
        return encodings

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: dict[str, int]) -> dict[str, int]:
        for name, level in levels.items():
            low, high = LEVEL_RANGES[name]
            if not low <= level <= high:
                raise ValueError(f"{name} level must be from {low} to {high}, got {level}")
        return levels

    @field_validator("types")
    @classmethod
    def _types(cls, types: list[str]) -> list[str]:
        out = []
        for media_type in types:
            low = media_type.strip().lower()
            if not _TYPE.match(low):
                raise ValueError(
                    f"{media_type!r} is not a media type: write type/subtype, type/* or type/*+suffix"
                )
            out.append(low)
        return out


RouteCompression = Compression | Literal[False]


def merge_compression(defaults: Compression | None, route: RouteCompression | None) -> Compression | None:
    """The route's compression: its own keys over the top-level's; ``false``: none; levels merge."""
    if route is False:
        return None
    if route is None:
        return defaults
    if defaults is None:
        return route
    update: dict[str, object] = {key: getattr(route, key) for key in route.model_fields_set}
    if "levels" in update:
        update["levels"] = {**defaults.levels, **route.levels}
    return defaults.model_copy(update=update)
