"""Events the notifications service publishes: none. It only listens (see consumers.py)."""
