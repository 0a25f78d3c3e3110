"""Plumbing shared by every shop service: settings, database, logs, metrics, errors, identity, events."""
