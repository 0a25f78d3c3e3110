"""Fault injection for the crash tests, switched on only by the ``SHOP_FAULT`` variable.

``SHOP_FAULT=exit-after-commit:<topic>`` ends the process the moment a transaction that published an
event of that topic has committed, before the outbox relay can ship it: the state a power cut or a
``kill -9`` leaves behind, and the one the outbox exists for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

EXIT_CODE = 86


def exit_after_commit(fault: str, topics: Iterable[str]) -> None:
    kind, _, topic = fault.partition(":")
    if kind == "exit-after-commit" and topic in topics:
        os._exit(EXIT_CODE)
