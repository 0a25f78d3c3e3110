"""Aggregation routes (docs/aggregation.md): one JSON answer from several upstream calls.

Modules: ``plan`` (the compiled route), ``call`` (one call over a pool), ``combine`` (merge and
group, pure), ``exchange`` (the route's exchange). Nothing is imported here, so that
``forward.route`` can name the plan without importing the exchange that imports it.
"""
