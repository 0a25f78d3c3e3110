"""A local OTLP/HTTP sink for bench/tracing.sh: accepts ``POST /v1/traces`` and answers an empty
ExportTraceServiceResponse (200, no body is a valid one), counting requests and bytes; it decodes
nothing, so its CPU stays off the gateway's core and out of the figures.

    python bench/otlp_sink.py PORT      (prints "requests bytes" to stderr on SIGTERM)
"""

from __future__ import annotations

import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

received = [0, 0]


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the exporter's session reuses its connection

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        received[0] += 1
        received[1] += length
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)

    def stop(*_: object) -> None:
        print(f"{received[0]} {received[1]}", file=sys.stderr, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
