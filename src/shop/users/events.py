"""Events the users service publishes (its contract with the others)."""

from __future__ import annotations

from typing import ClassVar

from shop.common.events import Event


class UserRegistered(Event):
    topic: ClassVar[str] = "users.user_registered"
    version: ClassVar[int] = 1

    user_id: str
    email: str
    name: str
