"""`portway audit FILE|DIR …` (or `-f a.yaml -f b.yaml`, or `--live`): parse the arguments, run the
audit, print the report, pick the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 there is one; 2 the input could not be audited
(missing, empty, malformed or unrecognised file), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from portway.audit.engine import audit
from portway.audit.errors import AuditInputError
from portway.audit.findings import Severity
from portway.audit.report import Report
from portway.audit.reporters import RENDERERS
from portway.audit.reporters.table import print_report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="FILE|DIR",
        help="compose/stack files, Kubernetes manifests, or directories of them",
    )
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        type=Path,
        dest="compose_files",
        metavar="FILE",
        help="a Compose file of one project, merged in order as `docker compose -f` does (repeatable)",
    )
    parser.add_argument(
        "--env-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="variables for ${VAR} interpolation instead of the project's .env (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="audit only the services these Compose profiles run (default: every service)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="audit this host's listening sockets instead of files",
    )
    parser.add_argument("--format", choices=["table", *RENDERERS], default="table", help="output format")
    parser.add_argument(
        "--fail-on",
        choices=[str(s) for s in Severity],
        default="warning",
        help="exit 1 when a finding of this severity or worse remains (default: warning)",
    )
    parser.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="NAME",
        help="the service that is the public entry point (repeatable); "
        "default: labelled portway.role=gateway, else guessed",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    if args.live == bool(args.paths or args.compose_files):
        print("portway audit: give files or directories to audit, or --live (not both)", file=sys.stderr)
        return EXIT_INPUT
    try:
        if args.live:
            from portway.audit.live import audit_live  # only --live reads /proc

            report = audit_live(gateways=args.gateway)
        else:
            report = audit(
                args.paths,
                gateways=args.gateway,
                compose_files=args.compose_files,
                environ=os.environ,
                env_files=args.env_file,
                profiles=args.profile,
            )
    except AuditInputError as exc:
        print(f"portway audit: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.format == "table":
        _print_table(report, args.output)
    else:
        text = RENDERERS[args.format](report)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return EXIT_FINDINGS if report.fails(Severity.parse(args.fail_on)) else EXIT_CLEAN


def _print_table(report: Report, output: Path | None) -> None:
    if output is None:
        # A pipe gets a 120-column plain table rather than rich's 80-column default.
        print_report(report, Console(width=None if sys.stdout.isatty() else 120))
        return
    with output.open("w", encoding="utf-8") as stream:
        print_report(report, Console(file=stream, width=120, no_color=True))
