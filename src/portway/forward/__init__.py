"""The forward stage: the exchange that proxies one request, and the pure head builders it uses."""
