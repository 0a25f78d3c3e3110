"""pydantic's union member tags never reach a message: key paths as the user wrote them, one plain
message when no member of a union fits, the fitting member's own complaint when one does."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config

UP = 'upstreams:\n  u: {targets: ["http://127.0.0.1:9"]}\n'
JWT = "auth:\n  jwt: {algorithms: [HS256], secret: " + "k" * 32 + "%s}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env={})
    return [str(p) for p in info.value.problems]


def route(extra: str) -> str:
    return UP + "routes:\n  - {path: /a/, upstream: u, " + extra + "}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # no member fits: one message saying what the key accepts
        (
            route("rate_limit: 5"),
            "gw.yaml:4: routes[0].rate_limit: expected a rate-limit rule ({limit, per}) or a list of them",
        ),
        (
            route("cors: true"),
            "gw.yaml:4: routes[0].cors: expected a CORS mapping ({origins: [...]}) or false",
        ),
        (UP + JWT % ", audience: 5", "gw.yaml:4: auth.jwt.audience: expected a string or a list of strings"),
        (
            route("roles: 5"),
            "gw.yaml:4: routes[0].roles: expected a list of roles, or a mapping of METHOD to a list of roles",
        ),
        # one member has the input's shape: its complaint, at the key inside the value
        (
            route("rate_limit: {limit: 0, per: 1s}"),
            "gw.yaml:4: routes[0].rate_limit.limit: must be at least 1",
        ),
        (
            route("rate_limit: [{limit: 1, per: 1s}, {limit: 1}]"),
            "gw.yaml:4: routes[0].rate_limit[1].per: required key is missing",
        ),
        (route("cors: {}"), "gw.yaml:4: routes[0].cors.origins: required key is missing"),
        (
            route("cors: {origins: ['*'], credentials: true}"),
            "gw.yaml:4: routes[0].cors: credentials cannot be used with origin '*' (Fetch standard); "
            "list the origins",
        ),
        (UP + JWT % ", audience: [a, 5]", "gw.yaml:4: auth.jwt.audience[1]: expected a string"),
        (route("scopes: {GET: 5}"), "gw.yaml:4: routes[0].scopes.GET: expected a list"),
    ],
    ids=[
        "rate-limit",
        "cors",
        "audience",
        "roles",
        "rule-field",
        "rule-in-list",
        "cors-field",
        "cors-rule",
        "audience-item",
        "per-method",
    ],
)
def test_union_errors_read_as_the_config_was_written(text: str, expected: str) -> None:
    assert problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limits: 5\n", "gw.yaml:1: limits: expected a mapping"),
        ("limits: {max_headers: 0}\n", "gw.yaml:1: limits.max_headers: must be at least 1"),
        ("limits: {bogus: 1}\n", "gw.yaml:1: limits.bogus: unknown key"),
        (UP + "routes:\n  - {upstream: u}\n", "gw.yaml:4: routes[0].path: required key is missing"),
        (
            'upstreams:\n  u: {targets: ["http://h:1"], balance: random}\n',
            "gw.yaml:2: upstreams.u.balance: expected 'round_robin', 'least_conn', 'hash' or 'ewma'",
        ),
        ("access_log: {enabled: maybe}\n", "gw.yaml:1: access_log.enabled: expected true or false"),
    ],
)
def test_plain_messages_name_no_pydantic_type(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_no_message_anywhere_leaks_a_type_name() -> None:
    text = route("rate_limit: [5], cors: 1, roles: {GET: [1]}, methods: 7") + JWT % ", audience: {}"
    for problem in problems(text):
        for leak in (
            "RateLimitRule",
            "CorsConfig",
            "function-after",
            "literal[",
            "list[",
            "dict[",
            "Input should",
        ):
            assert leak not in problem, problem
