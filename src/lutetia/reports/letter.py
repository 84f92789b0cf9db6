"""The discharge letter and patient instructions (Process item 10), as HTML and PDF.

The letter holds the patient data, the date of therapy, the radionuclide and
radiopharmaceutical, the administered activity, aftercare, the next follow-up
appointment, the restriction periods and the follow-up plan. Every number is
computed by the protection and guideline functions and passed to the template;
the template contains no numbers of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lutetia import GUIDELINE, __version__, units
from lutetia.cases.model import Case
from lutetia.guideline.schedule import Event
from lutetia.protection.clearance import Clearance
from lutetia.protection.release import Discharge, ReleaseAdvice, Restriction

RADIOPHARMACEUTICALS = {
    "177lu-psma-617": "[177Lu]Lu-PSMA-617 (lutetium (177Lu) vipivotide tetraxetan)",
    "177lu-psma-i&t": "[177Lu]Lu-PSMA-I&T",
}


@dataclass(frozen=True)
class LetterData:
    """Everything the letter shows, computed beforehand."""

    case: Case
    injected_at: datetime
    administered_gbq: float
    prescribed_gbq: float | None
    deviation_percent: float | None
    activity_warnings: tuple[str, ...]
    clearance: Clearance
    discharge: Discharge
    restrictions: list[Restriction]
    treatments_per_year: float
    half_life_h: float
    cycle_number: int | None
    #: Both fits, the plausibility check and the blocking warnings (None: the clearance only).
    advice: ReleaseAdvice | None = None
    #: The plan's events after the injection, under the ruleset in force.
    follow_up: tuple[Event, ...] = ()


def _hours(hours: float) -> str:
    if hours <= 0:
        return "no restriction"
    days = hours / 24
    if hours < 48:
        return f"{math.ceil(hours):d} h"
    return f"{math.ceil(hours):d} h ({days:.1f} d)"


def _until(restriction: Restriction) -> str:
    if restriction.restriction_h <= 0:
        return "—"
    return restriction.until.strftime("%Y-%m-%d %H:%M")


#: Patient instructions, each with the guideline section it comes from.
AFTERCARE: tuple[tuple[str, str], ...] = (
    (
        "Drink plenty of fluids during the first 3–4 days and keep drinking a lot for 1–2 "
        "weeks; void frequently during the first 6–10 hours.",
        "Process of treatment procedure, items 4 and 7",
    ),
    (
        "Sit to urinate, flush twice and wash your hands; wash clothes soiled with urine "
        "separately; avoid prolonged close contact with pregnant women and infants.",
        "Process of treatment procedure, item 8",
    ),
    (
        "Use contraception during and for 3 months after therapy.",
        "Contra-indications, C5",
    ),
    ("Continue androgen deprivation therapy.", "Process of treatment procedure, item 1"),
    (
        "Pain may flare during the first week; steroids or anti-inflammatory drugs help.",
        "Management of side effects, item 9",
    ),
    (
        "A dry mouth can be eased with water, sprays or xylitol lozenges.",
        "Management of side effects, item 7",
    ),
)


def aftercare(case: Case) -> list[tuple[str, str]]:
    """The instructions for this patient: the general ones plus those the case calls for."""
    lines = list(AFTERCARE)
    if case.diagnosis.brain_metastases or case.conditions.swelling_risk_metastases:
        lines.append(
            (
                "Take the corticosteroids as prescribed, before and for several days after "
                "therapy (metastases at risk of swelling).",
                "Process of treatment procedure, item 5",
            )
        )
    if case.conditions.superscan:
        lines.append(
            ("Blood counts will be checked closely.", "Contra-indications, Table 1, footnote a")
        )
    return lines


def render_html(data: LetterData) -> str:
    """The letter as a standalone HTML document."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("lutetia.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("discharge_letter.html.j2")
    case = data.case
    course = case.course
    name = course.radiopharmaceutical if course is not None else "177Lu-PSMA-617"
    follow = data.follow_up
    appointments = ("interim_labs", "lab_panel", "cycle", "end_labs", "end_psa", "restaging")
    next_event = next((e for e in follow if e.kind in appointments), None)
    clearance = data.clearance
    clearance_text = f"{clearance.describe()} ({clearance.source})"
    advice = data.advice
    fits: list[dict[str, Any]] = []
    if advice is not None:
        for fit in advice.fits.fits:
            fits.append(
                {
                    "text": fit.clearance.describe(),
                    "preferred": fit.clearance is advice.fits.preferred,
                    "valid": fit.physically_valid,
                    "note": fit.note,
                    "residuals": ", ".join(
                        f"{r.residual_percent:+.0f} % at {r.hours:g} h" for r in fit.residuals
                    ),
                }
            )
    method_text = {
        "fit": "the fitted curve, checked against the readings",
        "readings_interpolation": "the readings (log-linear interpolation between the readings "
        "that bracket the threshold)",
        "first_reading": "the readings (the first reading is already below the threshold)",
        "readings_extrapolation": "the readings (physical decay from the last reading)",
        "population_estimate": "a population estimate (no readings)",
    }[data.discharge.method]
    discharge_at = data.injected_at.timestamp() + 3600 * data.discharge.after_h
    discharge_moment = datetime.fromtimestamp(discharge_at, tz=data.injected_at.tzinfo)
    context: dict[str, Any] = {
        "guideline": GUIDELINE,
        "version": __version__,
        "catalogue_version": _catalogue_version(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "patient": case.patient,
        "injected_at": data.injected_at.strftime("%Y-%m-%d %H:%M %z"),
        "cycle_text": f"cycle {data.cycle_number} of 6" if data.cycle_number else "not recorded",
        "half_life_d": data.half_life_h / 24,
        "radiopharmaceutical": RADIOPHARMACEUTICALS.get(name.replace(" ", "").lower(), name),
        "administered_gbq": data.administered_gbq,
        "administered_mbq": units.convert(data.administered_gbq, "GBq", "MBq", field="activity"),
        "administered_mci": units.convert(data.administered_gbq, "GBq", "mCi", field="activity"),
        "prescribed_gbq": data.prescribed_gbq,
        "deviation_percent": data.deviation_percent,
        "activity_warnings": data.activity_warnings,
        "clearance_text": clearance_text,
        "discharge": data.discharge,
        "discharge_method": method_text,
        "fits": fits,
        "blocking_warnings": advice.blocking_warnings if advice is not None else (),
        "plausibility": advice.plausibility if advice is not None else "not checked",
        "preferred_reason": advice.fits.preferred_reason if advice is not None else "",
        "restriction_models": (
            ", ".join(c.model + "-exponential" for c in advice.fits.plausible)
            if advice is not None
            else clearance.model + "-exponential"
        ),
        "discharge_text": (
            "at once (the rule is met at administration)"
            if data.discharge.after_h <= 0
            else f"{data.discharge.after_h:.1f} h after administration, "
            f"{discharge_moment.strftime('%Y-%m-%d %H:%M %z')}"
        ),
        "restrictions": data.restrictions,
        "treatments_per_year": f"{data.treatments_per_year:g}",
        "format_hours": _hours,
        "format_until": _until,
        "aftercare": aftercare(case),
        "next_appointment": (
            f"{next_event.date.isoformat()}: {next_event.description}"
            if next_event
            else "to be arranged"
        ),
        "follow_up": follow[:12],
    }
    return template.render(**context)


def _catalogue_version() -> str:
    from lutetia.guideline.catalogue import CATALOGUE_VERSION

    return CATALOGUE_VERSION


def write_pdf(html: str, path: str | Path) -> None:
    """Render ``html`` to the PDF file ``path`` with WeasyPrint.

    A plain render to ``path``: the command line passes the temporary file of
    :func:`lutetia.cli.output.atomic_output`, which replaces the target only
    when the whole letter was written (an ``OSError`` propagates to it).

    Without the HarfBuzz subsetting library (Debian: ``libharfbuzz-subset0``) WeasyPrint
    subsets fonts with fontTools and the PDF is the same letter, but on import it issues a
    ``DeprecationWarning`` that future versions will need the library. That notice, and
    only a ``DeprecationWarning`` raised from WeasyPrint's own modules, is logged instead of
    being shown: under ``-W error`` (the test suite) it would otherwise abort the letter.
    Every other warning is handled as usual.
    """
    import logging
    import warnings

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    log = logging.getLogger(__name__)
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(  # noqa: PLR0917 - the signature of warnings.showwarning
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: Any = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, DeprecationWarning) and "weasyprint" in Path(filename).parts:
                log.info("WeasyPrint: %s (%s:%d)", message, filename, lineno)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.filterwarnings("always", category=DeprecationWarning, module=r"weasyprint(\.|$)")
        from weasyprint import HTML

        HTML(string=html).write_pdf(Path(path))
