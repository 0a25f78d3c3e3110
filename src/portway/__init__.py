"""Portway: a fast Python API gateway — one public front door, every service private behind it.

The public API is imported lazily, so ``import portway`` (and the CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from portway import build  # noqa: F401  (first: it decides if compiled modules or their sources load)

__version__ = "0.1.0"

_EXPORTS = {
    "GatewayConfig": "portway.config",
    "ConfigError": "portway.config",
    "load_config": "portway.config",
    "parse_config": "portway.config",
    "verify_identity": "portway.identity",
    "IdentityError": "portway.identity",
    "run_gateway": "portway.testing",
    "upstream_server": "portway.testing",
    "gateway_process": "portway.testing",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'portway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
