"""What a rule reports: a severity, a stable rule id, where, what and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """Ordered so that `finding.severity >= threshold` reads as it should."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    fix: str


@dataclass(frozen=True)
class Finding:
    rule: Rule
    location: Location
    subject: str  # the service, network or object the finding is about
    message: str
    fix: str = ""  # a fix specific to this finding; the rule's general fix when empty
    level: Severity | None = None  # when the rule's severity depends on the case (PW011)

    @property
    def severity(self) -> Severity:
        return self.level or self.rule.severity

    @property
    def fix_text(self) -> str:
        return self.fix or self.rule.fix

    def sort_key(self) -> tuple[int, str, int, str]:
        return (-self.severity, self.location.file, self.location.line, self.rule.id)


@dataclass(frozen=True)
class Suppressed:
    """A finding silenced by an inline `portway-audit: ignore` comment, kept for the reports."""

    finding: Finding
    reason: str
