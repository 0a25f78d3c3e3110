"""Content-Type patterns: exact, type/*, type/*+suffix; parameters and case ignored."""

from __future__ import annotations

import pytest

from portway.compression.media_types import MediaTypes
from portway.config.compression import DEFAULT_TYPES

TYPES = MediaTypes(list(DEFAULT_TYPES))


@pytest.mark.parametrize(
    "value",
    [
        b"text/html",
        b"text/html; charset=utf-8",
        b"TEXT/CSS",
        b"application/json",
        b"application/problem+json",
        b"application/vnd.api+json; charset=utf-8",
        b"application/atom+xml",
        b"image/svg+xml",
        b"application/javascript",
    ],
)
def test_compressible(value: bytes) -> None:
    assert value in TYPES


@pytest.mark.parametrize(
    "value",
    [
        b"image/png",
        b"image/jpeg",
        b"application/octet-stream",
        b"application/zip",
        b"font/woff2",
        b"video/mp4",
        b"application/jsonx",  # a near miss of an exact type
        b"text",  # no subtype
        b"",
        b"json",
    ],
)
def test_not_compressible(value: bytes) -> None:
    assert value not in TYPES


def test_suffix_patterns_keep_to_their_type() -> None:
    types = MediaTypes(["application/*+json"])
    assert b"application/ld+json" in types
    assert b"text/ld+json" not in types
    assert b"application/json" not in types  # no suffix: not what the pattern says
