"""Report formats: `table` for people (rich, printed by `table.print_report`), and these machine
formats rendered to text: `json` for scripts, `sarif` for code-scanning UIs."""

from __future__ import annotations

from collections.abc import Callable

from portway.audit.report import Report
from portway.audit.reporters import json_format, sarif

# format name -> renderer returning the whole output as text
RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": json_format.render,
    "sarif": sarif.render,
}

__all__ = ["RENDERERS"]
