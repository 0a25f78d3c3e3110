"""Files shaped like public projects' deploy files, audited whole: every real exposure found, no
finding a reviewer would strike out, and the exposed-port summary equal to the count written at
the top of each fixture (counted by hand)."""

from __future__ import annotations

from collections import Counter

import pytest
from audit_support import FIXTURES

from portway.audit import audit

REALWORLD = FIXTURES / "realworld"


@pytest.mark.parametrize(
    ("name", "before", "after", "host_network"),
    [
        ("monitoring.yml", 4, 0, ["node-exporter"]),
        ("wordpress-v2.yml", 2, 1, []),
        ("traefik-dev.yml", 4, 2, []),
        ("k8s-host.yaml", 3, 1, ["node-agent"]),
    ],
)
def test_exposed_port_summary_matches_the_hand_count(
    name: str, before: int, after: int, host_network: list[str]
) -> None:
    report = audit([REALWORLD / name], environ={})
    assert (report.before, report.after) == (before, after)
    assert report.host_network == host_network


def _found(name: str) -> Counter[tuple[str, str]]:
    return Counter((f.rule.id, f.subject) for f in audit([REALWORLD / name], environ={}).findings)


def test_monitoring_stack() -> None:
    found = _found("monitoring.yml")
    assert found[("PW001", "prometheus")] == 1  # a metrics store is a data store
    assert found[("PW002", "node-exporter")] == 1  # host network: all its ports are reachable
    assert found[("PW032", "node-exporter")] == 1
    assert found[("PW030", "cadvisor")] == 1  # /var/run holds the runtime socket
    assert found[("PW021", "grafana")] == 1  # admin/admin
    # /etc/localtime read-only is what every image reads; it is not a host system path.
    assert found[("PW035", "cadvisor")] == 3  # /, /sys, /var/lib/docker


def test_wordpress_v2_with_links() -> None:
    found = _found("wordpress-v2.yml")
    assert found[("PW001", "db")] == 1
    assert found[("PW021", "db")] == 2 and found[("PW021", "wordpress")] == 1  # the docs' defaults
    assert ("PW002", "wordpress") not in found  # the one web front is the entry point


def test_traefik_dev_stack() -> None:
    found = _found("traefik-dev.yml")
    assert found[("PW006", "traefik")] == 1  # --api.insecure on 8080
    assert found[("PW005", "api")] == 1  # the Node inspector
    assert ("PW001", "etl-kafka") not in found and ("PW010", "etl-kafka") not in found
    assert ("PW020", "etl-kafka") not in found  # `$${…}`: read by the container at run time
    assert found[("PW003", "redpanda")] == 2
    assert not [key for key in found if key[0] in ("PW001", "PW002")]


def test_kubernetes_multi_document() -> None:
    found = _found("k8s-host.yaml")
    assert found[("PW001", "cache")] == 1
    assert found[("PW022", "cache")] == 1  # a Redis without requirepass behind a NodePort
    assert found[("PW002", "node-agent")] == 1 and found[("PW032", "node-agent")] == 1
    assert not [key for key in found if key[1] == "web"]
