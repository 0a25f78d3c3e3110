"""PW020-PW023: credentials written into deploy files."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import AuditYaml, rule_ids

from portway.audit.rules.credentials import written_value


def _service(environment: str) -> str:
    return (
        "services:\n  app:\n    image: acme/app\n    networks: [private]\n"
        f"    environment: {environment}\nnetworks: {{private: {{internal: true}}}}\n"
    )


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("{API_TOKEN: 9f8e7d6c5b4a}", ["PW020"]),
        ("[JWT_SECRET=super-secret-key]", ["PW020"]),
        ("{DATABASE_URL: 'postgresql://shop:s3cr3t-x@db/shop'}", ["PW020"]),
        ("{POSTGRES_PASSWORD: password}", ["PW021"]),
        ("{DB_PASSWORD: '${DB_PASSWORD:-changeme}'}", ["PW021"]),
        ("{AMQP_URL: 'amqp://guest:guest@rabbit:5672/'}", ["PW021"]),
        ("{POSTGRES_HOST_AUTH_METHOD: trust}", ["PW022"]),
        ("[MYSQL_ALLOW_EMPTY_PASSWORD=yes]", ["PW022"]),
    ],
)
def test_credentials_written_in_the_file(
    audit_yaml: AuditYaml, environment: str, expected: list[str]
) -> None:
    report = audit_yaml(_service(environment))
    assert rule_ids(report) == expected
    assert "s3cr3t" not in report.findings[0].message  # a report never repeats a secret


@pytest.mark.parametrize(
    "environment",
    [
        "{POSTGRES_PASSWORD_FILE: /run/secrets/db_password}",
        "{DB_PASSWORD: '${DB_PASSWORD}'}",
        "{DB_PASSWORD: '${DB_PASSWORD:?set DB_PASSWORD}'}",
        "[API_TOKEN]",
        "{DATABASE_URL: 'postgresql+asyncpg://shop:${DB_PASSWORD:?}@db/shop'}",
        "{TOKEN_TTL: 15m, PASSWORD_MIN_LENGTH: 12, SECRET_NAME: shop}",
        "{POSTGRES_HOST_AUTH_METHOD: scram-sha-256}",
    ],
)
def test_references_and_non_secrets_pass(audit_yaml: AuditYaml, environment: str) -> None:
    assert rule_ids(audit_yaml(_service(environment))) == []


def test_env_file_is_checked_for_well_known_values_only(audit_yaml: AuditYaml, tmp_path: Path) -> None:
    (tmp_path / "db.env").write_text(
        "# local\nPOSTGRES_USER=shop\nPOSTGRES_PASSWORD=postgres\nAPI_TOKEN=a1b2c3d4e5\n"
    )
    report = audit_yaml(_service("{}").replace("environment: {}", "env_file: [db.env, missing.env]"))
    assert rule_ids(report) == ["PW021"]
    assert report.findings[0].location.file.endswith("db.env")
    assert report.findings[0].location.line == 3


def test_password_on_the_command_line(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        "services:\n  cache:\n    image: redis\n    networks: [d]\n"
        "    command: redis-server --requirepass redis --protected-mode no\nnetworks: {d: {internal: true}}\n"
    )
    assert rule_ids(report) == ["PW021", "PW022"]


def test_written_value_takes_defaults_and_drops_references() -> None:
    assert written_value("${A:-x}y$B${C}") == "xy"
    assert written_value("${A-x}") == "x"
    assert written_value("${A:?required}") == ""
    assert written_value("$$literal") == "$literal"
    assert written_value("$(DB_PASSWORD)") == ""  # Kubernetes: another variable of the container
