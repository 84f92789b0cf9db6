"""The case file ``lutetia.case/1``: one patient's clinical picture at one moment.

The models follow ``spec/case-format.md`` field for field. They are frozen and
validated on construction (``Case.model_validate`` included), so a case that
breaks any rule below cannot exist; each error names the path of the field:

* types are strict: a boolean only from ``true``/``false``, an integer not from
  7.0, ``true`` or ``"7"``, a number not from a boolean or a string; no NaN;
* an unknown field (outside ``extensions``), an impossible value (ECOG 7, a
  negative count) or a datetime without a UTC offset is rejected;
* text holds no control, line-separator or bidirectional characters (an
  identifier could otherwise print a line of its own in a report);
* every date lies in 1900-01-01..2199-12-31 (:data:`EARLIEST_DATE`,
  :data:`LATEST_DATE`);
* lab values and their reference limits, converted to the canonical unit of
  their analyte (:data:`lutetia.units.CANONICAL_UNITS`), and cycle activities
  are physiologically possible (:mod:`lutetia.clinical.plausibility`); a unit
  that cannot be converted fails naming ``labs[i].unit``;
* the chronology holds (:func:`check_chronology`), same-day results of one
  analyte can be ordered (:func:`check_lab_series`) and no creatinine gives an
  impossible eGFR (:func:`check_computed_egfr`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lutetia import units
from lutetia.clinical import plausibility
from lutetia.clinical.renal import egfr_ckd_epi_2021
from lutetia.errors import BadInputError

CASE_SCHEMA = "lutetia.case/1"

#: Earliest and latest calendar day a case may mention. A patient born before 1900
#: would be older than any living person (:data:`~lutetia.clinical.plausibility.
#: AGE_MAXIMUM_YEARS`) on any date 177Lu-PSMA therapy exists; 2199 leaves every
#: planning horizon open while keeping date arithmetic (intervals, schedules, decay
#: calendars) far from the ends of the calendar (years 1 and 9999), where it overflows.
EARLIEST_DATE: Final = date(1900, 1, 1)
LATEST_DATE: Final = date(2199, 12, 31)

#: Greatest nesting of lists and mappings under ``extensions`` (the case itself nests 4 deep).
MAX_EXTENSION_DEPTH: Final = 32

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Bidirectional embedding, override and isolate controls: they reorder the text around
#: them on screen ("Trojan Source", CVE-2021-42574).
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that must not reach a text output, or None.

    C0 and C1 control characters (including tab, newline, carriage return, escape
    and NEL), DEL, the Unicode line and paragraph separators (U+2028, U+2029) and the
    bidirectional controls: any of them in an identifier could start a new line or
    rewrite one (a fake "Recommendation:" line in a report or a terminal).

    >>> unsafe_character("demo-001")
    >>> unsafe_character("demo\\nproceed")
    '\\n'
    """
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS:
            return char
    return None


def printable(text: str) -> str:
    """``text`` with every :func:`unsafe_character` written as a ``\\uXXXX`` escape.

    >>> printable("a\\nb")
    'a\\\\u000ab'
    """
    return "".join(f"\\u{ord(c):04x}" if unsafe_character(c) else c for c in text)


def _unsafe_reason(char: str) -> str:
    return (
        f"contains the character U+{ord(char):04X}: line breaks, tabs, other control "
        "characters and bidirectional controls are not allowed in case text"
    )


def _check_date_range(moment: date) -> None:
    day = day_of(moment)
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(
            f"{day.isoformat()} is outside the plausible range "
            f"{EARLIEST_DATE.isoformat()}..{LATEST_DATE.isoformat()}"
        )


def _parse_day(text: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not an ISO 8601 date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid calendar date") from error


def _date_or_aware(value: Any) -> Any:
    """Accept a date or a datetime with a UTC offset; reject a naive datetime.

    Strings are parsed as ISO 8601; every date must lie within
    :data:`EARLIEST_DATE` .. :data:`LATEST_DATE`.
    """
    if isinstance(value, str):
        text = value.strip()
        if "T" in text or " " in text:
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as error:
                raise ValueError(f"{text!r} is not an ISO 8601 date or datetime") from error
        else:
            value = _parse_day(text)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset (e.g. +01:00)")
        _check_date_range(value)
        return value
    if isinstance(value, date):
        _check_date_range(value)
        return value
    raise ValueError(f"{value!r} is not an ISO 8601 date or datetime")


def _plain_date(value: Any) -> Any:
    """Accept a calendar date (``YYYY-MM-DD`` or a date object) within the plausible range."""
    if isinstance(value, str):
        value = _parse_day(value.strip())
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} must be a date (YYYY-MM-DD), not a datetime")
    if isinstance(value, date):
        _check_date_range(value)
        return value
    raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)")


def _activity(value: float) -> float:
    return plausibility.check_activity_gbq(value)


#: A calendar date or a timezone-aware datetime ("2026-03-02" or "2026-03-02T09:30:00+01:00").
When = Annotated[date | datetime, BeforeValidator(_date_or_aware)]
#: A calendar date.
Day = Annotated[date, BeforeValidator(_plain_date)]
#: The activity of one cycle in GBq, within
#: :data:`lutetia.clinical.plausibility.ACTIVITY_PER_CYCLE_GBQ`.
ActivityGbq = Annotated[float, AfterValidator(_activity)]


CalendarDay = date


def day_of(moment: date | datetime) -> date:
    """The calendar day of a date, or of a datetime in its own offset."""
    return moment.date() if isinstance(moment, datetime) else moment


def walk_items(value: Any) -> Iterator[tuple[str, int, Any]]:
    """Every item nested in ``value`` as ``(relative path, depth, item)``, iteratively."""
    stack: list[tuple[str, int, Any]] = [("", 0, value)]
    while stack:
        path, depth, item = stack.pop()
        yield path, depth, item
        if isinstance(item, dict):
            children = [
                (f"{path}.{printable(str(k))}" if path else printable(str(k)), depth + 1, v)
                for k, v in item.items()
            ]
        elif isinstance(item, list | tuple):
            children = [(f"{path}[{i}]", depth + 1, v) for i, v in enumerate(item)]
        else:
            continue
        stack.extend(reversed(children))


def check_free_form(value: Any) -> None:
    """Reject free-form data (``extensions``) nested too deeply or holding control characters.

    Raises :class:`BadInputError` whose ``field`` is the path relative to ``value``.
    """
    for path, depth, item in walk_items(value):
        if depth > MAX_EXTENSION_DEPTH:
            raise BadInputError(path, f"nested more than {MAX_EXTENSION_DEPTH} deep")
        texts = [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []
        for text in texts:
            char = unsafe_character(text) if isinstance(text, str) else None
            if char is not None:
                what = "" if isinstance(item, str) else "a key "
                raise BadInputError(path, what + _unsafe_reason(char))


class _Strict(BaseModel):
    """Frozen, strict models: no unknown fields, no coercion (``true`` is not 1, ``"no"``
    is not false, 7.0 is not an integer), no NaN or infinity, no control characters."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        allow_inf_nan=False,
        str_strip_whitespace=True,
        strict=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str):
            char = unsafe_character(value)
            if char is not None:
                raise ValueError(_unsafe_reason(char))
        elif isinstance(value, dict):
            check_free_form(value)
        return value


class Patient(_Strict):
    id: str = Field(min_length=1)
    birth_date: Day | None = None
    sex: Literal["male", "female"] | None = None
    #: 20-400 kg: the range of the adult Cockcroft-Gault equation (:mod:`lutetia.clinical.renal`).
    weight_kg: float | None = Field(default=None, ge=20, le=400)
    #: 50-250 cm: the shortest and tallest adults on record lie within.
    height_cm: float | None = Field(default=None, ge=50, le=250)


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
        if analyte is None:
            return unit
        try:
            plausibility.to_canonical(analyte, 1.0, unit, field="unit")
        except BadInputError as error:
            raise ValueError(error.reason) from None
        return unit

    @model_validator(mode="after")
    def _plausible(self) -> Lab:
        """Value, LLN and ULN, in the canonical unit, within what a living adult can have
        (:data:`lutetia.clinical.plausibility.LAB_PLAUSIBILITY`); raises naming ``value``,
        ``lln`` or ``uln``."""
        plausibility.check_lab(self.analyte, self.value, self.unit, lln=self.lln, uln=self.uln)
        return self

    @cached_property
    def canonical(self) -> tuple[float, float | None, float | None]:
        """``(value, lln, uln)`` in :attr:`canonical_unit` (converted once, then cached)."""

        def convert(x: float | None) -> float | None:
            if x is None:
                return None
            return plausibility.to_canonical(self.analyte, x, self.unit, field="unit")

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
    activity_gbq: ActivityGbq


class AdverseEvent(_Strict):
    term: str = Field(min_length=1)
    grade: int = Field(ge=1, le=5)
    onset: When

    @field_validator("grade")
    @classmethod
    def _defined_for_the_term(cls, grade: int, info: ValidationInfo) -> int:
        """A grade CTCAE v5.0 does not define for a known term is a wrong number (Fatigue
        grade 4, Acute kidney injury grade 1); an unknown term is reported by the rules."""
        from lutetia.clinical.ctcae_terms import lookup

        term = lookup(str(info.data.get("term", "")))
        if term is not None and not term.defines(grade):
            low, high = term.grades
            raise ValueError(
                f"CTCAE v5.0 defines grades {low}-{high} for {term.name!r}, not grade {grade}"
            )
        return grade

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
    planned_activity_gbq: ActivityGbq | None = None
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

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        """Chronology, unambiguous lab series and a plausible computed eGFR.

        Runs on every construction (``Case.model_validate`` included), so a case
        that breaks them cannot exist; raises :class:`BadInputError` naming the field.
        """
        check_chronology(self)
        check_lab_series(self)
        check_computed_egfr(self)
        return self

    def age_years(self, on: date | None = None) -> float | None:
        """Age in whole years on ``on`` (default ``as_of``); None without a birth date."""
        if self.patient.birth_date is None:
            return None
        when = on or self.as_of
        born = self.patient.birth_date
        return float(when.year - born.year - ((when.month, when.day) < (born.month, born.day)))


def _recorded(case: Case) -> Iterator[tuple[str, date | datetime | None]]:
    """Every date of something that has happened, with its field, in document order.

    ``course.planned_date`` is the only date of the future and is not among them.
    """
    yield "diagnosis.diagnosis_date", case.diagnosis.diagnosis_date
    for i, treatment in enumerate(case.treatments):
        yield f"treatments[{i}].start", treatment.start
        yield f"treatments[{i}].end", treatment.end
    for i, lab in enumerate(case.labs):
        yield f"labs[{i}].date", lab.date
    if case.psma_pet is not None:
        yield "psma_pet.date", case.psma_pet.date
    for i, scan in enumerate(case.conventional_imaging):
        yield f"conventional_imaging[{i}].date", scan.date
    yield "consent.signed_at", case.consent.signed_at
    if case.course is not None:
        for i, cycle in enumerate(case.course.cycles):
            yield f"course.cycles[{i}].date", cycle.date
        for i, event in enumerate(case.course.adverse_events):
            yield f"course.adverse_events[{i}].onset", event.onset
            yield f"course.adverse_events[{i}].resolved", event.resolved
        for i, entry in enumerate(case.course.wellbeing):
            yield f"course.wellbeing[{i}].date", entry.date


def check_chronology(case: Case) -> None:
    """Reject a case whose dates cannot all be true at its ``as_of``.

    Everything recorded as having happened (diagnosis, treatments, labs, scans,
    consent, cycles, adverse events and their resolution, wellbeing reports) lies
    on or before ``as_of`` and on or after the birth date; only
    ``course.planned_date`` may lie after ``as_of``. The patient is born before
    ``as_of`` and is at most :data:`~lutetia.clinical.plausibility.AGE_MAXIMUM_YEARS`
    old on it. Cycles are numbered 1, 2, ... in date order (at most 6 unless
    ``course.individual_dosimetry``), an adverse event cannot resolve before its
    onset, and a planned date follows the last cycle. Raises
    :class:`BadInputError` naming the field.

    The specification's own example (spec/case-format.md) dates cycle 1 and its
    adverse events after its ``as_of`` and is therefore rejected, naming
    ``course.cycles[0].date``.
    """
    limit = case.as_of
    born = case.patient.birth_date
    if born is not None:
        if born >= limit:
            raise BadInputError("patient.birth_date", "is not before as_of")
        age = case.age_years()
        if age is not None and age > plausibility.AGE_MAXIMUM_YEARS:
            raise BadInputError(
                "patient.birth_date",
                f"gives an age of {age:g} years on as_of {limit.isoformat()}, above the "
                f"plausible {plausibility.AGE_MAXIMUM_YEARS:g}",
            )
    for field, moment in _recorded(case):
        if moment is None:
            continue
        day = day_of(moment)
        if day > limit:
            raise BadInputError(
                field,
                f"{day.isoformat()} is after as_of {limit.isoformat()} "
                "(only course.planned_date may lie in the future)",
            )
        if born is not None and day < born:
            raise BadInputError(
                field, f"{day.isoformat()} is before the birth date {born.isoformat()}"
            )
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


def _same_moment(first: date | datetime, second: date | datetime) -> bool:
    """Whether two results of one calendar day cannot be ordered: unless both carry a
    time and the times differ, they are ambiguous."""
    if isinstance(first, datetime) and isinstance(second, datetime):
        return first == second
    return True


def check_lab_series(case: Case) -> None:
    """Reject two results of one analyte on one calendar day that cannot be ordered.

    Two results of the same analyte on the same day are ambiguous (which one do
    the rules read?) unless both carry a time and the times differ. The second
    of the pair is named: ``labs[j].date``.
    """
    seen: dict[tuple[str, date], list[int]] = {}
    for j, lab in enumerate(case.labs):
        earlier = seen.setdefault((lab.analyte, lab.day), [])
        for i in earlier:
            if _same_moment(case.labs[i].date, lab.date):
                raise BadInputError(
                    f"labs[{j}].date",
                    f"a second {lab.analyte} result on {lab.day.isoformat()} (labs[{i}] is "
                    "the first): give both a time of day (they must differ) or keep one",
                )
        earlier.append(j)


def check_computed_egfr(case: Case) -> None:
    """Reject a creatinine whose CKD-EPI 2021 eGFR exceeds the physiological maximum.

    The eGFR is computed as the rules would compute it (age on the day of the
    result, sex; adults only, and only when both are known), and compared with
    :data:`~lutetia.clinical.plausibility.EGFR_MAXIMUM`. Raises naming the
    creatinine's ``labs[i].value``.
    """
    sex = case.patient.sex
    if sex is None or case.patient.birth_date is None:
        return
    for i, lab in enumerate(case.labs):
        if lab.analyte != "creatinine":
            continue
        age = case.age_years(lab.day)
        if age is None or not 18 <= age <= plausibility.AGE_MAXIMUM_YEARS:
            continue
        egfr = egfr_ckd_epi_2021(lab.canonical_value, age, sex)
        try:
            plausibility.check_computed_egfr(
                egfr,
                note=(
                    f"creatinine {lab.value:g} {lab.unit} (= {lab.canonical_value:.3g} mg/dL) "
                    f"at age {age:g}, {sex},"
                ),
            )
        except BadInputError as error:
            raise BadInputError(f"labs[{i}].value", error.reason) from None
