"""``python -m shop.notifications [--host H] [--port P | --uds PATH]``."""

from shop.common.runner import run
from shop.notifications.app import create_app

run("notifications", create_app, default_port=8004)
