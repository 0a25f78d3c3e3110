"""Each object classified on its own: networks by their driver, Kustomizations by their kind,
Helm templates only when they really are templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import AuditYaml, rule_ids

from portway.audit import AuditInputError, audit

MIXED = """
services:
  gateway: {image: portway, ports: ["80:8080"], networks: [edge, app]}
  users: {build: ., networks: [app]}
networks:
  edge: {driver: overlay, driver_opts: {encrypted: ""}}
  app: {internal: true}
"""


def test_swarm_rules_only_on_overlay_networks(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(MIXED.replace('driver_opts: {encrypted: ""}', "attachable: true"))
    assert [(f.rule.id, f.subject) for f in report.findings] == [("PW013", "edge"), ("PW014", "edge")]


def test_encrypted_overlay_beside_a_bridge_passes(audit_yaml: AuditYaml) -> None:
    assert rule_ids(audit_yaml(MIXED)) == []


KUSTOMIZATION = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n"
)
DB = (
    "apiVersion: v1\nkind: Service\nmetadata: {name: postgres}\n"
    "spec: {type: NodePort, ports: [{port: 5432}]}\n"
)


def test_kustomization_recognised_by_kind(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(KUSTOMIZATION + "  - db.yaml\n")
    (tmp_path / "db.yaml").write_text(DB)
    (tmp_path / "unused-patch.yaml").write_text(DB.replace("postgres", "other"))
    report = audit([tmp_path])
    assert [(f.rule.id, f.subject) for f in report.findings] == [("PW001", "postgres")]
    assert audit([tmp_path / "base.yaml"]).findings[0].subject == "postgres"


def test_kustomization_missing_resources_are_all_named(tmp_path: Path) -> None:
    (tmp_path / "deploy.yml").write_text(KUSTOMIZATION + "  - a.yaml\n  - db.yaml\n  - b.yaml\n")
    (tmp_path / "db.yaml").write_text(DB)
    with pytest.raises(
        AuditInputError,
        match=r"deploy\.yml:5: resources not found: `a\.yaml` \(line 5\), `b\.yaml` \(line 7\)",
    ):
        audit([tmp_path])


def test_flux_kustomization_is_an_ordinary_object(tmp_path: Path) -> None:
    (tmp_path / "flux.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps}\nspec: {path: ./apps}\n"
    )
    (tmp_path / "db.yaml").write_text(DB)
    assert rule_ids(audit([tmp_path])) == ["PW001"]


def test_go_template_text_in_values_is_not_a_helm_chart(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    ports: ['5432:5432']\n"
        "    healthcheck:\n      test: [CMD-SHELL, \"docker inspect -f '{{.State.Health.Status}}' db\"]\n"
        "    labels:\n      - traefik.http.routers.db.rule=Host(`{{ .Name }}.local`)\n"
    )
    assert "PW001" in rule_ids(audit([tmp_path]))


def test_helm_chart_templates_are_skipped(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (chart / "templates" / "svc.yaml").write_text(
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include "shop.fullname" . }}\n'
        "spec:\n  type: {{ .Values.service.type }}\n"
    )
    (tmp_path / "db.yaml").write_text(DB)
    report = audit([tmp_path])
    assert [Path(f).name for f in report.files] == ["db.yaml"]
