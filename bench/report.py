"""Turn bench/run.sh's raw results into the markdown report.

run.sh appends one TSV line per row to results.tsv: row, wrk output file, SUT CPU ticks, note,
others-busy %. A note means the row could not be measured; others-busy is how busy the machine was
with work other than ours just before and after the row (other work skews a row; we flag it).
We parse wrk's text here rather than in awk because its units move (``812.00us``, ``1.20ms``,
``1.01s``) and the ratios need the nginx row.

    report.py table RESULTS_TSV FACTS_TSV EXTRAS_MD   -> markdown on stdout
    report.py rows RESULTS_TSV                        -> row, req/s, CPU µs/req, non-2xx, errors, busy %
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

REFERENCE = "nginx reverse proxy"
CLK_TCK = os.sysconf("SC_CLK_TCK")
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
BUSY_FLAG = 10  # % of the machine busy with other work around a row: above this, the row is flagged


@dataclass
class Row:
    name: str
    note: str = ""
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    cpu_us_per_req: float | None = None
    others_busy: int = 0


def _latency_ms(text: str, pct: str) -> float | None:
    m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else None


def parse_wrk(text: str) -> dict[str, float | int | None]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps.group(1)) if rps else None,
        "requests": int(total.group(1)) if total else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "p50_ms": _latency_ms(text, "50"),
        "p99_ms": _latency_ms(text, "99"),
    }


def load_rows(path: str) -> list[Row]:
    rows: list[Row] = []
    with open(path) as f:
        for line in f:
            name, out, ticks, note, busy = [*line.rstrip("\n").split("\t"), "", "", "", ""][:5]
            row = Row(name, note, others_busy=int(busy or 0))
            if not note:
                with open(out) as w:
                    parsed = parse_wrk(w.read())
                row.rps = parsed["rps"]  # type: ignore[assignment]
                row.p50_ms = parsed["p50_ms"]  # type: ignore[assignment]
                row.p99_ms = parsed["p99_ms"]  # type: ignore[assignment]
                row.requests = int(parsed["requests"] or 0)
                row.non2xx = int(parsed["non2xx"] or 0)
                row.socket_errors = int(parsed["socket_errors"] or 0)
                if row.rps is None:
                    row.note = "wrk printed no result"
                elif row.requests:
                    row.cpu_us_per_req = int(ticks) / CLK_TCK * 1e6 / row.requests
            rows.append(row)
    return rows


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _ratio(v: float | None, ref: float | None) -> str:
    return "-" if v is None or not ref else f"{v / ref:.2f}x"


def table(rows: list[Row]) -> str:
    ref = next((r for r in rows if r.name == REFERENCE and r.rps), None)
    lines = [
        "| row | req/s | vs nginx | p50 ms | p99 ms | non-2xx | socket errors | CPU µs/req | CPU vs nginx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    flagged = False
    for r in rows:
        if r.note:
            lines.append(f"| {r.name} | {r.note} | | | | | | | |")
            continue
        name = r.name
        if r.others_busy > BUSY_FLAG:
            name += f" (!{r.others_busy}%)"
            flagged = True
        lines.append(
            f"| {name} | {_num(r.rps, ',.0f')} | {_ratio(r.rps, ref and ref.rps)} "
            f"| {_num(r.p50_ms, '.2f')} | {_num(r.p99_ms, '.2f')} | {r.non2xx} | {r.socket_errors} "
            f"| {_num(r.cpu_us_per_req, '.1f')} | {_ratio(r.cpu_us_per_req, ref and ref.cpu_us_per_req)} |"
        )
    if flagged:
        lines.append(
            f"\n(!N%): the machine was N% busy with other work just before or after this row "
            f"(more than {BUSY_FLAG}%): unless the run had BENCH_PRIORITY (see settings), its "
            f"figures are lower than a quiet machine gives."
        )
    return "\n".join(lines)


def facts(path: str) -> str:
    lines = ["| machine | |", "|---|---|"]
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            lines.append(f"| {key} | {value} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "rows":
        for r in load_rows(argv[1]):
            if not r.note:
                cpu = f"{r.cpu_us_per_req or 0:.2f}"
                print(r.name, f"{r.rps or 0:.0f}", cpu, r.non2xx, r.socket_errors, r.others_busy, sep="\t")
        return 0
    if len(argv) == 4 and argv[0] == "table":
        results, facts_path, extras = argv[1:]
        print("## Portway benchmark\n")
        print(facts(facts_path), end="\n\n")
        print(table(load_rows(results)), end="\n\n")
        if os.path.exists(extras):
            with open(extras) as f:
                print(f.read().rstrip())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
