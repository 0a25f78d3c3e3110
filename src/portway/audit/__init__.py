"""`portway audit`: prove that a Compose, Swarm or Kubernetes deployment exposes only its gateway.

    report = audit([Path("deploy/")])
    report.findings, report.before, report.after

The rules are listed in docs/audit.md and in `portway.audit.rules.RULES`.
"""

from __future__ import annotations

from portway.audit.engine import audit
from portway.audit.errors import AuditInputError
from portway.audit.findings import Finding, Location, Rule, Severity, Suppressed
from portway.audit.report import Report
from portway.audit.rules import RULES

__all__ = [
    "RULES",
    "AuditInputError",
    "Finding",
    "Location",
    "Report",
    "Rule",
    "Severity",
    "Suppressed",
    "audit",
]
