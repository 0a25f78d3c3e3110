"""Input the audit cannot work with gets one clear line naming the file, never a traceback;
directories are searched, kustomizations followed."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import FIXTURES, rule_ids

from portway.audit import AuditInputError, audit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web: {image: nginx\n", r"bad\.yaml:\d+: invalid YAML"),
        ("services:\n\tweb: {}\n", r"bad\.yaml:2: invalid YAML"),
        ("", r"bad\.yaml: empty file"),
        ("# only a comment\n---\n", r"bad\.yaml: empty file"),
        ("listen: 0.0.0.0:8080\nroutes: []\n", r"bad\.yaml: not a Compose file or Kubernetes manifest"),
        ("- just\n- a list\n", r"bad\.yaml: not a Compose file"),
        ("a: &a [*a]\n", r"bad\.yaml:1: recursive YAML alias"),
        ("services:\n  web: [1, 2]\n", r"bad\.yaml:2: service `web` is not a mapping"),
        ("services:\n  web:\n    ports: 8080\n", r"bad\.yaml:3: `ports` must be a list"),
        ("services:\n  web:\n    ports: [null]\n", r"bad\.yaml:3: a port must be a string or a mapping"),
    ],
)
def test_unusable_file_is_a_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuditInputError, match=message) as caught:
        audit([path])
    assert "\n" not in str(caught.value)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match="too large after expanding aliases"):
        audit([path])


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match=r"nope\.yaml: no such file or directory"):
        audit([tmp_path / "nope.yaml"])


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AuditInputError, match=r"x\.yaml: not UTF-8 text"):
        audit([path])


def test_directory_skips_files_that_are_not_deploy_files(tmp_path: Path) -> None:
    (tmp_path / "portway.yaml").write_text("listen: 0.0.0.0:8080\n")
    (tmp_path / "empty.yml").write_text("")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "broken.yaml").write_text("{{{")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "deployment.yaml").write_text("spec:\n  replicas: {{ .Values.replicas }}\n")
    (tmp_path / "compose.yaml").write_text((FIXTURES / "seed001_before.yaml").read_text())
    report = audit([tmp_path])
    assert [Path(f).name for f in report.files] == ["compose.yaml"]
    assert "PW001" in rule_ids(report)


def test_directory_with_nothing_to_audit(tmp_path: Path) -> None:
    (tmp_path / "portway.yaml").write_text("listen: 0.0.0.0:8080\n")
    with pytest.raises(AuditInputError, match="no Compose files or Kubernetes manifests found"):
        audit([tmp_path])


def test_kustomization_resources_and_namespace_are_followed(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources: [db.yaml]\n")
    (base / "db.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: postgres, namespace: x}\n"
        "spec: {type: LoadBalancer, ports: [{port: 5432}]}\n"
    )
    (base / "patch.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: users}\nspec: {type: NodePort}\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        "namespace: shop\nresources: [base, https://example.com/x.yaml]\n"
    )
    report = audit([tmp_path])
    assert rule_ids(report) == ["PW001"]  # the patch file is not a resource and is not read alone
    assert report.files == [(base / "db.yaml").as_posix()] or report.files[0].endswith("base/db.yaml")


def test_kustomization_naming_a_missing_resource(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - gone.yaml\n")
    with pytest.raises(AuditInputError, match=r"kustomization.yaml:2: resource `gone.yaml` not found"):
        audit([tmp_path / "kustomization.yaml"])
