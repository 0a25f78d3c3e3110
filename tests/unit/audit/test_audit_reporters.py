"""The JSON and SARIF reports carry the findings, the suppressions and the summary."""

from __future__ import annotations

import json

from audit_support import FIXTURES

from portway.audit import RULES, audit
from portway.audit.reporters import RENDERERS


def test_json_report() -> None:
    report = audit([FIXTURES / "seed001_before.yaml"])
    data = json.loads(RENDERERS["json"](report))
    assert data["summary"]["exposed_ports"] == {"before": 7, "after": 2}
    assert data["summary"]["findings"] == {"error": 5, "warning": 4, "info": 0}
    first = data["findings"][0]
    assert first["rule"] == "PW001" and first["severity"] == "error"
    assert first["file"].endswith("seed001_before.yaml") and first["line"] == 9
    assert {s["name"]: s["role"] for s in data["services"]}["traefik"] == "gateway"
    assert data["stacks"][0]["exposed_datastores"] == ["postgres", "clickhouse", "nats"]


def test_sarif_report_is_2_1_0_with_every_rule(audit_yaml) -> None:
    report = audit_yaml(
        'services:\n  db: {image: redis, ports: ["6379:6379"]}  # portway-audit: ignore PW001 reason="lab"\n'
    )
    data = json.loads(RENDERERS["sarif"](report))
    assert data["version"] == "2.1.0"
    run = data["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert suppressed[0]["ruleId"] == "PW001"
    assert suppressed[0]["suppressions"] == [{"kind": "inSource", "justification": "lab"}]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        location = result["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] >= 1
        assert location["artifactLocation"]["uri"]
