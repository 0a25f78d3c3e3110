"""A Compose project (Compose v2/v3, the Compose Specification, Swarm stack files) as a Stack.

The project is read, interpolated and merged first (compose_project.py); this module only reads
the result. A file is a Swarm stack when named so (`stack.yaml`, `docker-stack.yml`) or when one of
its networks uses `driver: overlay`. Networks of a stack file default to the overlay driver; in any
other file a network without a driver is a bridge, whatever its neighbours use.
`network_mode: host` puts every port the container listens on on the host's interfaces: it is an
exposure of those ports (the declared ones, else "all ports the container listens on").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from portway.audit import ports, tree
from portway.audit.compose_merge import as_mapping
from portway.audit.compose_project import Project
from portway.audit.errors import AuditInputError
from portway.audit.findings import Location
from portway.audit.interpolation import read_dotenv
from portway.audit.model import (
    ALL_PORTS,
    EnvVar,
    Exposure,
    Mount,
    Network,
    NetworkRef,
    Platform,
    Setting,
    Stack,
    Workload,
)
from portway.audit.tree import LMap
from portway.audit.yamlsource import Key

Path_ = tuple[Key, ...]


def is_compose(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    if "services" in data:
        return isinstance(data["services"], dict | None)
    return is_legacy_compose(data)


def is_legacy_compose(data: dict[str, object]) -> bool:
    """Compose v1: every top-level value is a service definition."""
    return bool(data) and all(
        isinstance(value, dict) and ("image" in value or "build" in value) for value in data.values()
    )


def build_stack(project: Project) -> Stack:
    root = project.root
    services = root.get("services") or LMap(root.location)
    if not isinstance(services, LMap):
        raise AuditInputError(f"{tree.loc(root, 'services')}: `services` must be a mapping")
    top_networks = _mapping(root.get("networks"))
    stack_file = "stack" in Path(project.name.split(" + ")[0]).name.lower()
    overlay = any(_mapping(v).get("driver") == "overlay" for v in top_networks.values())
    stack = Stack(platform=Platform.SWARM if stack_file or overlay else Platform.COMPOSE, name=project.name)
    for name, value in top_networks.items():
        stack.networks[name] = _network(root, name, _mapping(value), stack_file)
    for name, value in services.items():
        if not isinstance(value, dict | None):
            raise AuditInputError(f"{tree.loc(services, name)}: service `{name}` is not a mapping")
        spec = value if isinstance(value, LMap) else LMap(services.meta[name].location)
        stack.workloads.append(_service(project, ("services", name), name, spec))
    if any(ref.name == "default" for w in stack.workloads for ref in w.networks):
        stack.networks.setdefault(
            "default",
            Network(
                name="default",
                location=tree.loc(root, "services"),
                declared=False,
                driver="overlay" if stack_file else "bridge",
            ),
        )
    return stack


def _network(root: LMap, name: str, spec: Mapping[str, object], stack_file: bool) -> Network:
    driver_opts = _mapping(spec.get("driver_opts"))
    return Network(
        name=name,
        location=tree.loc(root, "networks", name),
        driver=str(spec.get("driver") or ("overlay" if stack_file else "bridge")),
        internal=_truthy(spec.get("internal")),
        external=_truthy(spec.get("external")) or isinstance(spec.get("external"), dict),
        attachable=_truthy(spec.get("attachable")),
        # Docker encrypts an overlay when the option is present at all: `encrypted: ""` is the usual form.
        encrypted="encrypted" in driver_opts and str(driver_opts["encrypted"]).lower() != "false",
        encrypted_misplaced="encrypted" in spec,
    )


def _service(project: Project, path: Path_, name: str, spec: LMap) -> Workload:
    root = project.root
    image = str(spec.get("image") or "")
    labels = _labels(spec.get("labels")) | _labels(_mapping(spec.get("deploy")).get("labels"))
    workload = Workload(
        name=name,
        kind="service",
        location=tree.loc(root, *path),
        image=image,
        labels=labels,
        built="build" in spec,
        profiles=tuple(str(p) for p in _list(spec.get("profiles"))),
    )
    network_mode = str(spec.get("network_mode") or "")
    published = list(_exposures(root, path, spec))
    workload.container_ports = _container_ports(spec, published)
    if network_mode == "host":
        where = tree.loc(root, *path, "network_mode")
        workload.host_namespaces.append(Setting("network", where))
        workload.exposures.extend(_host_network(workload.container_ports, where))
    else:
        workload.exposures.extend(published)
    for namespace in ("pid", "ipc"):
        if str(spec.get(namespace) or "") == "host":
            workload.host_namespaces.append(Setting(namespace, tree.loc(root, *path, namespace)))
    workload.networks.extend(_network_refs(root, path, spec, network_mode))
    if _truthy(spec.get("privileged")):
        workload.privileged.append(Setting("privileged: true", tree.loc(root, *path, "privileged")))
    for index, cap in enumerate(_list(spec.get("cap_add"))):
        workload.capabilities.append(Setting(str(cap), tree.loc(root, *path, "cap_add", index)))
    workload.mounts.extend(_host_mounts(root, path, spec.get("volumes")))
    workload.env.extend(_environment(root, path, spec.get("environment")))
    workload.env.extend(_env_files(project, path, spec.get("env_file")))
    workload.arguments.extend(_command(root, path, "entrypoint", spec.get("entrypoint")))
    workload.arguments.extend(_command(root, path, "command", spec.get("command")))
    for index, secret in enumerate(_list(spec.get("secrets"))):
        source = secret.get("source") if isinstance(secret, dict) else secret
        workload.secrets.append(Setting(str(source), tree.loc(root, *path, "secrets", index)))
    return workload


def _exposures(root: LMap, path: Path_, spec: Mapping[str, object]) -> Iterator[Exposure]:
    entries = spec.get("ports")
    if entries is not None and not isinstance(entries, list):
        # Compose refuses it too; reading nothing here would pass a file that publishes who knows what.
        raise AuditInputError(f"{tree.loc(root, *path, 'ports')}: `ports` must be a list")
    for index, entry in enumerate(_list(entries)):
        where = tree.loc(root, *path, "ports", index)
        if isinstance(entry, dict):
            port = ports.parse_long(entry)
            via = "ports (mode: host)" if entry.get("mode") == "host" else "ports"
        elif isinstance(entry, str | int):
            port, via = ports.parse_short(entry), "ports"
        else:
            raise AuditInputError(f"{where}: a port must be a string or a mapping")
        unknown = tree.unknown(root, *path, "ports", index)
        meta = tree.meta_of(root, *path, "ports", index)
        # With a variable unset the resolved spec says little ("(ephemeral)→"): show it as written.
        shown = f"{meta.raw}" if unknown and meta is not None and meta.raw else port.describe()
        yield Exposure(
            port=shown,
            via=via,
            location=where,
            host_ip=port.host_ip,
            count=port.count,
            target=port.target,
            unknown=unknown,
        )


def _container_ports(spec: Mapping[str, object], published: list[Exposure]) -> list[int]:
    """The ports the container listens on as far as the file says: `ports` targets and `expose`."""
    found: list[int] = []
    texts = [e.target for e in published] + [str(p).split("/")[0] for p in _list(spec.get("expose"))]
    for text in texts:
        low, _, high = text.partition("-")
        if low.isdigit():
            found.extend(range(int(low), int(high) + 1 if high.isdigit() else int(low) + 1))
    return list(dict.fromkeys(found))


def _host_network(declared: list[int], where: Location) -> Iterator[Exposure]:
    if not declared:
        yield Exposure(ALL_PORTS, "host network", where, host_network=True)
        return
    for port in declared:
        yield Exposure(f"{port} ({ALL_PORTS})", "host network", where, target=str(port), host_network=True)


def _network_refs(
    root: LMap, path: Path_, spec: Mapping[str, object], network_mode: str
) -> Iterator[NetworkRef]:
    networks = spec.get("networks")
    if networks is None:
        if not network_mode:  # a service with neither joins the project's `default` network
            yield NetworkRef("default", tree.loc(root, *path))
        return
    refs = as_mapping(networks)
    for name in refs:
        yield NetworkRef(name, refs.meta[name].location)


def _host_mounts(root: LMap, path: Path_, volumes: object) -> Iterator[Mount]:
    for index, entry in enumerate(_list(volumes)):
        if isinstance(entry, dict):
            if entry.get("type", "volume") != "bind":
                continue
            source = str(entry.get("source") or "")
            read_only = _truthy(entry.get("read_only"))
            target = str(entry.get("target") or "")
        else:
            source, target, mode = _short_volume(str(entry))
            read_only = "ro" in mode.split(",")
        if source.startswith(("/", "\\\\", "//", "~")):  # a host path, not a named volume
            yield Mount(source, tree.loc(root, *path, "volumes", index), target, read_only)


def _short_volume(entry: str) -> tuple[str, str, str]:
    """`SRC:DST[:MODE]` -> (SRC, DST, MODE); a lone `DST` is an anonymous volume. Windows `C:\\x` kept."""
    drive = ""
    if re.match(r"^[A-Za-z]:[\\/]", entry):
        drive, entry = entry[:2], entry[2:]
    parts = entry.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    return drive + parts[0], parts[1], ":".join(parts[2:])


def _environment(root: LMap, path: Path_, environment: object) -> Iterator[EnvVar]:
    if environment is None:
        return
    mapping = as_mapping(environment)
    for name, value in mapping.items():
        meta = mapping.meta[name]
        yield EnvVar(
            name,
            None if value is None else _scalar_text(value),
            meta.location,
            raw=meta.raw,
            env_sources=meta.env_sources,
        )


def _env_files(project: Project, path: Path_, env_file: object) -> Iterator[EnvVar]:
    """Variables of the env files that exist in the project (missing ones are skipped: they usually
    hold the real secrets and are kept out of the repository on purpose)."""
    entries = [env_file] if isinstance(env_file, str | dict) else _list(env_file)
    for entry in entries:
        name = entry.get("path") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or "$" in name:
            continue
        file = project.directory / name
        if file.is_file():
            for key, value, location in read_dotenv(file):
                yield EnvVar(key, value, location, from_env_file=True)


def _command(root: LMap, path: Path_, field: str, command: object) -> Iterator[Setting]:
    if isinstance(command, str):
        for word in command.split():
            yield Setting(word, tree.loc(root, *path, field))
        return
    for index, item in enumerate(_list(command)):
        yield Setting(str(item), tree.loc(root, *path, field, index))


def _labels(labels: object) -> dict[str, str]:
    if labels is None:
        return {}
    return {str(k): _scalar_text(v) for k, v in as_mapping(labels).items()}


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
