"""Inline suppressions: with a reason they silence a rule for one node; without, they are reported."""

from __future__ import annotations

from audit_support import AuditYaml, rule_ids

STACK = """
services:
  gateway: {{image: portway, ports: ["8080:8080"], networks: [edge, app]}}
  {comment_above}
  metrics: {{image: acme/metrics, ports: ["9100:9100"], networks: [app]}}  {comment_after}
networks:
  edge: {{}}
  app: {{internal: true}}
"""


def _text(comment_above: str = "", comment_after: str = "") -> str:
    return STACK.format(comment_above=comment_above, comment_after=comment_after)


def test_unsuppressed(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(_text())
    assert rule_ids(report) == ["PW002"]
    assert (report.before, report.after) == (2, 1)


def test_trailing_comment_with_reason(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(_text(comment_after='# portway-audit: ignore PW002 reason="scraped by the host"'))
    assert rule_ids(report) == []
    assert [(s.finding.rule.id, s.reason) for s in report.suppressed] == [("PW002", "scraped by the host")]
    assert (report.before, report.after) == (2, 2)  # a port kept on purpose stays in the "after" count


def test_comment_above_covers_the_whole_block(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        """
        services:
          # portway-audit: ignore PW001, PW010,PW011 reason='demo database, throwaway data'
          db:
            image: postgres
            ports: ["5432:5432"]
          gateway: {image: portway, ports: ["80:80"]}
        """
    )
    assert rule_ids(report) == []
    assert sorted(s.finding.rule.id for s in report.suppressed) == ["PW001", "PW010", "PW011"]


def test_suppression_for_another_rule_does_not_apply(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(_text(comment_after='# portway-audit: ignore PW001 reason="x"'))
    assert rule_ids(report) == ["PW002"]


def test_suppression_without_reason_is_reported_and_ignored(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(_text(comment_after="# portway-audit: ignore PW002"))
    assert rule_ids(report) == ["PW000", "PW002"]


def test_unknown_rule_and_unreadable_directive(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(
        _text(
            comment_above='# portway-audit: ignore PW999 reason="x"',
            comment_after="# portway-audit: skip everything",
        )
    )
    assert rule_ids(report) == ["PW000", "PW000", "PW002"]
