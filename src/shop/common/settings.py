"""Service settings, read once from the environment (12-factor).

Every variable may be given per service with the service's name as a prefix (``ORDERS_DATABASE_URL``)
so that one environment can hold a whole machine's configuration; the plain name is the fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "./.portway/data"


def _env(service: str, name: str, default: str) -> str:
    return os.environ.get(f"{service.upper()}_{name}") or os.environ.get(name) or default


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """What a service needs to know about its environment; built by :meth:`from_env`."""

    service: str
    data_dir: Path
    database_url: str
    events_url: str
    log_level: str = "INFO"
    identity_required: bool = False
    identity_key: str = ""
    fault: str = ""

    @classmethod
    def from_env(cls, service: str) -> Settings:
        data_dir = Path(_env(service, "PORTWAY_DATA_DIR", DEFAULT_DATA_DIR)).absolute()
        return cls(
            service=service,
            data_dir=data_dir,
            database_url=_env(service, "DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / service}.db"),
            events_url=_env(service, "EVENTS_URL", f"sqlite:///{data_dir / 'events.db'}"),
            log_level=_env(service, "LOG_LEVEL", "INFO").upper(),
            identity_required=_flag(_env(service, "PORTWAY_IDENTITY_REQUIRED", "0")),
            identity_key=_env(service, "PORTWAY_IDENTITY_KEY", ""),
            fault=_env(service, "SHOP_FAULT", ""),
        )

    def __post_init__(self) -> None:
        if self.identity_required and not self.identity_key:
            raise ValueError("PORTWAY_IDENTITY_REQUIRED is set but PORTWAY_IDENTITY_KEY is not")

    def get(self, name: str, default: str = "") -> str:
        """A service-specific variable (``USERS_TOKEN_TTL``), read with the same prefix rule."""
        return _env(self.service, name, default)
