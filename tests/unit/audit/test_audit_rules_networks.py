"""PW010-PW014: Compose and Swarm networks."""

from __future__ import annotations

from audit_support import AuditYaml, rule_ids

TIERED = """
services:
  gateway: {image: portway, ports: ["8080:8080"], networks: [edge, app]}
  users: {build: ., networks: [app, data]}
  db: {image: postgres, networks: [data]}
networks:
  edge: {}
  app: {internal: true}
  data: {internal: true}
"""


def test_tiered_networks_pass(audit_yaml: AuditYaml) -> None:
    assert rule_ids(audit_yaml(TIERED)) == []


def test_pw010_data_store_on_the_gateways_network(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        TIERED.replace("db: {image: postgres, networks: [data]}", "db: {image: postgres, networks: [app]}")
    )
    assert rule_ids(report) == ["PW010"]
    assert report.findings[0].location.line == 5


def test_pw011_private_service_on_an_open_network(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(TIERED.replace("app: {internal: true}", "app: {}"))
    assert rule_ids(report) == ["PW011"]
    assert report.findings[0].subject == "app"


def test_pw011_not_for_an_external_network(audit_yaml: AuditYaml) -> None:
    assert rule_ids(audit_yaml(TIERED.replace("app: {internal: true}", "app: {external: true}"))) == []


def test_pw012_gateway_only_on_internal_networks(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(TIERED.replace("edge: {}", "edge: {internal: true}"))
    assert rule_ids(report) == ["PW012"]


def test_pw012_not_in_a_swarm_stack(audit_yaml: AuditYaml) -> None:
    # Swarm publishes through its ingress network whatever the service's own networks are.
    report = audit_yaml(TIERED.replace("edge: {}", "edge: {internal: true}"), name="stack.yaml")
    assert "PW012" not in rule_ids(report)


STACK = """
services:
  gateway: {image: portway, ports: ["80:8080"], networks: [edge, app]}
  users: {build: ., networks: [app]}
networks:
  edge: {driver: overlay, driver_opts: {encrypted: ""}}
  app: {driver: overlay, internal: true, driver_opts: {encrypted: ""}}
"""


def test_encrypted_overlays_pass(audit_yaml: AuditYaml) -> None:
    assert rule_ids(audit_yaml(STACK)) == []


def test_pw013_overlay_without_encryption(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        STACK.replace(
            'app: {driver: overlay, internal: true, driver_opts: {encrypted: ""}}',
            "app: {driver: overlay, internal: true}",
        )
    )
    assert rule_ids(report) == ["PW013"]
    assert "driver_opts" not in report.findings[0].message


def test_pw013_stack_file_networks_default_to_overlay(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(TIERED, name="docker-stack.yml")
    assert rule_ids(report) == ["PW013", "PW013", "PW013"]


def test_pw014_attachable_overlay(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(STACK.replace("internal: true,", "internal: true, attachable: true,"))
    assert rule_ids(report) == ["PW014"]


def test_anchors_and_merge_keys_are_followed(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        x-overlay: &overlay {driver: overlay, attachable: true, driver_opts: {encrypted: ""}}
        services:
          gateway: {image: portway, ports: ["80:8080"], networks: [app]}
          users: {build: ., networks: [app]}
        networks:
          app:
            <<: *overlay
            internal: true
        """
    )
    assert rule_ids(report) == ["PW014"]
