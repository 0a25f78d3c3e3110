"""Every module imports on its own in a fresh interpreter (STYLE.md §11): an import cycle shows up
only when a module is the first one imported, so each gets a process of its own."""

from __future__ import annotations

import asyncio
import pkgutil
import sys

import pytest

import portway
import shop


def _modules() -> list[str]:
    names = []
    for package in (portway, shop):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations." not in info.name and not info.name.endswith("__main__"):
                names.append(info.name)
    return names


async def _import_alone(name: str, slots: asyncio.Semaphore) -> tuple[str, int, str]:
    async with slots:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"import {name}", stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        return name, proc.returncode or 0, err.decode(errors="replace")[-400:]


@pytest.mark.slow
@pytest.mark.timeout(300)  # ~200 fresh interpreters: minutes on a loaded 2-core machine
async def test_every_module_imports_first_without_a_cycle() -> None:
    slots = asyncio.Semaphore(4)
    results = await asyncio.gather(*(_import_alone(name, slots) for name in _modules()))
    failures = [f"{name}: {err}" for name, code, err in results if code != 0]
    assert len(results) > 50
    assert not failures, "\n".join(failures)
