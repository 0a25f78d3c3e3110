"""Docker Compose files and Swarm stack files (Compose v2/v3 and the Compose Specification) as a Stack.

A file is a Swarm stack when it says so by its networks (`driver: overlay`) or by its name
(`stack.yaml`, `docker-stack.yml`); networks in a stack default to the overlay driver.
Legacy v1 files (services at the top level, no `services:` key) are read too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from portway.audit import ports
from portway.audit.errors import AuditInputError
from portway.audit.findings import Location
from portway.audit.model import EnvVar, Exposure, Network, NetworkRef, Platform, Setting, Stack, Workload
from portway.audit.yamlsource import Document, Key

_SERVICE_KEYS = {"image", "build", "ports", "expose", "environment", "command", "networks", "volumes"}


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


def build_stack(doc: Document) -> Stack:
    assert isinstance(doc.data, dict)
    legacy = "services" not in doc.data
    services_root: tuple[Key, ...] = () if legacy else ("services",)
    services = doc.data if legacy else (doc.data.get("services") or {})
    assert isinstance(services, dict)
    top_networks = {} if legacy else _mapping(doc.data.get("networks"))
    swarm = _is_swarm(doc, top_networks)
    stack = Stack(platform=Platform.SWARM if swarm else Platform.COMPOSE, name=doc.source.display)
    for name, value in top_networks.items():
        stack.networks[name] = _network(doc, name, _mapping(value), swarm)
    for name, value in services.items():
        if not isinstance(value, dict | None):
            raise AuditInputError(f"{_loc(doc, *services_root, name)}: service `{name}` is not a mapping")
        stack.workloads.append(_service(doc, (*services_root, name), name, value or {}))
    if any(ref.name == "default" for w in stack.workloads for ref in w.networks):
        stack.networks.setdefault(
            "default",
            Network(
                name="default",
                location=Location(doc.source.display, doc.line(*services_root)),
                declared=False,
                driver="overlay" if swarm else "bridge",
            ),
        )
    return stack


def _is_swarm(doc: Document, networks: Mapping[str, object]) -> bool:
    name = Path(doc.source.display).name.lower()
    if "stack" in name:
        return True
    return any(_mapping(value).get("driver") == "overlay" for value in networks.values())


def _network(doc: Document, name: str, spec: Mapping[str, object], swarm: bool) -> Network:
    driver_opts = _mapping(spec.get("driver_opts"))
    return Network(
        name=name,
        location=_loc(doc, "networks", name),
        driver=str(spec.get("driver") or ("overlay" if swarm else "bridge")),
        internal=_truthy(spec.get("internal")),
        external=bool(spec.get("external")),
        attachable=_truthy(spec.get("attachable")),
        # Docker encrypts an overlay when the option is present at all: `encrypted: ""` is the usual form.
        encrypted="encrypted" in driver_opts and str(driver_opts["encrypted"]).lower() != "false",
        encrypted_misplaced="encrypted" in spec,
    )


def _service(doc: Document, path: tuple[Key, ...], name: str, spec: dict[str, object]) -> Workload:
    image = str(spec.get("image") or "")
    labels = _labels(spec.get("labels")) | _labels(_mapping(spec.get("deploy")).get("labels"))
    workload = Workload(name=name, kind="service", location=_loc(doc, *path), image=image, labels=labels)
    workload.exposures.extend(_exposures(doc, path, spec))
    network_mode = str(spec.get("network_mode") or "")
    if network_mode == "host":
        workload.host_namespaces.append(Setting("network", _loc(doc, *path, "network_mode")))
    for namespace in ("pid", "ipc"):
        if str(spec.get(namespace) or "") == "host":
            workload.host_namespaces.append(Setting(namespace, _loc(doc, *path, namespace)))
    workload.networks.extend(_network_refs(doc, path, spec, network_mode))
    if _truthy(spec.get("privileged")):
        workload.privileged.append(Setting("privileged: true", _loc(doc, *path, "privileged")))
    for index, cap in enumerate(_list(spec.get("cap_add"))):
        workload.capabilities.append(Setting(str(cap), _loc(doc, *path, "cap_add", index)))
    workload.mounts.extend(_host_mounts(doc, path, spec.get("volumes")))
    workload.env.extend(_environment(doc, path, spec.get("environment")))
    workload.env.extend(_env_files(doc, path, spec.get("env_file")))
    workload.arguments.extend(_command(doc, path, spec.get("command")))
    return workload


def _exposures(doc: Document, path: tuple[Key, ...], spec: Mapping[str, object]) -> Iterator[Exposure]:
    entries = spec.get("ports")
    if entries is not None and not isinstance(entries, list):
        # Compose refuses it too; reading nothing here would pass a file that publishes who knows what.
        raise AuditInputError(f"{_loc(doc, *path, 'ports')}: `ports` must be a list")
    for index, entry in enumerate(_list(entries)):
        if isinstance(entry, dict):
            port = ports.parse_long(entry)
            via = "ports (mode: host)" if entry.get("mode") == "host" else "ports"
        elif isinstance(entry, str | int):
            port, via = ports.parse_short(entry), "ports"
        else:
            raise AuditInputError(f"{_loc(doc, *path, 'ports', index)}: a port must be a string or a mapping")
        yield Exposure(
            port=port.describe(),
            via=via,
            location=_loc(doc, *path, "ports", index),
            host_ip=port.host_ip,
            count=port.count,
        )


def _network_refs(
    doc: Document, path: tuple[Key, ...], spec: Mapping[str, object], network_mode: str
) -> Iterator[NetworkRef]:
    networks = spec.get("networks")
    if networks is None:
        if not network_mode:  # a service with neither joins the project's `default` network
            yield NetworkRef("default", _loc(doc, *path))
        return
    if isinstance(networks, dict):
        for name in networks:
            yield NetworkRef(name, _loc(doc, *path, "networks", name))
        return
    for index, network in enumerate(_list(networks)):
        yield NetworkRef(str(network), _loc(doc, *path, "networks", index))


def _host_mounts(doc: Document, path: tuple[Key, ...], volumes: object) -> Iterator[Setting]:
    for index, entry in enumerate(_list(volumes)):
        if isinstance(entry, dict):
            if entry.get("type", "volume") != "bind":
                continue
            source = str(entry.get("source") or "")
        else:
            source = _short_volume_source(str(entry))
        if source.startswith(("/", "\\\\", "//", "~")):  # a host path, not a named volume
            yield Setting(source, _loc(doc, *path, "volumes", index))


def _short_volume_source(entry: str) -> str:
    """`SRC:DST[:MODE]` -> SRC; a lone `DST` is an anonymous volume. Windows `C:\\x:/y` kept whole."""
    if re.match(r"^[A-Za-z]:[\\/]", entry):
        return entry[: entry.find(":", 2)] if entry.find(":", 2) > 0 else entry
    source, separator, _ = entry.partition(":")
    return source if separator else ""


def _environment(doc: Document, path: tuple[Key, ...], environment: object) -> Iterator[EnvVar]:
    if isinstance(environment, dict):
        for name, value in environment.items():
            text = None if value is None else _scalar_text(value)
            yield EnvVar(name, text, _loc(doc, *path, "environment", name))
        return
    for index, entry in enumerate(_list(environment)):
        name, separator, value = str(entry).partition("=")
        yield EnvVar(name.strip(), value if separator else None, _loc(doc, *path, "environment", index))


def _env_files(doc: Document, path: tuple[Key, ...], env_file: object) -> Iterator[EnvVar]:
    """Variables of the env files that exist beside the compose file (missing ones are skipped:
    they usually hold the real secrets and are kept out of the repository on purpose)."""
    entries = [env_file] if isinstance(env_file, str | dict) else _list(env_file)
    base = doc.source.path.parent
    for entry in entries:
        name = entry.get("path") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or "$" in name:
            continue
        file = base / name
        if not file.is_file():
            continue
        display = Path(doc.source.display).parent.joinpath(name).as_posix()
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditInputError(f"{display}: cannot read env file ({exc})") from None
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or "=" not in stripped:
                continue
            key, _, value = stripped.removeprefix("export ").partition("=")
            yield EnvVar(
                key.strip(), value.strip().strip("'\""), Location(display, number), from_env_file=True
            )


def _command(doc: Document, path: tuple[Key, ...], command: object) -> Iterator[Setting]:
    if isinstance(command, str):
        for word in command.split():
            yield Setting(word, _loc(doc, *path, "command"))
        return
    for index, item in enumerate(_list(command)):
        yield Setting(str(item), _loc(doc, *path, "command", index))


def _labels(labels: object) -> dict[str, str]:
    if isinstance(labels, dict):
        return {str(k): _scalar_text(v) for k, v in labels.items()}
    pairs = (str(entry).partition("=") for entry in _list(labels))
    return {key: value for key, _, value in pairs}


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


def _loc(doc: Document, *path: Key) -> Location:
    return Location(doc.source.display, doc.line(*path))
