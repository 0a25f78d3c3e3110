"""The compose files quoted in the seeds, audited: what each gets wrong, and the summary."""

from __future__ import annotations

from collections import Counter

from audit_support import FIXTURES, rule_ids

from portway.audit import Severity, audit


def test_seed000_gateway_private_network() -> None:
    report = audit([FIXTURES / "seed000_gateway_private_network.yaml"])

    assert rule_ids(report) == ["PW010", "PW011", "PW021"]
    by_rule = {f.rule.id: f for f in report.findings}
    assert by_rule["PW021"].subject == "internal-db"
    assert by_rule["PW021"].location.line == 27  # POSTGRES_PASSWORD: password
    assert "`private_net`" in by_rule["PW010"].message
    assert "service-a, service-b, internal-db" in by_rule["PW011"].message
    assert (report.before, report.after) == (1, 1)  # only the gateway publishes: nothing to remove


def test_seed001_before_exposes_every_data_store() -> None:
    report = audit([FIXTURES / "seed001_before.yaml"])

    assert Counter(rule_ids(report)) == {"PW001": 5, "PW010": 3, "PW011": 1}
    exposed = sorted((f.subject, f.location.line) for f in report.findings if f.rule.id == "PW001")
    assert exposed == [("clickhouse", 12), ("clickhouse", 13), ("nats", 16), ("nats", 17), ("postgres", 9)]
    summary = report.summaries[0]
    assert (summary.before, summary.after) == (7, 2)
    assert [p.port for p in summary.kept] == ["8080→80/tcp", "8443→443/tcp"]
    assert summary.exposed_datastores == ("postgres", "clickhouse", "nats")
    assert report.fails(Severity.ERROR)


def test_seed001_after_stack_keeps_two_ports_but_is_not_encrypted() -> None:
    report = audit([FIXTURES / "seed001_after_stack.yaml"])

    assert report.stacks[0].platform.value == "swarm"
    assert Counter(rule_ids(report)) == {"PW013": 4, "PW011": 4, "PW010": 3}
    # `encrypted: true` beside the driver is not an option Docker reads: the overlays are clear text.
    assert all("driver_opts" in f.message for f in report.findings if f.rule.id == "PW013")
    assert {f.subject for f in report.findings if f.rule.id == "PW010"} == {"postgres", "clickhouse", "nats"}
    assert (report.before, report.after) == (2, 2)
    assert not report.fails(Severity.ERROR)


def test_seed002_service_published_beside_the_gateway() -> None:
    report = audit([FIXTURES / "seed002_microservices.yaml"])

    assert Counter(rule_ids(report)) == {"PW002": 1, "PW010": 1, "PW011": 1, "PW021": 1}
    assert next(f for f in report.findings if f.rule.id == "PW002").subject == "user-service"
    assert (report.before, report.after) == (2, 1)


def test_seed003_only_the_gateway_publishes_but_its_secret_is_inline() -> None:
    report = audit([FIXTURES / "seed003_gateway_pattern.yaml"])

    # "Only the gateway is exposed externally" holds; the default network is still not internal.
    assert rule_ids(report) == ["PW011", "PW020"]
    assert "`JWT_SECRET`" in next(f for f in report.findings if f.rule.id == "PW020").message
    assert (report.before, report.after) == (1, 1)
