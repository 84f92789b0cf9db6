"""``lutetia assess`` and ``lutetia rules``."""

from __future__ import annotations

import argparse
from typing import Any

from lutetia.cli.output import emit_json, finite, for_terminal


def register(commands: Any) -> None:
    """Add the selection subcommands."""
    assess = commands.add_parser(
        "assess",
        help="patient selection for 177Lu-PSMA RLT (lutetia.assessment/1)",
        description="Assess a lutetia.case/1 file (JSON or YAML) against the guideline's "
        "selection chapters.",
    )
    assess.add_argument("case", metavar="CASE", help="case file (.json, .yaml or .yml)")
    assess.add_argument("--json", action="store_true", help="print one JSON object")
    add_consent_option(assess)
    assess.set_defaults(handler=run_assess)

    rules = commands.add_parser("rules", help="the rule catalogue: code, section, strength, text")
    rules.add_argument("--json", action="store_true", help="print one JSON object")
    rules.add_argument(
        "--stage", choices=("selection", "course"), help="only the rules of one stage"
    )
    rules.set_defaults(handler=run_rules)


def add_consent_option(parser: argparse.ArgumentParser) -> None:
    """``--consent-lead-h``: hours between written consent and cycle 1 (national law)."""
    parser.add_argument(
        "--consent-lead-h",
        type=finite,
        default=24.0,
        help="hours written consent must precede the first cycle (default 24; national law)",
    )


def run_assess(args: argparse.Namespace) -> int:
    """Assess one case file."""
    from lutetia.cases.io import load_case
    from lutetia.guideline.context import Settings
    from lutetia.reports.text import assessment_report
    from lutetia.services.course import assess_case

    case = load_case(args.case)
    document = assess_case(case, Settings(args.consent_lead_h))
    if args.json:
        emit_json(document)
    else:
        print(for_terminal(assessment_report(document)))
    return 0


def run_rules(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    from lutetia.guideline.catalogue import CATALOGUE_VERSION, RULES

    rules = [r for r in RULES.values() if args.stage in (None, r.stage)]
    if args.json:
        emit_json(
            {
                "catalogue_version": CATALOGUE_VERSION,
                "rules": [
                    {
                        "code": r.code,
                        "kind": r.kind,
                        "stage": r.stage,
                        "section": r.section,
                        "strength": r.strength,
                        "text": r.text,
                        "threshold": r.threshold,
                        "effect": r.effect,
                        "decision": r.decision,
                        "cutoff": None
                        if r.cutoff is None
                        else {
                            "value": r.cutoff.value,
                            "unit": r.cutoff.unit,
                            "comparator": r.cutoff.comparator,
                            "source": r.cutoff.source,
                        },
                    }
                    for r in rules
                ],
            }
        )
        return 0
    print(f"Lutetia rule catalogue {CATALOGUE_VERSION}: {len(rules)} rules")
    print("EANM/SNMMI 177Lu-PSMA-RLT procedure guideline (2023)")
    current = None
    for r in rules:
        if r.kind != current:
            current = r.kind
            print(f"\n{current.replace('_', ' ').upper()}")
        strength = f" [{r.strength}]" if r.strength else ""
        print(f"  {r.code}{strength}  ({r.section})")
        print(f"      {r.text}")
        if r.threshold:
            print(f"      threshold: {r.threshold}")
        if r.cutoff:
            print(
                f"      cut-off: {r.cutoff.comparator} {r.cutoff.value:g} {r.cutoff.unit}; "
                f"source: {r.cutoff.source}"
            )
    return 0
