"""Compose is resolved before it is judged: interpolation, `.env`, `-f` merges, `extends`,
`include`, `profiles` (fixtures/resolution holds one project per capability)."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import FIXTURES, AuditYaml, rule_ids

from portway.audit import AuditInputError, audit
from portway.audit.interpolation import Environment

RESOLUTION = FIXTURES / "resolution"


@pytest.mark.parametrize(
    ("text", "value", "unknown"),
    [
        ("${SET}", "x", ()),
        ("$SET/path", "x/path", ()),
        ("${UNSET}", "", ("UNSET",)),
        ("${UNSET:-d}", "d", ()),
        ("${EMPTY:-d}", "d", ()),
        ("${EMPTY-d}", "", ()),
        ("${UNSET-d}", "d", ()),
        ("${UNSET:-${SET}y}", "xy", ()),
        ("${UNSET:?needed}", "", ("UNSET",)),
        ("${UNSET?needed}", "", ("UNSET",)),
        ("${SET:?needed}", "x", ()),
        ("${SET:+alt}", "alt", ()),
        ("${EMPTY:+alt}", "", ()),
        ("${EMPTY+alt}", "alt", ()),
        ("$$SET $${SET}", "$SET ${SET}", ()),
        ("$$(< $$FILE)", "$(< $FILE)", ()),
        ("${SQL_PORT:-127.0.0.1:13306}:3306", "127.0.0.1:13306:3306", ()),
    ],
)
def test_interpolation(text: str, value: str, unknown: tuple[str, ...]) -> None:
    resolved = Environment({"SET": "x", "EMPTY": ""}).resolve(text)
    assert (resolved.value, resolved.unknown) == (value, unknown)


def test_port_judged_by_its_default(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          db:
            image: mysql:8
            ports: ["${SQL_PORT:-127.0.0.1:13306}:3306"]
        """
    )
    assert "PW001" not in rule_ids(report) and "PW003" in rule_ids(report)
    assert report.before == 0


def test_environment_overrides_the_default(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        'services:\n  db:\n    image: mysql:8\n    ports: ["${SQL_PORT:-127.0.0.1:13306}:3306"]\n'
    )
    report = audit([tmp_path / "compose.yaml"], environ={"SQL_PORT": "13306"})
    assert "PW001" in rule_ids(report) and "PW003" not in rule_ids(report)
    assert report.before == 1


def test_dotenv_beside_the_file_and_process_environment_wins() -> None:
    report = audit([RESOLUTION / "envdefault"], environ={})
    stack = report.stacks[0]
    assert stack.workload("mysql").image == "mysql:8.4"  # type: ignore[union-attr]  # from .env
    assert stack.workload("app").image == "ghcr.io/acme/app:latest"  # type: ignore[union-attr]
    assert stack.workload("cache").exposures[0].loopback_only  # type: ignore[union-attr]
    assert (report.before, report.after) == (1, 1)
    # MYSQL_ROOT_PASSWORD is required (`:?`) and unset: supplied when deploying, not inline.
    assert not [f for f in report.findings if f.rule.id.startswith("PW02")]

    exposed = audit([RESOLUTION / "envdefault"], environ={"REDIS_BIND": "0.0.0.0"})
    assert [f.subject for f in exposed.findings if f.rule.id == "PW001"] == ["cache"]


def test_env_file_option_replaces_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("REDIS_BIND=10.0.0.5\n")
    report = audit([RESOLUTION / "envdefault"], environ={}, env_files=[env_file])
    assert [f.subject for f in report.findings if f.rule.id == "PW001"] == ["cache"]
    with pytest.raises(AuditInputError, match=r"missing\.env: env file not found"):
        audit([RESOLUTION / "envdefault"], environ={}, env_files=[tmp_path / "missing.env"])


def test_unset_variable_is_named_in_the_finding(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          proxy: {image: "traefik:v3", ports: ["443:443"]}
          db: {image: "postgres:16", ports: ["${DB_BIND}:5432:5432"]}
        """
    )
    finding = next(f for f in report.findings if f.rule.id == "PW001")
    assert "depends on ${DB_BIND}, not set here" in finding.message


def test_override_file_found_beside_the_base_is_merged() -> None:
    report = audit([RESOLUTION / "overrides"], environ={})
    assert sorted((f.rule.id, f.subject) for f in report.findings) == [
        ("PW001", "db"),
        ("PW002", "api"),
        ("PW010", "db"),
    ]
    db_finding = next(f for f in report.findings if f.rule.id == "PW001")
    assert db_finding.location.file.endswith("compose.override.yaml")
    api = report.stacks[0].workload("api")
    assert api is not None and {e.name: e.value for e in api.env} == {"LOG_LEVEL": "debug"}


def test_base_file_alone_when_named() -> None:
    report = audit([RESOLUTION / "overrides" / "compose.yaml"], environ={})
    assert rule_ids(report) == ["PW010"]


def test_dash_f_files_merge_in_order() -> None:
    base, override = (
        RESOLUTION / "overrides" / "compose.yaml",
        RESOLUTION / "overrides" / "compose.override.yaml",
    )
    report = audit([], compose_files=[base, override], environ={})
    assert len(report.stacks) == 1 and "+" in report.stacks[0].name
    assert (report.before, report.after) == (3, 1)


def test_merge_rules(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    command: [nginx, -g, daemon off;]\n"
        "    ports: ['80:80', '8080:8080']\n    environment: [A=1, B=2]\n    labels: {x: '1'}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "services:\n  web:\n    command: [nginx]\n    ports: !override ['443:443']\n"
        "    environment: {B: '3'}\n    labels: !reset {}\n"
    )
    report = audit([], compose_files=[tmp_path / "a.yaml", tmp_path / "b.yaml"], environ={})
    web = report.stacks[0].workloads[0]
    assert [a.value for a in web.arguments] == ["nginx"]
    assert [e.port for e in web.exposures] == ["443→443/tcp"]
    assert {e.name: e.value for e in web.env} == {"A": "1", "B": "3"}
    assert web.labels == {}


def test_unique_ports_are_not_doubled(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("services:\n  web: {image: nginx, ports: ['80:80']}\n")
    (tmp_path / "b.yaml").write_text(
        "services:\n  web: {ports: [{target: 80, published: '80'}, '443:443']}\n"
    )
    report = audit([], compose_files=[tmp_path / "a.yaml", tmp_path / "b.yaml"], environ={})
    assert report.before == 2


def test_extends_from_another_file_and_reset() -> None:
    report = audit([RESOLUTION / "extends"], environ={})
    assert len(report.stacks) == 1  # common.yml is part of the project, not a project of its own
    stack = report.stacks[0]
    assert stack.workload("db").image == "postgres:15-alpine"  # type: ignore[union-attr]
    assert stack.workload("db").exposures == []  # type: ignore[union-attr]  # ports: !reset []
    exposed = [f for f in report.findings if f.rule.id == "PW001"]
    assert [f.subject for f in exposed] == ["analytics-db"]
    assert exposed[0].location.file.endswith("common.yml")


def test_extends_errors_name_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    extends: {service: nope}\n")
    with pytest.raises(AuditInputError, match=r"compose.yaml:3: `extends` names service `nope`"):
        audit([path], environ={})
    path.write_text("services:\n  a:\n    extends: {file: gone.yaml, service: x}\n")
    with pytest.raises(AuditInputError, match=r"`extends` file `.*gone.yaml` not found"):
        audit([path], environ={})


def test_include_with_its_own_dotenv() -> None:
    report = audit([RESOLUTION / "include"], environ={})
    assert len(report.stacks) == 1
    mongo = report.stacks[0].workload("mongo")
    assert mongo is not None and mongo.exposures[0].port == "27018→27017/tcp"
    assert sorted(f.rule.id for f in report.findings if f.subject == "mongo") == ["PW001", "PW010", "PW022"]


def test_include_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("include:\n  - other/compose.yaml\nservices: {}\n")
    with pytest.raises(AuditInputError, match=r"compose.yaml:2: included file .* not found"):
        audit([path], environ={})


def test_profiles() -> None:
    every = audit([RESOLUTION / "profiles"], environ={})
    adminer = next(f for f in every.findings if f.rule.id == "PW002")
    assert "only with profile debug" in adminer.message
    assert (every.before, every.after) == (2, 1)

    default = audit([RESOLUTION / "profiles"], environ={}, profiles=["prod"])
    assert [w.name for w in default.stacks[0].workloads] == ["gateway"]
    via_env = audit([RESOLUTION / "profiles"], environ={"COMPOSE_PROFILES": "debug"})
    assert [w.name for w in via_env.stacks[0].workloads] == ["gateway", "adminer"]
