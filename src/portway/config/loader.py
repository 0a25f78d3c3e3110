"""YAML → validated :class:`GatewayConfig`, keeping the line of every key for error messages.

PyYAML's composer gives nodes with marks; we build plain Python values from them ourselves so that
each key path (``("routes", 0, "upstream")``) maps to its line, interpolate ``${VAR}`` in scalar
strings on the way, and translate pydantic's error locations back to lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from portway.config.errors import ConfigError, ConfigProblem, format_path
from portway.config.interpolate import MissingVariable, interpolate
from portway.config.messages import translate
from portway.config.models import GatewayConfig
from portway.config.references import reference_errors
from portway.config.templates import REQUEST_NAMES

Loc = tuple[int | str, ...]


class _Builder:
    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.lines: dict[Loc, int] = {}
        self.problems: list[ConfigProblem] = []
        self._scalars = yaml.SafeLoader("")  # only used for its scalar resolution/construction

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._scalars.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*loc, "<key>"))
                if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                    # YAML 1.1 reads `on`, `off`, `yes`, `no` as booleans; as a key it is a name
                    # (`retries: {on: [...]}`), as YAML 1.2 reads it.
                    key = key_node.value
                if not isinstance(key, str | int):
                    self._problem(key_node, loc, "keys must be strings")
                    continue
                if key in result:
                    self._problem(key_node, (*loc, key), "duplicate key")
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*loc, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        value = self._scalars.construct_object(node, deep=True)
        if isinstance(value, str) and node.tag == "tag:yaml.org,2002:str":
            try:
                value = interpolate(value, self.env, REQUEST_NAMES if _is_template(loc) else frozenset())
            except MissingVariable as exc:
                self._problem(node, loc, str(exc))
        return value

    def _problem(self, node: yaml.Node, loc: Loc, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, node.start_mark.line + 1, format_path(loc), message))

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            if (line := self.lines.get(loc[:end])) is not None:
                return line
        return None


def _is_template(loc: Loc) -> bool:
    """Values filled in per request (config/templates.py): header transform values and
    aggregation call paths keep ``${request_id}`` and the like for the request."""
    at = loc[1:] if loc[:1] == ("routes",) else loc
    at = at[1:] if at[:1] and isinstance(at[0], int) else at
    if len(at) == 4 and at[0] == "headers" and at[1] in ("request", "response") and at[2] in ("set", "add"):
        return True
    return len(at) == 4 and at[0] == "aggregate" and at[1] == "calls" and at[3] == "path"


def parse_config(text: str, file: str = "<config>", env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Validate config text; raise :class:`ConfigError` listing every problem found."""
    builder = _Builder(file, os.environ if env is None else env)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {reason}")]) from None
    if root is None:
        raise ConfigError([ConfigProblem(file, None, "", "the file is empty")])
    data = builder.build(root, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, builder.line_of(()), "", "expected a mapping at the top")])
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        errors = translate(exc.errors(), data)
    else:
        errors = reference_errors(config)
        if not errors:
            return config
    problems = [ConfigProblem(file, builder.line_of(loc), format_path(loc), msg) for loc, msg in errors]
    raise ConfigError(problems)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    return parse_config(_read(Path(path)), str(path), env)


def locate(path: str | Path, errors: list[tuple[Loc, str]]) -> ConfigError:
    """Problems found after validation (while building the gateway), with the lines of their keys
    in the file: it is read again, which costs nothing on the path where the config is good."""
    builder = _Builder(str(path), os.environ)
    try:
        root = yaml.compose(_read(Path(path)), Loader=yaml.SafeLoader)
        if root is not None:
            builder.build(root, ())
    except (ConfigError, yaml.YAMLError):
        pass  # the file changed under us: report without lines rather than not at all
    return ConfigError(
        [ConfigProblem(str(path), builder.line_of(loc), format_path(loc), m) for loc, m in errors]
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError([ConfigProblem(str(path), None, "", "is a directory, not a config file")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError as exc:
        message = f"the file is not UTF-8 text (byte {exc.start})"
        raise ConfigError([ConfigProblem(str(path), None, "", message)]) from None
