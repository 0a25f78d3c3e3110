"""The base of every config model: unknown keys are errors and validated config is immutable."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def changed(self, names: Iterable[str]) -> set[str]:
        """Which of these keys were given a value other than their default. (Not merely "set": a
        config dumped and validated again, as `portway up` does, sets every key to its default.)"""
        fields = type(self).model_fields
        return {n for n in names if n in self.model_fields_set and getattr(self, n) != fields[n].default}
