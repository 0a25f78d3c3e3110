"""Image references parsed as the registry reads them: `[registry/][namespace/]name[:tag][@digest]`.

The first component is a registry host only when there are several and it has a `.` or a `:`
(a port) or is `localhost` (`localhost:5000/redis:7`, `ghcr.io/acme/app`); a tag is what follows
the last `:` of the last component, so a registry's port is never taken for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ImageRef:
    registry: str
    namespace: str  # "bitnami", "confluentinc", "mssql", "" for official images
    name: str  # "postgresql", "cp-kafka", "server"
    tag: str = ""
    digest: str = ""

    @property
    def name_words(self) -> list[str]:
        return _WORD.findall(self.name)

    @property
    def namespace_words(self) -> list[str]:
        return _WORD.findall(self.namespace)


def parse_image(image: str) -> ImageRef | None:
    text = image.strip().lower()
    if not text or "$" in text:
        return None
    text, _, digest = text.partition("@")
    parts = text.split("/")
    registry = ""
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
    name, _, tag = parts[-1].partition(":")
    namespace = "/".join(parts[:-1])
    if namespace == "library":
        namespace = ""
    return ImageRef(registry, namespace, name, tag, digest)
