"""Redaction of the config the admin API shows: data in, data out."""

from __future__ import annotations

import json

from portway.admin.redact import REDACTED, redact
from portway.admin.version import config_version
from portway.config import parse_config

SECRETS = {
    "jwt": "j" * 40,
    "signing": "s" * 40,
    "token": "admin-token-" + "a" * 20,
    "redis": "r3dis-pa55",
    "collector": "Bearer collector-key-123",
    "db": "db-password-777",
}
CONFIG = f"""
admin: {{listen: 127.0.0.1:9901, token: {SECRETS["token"]}}}
auth:
  jwt: {{algorithms: [HS256], secret: {SECRETS["jwt"]}}}
  identity: {{signing_key: {SECRETS["signing"]}}}
rate_limit_store: {{backend: redis, redis_url: "redis://:{SECRETS["redis"]}@127.0.0.1:6379/0"}}
tracing: {{headers: {{authorization: "{SECRETS["collector"]}"}}}}
upstreams:
  u: {{targets: ["http://127.0.0.1:9"], tls: {{cert: /etc/portway/client.pem, key: /etc/portway/client.key}}}}
services:
  u:
    command: [python, -m, svc, "{{socket}}"]
    env:
      DB_PASSWORD: {SECRETS["db"]}
      DATABASE_URL: "postgresql://shop:{SECRETS["db"]}@db/shop"
      MODE: demo
routes:
  - {{path: /a/, upstream: u, auth: required}}
"""


def dumped() -> object:
    return parse_config(CONFIG, "gw.yaml", env={}).model_dump(mode="json")


def test_no_secret_survives_and_the_rest_stays() -> None:
    redacted, removed = redact(dumped())
    text = json.dumps(redacted)
    for secret in SECRETS.values():
        assert secret not in text
    doc: dict = redacted  # type: ignore[assignment]
    assert doc["auth"]["jwt"]["secret"] == REDACTED
    assert doc["auth"]["jwt"]["algorithms"] == ["HS256"]
    assert doc["rate_limit_store"]["redis_url"] == f"redis://:{REDACTED}@127.0.0.1:6379/0"
    assert doc["services"]["u"]["env"] == {
        "DB_PASSWORD": REDACTED,
        "DATABASE_URL": f"postgresql://shop:{REDACTED}@db/shop",
        "MODE": "demo",
    }
    # where a key file is, is not a secret
    assert doc["upstreams"]["u"]["tls"]["key"] == "/etc/portway/client.key"
    assert {value for _, value in removed} == set(SECRETS.values())


def test_a_secret_query_parameter_is_redacted_and_others_kept() -> None:
    redacted, removed = redact({"jwks_url": "https://idp.example/jwks?api_key=abc123&tenant=t1"})
    assert redacted == {"jwks_url": f"https://idp.example/jwks?api_key={REDACTED}&tenant=t1"}
    assert removed == [("jwks_url?api_key", "abc123")]


def test_the_items_of_a_secret_named_list_are_redacted() -> None:
    redacted, removed = redact({"fallback_tokens": ["t1", "t2"], "public_keys": ["/etc/k.pem"]})
    assert redacted == {"fallback_tokens": [REDACTED, REDACTED], "public_keys": ["/etc/k.pem"]}
    assert removed == [("fallback_tokens.0", "t1"), ("fallback_tokens.1", "t2")]


def test_unset_secrets_stay_null_and_non_strings_are_kept() -> None:
    assert redact({"secret": None, "token_ttl": 60.0, "password": ""}) == (
        {"secret": None, "token_ttl": 60.0, "password": REDACTED},
        [("password", "")],
    )


def test_the_version_is_stable_and_follows_secrets() -> None:
    first = config_version(*redact(dumped()))
    assert first == config_version(*redact(dumped()))
    rotated = parse_config(CONFIG.replace(SECRETS["jwt"], "k" * 40), "gw.yaml", env={})
    assert config_version(*redact(rotated.model_dump(mode="json"))) != first
    reformatted = parse_config(CONFIG.replace("  - {path: /a/,", "  -   {path: '/a/',"), "gw.yaml", env={})
    assert config_version(*redact(reformatted.model_dump(mode="json"))) == first
