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
    add_ruleset_option(assess)
    assess.set_defaults(handler=run_assess)

    rules = commands.add_parser("rules", help="the rule catalogue: code, section, strength, text")
    rules.add_argument("--json", action="store_true", help="print one JSON object")
    rules.add_argument(
        "--stage", choices=("selection", "course"), help="only the rules of one stage"
    )
    add_ruleset_option(rules)
    rules.set_defaults(handler=run_rules)


def add_consent_option(parser: argparse.ArgumentParser) -> None:
    """``--consent-lead-h``: hours between written consent and cycle 1 (national law)."""
    parser.add_argument(
        "--consent-lead-h",
        type=finite,
        default=None,
        help="hours written consent must precede the first cycle (default: the ruleset's, "
        "24; national law)",
    )


def add_ruleset_option(parser: argparse.ArgumentParser) -> None:
    """``--ruleset``: the profile of thresholds, regimen and follow-up windows."""
    parser.add_argument(
        "--ruleset",
        metavar="NAME|FILE",
        default="eanm-snmmi-2023",
        help="the ruleset: a built-in profile (eanm-snmmi-2023, the default) or a site's "
        "lutetia.ruleset/1 JSON file",
    )


def settings_of(args: argparse.Namespace) -> Any:
    """The engines' :class:`~lutetia.guideline.context.Settings` from the options."""
    from lutetia.guideline.context import Settings
    from lutetia.guideline.ruleset import load_ruleset

    return Settings(
        ruleset=load_ruleset(args.ruleset),
        consent_lead_h=getattr(args, "consent_lead_h", None),
    )


def run_assess(args: argparse.Namespace) -> int:
    """Assess one case file."""
    from lutetia.cases.io import load_case
    from lutetia.reports.text import assessment_report
    from lutetia.services.course import assess_case

    settings = settings_of(args)
    case = load_case(args.case)
    document = assess_case(case, settings)
    if args.json:
        emit_json(document)
    else:
        print(for_terminal(assessment_report(document)))
    return 0


def run_rules(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    from lutetia.guideline.catalogue import CATALOGUE_VERSION, RULES

    ruleset = settings_of(args).ruleset
    rules = [r for r in RULES.values() if args.stage in (None, r.stage)]
    if args.json:
        emit_json(
            {
                "catalogue_version": CATALOGUE_VERSION,
                "ruleset": {**ruleset.provenance(), "thresholds": ruleset.thresholds()},
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
                        if (c := ruleset.cutoffs.get(r.code, r.cutoff)) is None
                        else {
                            "value": c.value,
                            "unit": c.unit,
                            "comparator": c.comparator,
                            "source": c.source,
                        },
                    }
                    for r in rules
                ],
            }
        )
        return 0
    print(f"Lutetia rule catalogue {CATALOGUE_VERSION}: {len(rules)} rules")
    print(ruleset.guideline)
    print(f"Ruleset {ruleset.name} (version {ruleset.version})")
    if ruleset.based_on:
        print(f"  based on {ruleset.based_on}: {ruleset.reason}")
        for name, value in ruleset.changes.items():
            print(f"  changed: {name} = {value}")
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
        if (cutoff := ruleset.cutoffs.get(r.code, r.cutoff)) is not None:
            print(
                f"      cut-off: {cutoff.comparator} {cutoff.value:g} {cutoff.unit}; "
                f"source: {cutoff.source}"
            )
    print(f"\nTHRESHOLDS OF THE RULESET {ruleset.name}")
    for name, value in ruleset.thresholds().items():
        print(f"  {name} = {value}")
    return 0
