"""``python -m shop.orders [--host H] [--port P | --uds PATH]``."""

from shop.common.runner import run
from shop.orders.app import create_app

run("orders", create_app, default_port=8003)
