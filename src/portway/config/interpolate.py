"""``${VAR}`` and ``${VAR:-default}`` in config strings, resolved from the environment at load time.

``$$`` escapes a literal dollar sign. A variable that is unset and has no default is an error that
names it (and, through the loader, the file and line where it was used). Names in ``keep`` are
left as written, for a later stage to fill in (request-time templates: config/templates.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set (use ${{{name}:-default}} for a fallback)")
        self.name = name


def interpolate(text: str, env: Mapping[str, str], keep: frozenset[str] = frozenset()) -> str:
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in keep and default is None:
            return match.group(0)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise MissingVariable(name)
            return default
        return value

    return _REFERENCE.sub(replace, text)
