"""``lutetia next-cycle`` and ``lutetia schedule``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lutetia.cli.output import atomic_output, check_output_path, emit_json, for_terminal
from lutetia.cli.selection import add_consent_option, add_ruleset_option, settings_of
from lutetia.errors import BadInputError


def register(commands: Any) -> None:
    """Add the treatment-course subcommands."""
    nxt = commands.add_parser(
        "next-cycle",
        help="decision for the next cycle: proceed, reduce, postpone, hold, discontinue, complete",
    )
    nxt.add_argument("case", metavar="CASE", help="case file (.json, .yaml or .yml)")
    nxt.add_argument("--json", action="store_true", help="print one JSON object")
    add_consent_option(nxt)
    add_ruleset_option(nxt)
    nxt.set_defaults(handler=run_next_cycle)

    schedule = commands.add_parser(
        "schedule", help="dated plan of cycles, labs, PSA, imaging and follow-up"
    )
    schedule.add_argument("case", metavar="CASE", help="case file (.json, .yaml or .yml)")
    schedule.add_argument("--json", action="store_true", help="print one JSON object")
    schedule.add_argument(
        "--ics",
        metavar="FILE",
        help="also write the plan as an iCalendar file (replaced whole, never half-written; "
        "never a symlink, FIFO, device or the case file). '-' writes the calendar to stdout "
        "instead of the plan (not with --json)",
    )
    add_ruleset_option(schedule)
    schedule.set_defaults(handler=run_schedule)


def run_next_cycle(args: argparse.Namespace) -> int:
    """Decide the next cycle."""
    from lutetia.cases.io import load_case
    from lutetia.reports.text import course_report
    from lutetia.services.course import decide_next_cycle

    settings = settings_of(args)
    case = load_case(args.case)
    document = decide_next_cycle(case, settings)
    if args.json:
        emit_json(document)
    else:
        print(for_terminal(course_report(document)))
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    """Print (and optionally export) the dated plan."""
    from lutetia.cases.io import load_case
    from lutetia.services.course import plan

    ics: str | None = args.ics
    if ics == "-" and args.json:
        raise BadInputError("--ics", "'-' (stdout) cannot be combined with --json")
    if ics not in (None, "-"):
        check_output_path(ics, option="--ics", inputs=[args.case])
    settings = settings_of(args)
    case = load_case(args.case)
    events = plan(case, settings)
    if ics is not None:
        from lutetia.reports.calendar import to_ics

        data = to_ics(events, patient_id=case.patient.id)
        if ics == "-":
            _write_stdout_bytes(data)
            return 0
        with atomic_output(ics, option="--ics", inputs=[args.case]) as temporary:
            temporary.write_bytes(data)
    if args.json:
        emit_json(
            {
                "patient_id": case.patient.id,
                "events": [e.as_json() for e in events],
                "ics": ics,
            }
        )
        return 0
    from lutetia.reports.text import schedule_report

    print(schedule_report(case.patient.id, events, ics=ics))
    return 0


def _write_stdout_bytes(data: bytes) -> None:
    """Write ``data`` to stdout as it is (CRLF line ends kept)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (tests redirecting to StringIO)
        sys.stdout.write(data.decode("utf-8"))
    else:
        buffer.write(data)
        buffer.flush()
