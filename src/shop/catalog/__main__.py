"""``python -m shop.catalog [--host H] [--port P | --uds PATH]``."""

from shop.catalog.app import create_app
from shop.common.runner import run

run("catalog", create_app, default_port=8002)
