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
