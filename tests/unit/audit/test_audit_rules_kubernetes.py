"""Kubernetes manifests: exposure through Services, Ingresses and host ports; host access; PW023;
PW040 (no default-deny NetworkPolicy)."""

from __future__ import annotations

import pytest
from audit_support import AuditYaml, rule_ids

DENY = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""


def _deployment(name: str, image: str, pod_spec: str = "", container: str = "") -> str:
    return f"""
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      {pod_spec or "automountServiceAccountToken: false"}
      containers:
        - name: main
          image: {image}
          {container or "ports: [{containerPort: 8000}]"}
"""


def _service(name: str, kind: str = "ClusterIP", extra: str = "") -> str:
    return f"""
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {kind}
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8000}}]
  {extra}
"""


BASE = (
    _deployment("gateway", "portway:1")
    + _service("gateway", "LoadBalancer")
    + _deployment("orders", "acme/orders:1")
    + _service("orders")
    + _deployment("db", "postgres:16")
    + _service("db")
    + DENY
)


def test_gateway_behind_a_load_balancer_passes(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(BASE, name="k8s.yaml")
    assert rule_ids(report) == []
    assert (report.before, report.after) == (1, 1)
    assert report.stacks[0].workload("gateway").role.value == "gateway"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (_service("db"), _service("db", "NodePort"), "PW001"),
        (_service("orders"), _service("orders", "LoadBalancer"), "PW002"),
        (_service("orders"), _service("orders", extra="externalIPs: [203.0.113.7]"), "PW002"),
        (
            "image: postgres:16\n          ports: [{containerPort: 8000}]",
            "image: postgres:16\n          ports: [{containerPort: 5432, hostPort: 5432}]",
            "PW001",
        ),
    ],
)
def test_exposure_outside_the_cluster(audit_yaml: AuditYaml, replace: str, by: str, expected: str) -> None:
    assert replace in BASE
    assert rule_ids(audit_yaml(BASE.replace(replace, by), name="k8s.yaml")) == [expected]


def test_ingress_to_a_service_other_than_the_gateway(audit_yaml: AuditYaml) -> None:
    ingress = """
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: gateway, port: {number: 80}}}}
          - {path: /orders, pathType: Prefix, backend: {service: {name: orders, port: {number: 80}}}}
"""
    report = audit_yaml(BASE + ingress, name="k8s.yaml")
    assert rule_ids(report) == ["PW002"]
    assert report.findings[0].subject == "orders"


def test_gateway_api_route_backends_count(audit_yaml: AuditYaml) -> None:
    route = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api}
spec:
  parentRefs: [{name: public}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]
"""
    assert rule_ids(audit_yaml(BASE + route, name="k8s.yaml")) == ["PW001"]


@pytest.mark.parametrize(
    ("pod_spec", "container", "expected"),
    [
        ("hostNetwork: true", "", "PW032"),
        ("hostPID: true", "", "PW034"),
        ("volumes: [{name: s, hostPath: {path: /var/run/docker.sock}}]", "", "PW030"),
        ("", "securityContext: {privileged: true}", "PW031"),
        ("", "securityContext: {capabilities: {add: [NET_ADMIN]}}", "PW033"),
        ("", "env: [{name: DB_PASSWORD, value: hunter2-but-longer}]", "PW020"),
    ],
)
def test_host_access_and_credentials_in_pod_specs(
    audit_yaml: AuditYaml, pod_spec: str, container: str, expected: str
) -> None:
    manifest = _deployment("worker", "acme/worker", pod_spec, container) + DENY
    assert expected in rule_ids(audit_yaml(manifest, name="k8s.yaml"))


def test_env_from_a_secret_passes(audit_yaml: AuditYaml) -> None:
    container = "env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]"
    assert (
        rule_ids(audit_yaml(_deployment("worker", "acme/worker", "", container) + DENY, name="k8s.yaml"))
        == []
    )


def test_pw023_secret_manifest_with_values(audit_yaml: AuditYaml) -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: x}\n"
    assert rule_ids(audit_yaml(secret, name="secret.yaml")) == ["PW023"]
    empty = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: Opaque\n"
    assert rule_ids(audit_yaml(empty, name="secret.yaml")) == []


def test_pw040_namespace_without_default_deny(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(BASE.replace(DENY, ""), name="k8s.yaml")
    assert rule_ids(report) == ["PW040"]
    assert report.findings[0].subject == "default"


def test_pw040_policy_that_allows_something_is_not_default_deny(audit_yaml: AuditYaml) -> None:
    allow = DENY.replace("policyTypes: [Ingress, Egress]}", "policyTypes: [Ingress], ingress: [{}]}")
    assert rule_ids(audit_yaml(BASE.replace(DENY, allow), name="k8s.yaml")) == ["PW040"]


def test_list_kind_is_expanded(audit_yaml: AuditYaml) -> None:
    listed = """
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Service, metadata: {name: redis}, spec: {type: NodePort, ports: [{port: 6379}]}}
"""
    report = audit_yaml(listed, name="list.yaml")
    assert rule_ids(report) == ["PW001"]
    assert report.findings[0].location.line == 5
