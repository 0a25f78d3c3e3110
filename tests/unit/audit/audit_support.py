"""Helpers for the audit tests (a unique module name: test directories share one import path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from portway.audit import Report

FIXTURES = Path(__file__).parent / "fixtures"

# The `audit_yaml` fixture (conftest.py): (text, name="compose.yaml", gateways=()) -> Report
AuditYaml = Callable[..., Report]


def rule_ids(report: Report) -> list[str]:
    return sorted(finding.rule.id for finding in report.findings)
