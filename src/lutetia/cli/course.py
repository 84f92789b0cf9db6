"""``lutetia next-cycle`` and ``lutetia schedule``."""

from __future__ import annotations

import argparse
from typing import Any

from lutetia.cli.output import emit_json, for_terminal
from lutetia.cli.selection import add_consent_option


def register(commands: Any) -> None:
    """Add the treatment-course subcommands."""
    nxt = commands.add_parser(
        "next-cycle",
        help="decision for the next cycle: proceed, reduce, postpone, hold, discontinue, complete",
    )
    nxt.add_argument("case", metavar="CASE", help="case file (.json, .yaml or .yml)")
    nxt.add_argument("--json", action="store_true", help="print one JSON object")
    add_consent_option(nxt)
    nxt.set_defaults(handler=run_next_cycle)

    schedule = commands.add_parser(
        "schedule", help="dated plan of cycles, labs, PSA, imaging and follow-up"
    )
    schedule.add_argument("case", metavar="CASE", help="case file (.json, .yaml or .yml)")
    schedule.add_argument("--json", action="store_true", help="print one JSON object")
    schedule.add_argument("--ics", metavar="FILE", help="also write an iCalendar file")
    schedule.set_defaults(handler=run_schedule)


def run_next_cycle(args: argparse.Namespace) -> int:
    """Decide the next cycle."""
    from lutetia.cases.io import load_case
    from lutetia.guideline.assessment import course_document
    from lutetia.guideline.context import Settings
    from lutetia.guideline.course import next_cycle
    from lutetia.reports.text import course_report

    case = load_case(args.case)
    document = course_document(case, next_cycle(case, Settings(args.consent_lead_h)))
    if args.json:
        emit_json(document)
    else:
        print(for_terminal(course_report(document)))
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    """Print (and optionally export) the dated plan."""
    from lutetia.cases.io import load_case
    from lutetia.guideline.schedule import schedule

    case = load_case(args.case)
    events = schedule(case)
    if args.ics:
        from lutetia.reports.calendar import write_ics

        write_ics(events, args.ics, patient_id=case.patient.id)
    if args.json:
        emit_json(
            {
                "patient_id": case.patient.id,
                "events": [e.as_json() for e in events],
                "ics": args.ics,
            }
        )
        return 0
    print(f"Lutetia treatment plan: {case.patient.id}")
    for e in events:
        window = f" – {e.window_end.isoformat()}" if e.window_end else ""
        print(f"  {e.date.isoformat()}{window:<13}  {e.kind:<18} {e.description}  [{e.section}]")
    if args.ics:
        print(f"iCalendar written to {args.ics}")
    return 0
