"""PW011: one finding per open network, naming who needs outbound access; info unless a data
store sits on it."""

from __future__ import annotations

from audit_support import AuditYaml

from portway.audit import Severity

APP = """
services:
  gateway: {image: nginx, ports: ["80:80"], networks: [front, back]}
  notifications:
    build: ./notifications
    networks: [back]
    environment:
      SMTP_HOST: smtp.sendgrid.net
      USERS_URL: http://users:8000
  users: {build: ./users, networks: [back], environment: {PAYMENTS_API: "https://api.stripe.com/v1"}}
  reports: {build: ./reports, networks: [back]}
networks:
  front: {}
  back: {}
"""


def test_one_info_finding_naming_outbound_needs(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(APP)
    [finding] = [f for f in report.findings if f.rule.id == "PW011"]
    assert finding.severity is Severity.INFO
    assert finding.subject == "back"
    assert "notifications (SMTP_HOST → smtp.sendgrid.net)" in finding.message
    assert "users (PAYMENTS_API → api.stripe.com)" in finding.message
    assert "reports (" not in finding.message  # nothing shows it reaching out


def test_warning_when_a_data_store_is_on_it(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(APP.replace("reports: {build: ./reports", "db: {image: postgres:16"))
    [finding] = [f for f in report.findings if f.rule.id == "PW011"]
    assert finding.severity is Severity.WARNING
    assert "data stores that can reach out and be reached: db" in finding.message


def test_internal_network_passes(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(APP.replace("back: {}", "back: {internal: true}"))
    assert [f.rule.id for f in report.findings if f.rule.id == "PW011"] == []
