"""Counts an http-cache-tests run the way cache-tests.fyi does (lib/display.mjs determineTestResult:
a test whose dependency did not pass is a dependency failure; "yes" on a check counts as a pass),
per kind, next to the results the package ships for other reverse proxies.

Usage: cache_tests_report.py TESTS.json RESULTS_DIR OURS.json [--markdown] [--failures]
  TESTS.json   the suite's tests (bench/cache-tests/list-tests.mjs)
  RESULTS_DIR  the package's results/ directory (nginx.json, varnish.json, ...)
  OURS.json    the CLI's output for portway
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OTHERS = {
    "nginx": "nginx.json",
    "Varnish": "varnish.json",
    "Squid": "squid.json",
    "ATS": "trafficserver.json",
}
KINDS = ("required", "optimal", "check")


def verdict(tests: dict[str, dict[str, Any]], results: dict[str, Any], test_id: str) -> str:
    """pass | fail | dep | setup | untested (check kinds: pass = "yes", fail = "no")."""
    result = results.get(test_id)
    if result is None:
        return "untested"
    for dependency in tests[test_id]["depends_on"]:
        if verdict(tests, results, dependency) != "pass":
            return "dep"
    if isinstance(result, list) and result and result[0] == "Setup":
        return "setup"
    return "pass" if result is True else "fail"


def count(tests: dict[str, dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    per_kind = {kind: 0 for kind in KINDS}
    passed: set[str] = set()
    for test_id, test in tests.items():
        if verdict(tests, results, test_id) == "pass":
            per_kind[test["kind"]] += 1
            passed.add(test_id)
    return {"kinds": per_kind, "total": sum(per_kind.values()), "passed": passed}


def main(argv: list[str]) -> int:
    listing, results_dir, ours_path = Path(argv[1]), Path(argv[2]), Path(argv[3])
    tests = {t["id"]: t for t in json.loads(listing.read_text()) if not t["browser_only"]}
    sizes = {kind: sum(1 for t in tests.values() if t["kind"] == kind) for kind in KINDS}
    ours_results = json.loads(ours_path.read_text())
    rows = {"portway": count(tests, ours_results)}
    for name, file in OTHERS.items():
        rows[name] = count(tests, json.loads((results_dir / file).read_text()))
    print(
        f"| cache ({len(tests)} reverse-proxy tests) | "
        + " | ".join(f"{k} ({sizes[k]})" for k in KINDS)
        + " | total |"
    )
    print("|---|" + "---:|" * (len(KINDS) + 1))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(str(row["kinds"][k]) for k in KINDS) + f" | {row['total']} |")
    ours = rows["portway"]["passed"]
    regressions = sorted(t for t in rows["nginx"]["passed"] - ours if tests[t]["kind"] == "required")
    print(f"\nrequired tests nginx passes and portway does not: {len(regressions)}")
    for test_id in regressions:
        print(f"- {test_id}: {tests[test_id]['name']}")
    if "--failures" in argv:
        print("\nportway, not passed:")
        for test_id, test in tests.items():
            v = verdict(tests, ours_results, test_id)
            if v != "pass":
                print(f"- [{test['kind']}] {test_id} ({v}): {test['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
