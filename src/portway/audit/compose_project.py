"""A Compose project as `docker compose` assembles it before running anything.

Steps, in Compose's order:
1. the environment: the process's variables over `.env` in the project directory (the first
   file's), or over the `--env-file` files instead;
2. each file (`-f a.yaml -f b.yaml`, or `compose.yaml` + `compose.override.yaml` found together)
   is interpolated (see interpolation.py), its `include`s are loaded as projects of their own
   (relative to the including file, with their own `.env`) and added, and its services'
   `extends` are resolved (from the same file or `file:`, relative to the file that says so);
3. the files are merged in order (compose_merge.py);
4. `profiles`: with profiles active (`--profile`, `COMPOSE_PROFILES`) only the services they enable
   and those without profiles are kept; with none active every service is audited, and a service
   that runs only under a profile says so in its findings.
Remote includes (`oci://`, git URLs) are not fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from portway.audit import tree
from portway.audit.compose_merge import merge
from portway.audit.errors import AuditInputError
from portway.audit.interpolation import Environment
from portway.audit.tree import LMap, LSeq
from portway.audit.yamlsource import SourceFile, display_name, read_yaml

_SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


@dataclass
class Project:
    root: LMap  # the merged model: `services`, `networks`, … as LMaps
    name: str
    directory: Path  # the project directory: relative paths in the model start here
    sources: list[SourceFile] = field(default_factory=list)  # every file read, for suppressions


def load(files: Sequence[Path], environment: Environment, env_files: Sequence[Path] = ()) -> Project:
    directory = files[0].parent
    if env_files:
        for env_file in env_files:
            environment = environment.with_file(env_file, required=True)
    else:
        environment = environment.with_file(directory / ".env", required=False)
    loader = _Loader(environment)
    root: LMap | None = None
    for file in files:
        model = loader.file(file, ())
        root = model if root is None else _merged(root, model)
    assert root is not None
    names = " + ".join(display_name(f) for f in files)
    return Project(root, names, directory, list(loader.sources.values()))


def active_profiles(root: LMap, wanted: Sequence[str]) -> None:
    """Keep the services the wanted profiles run (all of them when none is wanted)."""
    services = root.get("services")
    if not wanted or not isinstance(services, LMap):
        return
    for name in list(services):
        spec = services[name]
        profiles = [str(p) for p in spec.get("profiles") or []] if isinstance(spec, dict) else []
        if profiles and "*" not in wanted and not set(profiles) & set(wanted):
            services.drop(name)


def _merged(base: LMap, override: LMap) -> LMap:
    result = merge(base, override)
    assert isinstance(result, LMap)
    return result


class _Loader:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.sources: dict[Path, SourceFile] = {}

    def file(self, path: Path, chain: tuple[Path, ...], environment: Environment | None = None) -> LMap:
        key = path.resolve()
        if key in chain:
            raise AuditInputError(f"{display_name(path)}: includes or extends itself")
        source = self.sources.get(key) or read_yaml(path)
        self.sources[key] = source
        document = next((d for d in source.documents if d.data is not None), None)
        if document is None or not isinstance(document.data, dict):
            raise AuditInputError(f"{source.display}: not a Compose file (expected a mapping)")
        model = tree.from_document(document)
        assert isinstance(model, LMap)
        if "services" not in model and all(isinstance(v, dict) for v in model.values()):
            legacy = LMap(model.location)  # Compose v1: the services are the top level
            legacy.put("services", model, tree.Meta(model.location))
            model = legacy
        _interpolate(model, environment or self.environment)
        self._includes(model, path, (*chain, key), environment or self.environment)
        services = model.get("services")
        if isinstance(services, LMap):
            for name in list(services):
                self._extends(services, name, path, (*chain, key), environment, ())
        return model

    def _includes(self, model: LMap, path: Path, chain: tuple[Path, ...], env: Environment) -> None:
        entries = model.get("include")
        model.drop("include")
        if not isinstance(entries, LSeq):
            return
        for index, entry in enumerate(entries):
            spec = entry if isinstance(entry, LMap) else None
            paths = spec.get("path") if spec is not None else entry
            where = tree.loc(entries, index)
            names = [str(p) for p in paths] if isinstance(paths, list) else [str(paths or "")]
            if any(_remote(n) for n in names):
                continue
            files = [path.parent / n for n in names if n]
            if not files:
                raise AuditInputError(f"{where}: `include` entry names no file")
            directory = (
                path.parent / str(spec.get("project_directory"))
                if spec and spec.get("project_directory")
                else files[0].parent
            )
            included_env = Environment(env.process, dict(env.files))
            env_files = spec.get("env_file") if spec is not None else None
            env_list = env_files if isinstance(env_files, list) else [env_files] if env_files else []
            for env_file in env_list:
                included_env = included_env.with_file(path.parent / str(env_file), required=True)
            if not env_files:
                included_env = _under(included_env, env, directory / ".env")
            included: LMap | None = None
            for file in files:
                if not file.is_file():
                    raise AuditInputError(f"{where}: included file `{display_name(file)}` not found")
                part = self.file(file, chain, included_env)
                included = part if included is None else _merged(included, part)
            assert included is not None
            _add_included(model, included, where)

    def _extends(
        self,
        services: LMap,
        name: str,
        path: Path,
        chain: tuple[Path, ...],
        env: Environment | None,
        resolving: tuple[str, ...],
    ) -> LMap:
        spec = services.get(name)
        if not isinstance(spec, LMap) or "extends" not in spec:
            return spec if isinstance(spec, LMap) else LMap(services.meta[name].location)
        where = tree.loc(spec, "extends")
        extends = spec["extends"]
        base_name = str(extends.get("service") if isinstance(extends, LMap) else extends or "")
        base_file = extends.get("file") if isinstance(extends, LMap) else None
        if base_file:
            other = path.parent / str(base_file)
            if not other.is_file():
                raise AuditInputError(f"{where}: `extends` file `{display_name(other)}` not found")
            other_services = self.file(other, chain, env).get("services")
            base = other_services.get(base_name) if isinstance(other_services, LMap) else None
        else:
            if base_name in resolving or base_name == name:
                raise AuditInputError(f"{where}: service `{name}` extends itself")
            found = base_name in services
            base = self._extends(services, base_name, path, chain, env, (*resolving, name)) if found else None
        if not isinstance(base, LMap):
            raise AuditInputError(f"{where}: `extends` names service `{base_name}`, which is not there")
        local = tree.copy(spec)
        assert isinstance(local, LMap)
        local.drop("extends")
        merged = merge(tree.copy(base), local)
        assert isinstance(merged, LMap)
        services.put(name, merged, services.meta[name])
        return merged


def _add_included(model: LMap, included: LMap, where: object) -> None:
    for section in _SECTIONS:
        theirs = included.get(section)
        if not isinstance(theirs, LMap):
            continue
        ours = model.get(section)
        if not isinstance(ours, LMap):
            ours = LMap(theirs.location)
            model.put(section, ours, tree.Meta(theirs.location))
        for key, value in theirs.items():
            if key in ours:
                raise AuditInputError(f"{where}: included `{section}.{key}` is also defined here")
            ours.put(key, value, theirs.meta[key])


def _under(environment: Environment, outer: Environment, dotenv: Path) -> Environment:
    """The included project's `.env`, for variables the including project does not set."""
    own = Environment({}, {}).with_file(dotenv, required=False)
    merged = Environment(outer.process, dict(own.files))
    merged.files.update(environment.files)
    return merged


def _remote(name: str) -> bool:
    return "://" in name or name.startswith(("git@", "github.com/"))


def _interpolate(node: object, environment: Environment) -> None:
    """Resolve every `$` in values (not keys), remembering the text and what stayed unknown."""
    if isinstance(node, LMap):
        for key in list(node):
            value = node[key]
            if isinstance(value, str) and "$" in value:
                resolved = environment.resolve(value)
                meta = replace(
                    node.meta[key], raw=value, unknown=resolved.unknown, env_sources=resolved.from_files
                )
                node.put(key, resolved.value, meta)
            else:
                _interpolate(value, environment)
    elif isinstance(node, LSeq):
        for index, value in enumerate(node):
            if isinstance(value, str) and "$" in value:
                resolved = environment.resolve(value)
                node[index] = resolved.value
                node.meta[index] = replace(
                    node.meta[index], raw=value, unknown=resolved.unknown, env_sources=resolved.from_files
                )
            else:
                _interpolate(value, environment)
