"""What the rules look at: a case's labs, kidney function and dates, resolved once.

The :class:`Context` picks the most recent result of each analyte on or
before the reference date (``course.planned_date`` when the case has one,
else ``as_of``; spec/finding-codes.md, "Procedure"), in canonical units, and
resolves the GFR the guideline's rules need: a measured GFR or creatinine
clearance when given, else a reported eGFR, else eGFR computed from
creatinine by CKD-EPI 2021 when age and sex are known (never by assuming
either).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Final, Literal

from lutetia.cases.model import Case, Lab, day_of
from lutetia.clinical.renal import egfr_ckd_epi_2021
from lutetia.errors import BadInputError
from lutetia.guideline.ruleset import EANM_SNMMI_2023, Ruleset
from lutetia.units import Analyte


@dataclass(frozen=True)
class LabView:
    """One lab result in its analyte's canonical unit."""

    analyte: Analyte
    value: float
    unit: str
    lln: float | None
    uln: float | None
    day: date
    index: int | None

    @classmethod
    def of(cls, lab: Lab, index: int) -> LabView:
        """View of ``case.labs[index]``."""
        return cls(
            analyte=lab.analyte,
            value=lab.canonical_value,
            unit=lab.canonical_unit,
            lln=lab.canonical_lln,
            uln=lab.canonical_uln,
            day=lab.day,
            index=index,
        )


GfrSource = Literal["gfr_measured", "creatinine_clearance", "egfr", "egfr_computed"]


#: How a GFR measurement is named in a note.
LABEL_OF_SOURCE: Final[dict[str, str]] = {
    "gfr_measured": "measured GFR",
    "creatinine_clearance": "creatinine clearance",
}


@dataclass(frozen=True)
class Gfr:
    """The GFR the rules use, and where it came from."""

    value_ml_min: float
    unit: str
    source: GfrSource
    day: date
    note: str


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the rules run under: the ruleset (the guideline as published by default) and the
    site settings the guideline leaves to national legislation."""

    #: Every threshold, the regimen and the follow-up windows.
    ruleset: Ruleset = EANM_SNMMI_2023
    #: Written consent must precede the first cycle by this many hours (Process item 1:
    #: "24 h in advance of first cycle depending on national legislation"); None takes
    #: the ruleset's ``consent_lead_h``.
    consent_lead_h: float | None = None

    def __post_init__(self) -> None:
        lead = self.consent_lead_h
        if lead is not None and not 0 <= lead <= 24 * 30:
            raise BadInputError("--consent-lead-h", f"{lead!r} is outside 0-720 h")

    @property
    def lead_h(self) -> float:
        """The consent lead time in force, in hours."""
        if self.consent_lead_h is not None:
            return self.consent_lead_h
        return self.ruleset.consent_lead_h


class Context:
    """A case with its derived quantities, computed on first use."""

    def __init__(self, case: Case, settings: Settings | None = None) -> None:
        self.case = case
        self.settings = settings or Settings()
        self.rules: Ruleset = self.settings.ruleset
        course = case.course
        planned = course.planned_date if course is not None else None
        self.reference_date: date = day_of(planned) if planned is not None else case.as_of

    @cached_property
    def labs(self) -> dict[Analyte, list[LabView]]:
        """One result per analyte and day, on or before the reference date, oldest first.

        Same-day duplicates follow one rule for every series, in both engines: the
        case model accepts two results of an analyte on one day only when both carry
        distinct times of day, and the later one is the result of that day.
        """
        latest: dict[tuple[Analyte, date], tuple[tuple[int, float], int]] = {}
        for index, lab in enumerate(self.case.labs):
            if lab.day > self.reference_date:
                continue
            moment = lab.date
            order = (1, moment.timestamp()) if isinstance(moment, datetime) else (0, 0.0)
            key = (lab.analyte, lab.day)
            if key not in latest or order >= latest[key][0]:
                latest[key] = (order, index)
        grouped: dict[Analyte, list[LabView]] = {}
        for (analyte, _), (_, index) in sorted(latest.items(), key=lambda item: item[0][1]):
            grouped.setdefault(analyte, []).append(LabView.of(self.case.labs[index], index))
        return grouped

    def latest(self, analyte: Analyte) -> LabView | None:
        """The most recent result of ``analyte`` on or before the reference date."""
        views = self.labs.get(analyte)
        return views[-1] if views else None

    @cached_property
    def sex(self) -> str | None:
        """The patient's sex, if recorded."""
        return self.case.patient.sex

    def age_on(self, day: date) -> float | None:
        """Age in whole years on ``day``; None without a birth date."""
        return self.case.age_years(day)

    @cached_property
    def age_years(self) -> float | None:
        """Age on the reference date."""
        return self.age_on(self.reference_date)

    @cached_property
    def egfr(self) -> tuple[LabView | None, str]:
        """The eGFR (reported, or computed from creatinine) and a note on its origin.

        When it cannot be had, the view is None and the note says what is missing.
        """
        reported = self.latest("egfr")
        creatinine = self.latest("creatinine")
        if reported is not None and (creatinine is None or reported.day >= creatinine.day):
            return reported, f"eGFR as reported on {reported.day.isoformat()}"
        if creatinine is None:
            return None, "no eGFR and no creatinine to compute it from"
        age = self.age_on(creatinine.day)
        missing = [
            name
            for name, known in (("sex", self.sex in ("male", "female")), ("birth date", age))
            if not known
        ]
        if missing or age is None or age < 18:
            if reported is not None:
                return reported, f"eGFR as reported on {reported.day.isoformat()}"
            return None, (
                "eGFR cannot be computed from creatinine without the patient's "
                + " and ".join(missing or ["adult age"])
            )
        value = egfr_ckd_epi_2021(creatinine.value, age, self.sex)  # type: ignore[arg-type]
        computed = LabView(
            analyte="egfr",
            value=value,
            unit="mL/min/{1.73_m2}",
            lln=None,
            uln=None,
            day=creatinine.day,
            index=None,
        )
        return computed, (
            f"eGFR computed by CKD-EPI 2021 (race-free) from creatinine "
            f"{creatinine.value:.3g} mg/dL on {creatinine.day.isoformat()}, "
            f"age {age:g}, {self.sex}"
        )

    @cached_property
    def gfr(self) -> Gfr | None:
        """The GFR for the GFR rules: a measured GFR or creatinine clearance (the newer of
        the two) before the eGFR, unless the eGFR is more than 5 days newer
        (``stale_after_days``, the age of a lab the guideline accepts): an old measurement
        never hides a newer eGFR (GFR < 30 mL/min discontinues).
        """
        measured = [
            v for v in (self.latest("gfr_measured"), self.latest("creatinine_clearance")) if v
        ]
        egfr, note = self.egfr
        best = max(measured, key=lambda v: v.day) if measured else None
        if best is not None and (
            egfr is None or (egfr.day - best.day).days <= self.rules.stale_after_days
        ):
            if best.analyte == "gfr_measured":
                return Gfr(best.value, "mL/min", "gfr_measured", best.day, "measured GFR")
            return Gfr(
                best.value, "mL/min", "creatinine_clearance", best.day, "creatinine clearance"
            )
        if egfr is None:
            return None
        if best is not None:
            note += f"; newer than the {LABEL_OF_SOURCE[best.analyte]} of {best.day.isoformat()}"
        source: GfrSource = "egfr" if egfr.index is not None else "egfr_computed"
        return Gfr(egfr.value, "mL/min/{1.73_m2}", source, egfr.day, note)
