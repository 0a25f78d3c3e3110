"""Kubernetes manifests as one Stack: workloads with their pod specs, and how each is reached.

A workload is reached from outside through a Service of type NodePort or LoadBalancer, a Service's
`externalIPs`, an Ingress / Gateway API route / OpenShift Route backend, a container `hostPort`, or
`hostNetwork: true`. Services are matched to workloads by selector within a namespace; a Service
that selects nothing in the manifests stands for itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from portway.audit.findings import Location
from portway.audit.model import (
    ALL_PORTS,
    EnvVar,
    Exposure,
    Mount,
    Namespace,
    Platform,
    Setting,
    Stack,
    Workload,
)
from portway.audit.yamlsource import Document, Key

NodePath = tuple[Key, ...]

# kind -> where its pod spec sits
POD_SPEC_PATHS: dict[str, NodePath] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **dict.fromkeys(
        ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"],
        ("spec", "template", "spec"),
    ),
}
ROUTE_KINDS = {"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"}


@dataclass(frozen=True)
class K8sObject:
    """One object of a manifest; `base` is its path in the document (a `kind: List` holds many)."""

    doc: Document
    base: NodePath
    data: dict[str, object]
    namespace: str

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        return str(_get(self.data, "metadata", "name") or "")

    def get(self, *path: Key) -> object:
        return _get(self.data, *path)

    def loc(self, *path: Key) -> Location:
        return Location(self.doc.source.display, self.doc.line(*self.base, *path))


def is_manifest(data: object) -> bool:
    return isinstance(data, dict) and "apiVersion" in data and "kind" in data


def objects_of(doc: Document, namespace_override: str = "") -> Iterator[K8sObject]:
    """The objects of a document, expanding `kind: List`; kustomize's namespace wins when set."""
    assert isinstance(doc.data, dict)
    entries: list[tuple[NodePath, object]] = [((), doc.data)]
    if str(doc.data.get("kind", "")).endswith("List"):
        entries = [(("items", i), item) for i, item in enumerate(_list(doc.data.get("items")))]
    for base, data in entries:
        if is_manifest(data):
            assert isinstance(data, dict)
            namespace = namespace_override or str(_get(data, "metadata", "namespace") or "default")
            yield K8sObject(doc, base, data, namespace)


def build_stack(objects: list[K8sObject]) -> Stack:
    stack = Stack(platform=Platform.KUBERNETES, name="kubernetes manifests")
    pods: list[tuple[K8sObject, Workload, dict[str, str]]] = []
    for obj in objects:
        pod_path = POD_SPEC_PATHS.get(obj.kind)
        if pod_path is not None:
            workload, pod_labels = _workload(obj, pod_path)
            stack.workloads.append(workload)
            pods.append((obj, workload, pod_labels))
    services = {(o.namespace, o.name): o for o in objects if o.kind == "Service"}
    for service in services.values():
        _expose_service(stack, service, pods)
    for obj in objects:
        for service_name, via in _route_backends(obj):
            backend = services.get((obj.namespace, service_name))
            exposure = Exposure(port="http(s)", via=via, location=obj.loc())
            targets = _selected(backend, pods) if backend else []
            labels = _labels(backend.get("metadata", "labels")) if backend else {}
            for target in targets or [_stand_in(stack, service_name, obj.loc(), labels)]:
                target.exposures.append(exposure)
        if obj.kind == "Secret" and (obj.get("data") or obj.get("stringData")):
            stack.committed_secrets.append(
                Setting(obj.name, obj.loc("data" if obj.get("data") else "stringData"))
            )
    stack.namespaces = _namespaces(objects, pods)
    return stack


def _workload(obj: K8sObject, pod_path: NodePath) -> tuple[Workload, dict[str, str]]:
    pod = _mapping(obj.get(*pod_path))
    meta_path = (*pod_path[:-1], "metadata", "labels") if len(pod_path) > 1 else ("metadata", "labels")
    pod_labels = _labels(obj.get(*meta_path))
    containers = [
        (group, index, _mapping(container))
        for group in ("initContainers", "containers", "ephemeralContainers")
        for index, container in enumerate(_list(pod.get(group)))
    ]
    # The first app container names the workload's software; init containers only when alone.
    main = [c for group, _, c in containers if group == "containers"] or [c for _, _, c in containers]
    workload = Workload(
        name=obj.name,
        kind=obj.kind,
        location=obj.loc("metadata", "name"),
        image=str(main[0].get("image") or "") if main else "",
        labels=_labels(obj.get("metadata", "labels")) | pod_labels,
    )
    host_network = pod.get("hostNetwork") is True
    for flag, namespace in (("hostNetwork", "network"), ("hostPID", "pid"), ("hostIPC", "ipc")):
        if pod.get(flag) is True:
            workload.host_namespaces.append(Setting(namespace, obj.loc(*pod_path, flag)))
    for index, volume in enumerate(_list(pod.get("volumes"))):
        host_path = _get(volume, "hostPath", "path")
        if host_path:
            workload.mounts.append(Mount(str(host_path), obj.loc(*pod_path, "volumes", index, "hostPath")))
    for group, index, container in containers:
        _container(obj, (*pod_path, group, index), container, workload, host_network)
    if host_network and not any(e.host_network for e in workload.exposures):
        where = obj.loc(*pod_path, "hostNetwork")
        workload.exposures.append(Exposure(ALL_PORTS, "host network", where, host_network=True))
    return workload, pod_labels


def _container(
    obj: K8sObject, path: NodePath, container: dict[str, object], workload: Workload, host_network: bool
) -> None:
    for index, port in enumerate(_list(container.get("ports"))):
        host_port = _get(port, "hostPort")
        container_port = _get(port, "containerPort")
        protocol = str(_get(port, "protocol") or "TCP").lower()
        if str(container_port).isdigit():
            workload.container_ports.append(int(str(container_port)))
        if host_port:
            workload.exposures.append(
                Exposure(
                    port=f"{host_port}→{container_port}/{protocol}",
                    via="hostPort",
                    location=obj.loc(*path, "ports", index, "hostPort"),
                    host_ip=str(_get(port, "hostIP") or ""),
                    target=str(container_port or ""),
                )
            )
        elif host_network and container_port:
            # On the host network a container port *is* a host port, on every interface.
            workload.exposures.append(
                Exposure(
                    f"{container_port}/{protocol} ({ALL_PORTS})",
                    "host network",
                    obj.loc(*path, "ports", index),
                    target=str(container_port),
                    host_network=True,
                )
            )
    security = _mapping(container.get("securityContext"))
    if security.get("privileged") is True:
        workload.privileged.append(
            Setting("privileged: true", obj.loc(*path, "securityContext", "privileged"))
        )
    for index, cap in enumerate(_list(_get(security, "capabilities", "add"))):
        workload.capabilities.append(
            Setting(str(cap), obj.loc(*path, "securityContext", "capabilities", "add", index))
        )
    for index, env in enumerate(_list(container.get("env"))):
        if isinstance(env, dict) and "name" in env:
            value = env.get("value")
            # valueFrom (a Secret, a ConfigMap, a field) puts nothing in the file: value None.
            text = None if value is None or "valueFrom" in env else str(value)
            workload.env.append(EnvVar(str(env["name"]), text, obj.loc(*path, "env", index)))
    for field in ("command", "args"):
        for index, word in enumerate(_list(container.get(field))):
            workload.arguments.append(Setting(str(word), obj.loc(*path, field, index)))


def _expose_service(
    stack: Stack, service: K8sObject, pods: list[tuple[K8sObject, Workload, dict[str, str]]]
) -> None:
    kind = str(service.get("spec", "type") or "ClusterIP")
    exposures: list[Exposure] = []
    for index, port in enumerate(_list(service.get("spec", "ports"))):
        number = _get(port, "port")
        if kind in ("NodePort", "LoadBalancer"):
            node_port = _get(port, "nodePort")
            label = f"{number}" + (f" (node {node_port})" if node_port else "")
            exposures.append(
                Exposure(
                    f"{label}/{str(_get(port, 'protocol') or 'TCP').lower()}",
                    kind,
                    service.loc("spec", "ports", index),
                    target=str(_get(port, "targetPort") or number or ""),
                )
            )
    for index, address in enumerate(_list(service.get("spec", "externalIPs"))):
        exposures.append(Exposure(str(address), "externalIPs", service.loc("spec", "externalIPs", index)))
    if not exposures:
        return
    labels = _labels(service.get("metadata", "labels"))
    targets = _selected(service, pods) or [_stand_in(stack, service.name, service.loc(), labels)]
    for target in targets:
        target.exposures.extend(exposures)


def _selected(service: K8sObject, pods: list[tuple[K8sObject, Workload, dict[str, str]]]) -> list[Workload]:
    selector = _labels(service.get("spec", "selector"))
    if not selector:
        return []
    return [
        workload
        for obj, workload, labels in pods
        if obj.namespace == service.namespace and selector.items() <= labels.items()
    ]


def _stand_in(stack: Stack, name: str, location: Location, labels: dict[str, str]) -> Workload:
    """A Service whose pods are not in the manifests is audited as a workload of its own (its
    labels, such as `portway.role`, standing in for the pods')."""
    for workload in stack.workloads:
        if workload.kind == "Service" and workload.name == name:
            return workload
    workload = Workload(name=name, kind="Service", location=location, labels=labels)
    stack.workloads.append(workload)
    return workload


def _route_backends(obj: K8sObject) -> Iterator[tuple[str, str]]:
    """(service name, how) for every backend an Ingress, Gateway API route or OpenShift Route names."""
    via = f"{obj.kind} {obj.name}"
    if obj.kind == "Ingress":
        backends = [obj.get("spec", "defaultBackend"), obj.get("spec", "backend")]
        for rule in _list(obj.get("spec", "rules")):
            backends.extend(_get(path, "backend") for path in _list(_get(rule, "http", "paths")))
        for backend in backends:
            name = _get(backend, "service", "name") or _get(backend, "serviceName")
            if name:
                yield str(name), via
    elif obj.kind in ROUTE_KINDS:
        for rule in _list(obj.get("spec", "rules")):
            for ref in _list(_get(rule, "backendRefs")):
                if _get(ref, "kind") in (None, "Service") and _get(ref, "name"):
                    yield str(_get(ref, "name")), via
    elif obj.kind == "Route" and _get(obj.data, "spec", "to", "kind") in (None, "Service"):
        name = obj.get("spec", "to", "name")
        if name:
            yield str(name), via


def _namespaces(
    objects: list[K8sObject], pods: list[tuple[K8sObject, Workload, dict[str, str]]]
) -> list[Namespace]:
    denied = {o.namespace for o in objects if o.kind == "NetworkPolicy" and _is_default_deny(o)}
    first: dict[str, Location] = {}
    for obj, workload, _ in pods:
        first.setdefault(obj.namespace, workload.location)
    return [Namespace(name, location, name in denied) for name, location in first.items()]


def _is_default_deny(policy: K8sObject) -> bool:
    """Selects every pod (`podSelector: {}`) and allows no ingress: what all other rules open up."""
    selector = _mapping(policy.get("spec", "podSelector"))
    if selector.get("matchLabels") or selector.get("matchExpressions"):
        return False
    types = _list(policy.get("spec", "policyTypes")) or ["Ingress"]
    return "Ingress" in types and not _list(policy.get("spec", "ingress"))


def _get(data: object, *path: Key) -> object:
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _labels(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
