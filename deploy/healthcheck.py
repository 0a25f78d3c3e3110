"""Container health check for the Portway image (no curl or wget in a slim image).

HEALTHCHECK_URL picks what is checked: http://… is fetched and must answer 2xx within 3 s;
tcp://host:port must accept a connection. Default: a shop service's http://127.0.0.1:8000/health.
"""

import os
import socket
import sys
import urllib.request
from urllib.parse import urlsplit

url = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/health")
parts = urlsplit(url)
try:
    if parts.scheme == "tcp":
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=3).close()
    else:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - URL set by the deployer
            sys.exit(0 if 200 <= response.status < 300 else 1)
except OSError as exc:
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
