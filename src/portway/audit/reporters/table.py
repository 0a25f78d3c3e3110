"""The human report: per stack, who is reachable and on which networks; then the findings with
their fixes; then the seed-001-style summary, "exposed ports 7 -> 2"."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from portway.audit.findings import Severity
from portway.audit.model import Stack, Workload
from portway.audit.report import Report

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def print_report(report: Report, console: Console) -> None:
    for stack in report.stacks:
        console.print(_services(stack))
    if report.findings:
        console.print(_findings(report))
        console.print(_fixes(report))
    else:
        console.print("[green]No findings.[/green]")
    if report.suppressed:
        console.print(
            f"[dim]{len(report.suppressed)} suppressed: "
            + "; ".join(
                f"{s.finding.rule.id} at {s.finding.location} ({s.reason})" for s in report.suppressed
            )
            + "[/dim]"
        )
    console.print()
    if len(report.summaries) > 1:
        for summary in report.summaries:
            console.print(f"  {summary.name}: " + _exposure_line(summary.before, summary.after))
    console.print(Text.assemble(("Exposed ports: ", "bold"), _exposure_line(report.before, report.after)))
    if report.host_network:
        console.print(
            "  on the host network (all ports the container listens on): " + ", ".join(report.host_network)
        )
    exposed_datastores = [name for s in report.summaries for name in s.exposed_datastores]
    if exposed_datastores:
        console.print(
            f"Data stores reachable from outside: {len(exposed_datastores)} → 0 "
            f"({', '.join(exposed_datastores)})"
        )
    console.print(
        Text.assemble(
            (_plural(report.count(Severity.ERROR), "error"), _STYLES[Severity.ERROR]),
            ", ",
            (_plural(report.count(Severity.WARNING), "warning"), _STYLES[Severity.WARNING]),
            ", ",
            (f"{report.count(Severity.INFO)} info", _STYLES[Severity.INFO]),
            f", {len(report.suppressed)} suppressed",
        )
    )


def _exposure_line(before: int, after: int) -> str:
    if before == after:
        return f"{before} (nothing to remove)"
    reduction = round(100 * (before - after) / before)
    return f"{before} → {after} after the fixes ({reduction}% less attack surface)"


def _services(stack: Stack) -> Table:
    table = Table(title=f"{stack.name} ({stack.platform.value})", title_justify="left", expand=False)
    table.add_column("Service")
    table.add_column("Role")
    table.add_column("Reachable from outside")
    table.add_column("Networks" if stack.networks else "Kind")
    for workload in stack.workloads:
        table.add_row(
            workload.name,
            workload.datastore or workload.role.value,
            ", ".join(f"{e.port} ({e.via})" for e in workload.exposures) or "—",
            _networks(stack, workload) if stack.networks else workload.kind,
        )
    return table


def _networks(stack: Stack, workload: Workload) -> str:
    parts = []
    for ref in workload.networks:
        network = stack.networks.get(ref.name)
        state = (
            "external" if network is None or network.external else "internal" if network.internal else "open"
        )
        parts.append(f"{ref.name} ({state})")
    return ", ".join(parts) or "—"


def _findings(report: Report) -> Table:
    table = Table(title="Findings", title_justify="left")
    table.add_column("Severity")
    table.add_column("Rule")
    table.add_column("Where", no_wrap=True)
    table.add_column("Finding")
    for finding in report.findings:
        table.add_row(
            Text(str(finding.severity), style=_STYLES[finding.severity]),
            finding.rule.id,
            str(finding.location),
            finding.message,
        )
    return table


def _fixes(report: Report) -> Table:
    """Each rule's fix once, rather than under every finding it applies to."""
    table = Table(title="How to fix", title_justify="left", show_header=False, box=None)
    table.add_column("Rule", style="bold")
    table.add_column("Fix")
    seen: set[tuple[str, str]] = set()
    for finding in report.findings:
        key = (finding.rule.id, finding.fix_text)
        if key not in seen:
            seen.add(key)
            table.add_row(finding.rule.id, f"{finding.rule.title}: {finding.fix_text}")
    return table


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
