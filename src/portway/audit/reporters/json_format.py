"""`--format json`: everything the table shows, as data (stable keys; `version` bumps on change)."""

from __future__ import annotations

import json

from portway.audit.findings import Finding, Severity
from portway.audit.report import ExposedPort, Report, StackSummary

FORMAT_VERSION = 1


def render(report: Report) -> str:
    document = {
        "version": FORMAT_VERSION,
        "files": report.files,
        "summary": {
            "exposed_ports": {"before": report.before, "after": report.after},
            "host_network": report.host_network,
            "findings": {str(s): report.count(s) for s in reversed(Severity)},
            "suppressed": len(report.suppressed),
        },
        "stacks": [_stack(summary) for summary in report.summaries],
        "services": [
            {
                "stack": stack.name,
                "name": w.name,
                "kind": w.kind,
                "role": w.role.value,
                "datastore": w.datastore or None,
                "image": w.image or None,
                "exposures": [
                    {
                        "port": e.port,
                        "via": e.via,
                        "loopback_only": e.loopback_only,
                        "host_network": e.host_network,
                        "unknown": list(e.unknown),
                        "file": e.location.file,
                        "line": e.location.line,
                    }
                    for e in w.exposures
                ],
                "networks": [
                    {
                        "name": ref.name,
                        "internal": n.internal if (n := stack.networks.get(ref.name)) else None,
                    }
                    for ref in w.networks
                ],
            }
            for stack in report.stacks
            for w in stack.workloads
        ],
        "findings": [finding_dict(f) for f in report.findings],
        "suppressed": [finding_dict(s.finding) | {"reason": s.reason} for s in report.suppressed],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def finding_dict(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule.id,
        "title": finding.rule.title,
        "severity": str(finding.severity),
        "file": finding.location.file,
        "line": finding.location.line,
        "subject": finding.subject,
        "message": finding.message,
        "fix": finding.fix_text,
    }


def _stack(summary: StackSummary) -> dict[str, object]:
    return {
        "name": summary.name,
        "platform": summary.platform,
        "exposed_ports": {"before": summary.before, "after": summary.after},
        "exposed": [_port(p) for p in summary.exposed],
        "kept": [_port(p) for p in summary.kept],
        "exposed_datastores": list(summary.exposed_datastores),
        "host_network": list(summary.host_network),
    }


def _port(port: ExposedPort) -> dict[str, object]:
    return {
        "service": port.owner,
        "role": port.role.value,
        "port": port.port,
        "via": port.via,
        "count": port.count,
        "file": port.location.file,
        "line": port.location.line,
    }
