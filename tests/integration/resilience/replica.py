"""A scripted replica for the process fault tests: ``python -m replica --name a`` (run from this
directory) serves HTTP/1.1 keep-alive on 127.0.0.1, prints ``port N`` once listening, and answers:

- ``/health``: 200, or 503 with ``--fail-health`` (it keeps serving everything else);
- ``/_replica``: its counts as JSON (requests served, health checks seen), not counted itself;
- anything else: 200 with its name, after ``--delay`` seconds.

``--flap S`` takes it down (listener closed, open connections dropped) and up again every S seconds,
printing ``down``/``up``; ``--random-503 P`` answers that share of requests with a 503 (seeded);
``--report`` prints ``served N`` every 50 ms (bench/faults.py counts upstream attempts with it).
Only the standard library: it must start fast and never need the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys


class Replica:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.served = 0
        self.checks = 0
        self.phases: dict[str, int] = {}  # served, by the first segment of the path (a test's phase)
        self.writers: set[asyncio.StreamWriter] = set()
        self.rng = random.Random(args.name)
        self.reporting: asyncio.Task[None] | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                target = lines[0].split(b" ")[1]
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and b"close" in value.lower():
                        close = True
                if length:
                    await reader.readexactly(length)
                status, body = await self.answer(target)
                writer.write(
                    b"HTTP/1.1 %d X\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s\r\n%s"
                    % (status, len(body), b"connection: close\r\n" if close else b"", body)
                )
                await writer.drain()
                if close:
                    break
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            IndexError,
            ValueError,
        ):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def answer(self, target: bytes) -> tuple[int, bytes]:
        if target == b"/health":
            self.checks += 1
            return (503, b"failing") if self.args.fail_health else (200, b"ok")
        if target == b"/_replica":
            doc = {"served": self.served, "checks": self.checks, "phases": self.phases}
            return 200, json.dumps(doc).encode()
        if self.args.delay:
            await asyncio.sleep(self.args.delay)  # the scripted behaviour: a slow answer
        self.served += 1
        phase = target.split(b"/")[1].decode("latin-1")
        self.phases[phase] = self.phases.get(phase, 0) + 1
        if self.args.random_503 and self.rng.random() < self.args.random_503:
            return 503, b"busy"
        return 200, self.args.name.encode()

    async def run(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.args.port)
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        if self.args.report:
            self.reporting = asyncio.create_task(self.report())  # until the process ends
        if not self.args.flap:
            await asyncio.Event().wait()  # until killed
        while True:
            await asyncio.sleep(self.args.flap)
            server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            print("down", flush=True)
            await asyncio.sleep(self.args.flap)
            server = await asyncio.start_server(self.handle, "127.0.0.1", port)
            print("up", flush=True)

    async def report(self) -> None:
        last = -1
        while True:
            if self.served != last:
                last = self.served
                print(f"served {last}", flush=True)
            await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="replica")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--flap", type=float, default=0.0)
    parser.add_argument("--fail-health", action="store_true")
    parser.add_argument("--random-503", type=float, default=0.0)
    parser.add_argument("--report", action="store_true")
    asyncio.run(Replica(parser.parse_args()).run())


if __name__ == "__main__":
    sys.exit(main())
