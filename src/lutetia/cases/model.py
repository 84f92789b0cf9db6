"""The case file ``lutetia.case/1``: one patient's clinical picture at one moment.

The models follow ``spec/case-format.md`` field for field. They are frozen and
validated on construction: an unknown field (outside ``extensions``), an
impossible value (ECOG 7, a negative count) or a datetime without a UTC offset
is rejected with the path of the field. Lab values are converted to the
canonical unit of their analyte (:data:`lutetia.units.CANONICAL_UNITS`) when
the case is built, so a unit that cannot be converted fails here, naming
``labs[i].unit``.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lutetia import units
from lutetia.errors import BadInputError

CASE_SCHEMA = "lutetia.case/1"


def _date_or_aware(value: Any) -> Any:
    """Accept a date or a datetime with a UTC offset; reject a naive datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset (e.g. +01:00)")
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if "T" in text or " " in text:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as error:
                raise ValueError(f"{value!r} is not an ISO 8601 date or datetime") from error
            if parsed.tzinfo is None:
                raise ValueError(f"{value!r} has no UTC offset (e.g. +01:00)")
            return parsed
        try:
            return date.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)") from error
    raise ValueError(f"{value!r} is not an ISO 8601 date or datetime")


def _plain_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} must be a date (YYYY-MM-DD), not a datetime")
    return value


#: A calendar date or a timezone-aware datetime ("2026-03-02" or "2026-03-02T09:30:00+01:00").
When = Annotated[date | datetime, BeforeValidator(_date_or_aware)]
#: A calendar date.
Day = Annotated[date, BeforeValidator(_plain_date)]


CalendarDay = date


def day_of(moment: date | datetime) -> date:
    """The calendar day of a date, or of a datetime in its own offset."""
    return moment.date() if isinstance(moment, datetime) else moment


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        allow_inf_nan=False,
        str_strip_whitespace=True,
    )


class Patient(_Strict):
    id: str = Field(min_length=1)
    birth_date: Day | None = None
    sex: Literal["male", "female"] | None = None
    weight_kg: float | None = Field(default=None, gt=0, le=400)
    height_cm: float | None = Field(default=None, gt=0, le=250)


class Diagnosis(_Strict):
    castration_resistant: bool | None = None
    metastatic: bool | None = None
    neuroendocrine_features: bool | None = None
    gleason_score: int | None = Field(default=None, ge=2, le=10)
    diagnosis_date: Day | None = None
    brain_metastases: bool | None = None


class Performance(_Strict):
    ecog: int | None = Field(default=None, ge=0, le=4)
    life_expectancy_months: float | None = Field(default=None, ge=0, le=600)
    symptomatic: bool | None = None
    palliative_intent: bool | None = None


TreatmentClass = Literal[
    "naad",
    "adt",
    "taxane",
    "platinum",
    "parp_inhibitor",
    "chemotherapy",
    "ebrt",
    "bone_seeking_radiopharmaceutical",
    "psma_rlt",
    "gcsf",
    "other",
]


class Treatment(_Strict):
    name: str = Field(min_length=1)
    treatment_class: TreatmentClass = Field(alias="class")
    start: Day | None = None
    end: Day | None = None
    progressed: bool | None = None
    large_field: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Treatment:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class TaxaneOptions(_Strict):
    docetaxel: Literal["received", "fit", "unfit", "contraindicated", "refused"] | None = None
    cabazitaxel: Literal["received", "candidate", "unfit", "refused"] | None = None


Manageability = Literal["none", "manageable", "unmanageable"]


class Conditions(_Strict):
    urinary_incontinence: Manageability | None = None
    urinary_obstruction: bool | None = None
    hydronephrosis: bool | None = None
    psychiatric_comorbidity: Manageability | None = None
    severe_comorbidity: bool | None = None
    acute_infection: bool | None = None
    superscan: bool | None = None
    prolonged_hematotoxicity_history: bool | None = None
    swelling_risk_metastases: bool | None = None


class Lab(_Strict):
    """A lab result; ``value``, ``uln`` and ``lln`` are in ``unit``."""

    analyte: units.Analyte
    value: float
    unit: str = Field(min_length=1)
    date: When
    uln: float | None = Field(default=None, gt=0)
    lln: float | None = Field(default=None, ge=0)
    loinc: str | None = None

    @field_validator("value")
    @classmethod
    def _finite_non_negative(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is impossible: a lab value cannot be negative")
        return value

    @field_validator("lln")
    @classmethod
    def _below_uln(cls, lln: float | None, info: ValidationInfo) -> float | None:
        uln = info.data.get("uln")
        if lln is not None and uln is not None and lln >= uln:
            raise ValueError(f"lower limit {lln:g} is not below the upper limit {uln:g}")
        return lln

    @field_validator("unit")
    @classmethod
    def _convertible(cls, unit: str, info: ValidationInfo) -> str:
        analyte = info.data.get("analyte")
        value = info.data.get("value")
        if analyte is None or value is None:
            return unit
        try:
            units.convert_lab(analyte, value, unit, field="unit")
        except BadInputError as error:
            raise ValueError(error.reason) from None
        return unit

    @cached_property
    def canonical(self) -> tuple[float, float | None, float | None]:
        """``(value, lln, uln)`` in :attr:`canonical_unit` (converted once, then cached)."""
        target = units.CANONICAL_UNITS[self.analyte]
        molar = units.MOLAR_MASSES.get(self.analyte)
        mass = molar.g_per_mol if molar else None

        def convert(x: float | None) -> float | None:
            if x is None:
                return None
            return units.convert(x, self.unit, target, field="unit", molar_mass_g_per_mol=mass)

        value = convert(self.value)
        assert value is not None
        return value, convert(self.lln), convert(self.uln)

    @property
    def canonical_unit(self) -> str:
        """The unit of :attr:`canonical_value`."""
        return units.CANONICAL_UNITS[self.analyte]

    @property
    def canonical_value(self) -> float:
        """``value`` in :attr:`canonical_unit`."""
        return self.canonical[0]

    @property
    def canonical_lln(self) -> float | None:
        """``lln`` in :attr:`canonical_unit`."""
        return self.canonical[1]

    @property
    def canonical_uln(self) -> float | None:
        """``uln`` in :attr:`canonical_unit`."""
        return self.canonical[2]

    @property
    def day(self) -> CalendarDay:
        """The calendar day of the result."""
        return day_of(self.date)


LesionSite = Literal[
    "bone", "lymph_node", "liver", "lung", "visceral_other", "prostate", "soft_tissue_other"
]


class Lesion(_Strict):
    site: LesionSite
    size_mm: float = Field(gt=0, le=500)
    suvmax: float = Field(ge=0, le=1000)
    fdg: Literal["positive", "negative", "not_done"] | None = None
    soft_tissue_component_mm: float | None = Field(default=None, ge=0, le=500)
    suvmean: float | None = Field(default=None, ge=0, le=1000)


class PsmaPet(_Strict):
    date: When
    tracer: str | None = None
    modality: Literal["pet", "spect"] = "pet"
    liver_suvmean: float | None = Field(default=None, gt=0, le=100)
    parotid_suvmean: float | None = Field(default=None, gt=0, le=200)
    lesions: list[Lesion] = Field(default_factory=list)


class ConventionalImaging(_Strict):
    modality: Literal["ct", "mri", "bone_scan", "fdg_pet"]
    date: When


class Consent(_Strict):
    signed_at: When | None = None


class Cycle(_Strict):
    number: int = Field(ge=1)
    date: When
    activity_gbq: float = Field(gt=0, le=50)


class AdverseEvent(_Strict):
    term: str = Field(min_length=1)
    grade: int = Field(ge=1, le=5)
    onset: When
    resolved: When | None = None
    treated: bool | None = None
    unacceptable_to_patient: bool | None = None


class Wellbeing(_Strict):
    date: When
    status: Literal["improved", "stable", "worse"]
    note: str | None = None


class Course(_Strict):
    cycles: list[Cycle] = Field(default_factory=list)
    adverse_events: list[AdverseEvent] = Field(default_factory=list)
    planned_date: When | None = None
    planned_activity_gbq: float | None = Field(default=None, gt=0, le=50)
    radiopharmaceutical: str = "177Lu-PSMA-617"
    wellbeing: list[Wellbeing] = Field(default_factory=list)
    #: Lutetia's addition: cycles beyond 6 are planned under patient-individual dosimetry
    #: (regimen.max_cycles then warns instead of completing the course).
    individual_dosimetry: bool = False


class Case(_Strict):
    """A ``lutetia.case/1`` document."""

    schema_: Literal["lutetia.case/1"] = Field(alias="schema")
    as_of: Day
    patient: Patient
    diagnosis: Diagnosis = Field(default_factory=Diagnosis)
    performance: Performance = Field(default_factory=Performance)
    treatments: list[Treatment] = Field(default_factory=list)
    taxane_options: TaxaneOptions = Field(default_factory=TaxaneOptions)
    conditions: Conditions = Field(default_factory=Conditions)
    labs: list[Lab] = Field(default_factory=list)
    psma_pet: PsmaPet | None = None
    conventional_imaging: list[ConventionalImaging] = Field(default_factory=list)
    consent: Consent = Field(default_factory=Consent)
    course: Course | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)

    def age_years(self, on: date | None = None) -> float | None:
        """Age in whole years on ``on`` (default ``as_of``); None without a birth date."""
        if self.patient.birth_date is None:
            return None
        when = on or self.as_of
        born = self.patient.birth_date
        return float(when.year - born.year - ((when.month, when.day) < (born.month, born.day)))


def check_chronology(case: Case) -> None:
    """Reject results dated after the case's own ``as_of``, and inconsistent courses.

    Labs, scans and treatments are results the case was written from, so none
    may be dated after ``as_of``. (The specification's own example records a
    course beyond ``as_of``, so course entries are checked for order, not
    against ``as_of``.) Cycles must be numbered 1, 2, ... in date order, an
    adverse event cannot resolve before its onset, and a planned date must
    follow the last cycle. Raises :class:`BadInputError` naming the field.
    """
    limit = case.as_of

    def after(moment: date | datetime | None, field: str) -> None:
        if moment is not None and day_of(moment) > limit:
            raise BadInputError(
                field, f"{day_of(moment).isoformat()} is after as_of {limit.isoformat()}"
            )

    if case.patient.birth_date is not None and case.patient.birth_date >= limit:
        raise BadInputError("patient.birth_date", "is not before as_of")
    after(case.diagnosis.diagnosis_date, "diagnosis.diagnosis_date")
    for i, lab in enumerate(case.labs):
        after(lab.date, f"labs[{i}].date")
    for i, treatment in enumerate(case.treatments):
        after(treatment.start, f"treatments[{i}].start")
        after(treatment.end, f"treatments[{i}].end")
    if case.psma_pet is not None:
        after(case.psma_pet.date, "psma_pet.date")
    for i, scan in enumerate(case.conventional_imaging):
        after(scan.date, f"conventional_imaging[{i}].date")
    if case.course is None:
        return
    previous: Cycle | None = None
    if len(case.course.cycles) > 6 and not case.course.individual_dosimetry:
        raise BadInputError(
            "course.cycles[6]",
            "a 7th cycle exceeds the approved maximum of 6; set course.individual_dosimetry "
            "when more cycles are planned under patient-individual dosimetry",
        )
    for i, cycle in enumerate(case.course.cycles):
        expected = i + 1
        if cycle.number != expected:
            raise BadInputError(
                f"course.cycles[{i}].number", f"is {cycle.number}, expected {expected}"
            )
        if previous is not None and day_of(cycle.date) <= day_of(previous.date):
            raise BadInputError(
                f"course.cycles[{i}].date",
                f"{day_of(cycle.date)} is not after cycle {previous.number} "
                f"({day_of(previous.date)})",
            )
        previous = cycle
    for i, event in enumerate(case.course.adverse_events):
        if event.resolved is not None and day_of(event.resolved) < day_of(event.onset):
            raise BadInputError(f"course.adverse_events[{i}].resolved", "is before onset")
    if (
        previous is not None
        and case.course.planned_date is not None
        and day_of(case.course.planned_date) <= day_of(previous.date)
    ):
        raise BadInputError(
            "course.planned_date",
            f"{day_of(case.course.planned_date)} is not after the last cycle "
            f"({day_of(previous.date)})",
        )
