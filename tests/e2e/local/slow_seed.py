"""A seed that lasts as long as a test wants: ``python slow_seed.py STARTED RELEASE``.

It creates the file STARTED, then waits until the file RELEASE exists (at most 30 s, then it fails),
so a test can look at `portway up` while the seed runs, and end the seed when it has seen enough.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __name__ == "__main__":
    started, release = Path(sys.argv[1]), Path(sys.argv[2])
    started.touch()
    deadline = time.monotonic() + 30
    while not release.exists():
        if time.monotonic() > deadline:
            print("slow_seed: never released", flush=True)
            sys.exit(1)
        time.sleep(0.05)
    print("slow_seed: seeded", flush=True)
