"""Write a runnable portway config from one of bench/'s templates.

    python bench/gen_config.py TEMPLATE OUT [--set NAME=VALUE ...] [--routes N]

``${NAME}`` / ``${NAME:-default}`` placeholders named by --set are replaced (the others keep their
default, or stay for portway's own interpolation). With --routes N the template's routes are
replaced by N prefix routes ``/api/s0/`` … ``/api/s{N-1}/``, each rewritten to ``/`` on the first
route's upstream: run.sh then requests the *last* one, the worst case for a router that scans a
list, so 10 vs 10,000 routes shows whether lookup cost grows with the table.
"""

from __future__ import annotations

import argparse
import re

import yaml


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(3)
        if name in values:
            return values[name]
        return default if default is not None else m.group(0)

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", repl, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template")
    parser.add_argument("out")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--routes", type=int, default=0)
    args = parser.parse_args()
    values = dict(item.split("=", 1) for item in args.set)
    with open(args.template) as f:
        text = substitute(f.read(), values)
    if args.routes:
        config = yaml.safe_load(text)
        first = config["routes"][0]
        config["routes"] = [{**first, "path": f"/api/s{i}/", "rewrite": "/"} for i in range(args.routes)]
        text = yaml.safe_dump(config, sort_keys=False)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
