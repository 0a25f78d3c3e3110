"""`python -m portway audit` as a user runs it: exit codes 0/1/2, the three formats, and our own
deploy/ files passing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "unit" / "audit" / "fixtures"
SEED001_BEFORE = FIXTURES / "seed001_before.yaml"


def portway_audit(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portway", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_deploy_directory_passes() -> None:
    result = portway_audit("deploy/")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors, 0 warnings" in result.stdout
    assert "deploy/k8s" not in result.stderr


def test_seed001_before_fails_with_the_summary() -> None:
    result = portway_audit(SEED001_BEFORE)

    assert result.returncode == 1
    assert "Exposed ports: 7 → 2 after the fixes" in result.stdout
    assert "Data stores reachable from outside: 3 → 0 (postgres, clickhouse, nats)" in result.stdout
    assert result.stdout.count("PW001") >= 5


@pytest.mark.parametrize(("fail_on", "code"), [("error", 0), ("warning", 1), ("info", 1)])
def test_fail_on_threshold(fail_on: str, code: int) -> None:
    # The seed 001 "after" stack has warnings and no error.
    assert portway_audit(FIXTURES / "seed001_after_stack.yaml", "--fail-on", fail_on).returncode == code


def test_json_format() -> None:
    result = portway_audit(SEED001_BEFORE, "--format", "json")

    data = json.loads(result.stdout)
    assert data["summary"]["exposed_ports"] == {"before": 7, "after": 2}
    assert {f["rule"] for f in data["findings"]} == {"PW001", "PW010", "PW011"}


def test_sarif_format_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "audit.sarif"
    result = portway_audit(SEED001_BEFORE, "--format", "sarif", "--output", out)

    assert result.returncode == 1
    assert result.stdout == ""
    sarif = json.loads(out.read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
    }
    assert uris == {"tests/unit/audit/fixtures/seed001_before.yaml"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("services:\n  web: [unclosed\n", "invalid YAML"),
        ("", "empty file"),
        ("listen: 0.0.0.0:8080\n", "not a Compose file or Kubernetes manifest"),
    ],
)
def test_unusable_input_exits_2_with_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(content, encoding="utf-8")

    result = portway_audit(path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "input.yaml" in lines[0] and expected in lines[0]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = portway_audit(tmp_path / "absent.yaml")

    assert result.returncode == 2
    assert "absent.yaml: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_exits_2() -> None:
    assert portway_audit(SEED001_BEFORE, "--fail-on", "never").returncode == 2


RESOLUTION = FIXTURES / "resolution"


def test_dash_f_merges_one_project() -> None:
    overrides = RESOLUTION / "overrides"
    result = portway_audit(
        "-f", overrides / "compose.yaml", "-f", overrides / "compose.override.yaml", "--format", "json"
    )

    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert data["summary"]["exposed_ports"] == {"before": 3, "after": 1}
    assert len(data["stacks"]) == 1


def test_env_file_and_profile_options(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("REDIS_BIND=0.0.0.0\n")
    result = portway_audit(RESOLUTION / "envdefault", "--env-file", env_file, "--format", "json")
    assert {f["subject"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "PW001"} == {"cache"}

    profiled = portway_audit(RESOLUTION / "profiles", "--profile", "prod", "--format", "json")
    assert [s["name"] for s in json.loads(profiled.stdout)["services"]] == ["gateway"]


def test_missing_env_file_exits_2(tmp_path: Path) -> None:
    result = portway_audit(RESOLUTION / "envdefault", "--env-file", tmp_path / "nope.env")
    assert result.returncode == 2
    assert "nope.env: env file not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [(), ("--live", "deploy/")])
def test_files_or_live_not_both_nor_neither(args: tuple[str, ...]) -> None:
    result = portway_audit(*args)
    assert result.returncode == 2
    assert "give files or directories to audit, or --live" in result.stderr
