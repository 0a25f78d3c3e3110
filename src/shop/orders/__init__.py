"""The orders service: places orders as a choreographed saga with the catalog; idempotent POST."""
