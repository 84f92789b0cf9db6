"""The ``lutetia`` command: one entry point, one subcommand per task.

Subcommands are registered lazily: :data:`COMMANDS` names each one with its
module and help line, and only the module of the command being run (or whose
own ``--help`` is asked) is imported, so that ``lutetia --help`` imports no
subcommand module and answers at once. Each module imports what it needs only
when it runs.

Errors: bad input exits 2 with exactly one line on stderr naming the field
(usage errors included: no usage block); anything unexpected exits 1, also on
one line and without a traceback (set ``LUTETIA_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NamedTuple, NoReturn

from lutetia import __version__
from lutetia.errors import BadInputError


class Command(NamedTuple):
    """Where a subcommand lives and its line in ``lutetia --help``."""

    module: str
    help: str


#: Every subcommand, in the order of ``lutetia --help``. The help line must be
#: the one the module registers (tests/test_cli_errors.py checks it).
COMMANDS: dict[str, Command] = {
    "assess": Command(
        "lutetia.cli.selection", "patient selection for 177Lu-PSMA RLT (lutetia.assessment/1)"
    ),
    "rules": Command("lutetia.cli.selection", "the rule catalogue: code, section, strength, text"),
    "next-cycle": Command(
        "lutetia.cli.course",
        "decision for the next cycle: proceed, reduce, postpone, hold, discontinue, complete",
    ),
    "schedule": Command(
        "lutetia.cli.course", "dated plan of cycles, labs, PSA, imaging and follow-up"
    ),
    "activity": Command("lutetia.cli.protection", "activity bookkeeping: administered, draw"),
    "release": Command(
        "lutetia.cli.protection", "clearance fit, discharge time and close-contact restrictions"
    ),
    "letter": Command(
        "lutetia.cli.protection", "discharge letter and patient instructions (HTML and PDF)"
    ),
    "dose": Command(
        "lutetia.cli.dosimetry", "dosimetry: tac, stp, bed, population, plan, kernel, images"
    ),
    "pet": Command(
        "lutetia.cli.pet",
        "PSMA PET SUVs (liver, parotids, lesions) for the case file's psma_pet block",
    ),
    "demo": Command(
        "lutetia.cli.clinic", "the clinic web app with synthetic patients on 127.0.0.1 (SQLite)"
    ),
    "serve": Command(
        "lutetia.cli.clinic", "serve the clinic (waitress) over the configured database"
    ),
    "db": Command("lutetia.cli.clinic", "the clinic database: migrate, backup, restore"),
    "grade": Command("lutetia.cli.clinical", "CTCAE v5.0 grade of a lab value"),
    "egfr": Command("lutetia.cli.clinical", "eGFR by the race-free CKD-EPI 2021 equation"),
    "decay": Command(
        "lutetia.cli.physics", "177Lu activity at T1 from the activity at T0 (ICRP-107 half-life)"
    ),
}


def one_line(text: str) -> str:
    """``text`` with control characters and line separators escaped (``\\n``, ``\\x1b``)."""
    from lutetia.reports.text import escape_controls

    return escape_controls(text)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE`` (no usage block) and exit 2."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``, or None.

    The top-level parser has no option that takes a value, so the first
    argument not starting with ``-`` is the subcommand, as argparse sees it.
    """
    for token in argv:
        if token == "--":
            return None
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> Parser:
    """The argument parser; only ``command``'s module is imported and registered in full.

    Every other subcommand is a stub carrying its help line, enough for
    ``lutetia --help`` and for argparse to name the valid choices.
    """
    parser = Parser(
        prog="lutetia",
        description="177Lu-PSMA radioligand therapy per the EANM/SNMMI guideline (2023).",
        epilog="Run 'lutetia COMMAND --help' for a command's options. Bad input exits 2, "
        "anything else that fails exits 1; either way with one line on stderr.",
    )
    parser.add_argument("--version", action="version", version=f"lutetia {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = COMMANDS[command].module if command in COMMANDS else None
    for name, (module, help_text) in COMMANDS.items():
        if name in commands.choices:
            continue
        if module == wanted:
            import_module(module).register(commands)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the (sub)subcommand that ``args`` were parsed by."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return _innermost(chosen, args)
    return parser


def _fail(command: str, message: str) -> int:
    """Print the one line of a bad-input error; the exit status is 2."""
    print(f"lutetia {command}: error: {one_line(message)}", file=sys.stderr)
    return 2


def _source(args: argparse.Namespace) -> str:
    """The input file of the command, for messages that can name nothing better."""
    for name in ("case", "file"):
        value = getattr(args, name, None)
        if isinstance(value, str):
            return value
    return "the input"


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(arguments))
    try:
        args, extras = parser.parse_known_args(arguments)
        if extras:  # reported by the (sub)command they were given to, not by "lutetia"
            _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as stop:  # --help, --version, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    command: str = args.command
    handler: Any = args.handler
    try:
        status: int = handler(args)
    except BadInputError as error:
        return _fail(command, str(error))
    except OverflowError as error:
        # A number or date too large for the arithmetic (a year-9999 date plus a
        # cycle interval, 1e200 Gy squared): the input is out of range. The
        # commands check their own values first; this net only keeps the
        # promise of exit 2 with one line for the cases they do not foresee.
        return _fail(command, f"a value given is out of the range that can be computed ({error})")
    except RecursionError:
        return _fail(command, f"{_source(args)}: nested too deeply to be read")
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:
        print(f"lutetia {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # pragma: no cover - the safety net itself
        if os.environ.get("LUTETIA_DEBUG"):
            raise
        print(f"lutetia {command}: internal error: {one_line(repr(error))}", file=sys.stderr)
        return 1
    return status
