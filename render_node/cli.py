"""The one console script, `showroom`, with subcommands.

Each subject registers its subcommands from its own module in `render_node/commands/`; this module only builds
the parser, dispatches, and turns errors into a clear message and a non-zero exit code (never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from render_node.commands import COMMAND_MODULES
from render_node.errors import NodeError
from render_node.render.errors import RenderError
from showroom.errors import ShowroomError

QUIET_COMMANDS = frozenset({"staff", "audit", "rates", "secrets", "branches"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showroom", description="AR/VR product showroom with an edge render node")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in QUIET_COMMANDS:  # their output is the answer; schema migrations on the way are noise
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
    except (NodeError, RenderError, ShowroomError) as exc:
        print(f"showroom {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
