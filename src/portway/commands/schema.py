"""`portway schema`: the config's JSON Schema, for editor completion and CI validation."""

from __future__ import annotations

import argparse
import json

from portway.config import GatewayConfig


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--indent", type=int, default=2)


def run(args: argparse.Namespace) -> int:
    schema = GatewayConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Portway gateway config"
    print(json.dumps(schema, indent=args.indent))
    return 0
