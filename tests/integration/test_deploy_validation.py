"""deploy/ checked by the real validators: the Compose Specification JSON schema, the Kubernetes
OpenAPI schemas (kubernetes-validate) after a kustomize build, and hadolint for the Dockerfile.

The validators are installed by `.ci/install-deploy-validators` and the `dev` extra. A missing one
skips its test on a laptop and fails it when PORTWAY_REQUIRE_SERVICES=1 (CI), so CI cannot pass by
skipping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = ["compose.yaml", "stack.yaml"]
# The oldest Kubernetes minor the manifests promise to work on (every API they use is GA there).
KUBERNETES_VERSION = "1.30.0"


def _require(available: bool, what: str) -> None:
    if available:
        return
    message = f"{what} is not installed (run .ci/install-deploy-validators, pip install -e '.[dev]')"
    if os.environ.get("PORTWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and PORTWAY_REQUIRE_SERVICES=1")
    pytest.skip(message)


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_matches_the_compose_specification(name: str) -> None:
    _require(_has_module("check_jsonschema"), "check-jsonschema (vendors the Compose Specification schema)")
    import jsonschema

    schema_file = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class: Any = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    document = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]

    assert errors == []


def _validate_manifests(documents: list[dict[str, Any]]) -> list[str]:
    import kubernetes_validate

    problems = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            problems.append(f"{document.get('kind')} {document.get('metadata', {}).get('name')}: {exc}")
    return problems


def test_every_kubernetes_resource_file_is_valid() -> None:
    _require(_has_module("kubernetes_validate"), "kubernetes-validate")
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text(encoding="utf-8"))
    documents = [
        document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((DEPLOY / "k8s" / resource).read_text(encoding="utf-8"))
        if document
    ]

    assert _validate_manifests(documents) == []
    assert len(documents) >= 40


def test_kustomize_build_is_valid() -> None:
    _require(_has_module("kubernetes_validate"), "kubernetes-validate")
    kubectl = shutil.which("kubectl")
    _require(kubectl is not None, "kubectl (for `kubectl kustomize`)")
    assert kubectl is not None
    built = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s")], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.safe_load_all(built.stdout) if d]

    assert _validate_manifests(documents) == []
    # kustomize applied the namespace and the common label to every namespaced object.
    namespaced = [d for d in documents if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"shop"}
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "shop" for d in documents)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = os.environ.get("HADOLINT") or shutil.which("hadolint")
    _require(hadolint is not None, "hadolint")
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gateway_config_loads() -> None:
    """deploy/portway.yaml is the config baked into the image: it must be one the gateway accepts."""
    if not _has_module("portway.config"):
        pytest.skip("the gateway config loader (portway.config) is not in this tree yet")
    from portway.config import load_config

    config = load_config(DEPLOY / "portway.yaml")

    assert sorted(config.upstreams) == ["catalog", "notifications", "orders", "users"]
    assert config.listen == "0.0.0.0:8080"
