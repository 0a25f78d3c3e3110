"""Sensitive host paths by tree, and a writable parent mount undoing a read-only child."""

from __future__ import annotations

import pytest
from audit_support import AuditYaml, rule_ids


def _volumes(*entries: str) -> str:
    listed = "".join(f"      - {entry}\n" for entry in entries)
    head = "services:\n  tool:\n    image: acme/tool\n    networks: [p]\n    volumes:\n"
    return head + listed + "networks: {p: {internal: true}}\n"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["/lib/modules:/lib/modules:ro"], ["PW035"]),
        (["/etc/ssh:/etc/ssh:ro"], ["PW035"]),
        (["/etc/letsencrypt:/certs"], ["PW035"]),
        (["/etc/localtime:/etc/localtime"], ["PW035"]),  # writable: the host's clock setting
        (["/proc/sys/kernel:/host/kernel"], ["PW035"]),
        (["/sys/fs/cgroup:/sys/fs/cgroup:ro"], ["PW035"]),
        (["~/.ssh:/root/.ssh:ro"], ["PW035"]),
        (["{type: bind, source: /var/lib/kubelet, target: /kubelet, read_only: true}"], ["PW035"]),
        (["/var/run:/var/run"], ["PW030"]),
        (["/var/run/docker.sock:/var/run/docker.sock:ro", "/var/run:/host/run"], ["PW030", "PW030"]),
    ],
)
def test_sensitive_host_paths(audit_yaml: AuditYaml, entries: list[str], expected: list[str]) -> None:
    assert rule_ids(audit_yaml(_volumes(*entries))) == expected


def test_parent_mount_names_the_read_only_socket(audit_yaml: AuditYaml) -> None:
    report = audit_yaml(_volumes("/var/run/docker.sock:/var/run/docker.sock:ro", "/var/run:/host/run"))
    assert "read-only socket mount does not protect it" in report.findings[1].message


@pytest.mark.parametrize(
    "entries",
    [
        ["/etc/localtime:/etc/localtime:ro", "/etc/timezone:/etc/timezone:ro"],
        ["/etc/ssl/certs:/etc/ssl/certs:ro"],
        ["./config/nginx.conf:/etc/nginx/nginx.conf:ro"],
        ["/srv/app/media:/app/media", "/opt/app/data:/data"],
        ["/dev/shm:/dev/shm"],
    ],
)
def test_ordinary_mounts_pass(audit_yaml: AuditYaml, entries: list[str]) -> None:
    assert rule_ids(audit_yaml(_volumes(*entries))) == []
