"""Credentials by meaning: runtime-read secrets and placeholders are not inline credentials;
published defaults are errors; settings and stores that switch authentication off are findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import AuditYaml, rule_ids


def _service(body: str, image: str = "acme/app") -> str:
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    head = f"services:\n  app:\n    image: {image}\n    networks: [p]\n"
    return head + lines + "networks: {p: {internal: true}}\n"


@pytest.mark.parametrize(
    "body",
    [
        # read by the container when it starts
        "entrypoint: [sh, -c, 'export DB_PASSWORD=$$(< $$DB_PASSWORD_FILE); exec app']",
        "environment: {DB_PASSWORD: '$$(cat /run/secrets/db)'}",
        "environment: {API_TOKEN: '$${VAULT_TOKEN}'}",
        "environment: {DB_PASSWORD_FILE: /run/secrets/db_password}",
        "environment: {JWT_SECRET: /run/secrets/jwt}",
        "secrets: [db_password]\nenvironment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}",
        # placeholders nobody runs with
        "environment: {API_KEY: <your-api-key>}",
        "environment: [SECRET_KEY=your_secret_key_here]",
        "environment: {STRIPE_SECRET: xxxxxxxx}",
        "environment: {SMTP_PASSWORD: '********'}",
        "environment: {OAUTH_SECRET: REPLACE_ME}",
        # settings named like secrets
        "environment: {MYSQL_RANDOM_ROOT_PASSWORD: 'yes', MYSQL_ALLOW_EMPTY_PASSWORD: 'no'}",
        "environment: {ACCESS_TOKEN_EXPIRE_MINUTES: 30, AWS_ACCESS_KEY_ID: AKIAEXAMPLE}",
        "environment: {SECRET_BACKEND: vault}",
    ],
)
def test_not_inline_credentials(audit_yaml: AuditYaml, body: str) -> None:
    assert rule_ids(audit_yaml(_service(body))) == []


@pytest.mark.parametrize(
    "value",
    ["example", "changeme", "mysecretpassword", "my-secret-pw", "minioadmin", "YourStrong@Passw0rd", "guest"],
)
def test_published_defaults_are_errors(audit_yaml: AuditYaml, value: str) -> None:
    report = audit_yaml(_service(f"environment: {{POSTGRES_PASSWORD: '{value}'}}"))
    assert rule_ids(report) == ["PW021"]


def test_default_committed_in_dotenv(audit_yaml: AuditYaml, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_PASSWORD=changeme\n")
    report = audit_yaml(_service("environment: {POSTGRES_PASSWORD: '${DB_PASSWORD}'}"))
    assert rule_ids(report) == ["PW021"]
    assert ".env:1" in report.findings[0].message


@pytest.mark.parametrize(
    "body",
    [
        "environment: {POSTGRES_HOST_AUTH_METHOD: trust}",
        "environment: {AUTH_TYPE: trust}",
        "environment: [ALLOW_EMPTY_PASSWORD=yes]",
        "environment: {xpack.security.enabled: 'false'}",
        "environment: {DISABLE_SECURITY_PLUGIN: 'true'}",
        "environment: {NEO4J_AUTH: none}",
        "command: [elasticsearch, -Expack.security.enabled=false]",
        "command: mysqld --skip-grant-tables",
        "command: [start-notebook.sh, --ServerApp.token='']",
    ],
)
def test_authentication_switched_off(audit_yaml: AuditYaml, body: str) -> None:
    assert rule_ids(audit_yaml(_service(body))) == ["PW022"]


@pytest.mark.parametrize(
    ("image", "body", "expected"),
    [
        ("redis:7", "ports: ['6379:6379']", ["PW001", "PW022"]),
        (
            "redis:7",
            "ports: ['6379:6379']\ncommand: redis-server --requirepass ${REDIS_PASSWORD:?}",
            ["PW001"],
        ),
        (
            "redis:7",
            "ports: ['6379:6379']\ncommand: [redis-server, /usr/local/etc/redis/redis.conf]",
            ["PW001"],
        ),
        ("redis:7", "expose: ['6379']", []),
        ("mongo:7", "ports: ['27017:27017']", ["PW001", "PW022"]),
        (
            "mongo:7",
            "ports: ['27017:27017']\nenvironment: [MONGO_INITDB_ROOT_USERNAME, MONGO_INITDB_ROOT_PASSWORD]",
            ["PW001"],
        ),
    ],
)
def test_published_stores_without_authentication(
    audit_yaml: AuditYaml, image: str, body: str, expected: list[str]
) -> None:
    assert rule_ids(audit_yaml(_service(body, image))) == expected
