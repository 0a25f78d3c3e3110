"""``portway check`` and ``portway schema`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from portway.cli import main


def portway(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "portway", *args], capture_output=True, text=True, timeout=30
    )


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    """``portway check`` in process (the same entry point, without an interpreter start per case)."""
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


GOOD = """\
listen: 0.0.0.0:8080
limits:
  max_body: 10MB
  header_timeout: 5s
upstreams:
  users:
    targets: [http://127.0.0.1:9000, "unix:/run/users.sock"]
    balance: least_conn
    timeouts: {connect: 250ms, read: 5s}
routes:
  - {path: /api/users/, upstream: users, rewrite: /users/}
  - {path: "/api/users/{id}/orders", upstream: users, rewrite: "/orders/{id}", methods: [GET]}
"""


def test_check_good_config_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text(GOOD)
    result = portway("check", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (GOOD.replace("upstream: users, rewrite: /users/", "upstream: usres, rewrite: /users/"),
         11, "routes[0].upstream", "unknown upstream 'usres'"),
        (GOOD.replace("read: 5s", "read: 5 parsecs"), 9, "upstreams.users.timeouts.read", "invalid duration"),
        (GOOD.replace("max_body: 10MB", "max_body: lots"), 3, "limits.max_body", "invalid size"),
        (GOOD.replace("balance: least_conn", "balance: random"), 8, "upstreams.users.balance", ""),
        (GOOD.replace("  header_timeout: 5s", "  header_timeout: 5s\n  header_timeuot: 5s"),
         5, "limits.header_timeuot", ""),
        (GOOD.replace("/orders/{id}", "/orders/{user}"), 12, "routes[1]", "{user} is not a parameter"),
        (GOOD.replace("listen: 0.0.0.0:8080", "listen: nowhere"), 1, "listen", "HOST:PORT"),
        (GOOD + "listen: 0.0.0.0:9090\n", 13, "listen", "duplicate key"),
    ],
    ids=["unknown-upstream", "duration", "size", "enum", "typo", "rewrite-param", "listen", "duplicate"],
)  # fmt: skip
def test_check_broken_config_names_file_line_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text(text)
    code, _, err = check(capsys, path)
    assert code == 1
    problems = err.strip().splitlines()
    assert any(p.startswith(f"{path}:{line}: {key}") and message in p for p in problems), err


def test_check_broken_config_as_a_command(tmp_path: Path) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text(GOOD.replace("upstream: users, rewrite: /users/", "upstream: usres, rewrite: /users/"))
    result = portway("check", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:11: routes[0].upstream: unknown upstream 'usres'")


def test_check_missing_variable_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERS_URL", raising=False)
    path = tmp_path / "portway.yaml"
    path.write_text(GOOD.replace("http://127.0.0.1:9000", '"${USERS_URL}"'))
    code, _, err = check(capsys, path)
    assert code == 1
    assert f"{path}:7:" in err
    assert "USERS_URL" in err


def test_check_invalid_yaml_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text("routes:\n  - path: /\n   upstream: [\n")
    code, _, err = check(capsys, path)
    assert code == 1
    assert f"{path}:" in err and "invalid YAML" in err
    code, _, err = check(capsys, tmp_path / "nope.yaml")
    assert code == 1
    assert "nope.yaml" in err


def schema() -> dict[str, object]:
    result = portway("schema")
    assert result.returncode == 0, result.stderr
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def test_schema_is_valid_json_schema() -> None:
    doc = schema()
    jsonschema.Draft202012Validator.check_schema(doc)
    validator = jsonschema.Draft202012Validator(doc)
    # a config written with plain numbers for sizes and durations
    validator.validate(
        {
            "listen": "0.0.0.0:8080",
            "limits": {"max_body": 1024, "header_timeout": 5},
            "upstreams": {"users": {"targets": ["http://127.0.0.1:9000"], "balance": "least_conn"}},
            "routes": [{"path": "/api/", "upstream": "users"}],
        }
    )
    assert not validator.is_valid({"unknown_key": 1})
    assert not validator.is_valid({"upstreams": {"u": {"targets": [], "balance": "random"}}})


def test_schema_accepts_sizes_and_durations_with_units() -> None:
    jsonschema.Draft202012Validator(schema()).validate(yaml.safe_load(GOOD))
