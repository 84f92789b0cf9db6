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
from lutetia.cases.model import Case, day_of
from lutetia.errors import BadInputError
from lutetia.guideline.schedule import Event, schedule
from lutetia.protection.clearance import Clearance
from lutetia.protection.release import Discharge, Restriction

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


def follow_up_after(case: Case, moment: datetime) -> list[Event]:
    """The plan's events after ``moment`` (none when the case has no course)."""
    if case.course is None:
        return []
    return [e for e in schedule(case) if e.date > day_of(moment)]


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
    follow = follow_up_after(case, data.injected_at)
    appointments = ("interim_labs", "lab_panel", "cycle", "end_labs", "end_psa", "restaging")
    next_event = next((e for e in follow if e.kind in appointments), None)
    clearance = data.clearance
    params = clearance.parameters()
    if clearance.model == "mono":
        clearance_text = (
            f"mono-exponential, {params['initial_usv_h_at_1m']:.3g} µSv/h at 1 m at "
            "administration, "
            f"effective half-life {clearance.half_life_1_h:.1f} h ({clearance.source})"
        )
    else:
        clearance_text = (
            f"bi-exponential, {params['initial_usv_h_at_1m']:.3g} µSv/h at 1 m at administration, "
            f"half-lives {clearance.half_life_1_h:.2g} h ({100 * clearance.fraction:.0f} %) and "
            f"{clearance.half_life_2_h:.1f} h ({clearance.source})"
        )
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
    """Render ``html`` to a PDF file with WeasyPrint (written whole or not at all)."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    target = Path(path)
    temporary = target.with_name(target.name + ".part")
    try:
        HTML(string=html).write_pdf(temporary)
        temporary.replace(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInputError("--pdf", f"cannot write {path}: {error.strerror}") from None
