"""The ``lutetia`` command: one entry point, one subcommand per task.

Each subcommand lives in its own module and imports what it needs only when
it runs, so that ``lutetia --help`` answers at once. Bad input exits 2 with one
line on stderr naming the field; anything unexpected exits 1, also without a
traceback (set ``LUTETIA_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lutetia import __version__
from lutetia.cli import clinical, course, dosimetry, physics, protection, selection
from lutetia.errors import BadInputError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="lutetia",
        description="177Lu-PSMA radioligand therapy per the EANM/SNMMI guideline (2023).",
    )
    parser.add_argument("--version", action="version", version=f"lutetia {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (selection, course, protection, dosimetry, clinical, physics):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except BadInputError as error:
        print(f"lutetia {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
    except Exception as error:  # pragma: no cover - the safety net itself
        if os.environ.get("LUTETIA_DEBUG"):
            raise
        print(f"lutetia {args.command}: internal error: {error!r}", file=sys.stderr)
        return 1
    return status
