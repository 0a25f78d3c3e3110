"""Config errors that point at the file, the line and the key path, as editors and CI logs expect:
``portway.yaml:12: routes[0].upstream: unknown upstream 'usres' (known: users, orders)``."""

from __future__ import annotations

from dataclasses import dataclass

from portway.errors import GatewayError


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(GatewayError):
    """One or more problems in a config file; ``str()`` lists them one per line."""

    status = 500

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class ConfigValueError(ValueError):
    """Raised by code that compiles config (a key loader, a store) when it knows which key is at
    fault: ``loc`` is that key's path from the top, e.g. ``("auth", "jwt", "public_keys", 0)``, so
    the problem can be reported with its line like any validation error."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def parse_path(path: str) -> tuple[int | str, ...]:
    """The inverse of :func:`format_path`: ``routes[0].rate_limit`` → ``("routes", 0, "rate_limit")``."""
    loc: list[int | str] = []
    for dotted in path.split("."):
        name, _, rest = dotted.partition("[")
        if name:
            loc.append(name)
        for index in rest.replace("]", "").split("[") if rest else ():
            loc.append(int(index) if index.isdigit() else index)
    return tuple(loc)
