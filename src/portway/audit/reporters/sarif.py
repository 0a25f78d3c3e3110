"""`--format sarif`: SARIF 2.1.0, the format code-scanning UIs import. Every rule is listed in the
driver; suppressed findings are kept as results with an in-source suppression and its reason."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePosixPath
from urllib.parse import quote

from portway.audit.findings import Finding, Severity
from portway.audit.report import Report
from portway.audit.rules import RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: Report) -> str:
    rule_ids = list(RULES)
    results = [_result(f, rule_ids) for f in report.findings]
    for suppressed in report.suppressed:
        result = _result(suppressed.finding, rule_ids)
        result["suppressions"] = [{"kind": "inSource", "justification": suppressed.reason}]
        results.append(result)
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "portway-audit",
                        "version": _version(),
                        "rules": [
                            {
                                "id": rule.id,
                                "name": "".join(
                                    word.capitalize() for word in rule.title.split() if word.isalpha()
                                ),
                                "shortDescription": {"text": rule.title},
                                "help": {"text": rule.fix},
                                "defaultConfiguration": {"level": _LEVELS[rule.severity]},
                                "properties": {"tags": ["security"]},
                            }
                            for rule in RULES.values()
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _result(finding: Finding, rule_ids: list[str]) -> dict[str, object]:
    return {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_ids.index(finding.rule.id),
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix_text}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.location.file)},
                    "region": {"startLine": finding.location.line},
                }
            }
        ],
    }


def _version() -> str:
    try:
        return version("portway")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


def _uri(file: str) -> str:
    """Paths below the working directory stay relative (code-scanning UIs resolve them against the
    repository); others become file: URIs."""
    path = PurePosixPath(file)
    return path.as_uri() if path.is_absolute() else quote(file)
