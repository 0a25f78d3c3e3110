"""The reference system behind the gateway: users, catalog, orders and notifications.

Each service is a small FastAPI app with its own database, migrations and metrics; they talk to each
other only through events (``shop.common.events``). ``shop.common`` holds plumbing, never models.
"""
