"""`compression:` in config: defaults, a route's keys over the top level's, and refusals that name
file:line and what is wrong."""

from __future__ import annotations

import pytest

from portway.compression.policy import Compression
from portway.config import ConfigError, parse_config
from portway.config.compression import merge_compression
from portway.policies.chain import SharedPolicyState, build_chain

UP = 'upstreams:\n  u: {targets: ["http://127.0.0.1:9"]}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env={})
    return [str(p) for p in info.value.problems]


def policies(text: str) -> list[Compression | None]:
    config = parse_config(text, "gw.yaml", env={})
    shared = SharedPolicyState(config)
    out: list[Compression | None] = []
    for index, route in enumerate(config.routes):
        found = [
            p
            for p in build_chain(index, route, config, shared, "gw.yaml").policies
            if isinstance(p, Compression)
        ]
        out.append(found[0] if found else None)
    return out


def test_off_unless_configured() -> None:
    assert policies(UP + "routes:\n  - {path: /, upstream: u}\n") == [None]


def test_top_level_for_every_route_and_false_turns_it_off() -> None:
    text = (
        UP
        + "compression: {min_size: 10}\nroutes:\n  - {path: /a/, upstream: u}\n"
        + ("  - {path: /b/, upstream: u, compression: false}\n")
    )
    on, off = policies(text)
    assert on is not None and on.min_size == 10 and off is None


def test_a_route_overrides_the_keys_it_sets_and_levels_merge() -> None:
    text = UP + (
        "compression: {encodings: [gzip, br], levels: {gzip: 9}, min_size: 10}\n"
        "routes:\n  - {path: /a/, upstream: u, compression: {levels: {br: 7}}}\n"
    )
    [policy] = policies(text)
    assert policy is not None
    assert policy.offered == (b"gzip", b"br")
    assert {e.token: e.level for e in policy.encodings.values()} == {b"gzip": 9, b"br": 7}
    assert policy.min_size == 10


def test_defaults() -> None:
    [policy] = policies(UP + "routes:\n  - {path: /, upstream: u, compression: {}}\n")
    assert policy is not None
    assert {e.token: e.level for e in policy.encodings.values()} == {b"zstd": 3, b"br": 4, b"gzip": 5}
    assert policy.offered == (b"zstd", b"br", b"gzip")
    assert policy.min_size == 1024
    assert policy.decompression is None


def test_merge_keeps_the_top_level_when_the_route_says_nothing() -> None:
    assert merge_compression(None, None) is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{levels: {gzip: 10}}", "compression.levels: gzip level must be from 1 to 9, got 10"),
        ("{levels: {lz4: 1}}", "compression.levels.lz4: expected 'zstd', 'br' or 'gzip'"),
        ("{encodings: [gzip, gzip]}", "compression.encodings: a coding is listed twice"),
        ("{encodings: []}", "compression.encodings"),
        ("{types: [html]}", "'html' is not a media type"),
        ("{min_size: -1}", "a size cannot be negative"),
        ("{decompress: {max_ratio: 0.5}}", "compression.decompress.max_ratio"),
        ("{decompress: {max_size: 0}}", "compression.decompress.max_size"),
        ("{gzip: true}", "compression.gzip"),
    ],
)
def test_refusals_name_the_line_and_the_problem(setting: str, message: str) -> None:
    found = problems(UP + f"compression: {setting}\nroutes:\n  - {{path: /, upstream: u}}\n")
    assert len(found) == 1
    assert found[0].startswith("gw.yaml:3: ")
    assert message in found[0]


def test_a_route_refusal_names_the_route() -> None:
    found = problems(UP + "routes:\n  - {path: /, upstream: u, compression: {levels: {br: 12}}}\n")
    assert len(found) == 1 and found[0].startswith("gw.yaml:4: routes[0].compression.levels")
