"""What response compression costs: MB/s and ratio per coding and level, through portway's own
streaming encoders (src/portway/compression/encoders.py) exactly as a response passes them: the
body in upstream-sized chunks, each chunk flushed.

    .venv/bin/python bench/compress.py [--mb 16] [--chunk 65536] [--levels some|all] [--no-flush] [--markdown]

MB/s is input bytes per second of this process's CPU time (``time.process_time``): the cost a
response puts on the gateway's core, whatever else the machine is doing. The corpus is generated
from a fixed seed (JSON API answers and an HTML page, half each) so that runs compare. Per-chunk
flushing is measured against one flush at the end with ``--no-flush``, to show what it costs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
import zlib
from collections.abc import Callable

import brotli
import zstandard

from portway.compression.encoders import encoding
from portway.config.compression import DEFAULT_LEVELS, LEVEL_RANGES

MB = 1024 * 1024
DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}
# The defaults and their neighbours worth knowing; `--levels all` runs every level (br 10-11 and
# zstd 16+ take minutes: they are for static files compressed once, not for a gateway).
SOME_LEVELS = {"gzip": [1, 5, 6, 9], "br": [1, 4, 6, 9], "zstd": [1, 3, 9, 19]}


def unflushed(name: str, level: int) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """The same compressor with no flush until the end: what per-chunk flushing is compared with."""
    if name == "gzip":
        z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return z.compress, lambda: z.flush(zlib.Z_FINISH)
    if name == "br":
        b = brotli.Compressor(quality=level)
        return b.process, b.finish
    s = zstandard.ZstdCompressor(level=level).compressobj()
    return s.compress, s.flush


def corpus(size: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "widget", "gadget", "order", "price", "stock", "user"]
    parts: list[bytes] = []
    total = 0
    while total < size:
        if rng.random() < 0.5:
            items = [
                {"id": rng.randrange(10**6), "name": " ".join(rng.choices(words, k=3)),
                 "price": round(rng.random() * 100, 2), "tags": rng.choices(words, k=2),
                 "in_stock": rng.random() < 0.8}
                for _ in range(50)
            ]  # fmt: skip
            part = json.dumps({"items": items, "next": f"/api/products?page={rng.randrange(99)}"}).encode()
        else:
            rows = "".join(
                f'<tr><td class="name">{" ".join(rng.choices(words, k=2))}</td>'
                f"<td>{rng.randrange(999)}</td></tr>\n"
                for _ in range(60)
            )
            part = f"<html><body><table>\n{rows}</table></body></html>\n".encode()
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def measure(name: str, level: int, body: bytes, chunk: int, flush: bool) -> tuple[float, float]:
    """(MB/s of CPU time, compressed/original)."""
    start = time.process_time()
    if flush:
        encoder = encoding(name, level).new()
        step, finish = encoder.data, encoder.end
    else:
        step, finish = unflushed(name, level)
    out = [step(body[i : i + chunk]) for i in range(0, len(body), chunk)]
    out.append(finish())
    elapsed = time.process_time() - start
    encoded = b"".join(out)
    assert DECODE[name](encoded) == body, f"{name} {level} does not decode to its input"
    return len(body) / MB / elapsed, len(encoded) / len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=16, help="corpus size in MB")
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per upstream chunk")
    parser.add_argument("--levels", choices=["some", "all"], default="some")
    parser.add_argument("--no-flush", action="store_true", help="also measure without per-chunk flushes")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    body = corpus(args.mb * MB)
    if args.levels == "all":
        levels = {name: list(range(low, high + 1)) for name, (low, high) in LEVEL_RANGES.items()}
    else:
        levels = SOME_LEVELS
    rows = []
    for name in ("gzip", "br", "zstd"):
        for level in levels[name]:
            speed, ratio = measure(name, level, body, args.chunk, flush=True)
            row = [
                name,
                str(level),
                "yes" if level == DEFAULT_LEVELS[name] else "",
                f"{speed:.0f}",
                f"{ratio:.3f}",
            ]
            if args.no_flush:
                plain_speed, plain_ratio = measure(name, level, body, args.chunk, flush=False)
                row += [f"{plain_speed:.0f}", f"{plain_ratio:.3f}"]
            rows.append(row)
            if not args.markdown:
                print(" ".join(row), flush=True)
    if args.markdown:
        head = ["coding", "level", "default", "MB/s (CPU)", "ratio"]
        if args.no_flush:
            head += ["MB/s, no flush", "ratio, no flush"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    print(f"\n{args.mb} MB corpus (JSON and HTML), {args.chunk}-byte chunks, each flushed; identity is 1.000")


if __name__ == "__main__":
    main()
