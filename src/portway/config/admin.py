"""The ``admin:`` section: where the admin API listens and the bearer token it asks for.

Contract only; :mod:`portway.admin` serves it. ``admin: 127.0.0.1:9901`` (a bare address) is short
for ``admin: {listen: 127.0.0.1:9901}``.

Rules:
- On a loopback address the token is optional (only this host can connect); when set, it is
  required there too.
- On any other address a token is required: the admin API reloads the config and shows the
  routes and targets, so a listener others can reach without one is refused at load (and by
  ``portway check``), never discovered in production.
- A token shorter than 16 bytes is refused: it is compared in constant time, but a short one is
  guessed anyway. An empty value (``${ADMIN_TOKEN:-}`` with the variable unset) means none.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from portway.config.hostport import parse_hostport
from portway.config.models_base import Model

MIN_TOKEN_BYTES = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve anywhere
        return False


class AdminListener(Model):
    listen: str = "127.0.0.1:9901"
    # `Authorization: Bearer <token>` (use ${ENV}); never shown by /config, nor in a repr or a log
    token: str | None = Field(default=None, repr=False)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # What `portway schema` says: the bare address form is valid too.
        address = {"type": "string", "description": "HOST:PORT, short for {listen: HOST:PORT}"}
        return {"anyOf": [address, handler(core_schema)]}

    @model_validator(mode="before")
    @classmethod
    def _address_only(cls, value: object) -> object:
        if isinstance(value, str):
            return {"listen": value}
        if not isinstance(value, dict | AdminListener):
            raise ValueError("expected HOST:PORT, or a mapping with `listen` and `token`")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_hostport(value)
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if not value:
            return None
        if len(value.encode()) < MIN_TOKEN_BYTES:
            raise ValueError(f"the admin token must be at least {MIN_TOKEN_BYTES} bytes")
        if any(c in value for c in " \t\r\n\0"):
            raise ValueError("the admin token cannot contain spaces or control characters")
        return value

    @model_validator(mode="after")
    def _token_off_loopback(self) -> AdminListener:
        if self.token is None and not self.loopback:
            raise ValueError(
                f"{self.listen} is not a loopback address: set `admin.token` (a bearer token, e.g. "
                "${ADMIN_TOKEN}) or listen on 127.0.0.1 or ::1"
            )
        return self

    @property
    def loopback(self) -> bool:
        return is_loopback(parse_hostport(self.listen)[0])
