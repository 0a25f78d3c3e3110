"""``python -m shop.users [--host H] [--port P | --uds PATH]``, or ``python -m shop.users rotate-key``."""

import sys

from shop.common.runner import run
from shop.common.settings import Settings
from shop.users.app import create_app, signing_keys
from shop.users.tokens import KeyFile

if sys.argv[1:2] == ["rotate-key"]:
    keys = signing_keys(Settings.from_env("users"))
    if not isinstance(keys, KeyFile):
        sys.exit("USERS_SIGNING_KEY pins the signing key: rotate it where the deployment keeps it")
    kid = keys.rotate().active.kid
    print(f"signing with new key {kid}; retired keys stay published until their tokens expire")
else:
    run("users", create_app, default_port=8001)
