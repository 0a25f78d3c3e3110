"""The access log: one JSON line per request, formatted and written off the event loop.

The hot path appends a tuple to a list (atomic under the GIL); a daemon thread swaps the list out
every ``flush_interval`` and writes the batch with one ``write``. A slow or blocked log sink (a full
pipe on stdout) therefore delays the log, never the requests.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO

Entry = tuple[float, str, str, str, str, str, str, int, int, int, float, str, str]
FIELDS = ("time", "request_id", "client", "method", "path", "route", "upstream", "status",
          "bytes_in", "bytes_out", "duration_ms", "tls", "trace_id")  # fmt: skip


class AccessLog:
    def __init__(self, path: str = "stdout", flush_interval: float = 0.2) -> None:
        self.path = path
        self.flush_interval = flush_interval
        self._entries: list[Entry] = []
        self._stream: IO[str] = sys.stdout if path == "stdout" else open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portway-access-log", daemon=True)
        self._thread.start()

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()
        self.flush()

    def flush(self) -> None:
        entries, self._entries = self._entries, []
        if not entries:
            return
        lines = []
        for entry in entries:
            record = dict(zip(FIELDS, entry, strict=True))
            record["time"] = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry[0]))
                + f".{int(entry[0] % 1 * 1000):03d}Z"
            )
            record["duration_ms"] = round(entry[10], 3)
            if not entry[11]:
                del record["tls"]  # a plain-HTTP request: the line stays as it was
            if not entry[12]:
                del record["trace_id"]  # tracing is off (docs/tracing.md)
            lines.append(json.dumps(record, separators=(",", ":")))
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken log sink must never take the gateway down

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._stream is not sys.stdout:
            self._stream.close()
