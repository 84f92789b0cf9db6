"""``lutetia activity``, ``lutetia release`` and ``lutetia letter``.

Numbers and times are parsed here, not by argparse, so that every bad value
is a :class:`BadInputError` naming its option (exit 2, one line on stderr).
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lutetia.cli.output import emit_json, parse_aware
from lutetia.cli.selection import add_ruleset_option, settings_of
from lutetia.errors import BadInputError

if TYPE_CHECKING:
    from lutetia.protection.release import ReleaseProfile
    from lutetia.services.release import ReleaseSettings


def number(text: str, option: str) -> float:
    """A finite number given for ``option``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadInputError(option, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadInputError(option, f"{text!r} is not a finite number")
    return value


def optional_number(text: str | None, option: str) -> float | None:
    """:func:`number`, or None when the option was not given."""
    return None if text is None else number(text, option)


def dose_rate_point(text: str) -> tuple[float, float]:
    """``H=R``: hours after administration = µSv/h (for ``--dose-rate``)."""
    hours, sep, rate = text.partition("=")
    if not sep:
        raise BadInputError("--dose-rate", f"{text!r} is not HOURS=µSv/h (e.g. 24=12.5)")
    return number(hours, "--dose-rate"), number(rate, "--dose-rate")


def moment(text: str, option: str) -> datetime:
    """An ISO 8601 time with a UTC offset, in the plausible therapy years."""
    from lutetia.protection.activity import check_therapy_time

    return check_therapy_time(parse_aware(text, option=option), option)


def register(commands: Any) -> None:
    """Add the radiation-protection subcommands."""
    activity = commands.add_parser("activity", help="activity bookkeeping: administered, draw")
    which = activity.add_subparsers(dest="activity_command", metavar="WHAT", required=True)

    given = which.add_parser(
        "administered",
        help="activity given, from the syringe before and its residual after (decay-corrected)",
    )
    given.add_argument("--before-gbq", required=True, metavar="GBQ")
    given.add_argument("--before-at", required=True, metavar="T1")
    given.add_argument("--residual-gbq", required=True, metavar="GBQ")
    given.add_argument("--residual-at", required=True, metavar="T2")
    given.add_argument("--injected-at", required=True, metavar="T3")
    given.add_argument("--prescribed-gbq", metavar="GBQ", help="1-15 GBq")
    given.add_argument("--json", action="store_true", help="print one JSON object")
    given.set_defaults(handler=run_administered)

    draw = which.add_parser("draw", help="volume to draw from the vial for a prescribed activity")
    draw.add_argument("--vial-gbq", required=True, metavar="GBQ")
    draw.add_argument("--vial-ml", required=True, metavar="ML")
    draw.add_argument("--calibrated-at", required=True, metavar="T0")
    draw.add_argument("--prescribed-gbq", required=True, metavar="GBQ", help="1-15 GBq")
    draw.add_argument("--inject-at", required=True, metavar="T1")
    draw.add_argument("--radiochemical-purity-percent", metavar="P", help="QC result (≥ 97 %%)")
    draw.add_argument("--storage-temperature-c", metavar="C", help="storage temperature (< 30 °C)")
    draw.add_argument("--json", action="store_true", help="print one JSON object")
    draw.set_defaults(handler=run_draw)

    release = commands.add_parser(
        "release", help="clearance fit, discharge time and close-contact restrictions"
    )
    release.add_argument("--administered-at", required=True, metavar="T0")
    _release_options(release)
    release.add_argument(
        "--administered-gbq",
        metavar="GBQ",
        help="administered activity (1-15 GBq): checks the readings against it; without "
        "--dose-rate, the population estimate for it (Kurth et al. 2018)",
    )
    release.add_argument("--json", action="store_true", help="print one JSON object")
    release.set_defaults(handler=run_release)

    letter = commands.add_parser(
        "letter", help="discharge letter and patient instructions (HTML and PDF)"
    )
    letter.add_argument("case", metavar="CASE")
    letter.add_argument("--injected-at", metavar="T", help="default: the last cycle of the case")
    letter.add_argument("--administered-gbq", metavar="GBQ", help="default: that cycle's activity")
    letter.add_argument("--prescribed-gbq", metavar="GBQ")
    _release_options(letter)
    add_ruleset_option(letter)
    letter.add_argument("--html", metavar="FILE")
    letter.add_argument("--pdf", metavar="FILE")
    letter.set_defaults(handler=run_letter)


def _release_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dose-rate",
        action="append",
        default=[],
        metavar="H=R",
        help="dose rate R (µSv/h at --distance-m) measured H hours after administration",
    )
    parser.add_argument("--distance-m", default="1", metavar="M", help="0.1-10 m (default 1)")
    parser.add_argument(
        "--threshold-usv-h",
        metavar="X",
        help="discharge dose-rate threshold, 0.05-1000 µSv/h (overrides --profile)",
    )
    parser.add_argument(
        "--threshold-distance-m", metavar="M",
        help="distance at which --threshold-usv-h applies (default 1 m)",
    )  # fmt: skip
    parser.add_argument("--profile", choices=("eu-dose-rate", "us-nrc"), default="eu-dose-rate")
    parser.add_argument(
        "--dose-limit-msv", metavar="D", help="us-nrc: dose limit to others (default 5 mSv)"
    )
    parser.add_argument(
        "--occupancy", metavar="E", help="us-nrc: occupancy factor at 1 m, 0-1 (default 0.25)"
    )
    parser.add_argument("--treatments-per-year", default="4", metavar="N", help="1-13 (default 4)")
    parser.add_argument(
        "--reading-uncertainty-percent", default="15", metavar="U",
        help="meter uncertainty within which a fit counts as passing through a reading "
        "(default 15 %%, IEC 60846-1)",
    )  # fmt: skip


def run_administered(args: argparse.Namespace) -> int:
    """Print the administered activity."""
    from lutetia.protection.activity import administered_activity

    injected_at = moment(args.injected_at, "--injected-at")
    result = administered_activity(
        before_gbq=number(args.before_gbq, "--before-gbq"),
        before_at=moment(args.before_at, "--before-at"),
        residual_gbq=number(args.residual_gbq, "--residual-gbq"),
        residual_at=moment(args.residual_at, "--residual-at"),
        injected_at=injected_at,
        prescribed_gbq=optional_number(args.prescribed_gbq, "--prescribed-gbq"),
    )
    document = {
        "administered_gbq": result.administered_gbq,
        "deviation_percent": result.deviation_percent,
        "warnings": list(result.warnings),
        "before_at_injection_gbq": result.before_at_injection_gbq,
        "residual_at_injection_gbq": result.residual_at_injection_gbq,
        "injected_at": injected_at.isoformat(),
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
    from lutetia.protection.activity import draw_volume, product_checks

    prescribed = number(args.prescribed_gbq, "--prescribed-gbq")
    purity = optional_number(args.radiochemical_purity_percent, "--radiochemical-purity-percent")
    temperature = optional_number(args.storage_temperature_c, "--storage-temperature-c")
    if temperature is not None and not -80 <= temperature <= 100:
        raise BadInputError("--storage-temperature-c", f"{temperature!r} °C is not plausible")
    if purity is not None and not 0 <= purity <= 100:
        raise BadInputError("--radiochemical-purity-percent", "must be between 0 and 100")
    result = draw_volume(
        vial_gbq=number(args.vial_gbq, "--vial-gbq"),
        vial_ml=number(args.vial_ml, "--vial-ml"),
        calibrated_at=moment(args.calibrated_at, "--calibrated-at"),
        prescribed_gbq=prescribed,
        inject_at=moment(args.inject_at, "--inject-at"),
    )
    qc = product_checks(radiochemical_purity_percent=purity, storage_temperature_c=temperature)
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
            f"injection) for {prescribed:g} GBq"
        )
        for warning in warnings:
            print(f"  WARNING: {warning}")
    return 0


def configured_profile(args: argparse.Namespace) -> ReleaseProfile:
    """The release profile with the command line's overrides applied."""
    from lutetia.protection.release import configure_profile, custom_threshold

    threshold = optional_number(args.threshold_usv_h, "--threshold-usv-h")
    distance = optional_number(args.threshold_distance_m, "--threshold-distance-m")
    limit = optional_number(args.dose_limit_msv, "--dose-limit-msv")
    occupancy = optional_number(args.occupancy, "--occupancy")
    if threshold is not None:
        if limit is not None or occupancy is not None:
            raise BadInputError(
                "--threshold-usv-h",
                "a dose-rate threshold does not use --dose-limit-msv or --occupancy",
            )
        return custom_threshold(threshold, 1.0 if distance is None else distance)
    if distance is not None:
        from lutetia.protection.clearance import check_distance

        check_distance(distance, "--threshold-distance-m")
        raise BadInputError("--threshold-distance-m", "applies only with --threshold-usv-h")
    return configure_profile(args.profile, dose_limit_msv=limit, occupancy=occupancy)


def release_settings(args: argparse.Namespace) -> ReleaseSettings:
    """The readings and the site's release rules from the command line."""
    from lutetia.services.release import ReleaseSettings

    return ReleaseSettings(
        readings=tuple(dose_rate_point(text) for text in args.dose_rate),
        distance_m=number(args.distance_m, "--distance-m"),
        treatments_per_year=number(args.treatments_per_year, "--treatments-per-year"),
        reading_uncertainty_fraction=(
            number(args.reading_uncertainty_percent, "--reading-uncertainty-percent") / 100
        ),
        profile=configured_profile(args),
    )


def run_release(args: argparse.Namespace) -> int:
    """Print clearance, discharge and restrictions."""
    from lutetia.services.release import release_advice_for, release_document

    administered_at = moment(args.administered_at, "--administered-at")
    administered = optional_number(args.administered_gbq, "--administered-gbq")
    advice = release_advice_for(release_settings(args), administered_at, administered)
    document = release_document(advice, administered_at)
    if args.json:
        emit_json(document)
        return 0
    for warning in document["blocking_warnings"]:
        print(f"BLOCKING: {warning}")
    clearance = document["clearance"]
    print(f"Clearance ({clearance['source']}); preferred {clearance['preferred_reason']}")
    for fit in clearance["fits"]:
        params = fit["parameters"]
        mark = "*" if fit["preferred"] else " "
        residuals = ", ".join(f"{r['residual_percent']:+.0f} %" for r in fit["residuals"])
        print(
            f" {mark} {fit['model']:>4}: {params['initial_usv_h_at_1m']:.3g} µSv/h at 1 m at "
            f"administration, half-lives {params['half_life_1_h']:.3g}"
            + (f"/{params['half_life_2_h']:.3g}" if params["half_life_2_h"] else "")
            + f" h; residuals {residuals or '—'}"
        )
    for warning in clearance["warnings"]:
        print(f"  note: {warning}")
    print(f"Plausibility: {document['reading_plausibility']}")
    d = document["discharge"]
    print(
        f"Discharge ({d['criterion']}): {document['discharge_after_h']:.1f} h after "
        f"administration, {d['at']}; decided by {d['method'].replace('_', ' ')}"
    )
    print(f"  {d['explanation']}")
    print(f"  source: {d['source']}")
    us = document["us_10cfr35_75"]
    print(
        "Dose to others after that discharge: "
        f"{us['dose_to_others_if_released_at_discharge_msv']:.2f} "
        f"mSv (10 CFR 35.75: ≤ 5 mSv; written instructions "
        f"{'required' if us['written_instructions_required'] else 'not required'} above 1 mSv)"
    )
    print(
        "Close-contact restrictions (from administration; per contact the longest of the "
        f"physically valid fits: {', '.join(document['restrictions_model']['models_considered'])}):"
    )
    for r in document["restrictions"]:
        hours = r["restriction_h"]
        span = "none" if hours <= 0 else f"{hours:.0f} h ({hours / 24:.1f} d)"
        print(f"  {span:>16}  {r['constraint_msv']:.3g} mSv  {r['model']:>4}  {r['contact']}")
    return 0


def run_letter(args: argparse.Namespace) -> int:
    """Write the discharge letter (HTML and/or PDF, atomically, neither unless both)."""
    from contextlib import ExitStack
    from pathlib import Path

    from lutetia.cases.io import load_case
    from lutetia.cli.output import atomic_output, check_output_path
    from lutetia.reports.letter import render_html, write_pdf
    from lutetia.services.release import letter_data

    if not args.html and not args.pdf:
        raise BadInputError("--pdf", "give --html FILE and/or --pdf FILE")
    inputs = [args.case]
    if args.html:
        check_output_path(args.html, option="--html", inputs=inputs)
    if args.pdf:
        check_output_path(args.pdf, option="--pdf", inputs=inputs)
        if args.html and Path(args.html).resolve() == Path(args.pdf).resolve():
            raise BadInputError("--pdf", "is the same file as --html")
    case = load_case(args.case)
    data = letter_data(
        case,
        release_settings(args),
        injected_at=None if not args.injected_at else moment(args.injected_at, "--injected-at"),
        administered_gbq=optional_number(args.administered_gbq, "--administered-gbq"),
        prescribed_gbq=optional_number(args.prescribed_gbq, "--prescribed-gbq"),
        rules=settings_of(args).ruleset,
    )
    html = render_html(data)
    with ExitStack() as stack:
        if args.html:
            html_path = stack.enter_context(
                atomic_output(args.html, option="--html", inputs=inputs)
            )
            html_path.write_text(html, encoding="utf-8")
        if args.pdf:
            pdf_path = stack.enter_context(atomic_output(args.pdf, option="--pdf", inputs=inputs))
            write_pdf(html, pdf_path)
    if args.html:
        print(f"HTML written to {args.html}")
    if args.pdf:
        print(f"PDF written to {args.pdf}")
    return 0
