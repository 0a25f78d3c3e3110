"""The pure pieces: port syntax, data store and gateway recognition, line-keeping YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from portway.audit.catalog import datastore_kind, looks_like_gateway
from portway.audit.ports import PortSpec, parse_long, parse_short
from portway.audit.yamlsource import read_yaml


@pytest.mark.parametrize(
    ("entry", "expected", "count"),
    [
        ("3000", PortSpec("3000"), 1),
        (8080, PortSpec("8080"), 1),
        ("3000-3005", PortSpec("3000-3005"), 6),
        ("8000:8000", PortSpec("8000", "8000"), 1),
        ("9090-9091:8080-8081", PortSpec("8080-8081", "9090-9091"), 2),
        ("127.0.0.1:8001:8001", PortSpec("8001", "8001", "127.0.0.1"), 1),
        ("127.0.0.1::5000", PortSpec("5000", "", "127.0.0.1"), 1),
        ("6060:6060/udp", PortSpec("6060", "6060", protocol="udp"), 1),
        ("[::1]:6001:6001", PortSpec("6001", "6001", "[::1]"), 1),
        ("${BIND:-0.0.0.0}:${PORT:-80}:8080", PortSpec("8080", "${PORT:-80}", "${BIND:-0.0.0.0}"), 1),
    ],
)
def test_short_port_syntax(entry: str | int, expected: PortSpec, count: int) -> None:
    spec = parse_short(entry)
    assert spec == expected
    assert spec.count == count


def test_long_port_syntax() -> None:
    assert parse_long(
        {"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp"}
    ) == PortSpec("80", "8080", "127.0.0.1", "udp")
    assert parse_long({"target": 80}) == PortSpec("80")


@pytest.mark.parametrize(
    ("image", "name", "kind"),
    [
        ("postgres:16-alpine", "x", "database"),
        ("bitnami/postgresql:16", "x", "database"),
        ("clickhouse/clickhouse-server:24", "x", "database"),
        ("mcr.microsoft.com/mssql/server:2022-latest", "x", "database"),
        ("localhost:5000/redis:7", "x", "cache"),
        ("confluentinc/cp-kafka:7.6", "x", "broker"),
        ("docker.elastic.co/elasticsearch/elasticsearch:8", "x", "search"),
        ("", "internal-db", "database"),
        ("", "nats", "broker"),
        ("prometheuscommunity/postgres-exporter", "pg-exporter", ""),
        ("dpage/pgadmin4", "pgadmin", ""),
        ("acme/migrator", "db-migrate", ""),
        ("acme/api", "api", ""),
    ],
)
def test_datastore_recognition(image: str, name: str, kind: str) -> None:
    assert datastore_kind(image, name) == kind


def test_gateway_recognition() -> None:
    assert looks_like_gateway("traefik:v3.0", "edge-router")
    assert looks_like_gateway("", "api-gateway")
    assert not looks_like_gateway("acme/users", "users")


def test_lines_and_yaml_12_scalars(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "x-base: &base\n  restart: always\nservices:\n  web:\n    <<: *base\n    ports:\n      - 22:22\n"
        "    environment: {DEBUG: yes, ON: true}\n    volumes: !reset []\n"
    )
    doc = read_yaml(path).documents[0]
    web = doc.data["services"]["web"]  # type: ignore[index]
    assert web["ports"] == ["22:22"]
    assert web["environment"] == {"DEBUG": "yes", "ON": True}
    assert web["volumes"] == []
    assert web["restart"] == "always"
    assert doc.line("services", "web", "ports", 0) == 7
    assert doc.line("services", "web", "restart") == 2  # from the anchor it was merged from
    assert doc.line("services", "web", "nothing", "here") == 4  # nearest ancestor
