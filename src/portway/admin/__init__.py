"""The admin API on its own listener (loopback by default): it reads snapshots the stages offer."""
