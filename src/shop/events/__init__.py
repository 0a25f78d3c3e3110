"""Operator commands for the event broker's dead letters: ``python -m shop.events --help``."""
