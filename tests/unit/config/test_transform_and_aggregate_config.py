"""Header transforms and aggregate routes at load: what is refused (with file:line and the key),
and how request-time templates live beside the config's own ``${VAR}`` interpolation."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config

KNOWN = "(known: client_ip, host, method, path, request_id, route, header.<Name>, claims.<name>)"
OWNED = "the gateway sets or removes that header itself"
CALL = "  - path: /me\n    upstream: u\n    aggregate:\n      calls:\n        - "
UP = 'upstreams:\n  u: {targets: ["http://127.0.0.1:9"]}\n  v: {targets: ["http://127.0.0.1:9"]}\n'


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env=env or {})
    return [str(p) for p in info.value.problems]


def transforms(block: str) -> str:
    return UP + "routes:\n  - path: /a/\n    upstream: u\n    headers:\n" + block


def test_request_variables_are_kept_for_the_request_and_env_variables_filled_at_load() -> None:
    text = transforms("      request:\n        set: {X-Who: '${claims.sub} ${request_id} ${DEPLOY}'}\n")
    config = parse_config(text, "gw.yaml", env={"DEPLOY": "eu-1", "request_id": "not me"})
    transforms_ = config.routes[0].headers
    assert transforms_ and transforms_.request.set == {"X-Who": "${claims.sub} ${request_id} eu-1"}


def test_an_unset_env_variable_in_a_template_is_still_an_env_error() -> None:
    text = transforms("      request:\n        set: {X-Who: '${DEPLOY}'}\n")
    assert problems(text) == [
        "gw.yaml:9: routes[0].headers.request.set.X-Who: environment variable DEPLOY is not set "
        "(use ${DEPLOY:-default} for a fallback)"
    ]


@pytest.mark.parametrize(
    ("block", "found"),
    [
        (
            "      request:\n        set:\n          X-Who: '${claim.sub}'\n",
            "gw.yaml:10: routes[0].headers.request.set.X-Who: unknown variable ${claim.sub} " + KNOWN,
        ),
        (
            "      request:\n        set:\n          X-Who: 'a ${claims.sub'\n",
            "gw.yaml:10: routes[0].headers.request.set.X-Who: "
            "'${claims.sub': a variable without its closing '}'",
        ),
        (
            "      response:\n        add:\n          Content-Length: '1'\n",
            "gw.yaml:10: routes[0].headers.response.add.Content-Length: Content-Length: " + OWNED,
        ),
        (
            "      request:\n        remove: [Host, X-Ok]\n",
            "gw.yaml:9: routes[0].headers.request.remove[0]: Host: " + OWNED,
        ),
        (
            "      request:\n        set: {X_Forwarded_For: 1.2.3.4}\n",
            "gw.yaml:9: routes[0].headers.request.set.X_Forwarded_For: X_Forwarded_For: " + OWNED,
        ),
        (
            "      request:\n        set: {X-User-Id: admin}\n",
            "gw.yaml:9: routes[0].headers.request.set.X-User-Id: X-User-Id: " + OWNED,
        ),
        (
            "      request:\n        add: {traceparent: x}\n",
            "gw.yaml:9: routes[0].headers.request.add.traceparent: traceparent: " + OWNED,
        ),
        (
            '      response:\n        set: {X-A: "a\\r\\nX-B: b"}\n',
            "gw.yaml:9: routes[0].headers.response.set.X-A: "
            "a control character (CR, LF, TAB…) cannot be sent in a header value",
        ),
        (
            "      request:\n        remove: [X-A]\n        set: {x-a: b}\n",
            "gw.yaml:9: routes[0].headers.request: x-a is named twice (in `remove` and `set`)",
        ),
    ],
)
def test_refused_transforms_name_their_line_and_key(block: str, found: str) -> None:
    assert problems(transforms(block)) == [found]


def test_a_configured_identity_header_cannot_be_transformed() -> None:
    text = (
        UP
        + "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: " + "k" * 32 + "\n"
        + "    claims_to_headers: {sub: X-Subject}\n"
        + "routes:\n  - path: /a/\n    upstream: u\n    headers:\n"
        + "      request:\n        set: {x-subject: me}\n"
    )  # fmt: skip
    assert problems(text) == [
        "gw.yaml:14: routes[0].headers.request.set.x-subject: x-subject is an identity header: only a "
        "verified credential sets it"
    ]


def test_a_gateway_wide_default_and_a_route_that_turns_it_off() -> None:
    text = UP + "headers:\n  response:\n    set: {X-Frame-Options: DENY}\n"
    text += "routes:\n  - {path: /a/, upstream: u}\n  - {path: /b/, upstream: u, headers: false}\n"
    config = parse_config(text, "gw.yaml", env={})
    assert config.headers and config.headers.response.set == {"X-Frame-Options": "DENY"}
    assert config.routes[1].headers is False


def aggregate(route: str) -> str:
    return UP + "routes:\n" + route


def test_an_aggregate_route_may_leave_the_upstream_to_its_calls() -> None:
    text = aggregate(
        "  - path: /me\n    aggregate:\n      mode: group\n      max_bytes: 64KB\n      calls:\n"
        "        - {upstream: u, path: '/users/${claims.sub}', key: user, timeout: 1s}\n"
        "        - {upstream: v, path: '/orders?for=${claims.sub}', key: orders}\n"
    )
    route = parse_config(text, "gw.yaml", env={}).routes[0]
    assert route.upstream is None and route.aggregate is not None
    assert route.aggregate.max_bytes == 64 * 1024
    assert [(c.key, c.timeout) for c in route.aggregate.calls] == [("user", 1.0), ("orders", None)]


@pytest.mark.parametrize(
    ("route", "found"),
    [
        ("  - {path: /a/}\n", "gw.yaml:5: routes[0].upstream: required key is missing"),
        (
            "  - path: /me\n    aggregate:\n      calls:\n        - {path: /x, key: a}\n",
            "gw.yaml:8: routes[0].aggregate.calls[0].upstream: required key is missing (the route names no "
            "`upstream` to default to)",
        ),
        (
            "  - path: /me\n    aggregate:\n      calls:\n        - {upstream: w, path: /x, key: a}\n",
            "gw.yaml:8: routes[0].aggregate.calls[0].upstream: unknown upstream 'w' (known: u, v)",
        ),
        (
            "  - path: /me\n    upstream: u\n    aggregate:\n      calls:\n"
            "        - {path: /x, key: a}\n        - {path: /y, key: a}\n",
            "gw.yaml:8: routes[0].aggregate: calls: each key names one call; a is used twice",
        ),
        (
            CALL + "{path: 'x/${method}', key: a}\n",
            "gw.yaml:9: routes[0].aggregate.calls[0].path: must start with '/'",
        ),
        (
            CALL + "{path: '/${nope.x}', key: a}\n",
            "gw.yaml:9: routes[0].aggregate.calls[0].path: unknown variable ${nope.x} " + KNOWN,
        ),
        (
            CALL + "{path: /x, key: 'a b'}\n",
            "gw.yaml:9: routes[0].aggregate.calls[0].key: must be 1 to 64 letters, digits, '_', '.' or '-' "
            "(it is sent in a header)",
        ),
        (
            "  - path: /me\n    upstream: u\n    methods: [GET, POST]\n    aggregate:\n      calls:\n"
            "        - {path: /x, key: a}\n",
            "gw.yaml:5: routes[0]: methods: an aggregate route answers GET and HEAD only",
        ),
        (
            "  - path: /me\n    upstream: u\n    rewrite: /y\n    aggregate:\n      calls:\n"
            "        - {path: /x, key: a}\n",
            "gw.yaml:5: routes[0]: rewrite: not used by an aggregate route (its calls name their paths)",
        ),
        (
            "  - path: /me\n    upstream: u\n    aggregate:\n      max_bytes: 0\n      calls:\n"
            "        - {path: /x, key: a}\n",
            "gw.yaml:8: routes[0].aggregate.max_bytes: must be larger than 0 bytes",
        ),
    ],
)
def test_refused_aggregates_name_their_line_and_key(route: str, found: str) -> None:
    assert problems(aggregate(route)) == [found]
