"""PW030-PW035: settings that hand a container the host (Compose forms; Kubernetes forms are in
the Kubernetes rule tests)."""

from __future__ import annotations

import pytest
from audit_support import AuditYaml, rule_ids


def _service(settings: str) -> str:
    return (
        "services:\n  tool:\n    image: acme/tool\n    networks: [p]\n"
        + "".join(f"    {line}\n" for line in settings.splitlines())
        + "networks: {p: {internal: true}}\n"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro']", "PW030"),
        ("volumes: [{type: bind, source: /run/podman/podman.sock, target: /sock}]", "PW030"),
        ("volumes: ['//./pipe/docker_engine://./pipe/docker_engine']", "PW030"),
        ("privileged: true", "PW031"),
        ("network_mode: host", "PW032"),
        ("cap_add: [SYS_ADMIN]", "PW033"),
        ("pid: host", "PW034"),
        ("ipc: host", "PW034"),
        ("volumes: ['/etc:/host/etc:ro']", "PW035"),
        ("volumes: ['/:/host']", "PW035"),
    ],
)
def test_host_access_is_reported(audit_yaml: AuditYaml, settings: str, expected: str) -> None:
    assert expected in rule_ids(audit_yaml(_service(settings)))


@pytest.mark.parametrize(
    "settings",
    [
        "volumes: ['data:/var/lib/data', './config:/etc/app:ro', '/srv/app/uploads:/uploads']",
        "volumes: [{type: volume, source: data, target: /data}]",
        "privileged: false",
        "network_mode: none",
        "cap_add: [NET_BIND_SERVICE]",
        "cap_add: [CAP_CHOWN, SETUID]",
        "pid: 'service:other'",
    ],
)
def test_harmless_settings_pass(audit_yaml: AuditYaml, settings: str) -> None:
    assert rule_ids(audit_yaml(_service(settings))) == []
