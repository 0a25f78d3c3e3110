"""Compose variable interpolation, as `docker compose` does it before reading a value.

Rules (the Compose Specification's "Interpolation"):
- `$VAR` and `${VAR}`: the variable's value; unset gives "" (Compose warns and runs on).
- `${VAR:-default}`: the default when VAR is unset *or empty*; `${VAR-default}`: only when unset.
- `${VAR:?err}` / `${VAR?err}`: Compose refuses to start when VAR is unset (or empty, with `:`).
- `${VAR:+alt}` / `${VAR+alt}`: `alt` when VAR is set (and not empty, with `:`), else "".
- Defaults and alternatives may themselves hold `${…}`; `$$` is a literal `$`.
- The environment is the process's, over a `.env` file in the project directory (or the files
  given with `--env-file`, which replace it): a variable set in both takes the process's value.
A variable that is needed and not set is *unknown*: it is substituted as Compose would ("" or the
default) and named in `Resolved.unknown`, so a finding can say its verdict depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from portway.audit.errors import AuditInputError
from portway.audit.findings import Location
from portway.audit.yamlsource import display_name

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Resolved:
    value: str
    unknown: tuple[str, ...] = ()  # needed, not set anywhere
    from_files: tuple[Location, ...] = ()  # `.env` lines that supplied a value


@dataclass
class Environment:
    """Variables for interpolation: the process's environment over the env files' values."""

    process: Mapping[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, Location]] = field(default_factory=dict)

    def get(self, name: str) -> tuple[str, Location | None] | None:
        if name in self.process:
            return self.process[name], None
        return self.files.get(name)

    def with_file(self, path: Path, required: bool) -> Environment:
        """This environment plus the variables of a dotenv file (which never beat the process's)."""
        if not path.is_file():
            if required:
                raise AuditInputError(f"{display_name(path)}: env file not found")
            return self
        merged = Environment(self.process, dict(self.files))
        for name, value, location in read_dotenv(path, merged):
            merged.files[name] = (value, location)
        return merged

    def resolve(self, text: str) -> Resolved:
        unknown: list[str] = []
        sources: list[Location] = []
        value = _Parser(text, self, unknown, sources).run()
        return Resolved(value, tuple(dict.fromkeys(unknown)), tuple(sources))


def read_dotenv(path: Path, env: Environment | None = None) -> list[tuple[str, str, Location]]:
    """`KEY=VALUE` lines (`export ` prefix, quotes, `#` comments); unquoted and double-quoted values
    may refer to variables set above them or in the process environment."""
    display = display_name(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"{display}: cannot read env file ({exc})") from None
    env = Environment(env.process if env else {}, dict(env.files) if env else {})
    entries: list[tuple[str, str, Location]] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.removeprefix("export ").partition("=")
        key = key.strip()
        if not separator or not _NAME.fullmatch(key):
            continue  # Compose refuses such a line; an audit reads on
        value = value.strip()
        if value[:1] == "'" and value.rstrip().endswith("'") and len(value) > 1:
            value = value[1:-1]
        else:
            if value[:1] == '"' and value.endswith('"') and len(value) > 1:
                value = value[1:-1]
            elif " #" in value:
                value = value.split(" #", 1)[0].rstrip()
            value = env.resolve(value).value
        location = Location(display, number)
        env.files[key] = (value, location)
        entries.append((key, value, location))
    return entries


class _Parser:
    def __init__(self, text: str, env: Environment, unknown: list[str], sources: list[Location]) -> None:
        self.text, self.env, self.unknown, self.sources = text, env, unknown, sources

    def run(self) -> str:
        text, out, i = self.text, [], 0
        while i < len(text):
            char = text[i]
            if char != "$" or i + 1 == len(text):
                out.append(char)
                i += 1
            elif text[i + 1] == "$":
                out.append("$")
                i += 2
            elif text[i + 1] == "{":
                end = _closing_brace(text, i + 2)
                if end < 0:  # Compose calls this an invalid template; keep it as written
                    out.append(text[i:])
                    break
                out.append(self._braced(text[i + 2 : end]))
                i = end + 1
            elif match := _NAME.match(text, i + 1):
                out.append(self._lookup(match.group(), needed=True) or "")
                i = match.end()
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _braced(self, body: str) -> str:
        match = _NAME.match(body)
        if match is None:
            return "${" + body + "}"
        name, rest = match.group(), body[match.end() :]
        colon = rest.startswith(":")
        operator, argument = (rest[1:2], rest[2:]) if colon else (rest[:1], rest[1:])
        value = self._lookup(name, needed=operator not in ("-", "+"))
        present = value is not None and (value != "" or not colon)
        if operator == "-":
            return value if present and value is not None else self._nested(argument)
        if operator == "+":
            return self._nested(argument) if present else ""
        if operator == "?" and not present and name not in self.unknown:
            self.unknown.append(name)
        return value or ""

    def _nested(self, text: str) -> str:
        return _Parser(text, self.env, self.unknown, self.sources).run()

    def _lookup(self, name: str, needed: bool) -> str | None:
        found = self.env.get(name)
        if found is None:
            if needed:
                self.unknown.append(name)
            return None
        value, location = found
        if location is not None:
            self.sources.append(location)
        return value


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text.startswith("${", index):
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1
