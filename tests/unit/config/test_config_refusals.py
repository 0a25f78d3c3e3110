"""Values a serious gateway refuses at load: weak secrets and keys, zero timeouts, headers the
gateway owns, rules the runtime would reject or silently ignore. Each names the rule it breaks."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config

UP = 'upstreams:\n  u: {targets: ["http://127.0.0.1:9"]}\n'
ROUTE = "routes:\n  - {path: /a/, upstream: u}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env={})
    return [str(p) for p in info.value.problems]


def jwt(fields: str) -> str:
    return UP + "auth:\n  jwt: {" + fields + "}\n" + ROUTE


def with_route(extra: str, before: str = "") -> str:
    return UP + before + "routes:\n  - {path: /a/, upstream: u, " + extra + "}\n"


@pytest.mark.parametrize(("alg", "need"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_secrets_are_at_least_the_hash_size(alg: str, need: int) -> None:
    short = jwt(f"algorithms: [{alg}], secret: {'k' * (need - 1)}")
    assert problems(short) == [
        f"gw.yaml:4: auth.jwt.secret: {alg} needs a secret of at least {need} bytes "
        f"(RFC 7518 §3.2: no shorter than the hash), this one has {need - 1}"
    ]
    parse_config(jwt(f"algorithms: [{alg}], secret: {'k' * need}"), "gw.yaml", env={})


def test_the_longest_hash_in_use_sets_the_secret_size() -> None:
    found = problems(jwt("algorithms: [HS256, HS512], secret: " + "k" * 40))
    assert len(found) == 1 and "HS512 needs a secret of at least 64 bytes" in found[0]


def test_a_secret_is_counted_in_bytes_and_never_echoed() -> None:
    secret = "é" * 15  # 30 bytes in UTF-8
    (found,) = problems(jwt(f"algorithms: [HS256], secret: {secret}"))
    assert "this one has 30" in found and secret not in found


SECRET = "k" * 32
REFUSED = [
    (UP + "listen: 0.0.0.0:8080\nadmin: 127.0.0.1:8080\n" + ROUTE, "admin", "the same port as `listen`"),
    (
        UP + "rate_limit_store: {redis_url: 'redis://r:6379/0'}\n" + ROUTE,
        "rate_limit_store",
        "only used with `backend: redis`",
    ),
    (jwt(f"algorithms: [HS256], secret: {SECRET}, leeway: 10m"), "auth.jwt.leeway", "at most 300s"),
    (
        jwt(f"algorithms: [HS256], secret: {SECRET}, max_token_size: 0"),
        "auth.jwt.max_token_size",
        "larger than 0",
    ),
    (jwt(f"algorithms: [HS256], secret: {SECRET}, issuer: ''"), "auth.jwt.issuer", "cannot be empty"),
    (jwt(f"algorithms: [HS256], secret: {SECRET}, audience: []"), "auth.jwt.audience", "cannot be empty"),
    (
        jwt(f"algorithms: [HS256], secret: {SECRET}, jwks_timeout: 1s"),
        "auth.jwt",
        "only used with `jwks_url`",
    ),
    (jwt("algorithms: [RS256], jwks_url: 'ftp://idp/keys'"), "auth.jwt.jwks_url", "https://"),
    (
        jwt(f"algorithms: [HS256], secret: {SECRET}, claims_to_headers: {{sub: Transfer-Encoding}}"),
        "auth.jwt.claims_to_headers",
        "sets or removes that header",
    ),
    (
        jwt(f"algorithms: [HS256], secret: {SECRET}, claims_to_headers: {{sub: X-Forwarded-For}}"),
        "auth.jwt.claims_to_headers",
        "sets or removes that header",
    ),
    (
        UP
        + "auth:\n  api_keys: {header: Host, consumers: [{name: a, key_sha256: "
        + "a" * 64
        + "}]}\n"
        + ROUTE,
        "auth.api_keys.header",
        "sets or removes that header",
    ),
    (
        UP + "auth:\n  api_keys: {query: '', consumers: [{name: a, key_sha256: " + "a" * 64 + "}]}\n" + ROUTE,
        "auth.api_keys.query",
        "cannot be empty",
    ),
    (
        UP + "auth:\n  api_keys:\n    consumers:\n      - {name: a, key_sha256: " + "a" * 64 + "}\n"
        "      - {name: b, key_sha256: " + "A" * 64 + "}\n" + ROUTE,
        "auth.api_keys.consumers[1].key_sha256",
        "the same key as consumers[0]",
    ),
    (UP + "auth:\n  identity: {token_ttl: 0s}\n" + ROUTE, "auth.identity.token_ttl", "longer than 0s"),
    (UP + "trusted_proxies: ['::/0']\n" + ROUTE, "trusted_proxies", "trusts every address"),
    (UP + "limits: {header_timeout: 0s}\n" + ROUTE, "limits.header_timeout", "longer than 0s"),
    (UP + "limits: {max_request_line: 0}\n" + ROUTE, "limits.max_request_line", "larger than 0 bytes"),
    (UP + "access_log: {flush_interval: 0s}\n" + ROUTE, "access_log.flush_interval", "at least 10ms"),
    (
        UP + "rate_limit_store: {backend: redis, timeout: 0s}\n" + ROUTE,
        "rate_limit_store.timeout",
        "longer than 0s",
    ),
    (
        UP + "rate_limit_store: {backend: redis, redis_url: 'redis://:pw@h:x/0'}\n" + ROUTE,
        "rate_limit_store.redis_url",
        "port is not a number",
    ),
    (
        'upstreams:\n  u: {targets: ["http://h:1"], hash_on: "header:X-T"}\n' + ROUTE,
        "upstreams.u",
        "balance: hash",
    ),
    (
        'upstreams:\n  u: {targets: ["http://h:1"], timeouts: {connect: 0s}}\n' + ROUTE,
        "upstreams.u.timeouts.connect",
        "longer than 0s",
    ),
    (with_route("max_body: 20MB"), "routes[0].max_body", "larger than limits.max_body"),
    (
        with_route("name: x") + "  - {path: /b/, upstream: u, name: x}\n",
        "routes[1].name",
        "names must be unique",
    ),
    (
        with_route("methods: [GET]") + "  - {path: /a/, upstream: u, methods: [get]}\n",
        "routes[1].path",
        "never see a request",
    ),
    (
        with_route("scopes: {GET: []}", "auth:\n  jwt: {algorithms: [HS256], secret: " + SECRET + "}\n"),
        "routes[0].scopes",
        "requires nothing",
    ),
    (
        with_route(
            "rate_limit: {limit: 1, per: 1s, key: 'ip+api_key'}",
            "auth:\n  jwt: {algorithms: [HS256], secret: " + SECRET + "}\n",
        ),
        "routes[0].rate_limit.key",
        "'api_key' needs `auth.api_keys`",
    ),
    (
        with_route("cors: {origins: ['https://a.example'], methods: ['GÉT']}"),
        "routes[0].cors.methods",
        "not a valid name",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), REFUSED, ids=[key for _, key, _ in REFUSED])
def test_refused_with_key_and_reason(text: str, key: str, fragment: str) -> None:
    found = problems(text)
    assert any(p.split(": ", 2)[1] == key and fragment in p for p in found), found


def test_the_redis_password_is_never_repeated() -> None:
    (found,) = problems(UP + "rate_limit_store: {backend: redis, redis_url: 'ftp://:hunter2@h/0'}\n" + ROUTE)
    assert "hunter2" not in found


ACCEPTED = [
    with_route("methods: [GET]") + "  - {path: /a/, upstream: u, methods: [POST]}\n",  # split by method
    with_route("methods: [GET]") + "  - {path: /a/, upstream: u}\n",  # GET here, the rest there
    with_route("path2: 1").replace(", path2: 1", "") + "  - {path: '/a/{id}', upstream: u}\n",
    UP + "routes:\n  - {path: '/a/{id}', upstream: u}\n  - {path: '/a/{id}/x', upstream: u}\n",
    UP
    + "routes:\n  - {path: '/a/{id}', upstream: u, host: x.example}\n  - {path: '/a/{key}', upstream: u}\n",
    UP + "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n" + ROUTE,  # port 0: the kernel picks two
    UP + "limits: {keepalive_timeout: 0s, max_body: 0}\n" + ROUTE,  # choices, not mistakes
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_legitimate_configs_still_load(text: str) -> None:
    parse_config(text, "gw.yaml", env={})
