"""A tiny demo service for `make up`: answers every request with JSON describing what it received,
on a unix socket only (it has no TCP port: the gateway is the only way in)."""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            body = json.dumps(
                {
                    "service": "demo",
                    "method": method,
                    "path": target,
                    "request_id": headers.get("x-request-id"),
                    "forwarded_for": headers.get("x-forwarded-for"),
                }
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b"
                % (len(body), body)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(path: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    print(f"demo upstream on unix:{path}", file=sys.stderr)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
