"""A service that starts in milliseconds, for `portway up` tests: ``python tiny_service.py SOCKET``.

Every request gets 200 and ``{"pid": ..., "path": ...}``; it exits on SIGTERM. ``TINY_FAIL=message``
makes it print the message and exit 3 at once (a service that cannot start).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            path = line.split()[1].decode() if len(line.split()) > 1 else "/"
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            body = json.dumps({"pid": os.getpid(), "path": path}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                         % (len(body), body))  # fmt: skip
            await writer.drain()
    except (ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def main(socket: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_unix_server(handle, socket)
    print(f"tiny: serving on {socket}", flush=True)
    async with server:
        await stop.wait()
    print("tiny: stopped", flush=True)


if __name__ == "__main__":
    if message := os.environ.get("TINY_FAIL"):
        print(message, flush=True)
        sys.exit(3)
    asyncio.run(main(sys.argv[1]))
