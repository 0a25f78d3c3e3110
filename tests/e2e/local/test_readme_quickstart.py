"""README's first screen shows the same curl lines `portway up` prints for the shop (and the shop
test runs the printed ones), so the README cannot drift from what works."""

from __future__ import annotations

import re

from portway.config import load_config
from portway.local.quickstart import curl_lines

from .support import ROOT, SHOP_CONFIG


def test_readme_quickstart_is_what_portway_up_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(B=http://127\.0\.0\.1:8080\n.*?)```", readme, re.S)
    assert block is not None, "README's first screen lost its curl quickstart"
    config = load_config(SHOP_CONFIG, {"PORTWAY_RUN_DIR": "/tmp/portway-shop"})
    printed = [" ".join(line.split()) for line in curl_lines("http://127.0.0.1:8080", config)]
    shown = [" ".join(line.split()) for line in block.group(1).splitlines()]
    assert shown == printed
