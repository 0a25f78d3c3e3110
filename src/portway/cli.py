"""The `portway` command line: it only parses arguments and hands them to the module that acts.

Each subcommand lives in its own module exposing ``configure(parser)`` and ``run(args) -> int``;
modules are imported lazily so `portway check` never pays for the server or the audit rules.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("portway.commands.run", "run the gateway on a config file"),
    "check": ("portway.commands.check", "validate a config file (exit 0 when valid, 1 when not)"),
    "schema": ("portway.commands.schema", "print the config's JSON Schema"),
    "audit": ("portway.audit.command", "audit compose, stack or Kubernetes files for exposure"),
    "up": ("portway.local.command", "run the whole system locally, services private"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported (a fast start)."""
    parser = argparse.ArgumentParser(prog="portway", description="Portway API gateway")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # that subcommand is not built yet
            raise
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(only).parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
