"""The audit rules: one module per family, each with its `RULES` and a `check(stack)`.

Rule ids are stable: a rule may be reworded or made smarter, never renumbered or reused.
PW00x exposure, PW01x networks, PW02x credentials, PW03x host access, PW04x Kubernetes policy.
"""

from __future__ import annotations

from portway.audit.findings import Finding, Rule, Severity
from portway.audit.model import Platform, Stack
from portway.audit.rules import credentials, exposure, host, kubernetes, networks

_FAMILIES = (exposure, networks, credentials, host, kubernetes)

SUPPRESSION_RULE = Rule(
    "PW000",
    "Suppression without a reason, or for an unknown rule",
    Severity.WARNING,
    'Write `# portway-audit: ignore PW0NN reason="why this is safe here"` with a known rule id.',
)

RULES: dict[str, Rule] = {
    rule.id: rule for rule in (SUPPRESSION_RULE, *(r for family in _FAMILIES for r in family.RULES))
}


def check(stack: Stack) -> list[Finding]:
    # A live host has no file: only who listens where can be judged.
    families = (exposure,) if stack.platform is Platform.HOST else _FAMILIES
    return [finding for family in families for finding in family.check(stack)]


__all__ = ["RULES", "SUPPRESSION_RULE", "check"]
