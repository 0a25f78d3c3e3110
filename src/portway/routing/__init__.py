"""Routing: path normalisation and the compiled route table."""

from portway.routing.normalize import BadTarget, normalize_path, split_target
from portway.routing.router import Match, MethodNotAllowed, Router, RouteSpec

__all__ = ["BadTarget", "Match", "MethodNotAllowed", "RouteSpec", "Router", "normalize_path", "split_target"]
