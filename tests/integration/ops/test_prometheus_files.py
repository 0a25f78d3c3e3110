"""deploy/prometheus/ and deploy/grafana/ checked by the real tool: promtool (Debian's `prometheus`
package, installed by .ci/install-promtool) checks the scrape config and the alert rules, runs the
rules' unit tests, and parses every Grafana panel's query (as a recording rule). Every metric name
they use must be one a real gateway exports. Without promtool these skip, and fail instead when
PORTWAY_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops_support import exported_names, families, require_tool, scrape

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana" / "portway.json"
# Grafana's variables, as the dashboard would expand them: a range for rate(), any job, any route.
VARIABLES = {"$__rate_interval": "5m", "$job": "portway", "$route": ".*"}
METRIC = re.compile(r"\b(?:portway|process)_[a-z0-9_]+")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("promtool")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def grafana_panels() -> list[dict[str, Any]]:
    doc = json.loads(GRAFANA.read_text(encoding="utf-8"))
    panels: list[dict[str, Any]] = []
    for panel in doc["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return panels


def grafana_queries() -> list[str]:
    doc = json.loads(GRAFANA.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in grafana_panels() for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in doc["templating"]["list"] if v["type"] == "query"]
    return exprs


def expand(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def alert_exprs() -> list[str]:
    doc = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def test_promtool_checks_the_scrape_config_and_its_rule_files() -> None:
    result = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml" in result.stdout  # the rule file it names was found and checked too


def test_promtool_checks_the_alert_rules() -> None:
    result = promtool("check", "rules", PROMETHEUS / "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", PROMETHEUS / "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_can_fail(tmp_path: Path) -> None:
    """The same tests against rules whose 5xx threshold is out of reach must fail: they assert."""
    rules = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
    broken = rules.replace(") > 0.05", ") > 0.5", 1)
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken, encoding="utf-8")
    (tmp_path / "alerts.test.yml").write_text((PROMETHEUS / "alerts.test.yml").read_text(encoding="utf-8"))
    result = promtool("test", "rules", tmp_path / "alerts.test.yml")
    assert result.returncode != 0
    assert "PortwayHigh5xxRatio" in result.stdout + result.stderr


def test_the_grafana_dashboard_is_well_formed() -> None:
    doc = json.loads(GRAFANA.read_text(encoding="utf-8"))
    panels = grafana_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert doc["uid"] and doc["title"] and isinstance(doc["schemaVersion"], int)
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], f"{panel['title']}: no query"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert all(t["refId"] for t in panel["targets"])
    variables = {v["name"] for v in doc["templating"]["list"]}
    used = {m for e in grafana_queries() for m in re.findall(r"\$(\w+)", e)} - {"__rate_interval"}
    assert used <= variables


def test_promtool_parses_every_grafana_query(tmp_path: Path) -> None:
    exprs = [expand(t["expr"]) for p in grafana_panels() for t in p.get("targets", [])]
    rules = {"groups": [{"name": "grafana", "rules": [
        {"record": f"grafana:panel_{i}", "expr": expr} for i, expr in enumerate(exprs)
    ]}]}  # fmt: skip
    path = tmp_path / "grafana-queries.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


@pytest.fixture(scope="module")
def metric_names() -> set[str]:
    import asyncio

    return exported_names(families(asyncio.run(scrape())))


def test_alerts_and_dashboard_use_only_metrics_the_gateway_exports(metric_names: set[str]) -> None:
    used = {m for expr in alert_exprs() + grafana_queries() for m in METRIC.findall(expr)}
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text(encoding="utf-8"))
    series = {s["series"] for t in tests["tests"] for s in t["input_series"]}
    used |= {m for s in series for m in METRIC.findall(s)}
    assert len(used) >= 10
    assert used - metric_names == set()
