"""Roles from evidence: parsed image references, the program a command runs, well-known ports;
the gateway's own extra ports (debuggers, dashboards) are findings."""

from __future__ import annotations

import pytest
from audit_support import AuditYaml, rule_ids

from portway.audit.catalog import datastore_kind
from portway.audit.images import ImageRef, parse_image


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("postgres", ImageRef("", "", "postgres")),
        ("library/postgres:16", ImageRef("", "", "postgres", "16")),
        ("localhost:5000/redis:7", ImageRef("localhost:5000", "", "redis", "7")),
        (
            "registry.example.com:5000/ops/agent@sha256:ab",
            ImageRef("registry.example.com:5000", "ops", "agent", "", "sha256:ab"),
        ),
        (
            "mcr.microsoft.com/mssql/server:2022-latest",
            ImageRef("mcr.microsoft.com", "mssql", "server", "2022-latest"),
        ),
        (
            "docker.redpanda.com/redpandadata/redpanda:v24.1.7",
            ImageRef("docker.redpanda.com", "redpandadata", "redpanda", "v24.1.7"),
        ),
    ],
)
def test_image_references(image: str, expected: ImageRef) -> None:
    assert parse_image(image) == expected


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"image": "prom/prometheus:v2.53.0", "name": "metrics"}, "metrics"),
        ({"image": "bitnami/zookeeper:3.9", "name": "zk"}, "coordination"),
        ({"image": "quay.io/coreos/etcd:v3.5.14", "name": "kv"}, "coordination"),
        ({"image": "hashicorp/consul:1.19", "name": "sd"}, "coordination"),
        ({"image": "docker.elastic.co/elasticsearch/elasticsearch:8.14.1", "name": "es"}, "search"),
        ({"image": "mongo-express", "name": "mongo-ui"}, ""),
        ({"image": "rediscommander/redis-commander", "name": "redis-ui"}, ""),
        ({"image": "redpandadata/console", "name": "console"}, ""),
        ({"image": "acme/etl-kafka:dev", "name": "etl-kafka", "built": True}, ""),
        ({"image": "", "name": "users-db", "built": True}, "database"),
        ({"image": "alpine:3.20", "name": "kv", "command": ["redis-server", "--port", "6380"]}, "cache"),
        ({"image": "acme/store", "name": "store", "container_ports": [5432]}, "database"),
        ({"image": "nginx", "name": "web", "container_ports": [6379]}, ""),  # the image says what it is
    ],
)
def test_datastore_evidence(kwargs: dict[str, object], kind: str) -> None:
    assert datastore_kind(**kwargs) == kind  # type: ignore[arg-type]


def test_the_only_published_service_is_not_the_gateway_for_a_debugger(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          worker:
            build: .
            command: node --inspect=0.0.0.0:9229 worker.js
            ports: ["9229:9229"]
        """
    )
    assert report.stacks[0].workloads[0].role.value == "service"
    assert rule_ids(report) == ["PW004", "PW005", "PW011"]


def test_the_only_published_app_is_the_entry_point(audit_yaml: AuditYaml) -> None:
    # n8n's own port is 5678, which is also debugpy's: by number alone it is not a debugger.
    report = audit_yaml('services:\n  n8n: {image: "n8nio/n8n:1.50.0", ports: ["5678:5678"]}\n')
    assert rule_ids(report) == []


def test_an_admin_ui_alone_is_not_the_gateway(audit_yaml: AuditYaml) -> None:
    report = audit_yaml('services:\n  adminer: {image: "adminer:4", ports: ["8080:8080"]}\n')
    assert "PW002" in rule_ids(report)


@pytest.mark.parametrize(
    ("service", "rule"),
    [
        ('{image: "traefik:v3", command: ["--api.insecure=true"], ports: ["80:80", "8080:8080"]}', "PW006"),
        ('{image: "envoyproxy/envoy:v1.31", ports: ["10000:10000", "9901:9901"]}', "PW006"),
        ('{image: "kong:3.7", ports: ["8000:8000", "8001:8001"]}', "PW006"),
        ('{image: "caddy:2", ports: ["443:443", "2019:2019"]}', "PW006"),
        ('{image: "acme/gateway", labels: {portway.role: gateway}, ports: ["80:80", "5005:5005"]}', "PW005"),
        ('{image: "acme/gateway", labels: {portway.role: gateway}, ports: ["80:80", "9229:9229"]}', "PW005"),
    ],
)
def test_gateway_extra_ports_are_findings(audit_yaml: AuditYaml, service: str, rule: str) -> None:
    report = audit_yaml(
        f"services:\n  edge: {service}\n  app: {{build: ., networks: [p]}}\n"
        "networks: {p: {internal: true}}\n"
    )
    assert rule_ids(report).count(rule) == 1
    assert (report.before, report.after) == (2, 1)


def test_traefik_8080_as_a_traffic_entrypoint_is_fine(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          proxy:
            image: traefik:v3
            command: ["--entrypoints.web.address=:8080"]
            ports: ["8080:8080"]
        """
    )
    assert rule_ids(report) == []


def test_debugger_by_its_flag_on_any_port(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          gateway: {image: nginx, ports: ["80:80"]}
          billing:
            image: eclipse-temurin:21
            command: java -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:8000 -jar app.jar
            ports: ["8000:8000"]
        """
    )
    assert [f.rule.id for f in report.findings if f.subject == "billing"] == ["PW005"]
