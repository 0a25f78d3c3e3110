"""Settings that hand a container the host: the Docker socket, privileged mode, host namespaces,
added capabilities and host system paths."""

from __future__ import annotations

import re
from collections.abc import Iterator

from portway.audit.findings import Finding, Rule, Severity
from portway.audit.model import Stack

DOCKER_SOCKET = Rule(
    "PW030",
    "Container runtime socket mounted",
    Severity.ERROR,
    "Do not mount the socket (read-only does not help: the API is root on the host). If a tool needs "
    "to discover containers, give it a filtering socket proxy that allows only the read calls it makes.",
)
PRIVILEGED = Rule(
    "PW031",
    "Privileged container",
    Severity.ERROR,
    "Remove `privileged: true`; add only the capability or device the container needs.",
)
HOST_NETWORK = Rule(
    "PW032",
    "Container on the host's network",
    Severity.ERROR,
    "Remove `network_mode: host` / `hostNetwork: true`: every port the container opens is then on "
    "the host's interfaces, past every network rule. Publish the one port it needs instead.",
)
CAPABILITIES = Rule(
    "PW033",
    "Linux capability added beyond Docker's defaults",
    Severity.WARNING,
    "Remove the capability unless the container cannot work without it. Capabilities Docker grants by "
    "default (CHOWN, SETUID, NET_BIND_SERVICE, …) are not reported: adding them back after "
    "`cap_drop: [ALL]` is the hardening pattern, not a grant.",
)
HOST_NAMESPACE = Rule(
    "PW034",
    "Host PID or IPC namespace shared",
    Severity.WARNING,
    "Remove `pid: host` / `ipc: host` (`hostPID` / `hostIPC` in Kubernetes).",
)
HOST_PATH = Rule(
    "PW035",
    "Host system path mounted",
    Severity.WARNING,
    "Mount a named volume or a path of the application's own instead of a host system directory.",
)
RULES = (DOCKER_SOCKET, PRIVILEGED, HOST_NETWORK, CAPABILITIES, HOST_NAMESPACE, HOST_PATH)

_SOCKET = re.compile(r"(docker|podman|containerd|crio|cri-dockerd)\.sock$|docker_engine$")
# Directories that hold the runtime socket: mounting one hands over the socket inside it.
_SOCKET_DIRS = {"/var/run", "/run", "/var/run/docker", "/run/docker", "/run/containerd", "/run/podman"}
# Mounted whole, these hand the container the host's system.
_SYSTEM_ROOTS = {"/", "/etc", "/var", "/var/lib", "/home", "/usr", "/lib", "/bin", "/sbin", "/opt"}
# Mounted whole or in part (any path below them).
_SYSTEM_TREES = (
    "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/lib/modules", "/usr/lib/modules", "/usr/src",
    "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/etc/kubernetes",
)  # fmt: skip
# Parts of those trees that images commonly read and that give nothing away when read-only.
_HARMLESS_READ_ONLY = (
    "/etc/localtime", "/etc/timezone", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
    "/etc/machine-id", "/etc/passwd", "/etc/group", "/etc/os-release", "/etc/ssl/certs",
    "/etc/ca-certificates", "/etc/pki/ca-trust", "/dev/shm",  # noqa: S108 - a host path, not a temp file
    "/dev/dri", "/dev/snd", "/dev/null",
    "/dev/urandom", "/dev/random",
)  # fmt: skip
_CREDENTIAL_DIRS = re.compile(r"/\.(ssh|aws|kube|docker|gnupg|azure|config/gcloud)(/|$)")
# Docker's default capability set: a container has these unless they are dropped.
_DEFAULT_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def check(stack: Stack) -> Iterator[Finding]:
    for w in stack.workloads:
        sockets = [m for m in w.mounts if _SOCKET.search(m.source.rstrip("/"))]
        for mount in w.mounts:
            source = mount.source.rstrip("/") or "/"
            mode = " read-only" if mount.read_only else ""
            if mount in sockets:
                yield Finding(
                    DOCKER_SOCKET,
                    mount.location,
                    w.name,
                    f"`{w.name}` mounts `{mount.source}`{mode}: control of every container on the host",
                )
            elif source in _SOCKET_DIRS:
                undone = " (its read-only socket mount does not protect it)" if sockets else ""
                yield Finding(
                    DOCKER_SOCKET,
                    mount.location,
                    w.name,
                    f"`{w.name}` mounts the host's `{mount.source}`{mode}, which holds the container "
                    f"runtime's socket{undone}",
                )
            elif _sensitive(source, mount.read_only):
                yield Finding(
                    HOST_PATH, mount.location, w.name, f"`{w.name}` mounts the host's `{mount.source}`{mode}"
                )
        for setting in w.privileged:
            yield Finding(PRIVILEGED, setting.location, w.name, f"`{w.name}` runs privileged")
        for namespace in w.host_namespaces:
            rule = HOST_NETWORK if namespace.value == "network" else HOST_NAMESPACE
            yield Finding(
                rule, namespace.location, w.name, f"`{w.name}` shares the host's {namespace.value} namespace"
            )
        for cap in w.capabilities:
            if cap.value.upper().removeprefix("CAP_") not in _DEFAULT_CAPS:
                yield Finding(CAPABILITIES, cap.location, w.name, f"`{w.name}` adds capability {cap.value}")


def _sensitive(source: str, read_only: bool) -> bool:
    if source in _SYSTEM_ROOTS or _CREDENTIAL_DIRS.search(source) or source in ("~", "${HOME}"):
        return True
    if not any(source == tree or source.startswith(tree + "/") for tree in _SYSTEM_TREES):
        return False
    harmless = any(source == p or source.startswith(p + "/") for p in _HARMLESS_READ_ONLY)
    return not (harmless and (read_only or source.startswith("/dev/")))
