"""PW001-PW004: who is reachable from outside (Compose; Kubernetes has its own file)."""

from __future__ import annotations

from audit_support import AuditYaml, rule_ids


def test_pw001_data_store_publishing_a_port(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          db: {image: "bitnami/postgresql:16", ports: ["5432:5432"], networks: [data]}
        networks: {data: {internal: true}}
        """
    )
    assert rule_ids(report) == ["PW001"]
    assert report.findings[0].location.line == 3


def test_pw001_not_for_a_data_store_with_expose_only(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          db: {image: "postgres:16", expose: ["5432"], networks: [data]}
        networks: {data: {internal: true}}
        """
    )
    assert rule_ids(report) == []


def test_pw002_service_publishing_beside_the_gateway(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          gateway: {image: "portway:1", ports: ["8080:8080"], networks: [edge, app]}
          users: {build: ./users, ports: ["5001:5001"], networks: [app]}
        networks: {edge: {}, app: {internal: true}}
        """
    )
    assert rule_ids(report) == ["PW002"]
    assert report.findings[0].subject == "users"
    assert (report.before, report.after) == (2, 1)


def test_pw002_not_for_the_gateway_alone(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          front: {image: "acme/front:1", ports: ["80:8080"], networks: [edge, app]}
          users: {build: ./users, expose: ["5001"], networks: [app]}
        networks: {edge: {}, app: {internal: true}}
        """
    )
    # The only service that publishes is taken for the gateway, whatever its name.
    assert rule_ids(report) == []
    assert report.stacks[0].workload("front").role.value == "gateway"  # type: ignore[union-attr]


def test_pw002_long_syntax_and_ranges_count_every_port(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          gateway: {image: traefik, ports: [{target: 80, published: 80, mode: host}], networks: [edge]}
          worker: {image: acme/worker, ports: ["9000-9002:9000-9002", {target: 7000}], networks: [edge]}
        networks: {edge: {}}
        """
    )
    assert rule_ids(report).count("PW002") == 2
    assert (report.before, report.after) == (5, 1)


def test_pw003_loopback_publish_is_info_not_exposure(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          db: {image: "redis:7", ports: ["127.0.0.1:6379:6379", "[::1]:6380:6379"], networks: [data]}
        networks: {data: {internal: true}}
        """
    )
    assert rule_ids(report) == ["PW003", "PW003"]
    assert report.before == 0


def test_pw003_not_for_all_interfaces(audit_yaml: AuditYaml) -> None:
    report = audit_yaml('services:\n  db: {image: "redis:7", ports: ["0.0.0.0:6379:6379"]}\n')
    assert "PW003" not in rule_ids(report)
    assert "PW001" in rule_ids(report)


def test_pw004_several_services_publish_and_none_is_a_gateway(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          users: {build: ./users, ports: ["5001:5001"]}
          orders: {build: ./orders, ports: ["5002:5002"]}
        """
    )
    assert rule_ids(report) == ["PW002", "PW002", "PW004", "PW011"]


def test_pw004_not_when_the_gateway_is_named(audit_yaml: AuditYaml) -> None:
    text = """
        services:
          users: {build: ./users, ports: ["5001:5001"]}
          orders: {build: ./orders, ports: ["5002:5002"], labels: {portway.role: gateway}}
        """
    assert rule_ids(audit_yaml(text)) == ["PW002", "PW011"]
    report = audit_yaml(text.replace("labels: {portway.role: gateway}", ""), gateways=("users",))
    assert [f.subject for f in report.findings if f.rule.id == "PW002"] == ["orders"]


def test_legacy_v1_file_without_services_key(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        "web:\n  image: nginx\n  ports: ['80:80']\nredis:\n  image: redis\n  ports: ['6379:6379']\n"
    )
    assert "PW001" in rule_ids(report)


def test_yaml_11_base60_port_is_read_as_a_mapping(audit_yaml: AuditYaml) -> None:
    report = audit_yaml("services:\n  ssh:\n    image: acme/sshd\n    ports:\n      - 22:22\n")
    assert report.stacks[0].workloads[0].exposures[0].port == "22→22/tcp"
