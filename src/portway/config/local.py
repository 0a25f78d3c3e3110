"""Config of `portway up` (local mode): the services it starts, each replica on its own unix socket
in a private run directory, feeding the upstream of the same name (or ``upstream:``)."""

from __future__ import annotations

import shlex

from pydantic import Field, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.units import Duration


class ServiceChecks(Model):
    """How `portway up` watches a running replica: ``GET health`` over its socket every ``interval``
    (start to start), each allowed ``timeout``; ``eject_after`` failures in a row take it out of the
    balancer's rotation, ``restart_after`` kill and restart it (docs/local.md: Supervision)."""

    interval: Duration = Field(default=1.0, gt=0)
    timeout: Duration = Field(default=1.0, gt=0)
    eject_after: int = Field(default=2, ge=1)
    restart_after: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _order(self) -> ServiceChecks:
        if self.restart_after < self.eject_after:
            raise ValueError("restart_after must be at least eject_after (a hung replica is ejected first)")
        return self


class ServiceConfig(Model):
    # ``{socket}`` is replaced by the replica's unix socket path, ``{data_dir}`` by the data
    # directory, ``{replica}`` by the replica number (1-based). A string is split like a shell would.
    command: list[str] = Field(min_length=1)
    replicas: int = Field(default=1, ge=1, le=64)
    env: dict[str, str] = {}
    health: str = "/ready"
    upstream: str | None = None  # default: the upstream with the service's name
    ready_timeout: Duration = 30.0
    checks: ServiceChecks = ServiceChecks()
    seed: list[str] | None = None  # a command run once after the first start (demo data)

    @field_validator("command", "seed", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return shlex.split(value) if isinstance(value, str) else value

    @field_validator("command")
    @classmethod
    def _socket(cls, value: list[str]) -> list[str]:
        if not any("{socket}" in part for part in value):
            raise ValueError("the command must bind the replica's unix socket: pass it {socket}")
        return value

    @field_validator("health")
    @classmethod
    def _health(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in " \r\n"):
            raise ValueError("must be a path starting with '/', without spaces")
        return value
