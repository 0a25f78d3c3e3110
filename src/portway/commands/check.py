"""`portway check FILE`: validate a config as `portway run` would, building everything it builds
(policies, stores, keys) without binding sockets; problems go to stderr as ``file:line: key: message``."""

from __future__ import annotations

import argparse
import sys

from portway.commands.validate import build_all
from portway.config import ConfigError, load_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="gateway config (YAML)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
        build_all(config, args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.file}: ok ({len(config.routes)} routes, {len(config.upstreams)} upstreams)")
    return 0
