"""``lutetia activity``, ``lutetia release`` and ``lutetia letter``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from lutetia.cli.output import emit_json, finite, parse_aware
from lutetia.errors import BadInputError


def dose_rate_point(text: str) -> tuple[float, float]:
    """argparse type for ``H=R``: hours after administration = µSv/h."""
    hours, sep, rate = text.partition("=")
    if not sep:
        raise ValueError(text)
    return finite(hours), finite(rate)


def register(commands: Any) -> None:
    """Add the radiation-protection subcommands."""
    activity = commands.add_parser("activity", help="activity bookkeeping: administered, draw")
    which = activity.add_subparsers(dest="activity_command", metavar="WHAT", required=True)

    given = which.add_parser(
        "administered",
        help="activity given, from the syringe before and its residual after (decay-corrected)",
    )
    given.add_argument("--before-gbq", type=finite, required=True)
    given.add_argument("--before-at", required=True, metavar="T1")
    given.add_argument("--residual-gbq", type=finite, required=True)
    given.add_argument("--residual-at", required=True, metavar="T2")
    given.add_argument("--injected-at", required=True, metavar="T3")
    given.add_argument("--prescribed-gbq", type=finite)
    given.add_argument("--json", action="store_true", help="print one JSON object")
    given.set_defaults(handler=run_administered)

    draw = which.add_parser("draw", help="volume to draw from the vial for a prescribed activity")
    draw.add_argument("--vial-gbq", type=finite, required=True)
    draw.add_argument("--vial-ml", type=finite, required=True)
    draw.add_argument("--calibrated-at", required=True, metavar="T0")
    draw.add_argument("--prescribed-gbq", type=finite, required=True)
    draw.add_argument("--inject-at", required=True, metavar="T1")
    draw.add_argument("--radiochemical-purity-percent", type=finite, help="QC result (≥ 97 %%)")
    draw.add_argument("--storage-temperature-c", type=finite, help="storage temperature (< 30 °C)")
    draw.add_argument("--json", action="store_true", help="print one JSON object")
    draw.set_defaults(handler=run_draw)

    release = commands.add_parser(
        "release", help="clearance fit, discharge time and close-contact restrictions"
    )
    _release_options(release)
    release.add_argument("--json", action="store_true", help="print one JSON object")
    release.set_defaults(handler=run_release)

    letter = commands.add_parser(
        "letter", help="discharge letter and patient instructions (HTML and PDF)"
    )
    letter.add_argument("case", metavar="CASE")
    letter.add_argument("--injected-at", metavar="T", help="default: the last cycle of the case")
    letter.add_argument("--administered-gbq", type=finite, help="default: that cycle's activity")
    letter.add_argument("--prescribed-gbq", type=finite)
    letter.add_argument(
        "--dose-rate", action="append", type=dose_rate_point, default=[], metavar="H=R"
    )
    letter.add_argument("--distance-m", type=finite, default=1.0)
    letter.add_argument("--profile", choices=("eu-dose-rate", "us-nrc"), default="eu-dose-rate")
    letter.add_argument("--threshold-usv-h", type=finite)
    letter.add_argument("--threshold-distance-m", type=finite, default=1.0)
    letter.add_argument("--dose-limit-msv", type=finite)
    letter.add_argument("--occupancy", type=finite)
    letter.add_argument("--treatments-per-year", type=finite, default=4.0)
    letter.add_argument("--html", metavar="FILE")
    letter.add_argument("--pdf", metavar="FILE")
    letter.set_defaults(handler=run_letter)


def _release_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--administered-at", required=True, metavar="T0")
    parser.add_argument(
        "--dose-rate",
        action="append",
        type=dose_rate_point,
        default=[],
        metavar="H=R",
        help="dose rate R (µSv/h at --distance-m) measured H hours after administration",
    )
    parser.add_argument("--distance-m", type=finite, default=1.0)
    parser.add_argument(
        "--administered-gbq",
        type=finite,
        help="without --dose-rate: population estimate for this activity (Kurth et al. 2018)",
    )
    parser.add_argument(
        "--threshold-usv-h", type=finite, help="discharge dose-rate threshold (overrides --profile)"
    )
    parser.add_argument(
        "--threshold-distance-m", type=finite, default=1.0,
        help="distance at which --threshold-usv-h applies (default 1 m)",
    )  # fmt: skip
    parser.add_argument("--profile", choices=("eu-dose-rate", "us-nrc"), default="eu-dose-rate")
    parser.add_argument(
        "--dose-limit-msv", type=finite, help="us-nrc: dose limit to others (default 5 mSv)"
    )
    parser.add_argument(
        "--occupancy", type=finite, help="us-nrc: occupancy factor at 1 m (default 0.25)"
    )
    parser.add_argument("--treatments-per-year", type=finite, default=4.0)


def run_administered(args: argparse.Namespace) -> int:
    """Print the administered activity."""
    from lutetia.protection.activity import administered_activity

    result = administered_activity(
        before_gbq=args.before_gbq,
        before_at=parse_aware(args.before_at, option="--before-at"),
        residual_gbq=args.residual_gbq,
        residual_at=parse_aware(args.residual_at, option="--residual-at"),
        injected_at=parse_aware(args.injected_at, option="--injected-at"),
        prescribed_gbq=args.prescribed_gbq,
    )
    document = {
        "administered_gbq": result.administered_gbq,
        "deviation_percent": result.deviation_percent,
        "warnings": list(result.warnings),
        "before_at_injection_gbq": result.before_at_injection_gbq,
        "residual_at_injection_gbq": result.residual_at_injection_gbq,
        "injected_at": parse_aware(args.injected_at, option="--injected-at").isoformat(),
    }
    if args.json:
        emit_json(document)
    else:
        deviation = (
            f", {result.deviation_percent:+.1f} % from prescribed"
            if result.deviation_percent is not None
            else ""
        )
        print(
            f"Administered {result.administered_gbq:.3f} GBq at {document['injected_at']}"
            + deviation
        )
        print(
            f"  syringe {result.before_at_injection_gbq:.3f} GBq − residual "
            f"{result.residual_at_injection_gbq:.3f} GBq (decay-corrected to injection)"
        )
        for warning in result.warnings:
            print(f"  WARNING: {warning}")
    return 0


def run_draw(args: argparse.Namespace) -> int:
    """Print the volume to draw."""
    from lutetia.protection.activity import draw_volume

    result = draw_volume(
        vial_gbq=args.vial_gbq,
        vial_ml=args.vial_ml,
        calibrated_at=parse_aware(args.calibrated_at, option="--calibrated-at"),
        prescribed_gbq=args.prescribed_gbq,
        inject_at=parse_aware(args.inject_at, option="--inject-at"),
    )
    from lutetia.protection.activity import product_checks

    qc = product_checks(
        radiochemical_purity_percent=args.radiochemical_purity_percent,
        storage_temperature_c=args.storage_temperature_c,
    )
    warnings = [*result.warnings, *qc]
    document: dict[str, Any] = {
        "volume_ml": result.volume_ml,
        "concentration_mbq_per_ml": result.concentration_mbq_per_ml,
        "vial_activity_at_injection_gbq": result.vial_activity_at_injection_gbq,
        "warnings": warnings,
    }
    if args.json:
        emit_json(document)
    else:
        print(
            f"Draw {result.volume_ml:.3f} mL ({result.concentration_mbq_per_ml:.1f} MBq/mL at "
            f"injection) for {args.prescribed_gbq:g} GBq"
        )
        for warning in warnings:
            print(f"  WARNING: {warning}")
    return 0


def release_document(args: argparse.Namespace, administered_at: datetime) -> dict[str, Any]:
    """Clearance, discharge and restrictions as JSON-ready data."""
    from lutetia.protection.clearance import fit_clearance, population_clearance
    from lutetia.protection.release import (
        PROFILES,
        discharge,
        dose_to_others_msv,
        restrictions,
    )

    if args.dose_rate:
        clearance = fit_clearance(args.dose_rate, distance_m=args.distance_m)
    elif args.administered_gbq is not None:
        clearance = population_clearance(args.administered_gbq)
    else:
        raise BadInputError(
            "--dose-rate", "give measured dose rates, or --administered-gbq for an estimate"
        )
    profile = configured_profile(args)
    result = discharge(clearance, profile)
    us = discharge(clearance, PROFILES["us-nrc"])
    rows = restrictions(clearance, administered_at, treatments_per_year=args.treatments_per_year)
    return {
        "administered_at": administered_at.isoformat(),
        "clearance": {
            "model": clearance.model,
            "parameters": clearance.parameters(),
            "source": clearance.source,
            "warnings": list(clearance.warnings),
        },
        "discharge_after_h": result.after_h,
        "discharge": {
            "profile": profile.name,
            "criterion": result.criterion,
            "source": profile.source,
            "threshold_usv_h": profile.threshold_usv_h,
            "distance_m": profile.distance_m,
            "at": _after(administered_at, result.after_h),
            "dose_rate_at_1m_usv_h": clearance.rate_usv_h(result.after_h),
            "dose_to_others_msv": result.dose_to_others_msv,
        },
        "us_10cfr35_75": {
            "release_allowed_at_h": us.after_h,
            "dose_to_others_if_released_at_discharge_msv": dose_to_others_msv(
                clearance, result.after_h
            ),
            "written_instructions_required": dose_to_others_msv(clearance, result.after_h) > 1.0,
            "source": PROFILES["us-nrc"].source,
        },
        "restrictions": [
            {
                "contact": r.contact,
                "category": r.category,
                "constraint_msv": r.constraint_msv,
                "per_episode": r.per_episode,
                "restriction_h": r.restriction_h,
                "until": r.until.isoformat(),
                "dose_msv": r.dose_msv,
            }
            for r in rows
        ],
        "restrictions_source": "Cormack J, Shearer J, Phys Med Biol 1998;43:501-516 contact "
        "patterns and constraints, computed with glowgreen",
    }


def configured_profile(args: argparse.Namespace) -> Any:
    """The release profile with the command line's overrides applied."""
    from dataclasses import replace

    from lutetia.protection.release import PROFILES, custom_threshold

    if args.threshold_usv_h is not None:
        return custom_threshold(args.threshold_usv_h, args.threshold_distance_m)
    profile = PROFILES[args.profile]
    limit = getattr(args, "dose_limit_msv", None)
    occupancy = getattr(args, "occupancy", None)
    for option, value in (("--dose-limit-msv", limit), ("--occupancy", occupancy)):
        if value is not None and not value > 0:
            raise BadInputError(option, "must be positive")
    if limit is not None:
        profile = replace(
            profile, dose_limit_msv=limit, source=f"{profile.source}; limit set to {limit:g} mSv"
        )
    if occupancy is not None:
        profile = replace(
            profile, occupancy=occupancy, source=f"{profile.source}; occupancy set to {occupancy:g}"
        )
    return profile


def _after(start: datetime, hours: float) -> str:
    from datetime import timedelta

    return (start + timedelta(hours=hours)).isoformat()


def run_release(args: argparse.Namespace) -> int:
    """Print clearance, discharge and restrictions."""
    administered_at = parse_aware(args.administered_at, option="--administered-at")
    document = release_document(args, administered_at)
    if args.json:
        emit_json(document)
        return 0
    clearance = document["clearance"]
    params = clearance["parameters"]
    print(
        f"Clearance ({clearance['model']}-exponential, {clearance['source']}): "
        f"{params['initial_usv_h_at_1m']:.3g} µSv/h at 1 m at administration, effective "
        f"half-life {params['effective_half_life_h']:.1f} h"
    )
    for warning in clearance["warnings"]:
        print(f"  note: {warning}")
    d = document["discharge"]
    print(
        f"Discharge ({d['criterion']}): {document['discharge_after_h']:.1f} h after "
        f"administration, {d['at']}; {d['dose_rate_at_1m_usv_h']:.2f} µSv/h at 1 m then"
    )
    print(f"  source: {d['source']}")
    us = document["us_10cfr35_75"]
    print(
        "Dose to others after that discharge: "
        f"{us['dose_to_others_if_released_at_discharge_msv']:.2f} "
        f"mSv (10 CFR 35.75: ≤ 5 mSv; written instructions "
        f"{'required' if us['written_instructions_required'] else 'not required'} above 1 mSv)"
    )
    print("Close-contact restrictions (from administration):")
    for r in document["restrictions"]:
        hours = r["restriction_h"]
        span = "none" if hours <= 0 else f"{hours:.0f} h ({hours / 24:.1f} d)"
        print(f"  {span:>16}  {r['constraint_msv']:.3g} mSv  {r['contact']}")
    return 0


def run_letter(args: argparse.Namespace) -> int:
    """Write the discharge letter."""
    from lutetia.cases.io import load_case
    from lutetia.cases.model import day_of
    from lutetia.nuclides import nuclide
    from lutetia.protection.clearance import fit_clearance, population_clearance
    from lutetia.protection.release import discharge, restrictions
    from lutetia.reports.letter import LetterData, render_html, write_pdf

    if not args.html and not args.pdf:
        raise BadInputError("--pdf", "give --html FILE and/or --pdf FILE")
    case = load_case(args.case)
    cycles = case.course.cycles if case.course is not None else []
    cycle = cycles[-1] if cycles else None
    if args.injected_at:
        injected_at = parse_aware(args.injected_at, option="--injected-at")
        match = [c for c in cycles if day_of(c.date) == injected_at.date()]
        cycle = match[0] if match else None
    elif cycle is not None and isinstance(cycle.date, datetime):
        injected_at = cycle.date
    else:
        raise BadInputError(
            "--injected-at",
            "needed: the case's last cycle has no time of day with an offset",
        )
    administered = (
        args.administered_gbq
        if args.administered_gbq is not None
        else (cycle.activity_gbq if cycle is not None else None)
    )
    if administered is None:
        raise BadInputError("--administered-gbq", "needed: no cycle of the case matches")
    clearance = (
        fit_clearance(args.dose_rate, distance_m=args.distance_m)
        if args.dose_rate
        else population_clearance(administered)
    )
    profile = configured_profile(args)
    deviation = (
        100 * (administered - args.prescribed_gbq) / args.prescribed_gbq
        if args.prescribed_gbq
        else None
    )
    warnings: tuple[str, ...] = ()
    if deviation is not None and abs(deviation) > 10:
        warnings = (f"administered activity deviates {deviation:+.1f} % from the prescription",)
    data = LetterData(
        case=case,
        injected_at=injected_at,
        administered_gbq=administered,
        prescribed_gbq=args.prescribed_gbq,
        deviation_percent=deviation,
        activity_warnings=warnings,
        clearance=clearance,
        discharge=discharge(clearance, profile),
        restrictions=restrictions(
            clearance, injected_at, treatments_per_year=args.treatments_per_year
        ),
        treatments_per_year=args.treatments_per_year,
        half_life_h=nuclide("Lu-177").half_life_h,
        cycle_number=cycle.number if cycle is not None else None,
    )
    html = render_html(data)
    if args.html:
        from pathlib import Path

        Path(args.html).write_text(html, encoding="utf-8")
        print(f"HTML written to {args.html}")
    if args.pdf:
        write_pdf(html, args.pdf)
        print(f"PDF written to {args.pdf}")
    return 0
