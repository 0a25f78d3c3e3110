"""``python -m shop.events list-dead | replay | purge-dead``: see :mod:`shop.events.cli`."""

import sys

from shop.events.cli import main

sys.exit(main())
