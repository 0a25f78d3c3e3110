"""Audit tests are pure: YAML text in, findings out. `audit_yaml` writes the text to a temporary
file (the audit reads files and reports file:line) and returns the report."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from audit_support import AuditYaml

from portway.audit import Report, audit


@pytest.fixture
def audit_yaml(tmp_path: Path) -> AuditYaml:
    def run(text: str, name: str = "compose.yaml", gateways: tuple[str, ...] = ()) -> Report:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return audit([path], gateways=gateways)

    return run
