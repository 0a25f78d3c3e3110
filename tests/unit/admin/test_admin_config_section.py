"""The ``admin:`` section: a bare address or {listen, token}; a token is required off loopback,
refused when short, and never shown."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config

TOKEN = "t0k3n-" + "x" * 26


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env={})
    return [str(p) for p in info.value.problems]


def test_a_bare_address_is_the_listen_address_without_a_token() -> None:
    admin = parse_config("admin: 127.0.0.1:9901\n", "gw.yaml", env={}).admin
    assert admin is not None and (admin.listen, admin.token, admin.loopback) == ("127.0.0.1:9901", None, True)


@pytest.mark.parametrize("address", ["0.0.0.0:9901", "[::]:9901", "10.0.0.5:9901", "admin.internal:9901"])
def test_off_loopback_a_token_is_required_and_the_error_has_its_line(address: str) -> None:
    (found,) = problems(f"listen: 127.0.0.1:8080\nadmin: {{listen: '{address}'}}\n")
    assert found.startswith("gw.yaml:2: admin: ") and "not a loopback address: set `admin.token`" in found


def test_off_loopback_with_a_token_loads_and_the_token_comes_from_the_environment() -> None:
    config = parse_config(
        "admin: {listen: 0.0.0.0:9901, token: '${ADMIN_TOKEN}'}\n", "gw.yaml", env={"ADMIN_TOKEN": TOKEN}
    )
    assert config.admin is not None and config.admin.token == TOKEN and not config.admin.loopback


@pytest.mark.parametrize("address", ["127.0.0.1:9901", "[::1]:9901", "localhost:9901", "127.0.0.2:9901"])
def test_loopback_needs_no_token(address: str) -> None:
    admin = parse_config(f"admin: {{listen: '{address}'}}\n", "gw.yaml", env={}).admin
    assert admin is not None and admin.token is None and admin.loopback


def test_a_short_token_is_refused_without_being_echoed() -> None:
    (found,) = problems("admin: {listen: 127.0.0.1:9901, token: abcdefgh}\n")
    assert found == "gw.yaml:1: admin.token: the admin token must be at least 16 bytes"


def test_an_empty_token_from_an_unset_variable_means_none() -> None:
    admin = parse_config(
        "admin: {listen: 127.0.0.1:9901, token: '${ADMIN_TOKEN:-}'}\n", "gw.yaml", env={}
    ).admin
    assert admin is not None and admin.token is None


def test_the_token_is_not_in_the_repr() -> None:
    config = parse_config(f"admin: {{listen: 127.0.0.1:9901, token: {TOKEN}}}\n", "gw.yaml", env={})
    assert TOKEN not in repr(config) and TOKEN not in repr(config.admin)


def test_an_unknown_admin_key_is_refused_with_its_line() -> None:
    (found,) = problems("admin:\n  listen: 127.0.0.1:9901\n  tokne: x\n")
    assert found.startswith("gw.yaml:3: admin.tokne: ")
