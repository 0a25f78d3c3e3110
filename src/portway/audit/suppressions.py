"""Inline suppressions: a YAML comment that silences named rules for one node, with a reason.

    # portway-audit: ignore PW011 reason="notifications sends mail through the internet"
    notifications:
      ...
    ports: ["127.0.0.1:9090:9090"]  # portway-audit: ignore PW003 reason="local metrics"

Rules of a suppression:
- a comment alone on its line covers the next line that is not blank or a comment; a comment after
  a value covers its own line;
- it covers that line's whole block: on a service's key line, everything in the service;
- it names one or more rule ids (`PW003,PW011`) and must give `reason="…"` (or '…'); one that gives
  no reason or names an unknown rule suppresses nothing and is itself reported (PW000).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from portway.audit.findings import Finding, Location, Rule, Suppressed
from portway.audit.yamlsource import SourceFile

_DIRECTIVE = re.compile(r"#\s*portway-audit\s*:\s*(?P<body>.*)$")
_IGNORE = re.compile(
    r"^ignore\s+(?P<rules>[A-Za-z]+\d+(?:\s*,\s*[A-Za-z]+\d+)*)"
    r"(?:\s+reason\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'))?\s*$"
)


@dataclass(frozen=True)
class Suppression:
    rules: frozenset[str]
    reason: str
    file: str
    first_line: int
    last_line: int

    def covers(self, finding: Finding) -> bool:
        where = finding.location
        return (
            finding.rule.id in self.rules
            and where.file == self.file
            and self.first_line <= where.line <= self.last_line
        )


def parse(
    source: SourceFile, known_rules: Collection[str], meta_rule: Rule
) -> tuple[list[Suppression], list[Finding]]:
    """The file's suppressions, and PW000 findings for directives that cannot be honoured."""
    suppressions: list[Suppression] = []
    problems: list[Finding] = []
    lines = source.text.splitlines()
    for number, line in enumerate(lines, start=1):
        match = _DIRECTIVE.search(line)
        if match is None:
            continue
        location = Location(source.display, number)
        ignore = _IGNORE.match(match["body"].strip())
        if ignore is None:
            problems.append(
                Finding(
                    meta_rule,
                    location,
                    "suppression",
                    'cannot read the suppression: expected `ignore PW0NN reason="…"`',
                )
            )
            continue
        rules = frozenset(rule.strip().upper() for rule in ignore["rules"].split(","))
        reason = (ignore["dq"] or ignore["sq"] or "").strip()
        unknown = sorted(rules - set(known_rules))
        if unknown:
            problems.append(Finding(meta_rule, location, "suppression", f"unknown rule {', '.join(unknown)}"))
            continue
        if not reason:
            problems.append(
                Finding(
                    meta_rule,
                    location,
                    "suppression",
                    f"suppression of {', '.join(sorted(rules))} gives no reason",
                )
            )
            continue
        target = number if line[: match.start()].strip() else _next_content_line(lines, number)
        suppressions.append(Suppression(rules, reason, source.display, target, source.block_end(target)))
    return suppressions, problems


def apply(
    findings: Iterable[Finding], suppressions: list[Suppression]
) -> tuple[list[Finding], list[Suppressed]]:
    kept: list[Finding] = []
    silenced: list[Suppressed] = []
    for finding in findings:
        match = next((s for s in suppressions if s.covers(finding)), None)
        if match is None:
            kept.append(finding)
        else:
            silenced.append(Suppressed(finding, match.reason))
    return kept, silenced


def _next_content_line(lines: list[str], number: int) -> int:
    for later in range(number, len(lines)):
        stripped = lines[later].strip()
        if stripped and not stripped.startswith("#"):
            return later + 1
    return number
