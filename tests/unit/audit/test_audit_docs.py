"""docs/audit.md lists every rule with its severity, so the page cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from portway.audit import RULES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "audit.md"


def test_rules_table_matches_the_rules() -> None:
    rows = re.findall(r"^\| (PW\d{3}) \| (\w+) \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)

    assert rows == [(rule.id, str(rule.severity)) for rule in RULES.values()]
