"""Where each worker of ``portway run --workers N`` serves its private admin socket (admin/fanin.py):
known to the supervisor, which makes the directory, and to every worker. Kept apart from the fan-in
so that the supervisor imports nothing but this."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerSet:
    index: int  # this worker's
    sockets: tuple[str, ...]  # every worker's private admin socket, by index

    @staticmethod
    def in_directory(directory: str, workers: int, index: int = 0) -> WorkerSet:
        return WorkerSet(index, tuple(os.path.join(directory, f"worker-{i}.sock") for i in range(workers)))
