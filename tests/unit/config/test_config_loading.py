"""Config as data in, models or located errors out: units, interpolation, line numbers, duplicates."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config
from portway.config.interpolate import MissingVariable, interpolate
from portway.config.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("250ms", 0.25), ("5s", 5.0), ("15m", 900.0), ("1h", 3600.0), ("1d", 86400.0), ("1.5s", 1.5),
     (" 2 s ", 2.0), ("3", 3.0), (3, 3.0), (0.5, 0.5), ("0", 0.0)],
)  # fmt: skip
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5 parsecs", "s", "", "-1s", -1, True, None, "5S", "1w"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [("10MB", 10 * 1024**2), ("512KB", 512 * 1024), ("1GB", 1024**3), ("1gib", 1024**3), ("100", 100),
     ("2k", 2048), ("1.5MB", int(1.5 * 1024**2)), (4096, 4096), ("0B", 0)],
)  # fmt: skip
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["lots", "10 TB", "-1", -5, False, 1.5, ""])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


def test_interpolation() -> None:
    env = {"HOST": "users", "EMPTY": ""}
    assert interpolate("http://${HOST}:80", env) == "http://users:80"
    assert interpolate("${MISSING:-fallback}", env) == "fallback"
    assert interpolate("${EMPTY:-fallback}", env) == "fallback"  # empty counts as unset with a default
    assert interpolate("${EMPTY}", env) == ""
    assert interpolate("$$HOST costs $$5", env) == "$HOST costs $5"
    assert interpolate("no dollars", env) == "no dollars"
    with pytest.raises(MissingVariable, match="MISSING_ONE") as info:
        interpolate("a ${MISSING_ONE} b", env)
    assert info.value.name == "MISSING_ONE"


CONFIG = """\
listen: 127.0.0.1:8080
limits:
  header_timeout: ${HEADER_TIMEOUT:-5s}
upstreams:
  users:
    targets: ["${USERS}"]
routes:
  - path: /api/
    upstream: users
"""


def test_interpolated_values_are_validated_with_units() -> None:
    config = parse_config(CONFIG, "gw.yaml", env={"USERS": "http://10.0.0.1:80"})
    assert config.limits.header_timeout == 5.0
    assert config.upstreams["users"].targets == ["http://10.0.0.1:80"]
    config = parse_config(CONFIG, "gw.yaml", env={"USERS": "unix:/run/u.sock", "HEADER_TIMEOUT": "250ms"})
    assert config.limits.header_timeout == 0.25


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env=env or {})
    return [str(p) for p in info.value.problems]


def test_missing_variable_names_it_with_file_and_line() -> None:
    assert problems(CONFIG) == [
        "gw.yaml:6: upstreams.users.targets[0]: environment variable USERS is not set "
        "(use ${USERS:-default} for a fallback)"
    ]


def test_errors_carry_line_and_key_path() -> None:
    text = CONFIG.replace("upstream: users", "upstream: usres").replace("${HEADER_TIMEOUT:-5s}", "soon")
    found = problems(text, {"USERS": "http://u:1"})
    assert any(p.startswith("gw.yaml:3: limits.header_timeout: invalid duration") for p in found), found


def test_cross_reference_errors_carry_line() -> None:
    text = CONFIG.replace("upstream: users", "upstream: usres")
    assert problems(text, {"USERS": "http://u:1"}) == [
        "gw.yaml:9: routes[0].upstream: unknown upstream 'usres' (known: users)"
    ]


def test_unknown_keys_are_errors_with_their_line() -> None:
    text = CONFIG + "    rewrtie: /x/\n"
    found = problems(text, {"USERS": "http://u:1"})
    assert len(found) == 1 and found[0].startswith("gw.yaml:10: routes[0].rewrtie:"), found


def test_duplicate_keys_are_errors() -> None:
    text = CONFIG.replace("limits:\n", "limits:\n  max_headers: 10\n  max_headers: 20\n")
    found = problems(text, {"USERS": "http://u:1"})
    assert found == ["gw.yaml:4: limits.max_headers: duplicate key"]


def test_every_problem_is_reported_at_once() -> None:
    text = CONFIG.replace("${HEADER_TIMEOUT:-5s}", "soon").replace("path: /api/", "path: api/")
    found = problems(text, {"USERS": "http://u:1"})
    assert [p.split(":")[1] for p in found] == ["3", "8"], found


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("- a\n- b\n", "expected a mapping"), ("a: [\n", "invalid YAML")],
)
def test_unusable_files(text: str, fragment: str) -> None:
    assert fragment in problems(text)[0]


def test_targets_and_routes_are_validated() -> None:
    base = CONFIG.replace('"${USERS}"', "{target}")
    bad = problems(base.replace("{target}", "ftp://x"))
    assert "invalid target" in bad[0] and bad[0].startswith("gw.yaml:6:")
    assert (
        "must start with '/'"
        in problems(CONFIG.replace("path: /api/", "path: api/"), {"USERS": "http://u:1"})[0]
    )


def test_a_key_yaml_1_1_reads_as_a_boolean_is_its_name() -> None:
    config = parse_config(
        "upstreams:\n  svc:\n    targets: ['http://127.0.0.1:1']\n"
        "    retries: {attempts: 3, on: [connect, 503]}\n"
        "routes: [{path: /, upstream: svc}]\n"
    )
    retries = config.upstreams["svc"].retries
    assert retries is not None and retries.on == ["connect", 503] and retries.attempts == 3
