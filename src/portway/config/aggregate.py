"""Config model for aggregation routes (docs/aggregation.md): a route whose answer is JSON merged
from several upstream calls made in parallel, instead of one proxied response.

```yaml
- path: /api/me
  aggregate:
    mode: merge            # merge: deep-merge the calls' objects; group: each under its key
    max_bytes: 1MiB        # all the calls' bodies together; past it the answer is a 502
    calls:
      - {upstream: users, path: "/users/${claims.sub}", key: user, timeout: 1s}
      - {upstream: orders, path: "/orders?user=${claims.sub}", key: orders}
```
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.templates import parse_template
from portway.config.units import PositiveDuration, PositiveSize

# A key is sent in the X-Portway-Partial header and used as a JSON member name: keep it a token.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PARTIAL_FIELD = "_partial"


class AggregateCall(Model):
    upstream: str | None = None  # default: the route's `upstream`
    path: str  # a template (config/templates.py); variables are percent-encoded into it
    key: str  # names the call: its member under `group`, its name when the answer is partial
    timeout: PositiveDuration | None = None  # connect and answer; default: the upstream's read timeout

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        if not value.isprintable() or " " in value or "#" in value:
            raise ValueError("must be a path and query without spaces, control characters or '#'")
        parse_template(value)
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("must be 1 to 64 letters, digits, '_', '.' or '-' (it is sent in a header)")
        if value == PARTIAL_FIELD:
            raise ValueError(f"{PARTIAL_FIELD} is the field that lists failed calls")
        return value


class Aggregate(Model):
    mode: Literal["merge", "group"] = "merge"
    calls: list[AggregateCall] = Field(min_length=1)
    max_bytes: PositiveSize = 1024**2

    @model_validator(mode="after")
    def _unique_keys(self) -> Aggregate:
        keys = [call.key for call in self.calls]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"calls: each key names one call; {', '.join(twice)} is used twice")
        return self
