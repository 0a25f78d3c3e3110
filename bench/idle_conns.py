"""Hold many idle keep-alive connections open to a gateway and report its memory.

    python bench/idle_conns.py --port P --pid GATEWAY_PID [--count 10000] [--batch 500] [--hold 5]
                               [--markdown]

Each connection sends one GET and reads the whole answer first, so it is a real keep-alive client
connection (parsed, routed, proxied once) and not just an accepted socket. Then all of them sit
idle for --hold seconds. We read the gateway's VmRSS (summed over its process tree) before opening,
once all are open, and at the end of the hold; and we count how many the gateway still keeps open
(one that was closed has seen EOF). Prints one JSON line, or markdown bullets for the report.
Connects to 127.0.0.1 only; bounded by --deadline seconds overall.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time


def rss_kb(pid: int) -> int:
    """VmRSS of pid and its descendants, in kB."""
    total, queue = 0, [pid]
    while queue:
        p = queue.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    queue.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def open_one(port: int, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next((int(x.split(b":", 1)[1]) for x in lines if x.startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 2"):
            writer.close()
            return None
        return reader, writer
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        return None


async def run(args: argparse.Namespace) -> dict[str, object]:
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n\r\n".encode()
    rss_before = rss_kb(args.pid)
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    failed = 0
    started = time.monotonic()
    for _ in range(0, args.count, args.batch):
        n = min(args.batch, args.count - len(conns) - failed)
        results = await asyncio.gather(*(open_one(args.port, request) for _ in range(n)))
        conns.extend(c for c in results if c is not None)
        failed += sum(1 for c in results if c is None)
    open_seconds = time.monotonic() - started
    rss_open = rss_kb(args.pid)
    await asyncio.sleep(args.hold)
    rss_held = rss_kb(args.pid)
    still_open = sum(1 for reader, _ in conns if not reader.at_eof())
    for _, writer in conns:
        writer.close()
    return {
        "opened": len(conns),
        "failed": failed,
        "open_seconds": round(open_seconds, 2),
        "still_open_after_hold": still_open,
        "hold_seconds": args.hold,
        "rss_before_kb": rss_before,
        "rss_all_open_kb": rss_open,
        "rss_after_hold_kb": rss_held,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--path", default="/api/x")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--markdown", action="store_true", help="print bullets for bench's report")
    args = parser.parse_args()
    try:
        result = asyncio.run(asyncio.wait_for(run(args), args.deadline))
    except TimeoutError:
        result = {"error": f"did not finish within {args.deadline} s"}
    print(markdown(result) if args.markdown else json.dumps(result))


def markdown(r: dict[str, object]) -> str:
    if "error" in r:
        return f"- not measured: {r['error']}"

    def mb(key: str) -> str:
        return f"{int(r[key]) / 1024:.1f} MB"  # type: ignore[call-overload]

    opened = int(r["opened"])  # type: ignore[call-overload]
    growth = int(r["rss_all_open_kb"]) - int(r["rss_before_kb"])  # type: ignore[call-overload]
    return (
        f"- opened {opened} (failed {r['failed']}) in {r['open_seconds']} s, each after one proxied GET; "
        f"{r['still_open_after_hold']} still open after {r['hold_seconds']} s idle\n"
        f"- gateway RSS before {mb('rss_before_kb')}, all open {mb('rss_all_open_kb')}, after the hold "
        f"{mb('rss_after_hold_kb')} (target < 200 MB); "
        f"{growth * 1024 / max(opened, 1):.0f} bytes per connection"
    )


if __name__ == "__main__":
    main()
