"""Between cycles: the decision for the next cycle of a course.

Implements the guideline's "Management of side effects" items 1–6,
"Follow-up" items 2 and 5, and "Process of treatment procedure" items 1, 2
and 11, with the decision rules of spec/case-format.md:

* a lab dated within 5 days before the planned date is the test at the
  scheduled date; an earlier one after the last cycle is an interim test;
* the eGFR baseline is the last value on or before the day of cycle 1;
* the most restrictive decision wins: discontinue > hold > postpone >
  reduce > proceed; several reductions make one 20 % cut of the planned
  activity;
* stale or missing blood counts, creatinine/eGFR or AST/ALT postpone to the
  planned date (labs to be redrawn);
* findings marked "physician review" and Table 1's relative
  contra-indications are reported but do not change the decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from lutetia.cases.model import AdverseEvent, Case, Cycle, day_of
from lutetia.clinical.ctcae import grade
from lutetia.clinical.psa import PsaValue, pcwg3
from lutetia.clinical.renal import egfr_ckd_epi_2021
from lutetia.guideline.catalogue import Rule, finding, register
from lutetia.guideline.context import Context, LabView, Settings
from lutetia.guideline.findings import Decision, Finding, Quantity, Threshold
from lutetia.guideline.selection import (
    GFR_FAILURE_ML_MIN,
    LABEL,
    REQUIRED_LABS,
    STALE_AFTER_DAYS,
    SelectionResult,
    assess,
    consent_ok,
    show,
)
from lutetia.units import Analyte

APPROVED_ACTIVITY_GBQ: Final[float] = 7.4
MAX_CYCLES: Final[int] = 6
INTERVAL: Final[timedelta] = timedelta(weeks=6)
INTERVAL_TOLERANCE: Final[timedelta] = timedelta(weeks=1)
PRACTICE_INTERVAL: Final[tuple[timedelta, timedelta]] = (timedelta(weeks=4), timedelta(weeks=10))
PRACTICE_ACTIVITY_GBQ: Final[tuple[float, float]] = (6.0, 9.3)
REDUCTION: Final[float] = 0.8
POSTPONEMENT: Final[timedelta] = timedelta(weeks=2)
GCSF_GAP: Final[timedelta] = timedelta(weeks=2)
UNRESOLVED_LIMIT: Final[timedelta] = timedelta(weeks=4)
PSA_RELIABLE_AFTER: Final[timedelta] = timedelta(weeks=2)
EGFR_LOSS: Final[float] = 0.40

_MSE = "Management of side effects"
_FU = "Follow-up"
_PROC11 = "Process of treatment procedure, 11"

register(
    (
        Rule(
            "toxicity.hematologic_grade3_interim",
            "toxicity",
            f"{_MSE}, 1",
            None,
            "Grade 3–4 anemia, leukopenia, neutropenia or thrombocytopenia at an interim test: "
            "postpone the next cycle by 2 weeks; cancel if no recovery",
            "CTCAE grade >= 3",
            decision="postpone",
            stage="course",
        ),
        Rule(
            "toxicity.hematologic_grade2_scheduled",
            "toxicity",
            f"{_MSE}, 2",
            None,
            "Grade ≥ 2 hematological toxicity on the scheduled date: reduce by 20 % (grade 2) "
            "or postpone 2 weeks (grade 3–4)",
            "CTCAE grade >= 2",
            decision="reduce",
            stage="course",
        ),
        Rule(
            "toxicity.egfr_loss",
            "toxicity",
            f"{_MSE}, 3",
            None,
            "Acute eGFR loss > 40 % (from baseline or since before the last cycle), still "
            "> 30 mL/min: reduce activity by 20 %",
            "> 40 % loss",
            decision="reduce",
            stage="course",
        ),
        Rule(
            "toxicity.nonhematologic_grade3",
            "toxicity",
            f"{_MSE}, 4",
            None,
            "Grade 3–4 non-hematological toxicity: hold until grade ≤ 2 or baseline",
            "CTCAE grade >= 3",
            decision="hold",
            stage="course",
        ),
        Rule(
            "toxicity.skeletal_event",
            "toxicity",
            f"{_MSE}, 5",
            None,
            "Skeletal adverse event not yet adequately treated: hold",
            decision="hold",
            stage="course",
        ),
        Rule(
            "toxicity.gcsf_interval",
            "toxicity",
            f"{_MSE}, 1",
            None,
            "G-CSF less than 2 weeks before the injection: postpone",
            "< 14 days",
            decision="postpone",
            stage="course",
        ),
        Rule(
            "discontinue.gfr",
            "toxicity",
            f"{_MSE}, 6; Contra-indications, C3",
            None,
            "GFR loss to < 30 mL/min: discontinue",
            "< 30 mL/min",
            decision="discontinue",
            stage="course",
        ),
        Rule(
            "discontinue.liver",
            "toxicity",
            f"{_MSE}, 6",
            None,
            "Unexpected liver toxicity (AST or ALT > 5 × ULN without liver metastases): "
            "discontinue",
            "> 5 x ULN",
            decision="discontinue",
            stage="course",
        ),
        Rule(
            "toxicity.liver_with_metastases",
            "toxicity",
            f"{_MSE}, 6",
            None,
            "AST or ALT > 5 × ULN with known liver metastases (not unexpected): hold, "
            "physician review",
            "> 5 x ULN",
            decision="hold",
            stage="course",
        ),
        Rule(
            "discontinue.unresolved_toxicity",
            "toxicity",
            f"{_MSE}, 6",
            None,
            "Life-threatening toxicity not resolved within 4 weeks: discontinue",
            "> 28 days",
            decision="discontinue",
            stage="course",
        ),
        Rule(
            "discontinue.unacceptable_toxicity",
            "toxicity",
            f"{_MSE}, 6",
            None,
            "Toxicity the patient considers unacceptable: discontinue",
            decision="discontinue",
            stage="course",
        ),
        Rule(
            "regimen.max_cycles",
            "regimen",
            _PROC11,
            None,
            "6 cycles given: the course is complete (more only under individual dosimetry)",
            ">= 6 cycles",
            decision="complete",
            stage="course",
        ),
        Rule(
            "regimen.interval",
            "regimen",
            _PROC11,
            None,
            "Planned date outside 6 ± 1 weeks after the last cycle (4–10 weeks reported in "
            "practice)",
            "35-49 days",
            stage="course",
        ),
        Rule(
            "regimen.activity_range",
            "regimen",
            _PROC11,
            None,
            "Planned activity above 9.3 GBq, or below 6.0 GBq without a 20 % reduction that "
            "explains it (approved: 7.4 GBq)",
            "6.0-9.3 GBq",
            stage="course",
        ),
        Rule(
            "followup.wellbeing_worse",
            "followup",
            f"{_FU}, 5",
            None,
            "Patient-reported well-being worse at the last visit: the key parameter for "
            "continuing (physician review)",
            stage="course",
        ),
        Rule(
            "response.psa_progression",
            "response",
            f"{_FU}, 2",
            None,
            "From 2 weeks after the 2nd cycle, PSA > 25 % over nadir: restage with imaging",
            "> 25 % over nadir",
            stage="course",
        ),
        Rule(
            "response.psa_flare_window",
            "response",
            f"{_FU}, 2",
            None,
            "PSA values before 2–3 weeks after the 2nd cycle may reflect flare or delayed response",
            stage="course",
        ),
        Rule(
            "response.pcwg3",
            "response",
            f"{_FU}, 2",
            None,
            "PCWG3 PSA response (≥ 50 % decline, confirmed ≥ 3 weeks later) and nadir",
            ">= 50 % decline",
            stage="course",
        ),
    )
)

DECISION_ORDER: Final[tuple[Decision, ...]] = (
    "complete",
    "discontinue",
    "hold",
    "postpone",
    "reduce",
    "proceed",
)
HEMATOLOGIC: Final[tuple[Analyte, ...]] = ("hemoglobin", "wbc", "anc", "platelets")
HEMATOLOGIC_TERMS: Final[dict[str, Analyte]] = {
    "anemia": "hemoglobin",
    "white blood cell decreased": "wbc",
    "leukopenia": "wbc",
    "neutrophil count decreased": "anc",
    "neutropenia": "anc",
    "febrile neutropenia": "anc",
    "platelet count decreased": "platelets",
    "thrombocytopenia": "platelets",
}
SKELETAL_WORDS: Final[tuple[str, ...]] = ("skeletal", "fracture", "spinal cord compression")
SAFETY_LABS: Final[tuple[Analyte, ...]] = (
    "hemoglobin",
    "wbc",
    "anc",
    "platelets",
    "creatinine",
    "ast",
    "alt",
)


@dataclass(frozen=True)
class CourseResult:
    """The decision for the next cycle, with everything behind it."""

    decision: Decision
    activity_gbq: float | None
    earliest_date: date | datetime | None
    planned_date: date
    planned_activity_gbq: float
    next_cycle: int
    findings: tuple[Finding, ...]
    selection: SelectionResult


@dataclass(frozen=True)
class _Plan:
    cycles: list[Cycle]
    last: Cycle | None
    planned: date
    planned_moment: date | datetime
    planned_activity_gbq: float
    explicit_activity: bool


def _plan(case: Case) -> _Plan:
    course = case.course
    cycles = list(course.cycles) if course is not None else []
    last = cycles[-1] if cycles else None
    if course is not None and course.planned_date is not None:
        moment: date | datetime = course.planned_date
    elif last is not None:
        moment = day_of(last.date) + INTERVAL
    else:
        moment = case.as_of
    explicit = course is not None and course.planned_activity_gbq is not None
    if course is not None and course.planned_activity_gbq is not None:
        activity = course.planned_activity_gbq
    elif last is not None:
        activity = last.activity_gbq  # earlier reductions carry over
    else:
        activity = APPROVED_ACTIVITY_GBQ
    return _Plan(cycles, last, day_of(moment), moment, activity, explicit)


def _hematologic_grade(view: LabView) -> int:
    """CTCAE grade ≥ 2 is decided without LLN; below that, 0–1 is reported as ≤ 1."""
    result = grade(view.analyte, view.value, lln=view.lln)
    return result.grade if result.grade is not None else result.lowest


@dataclass(frozen=True)
class _Toxicity:
    """A graded hematological result: a lab value, or an adverse event (no lab view)."""

    grade: int
    analyte: Analyte
    day: date
    view: LabView | None = None

    def seen(self) -> str:
        if self.view is None:
            return "recorded adverse event"
        return f"{LABEL[self.analyte]} {show(self.view.value, self.view.unit)}"


_TERM_OF: Final[dict[str, str]] = {
    "hemoglobin": "anemia",
    "wbc": "leukopenia",
    "anc": "neutropenia",
    "platelets": "thrombocytopenia",
}


def _worst(items: list[_Toxicity]) -> _Toxicity | None:
    return max(items, key=lambda t: t.grade, default=None)


def hematologic(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Management of side effects, items 1 and 2 (labs and hematological adverse events)."""
    if plan.last is None:
        return
    last_day = day_of(plan.last.date)
    window_start = plan.planned - timedelta(days=STALE_AFTER_DAYS)
    results: list[_Toxicity] = []
    for analyte in HEMATOLOGIC:
        for view in ctx.labs.get(analyte, []):
            if view.day > last_day:
                results.append(_Toxicity(_hematologic_grade(view), analyte, view.day, view))
    course = ctx.case.course
    for event in course.adverse_events if course is not None else []:
        mapped = HEMATOLOGIC_TERMS.get(event.term.strip().lower())
        onset = day_of(event.onset)
        if mapped is not None and last_day < onset <= plan.planned:
            results.append(_Toxicity(event.grade, mapped, onset))
    interim = _worst([t for t in results if t.day < window_start])
    scheduled = _worst([t for t in results if t.day >= window_start])
    later = (plan.planned + POSTPONEMENT).isoformat()
    if interim is not None and interim.grade >= 3:
        yield finding(
            "toxicity.hematologic_grade3_interim",
            f"Grade {interim.grade} {_TERM_OF[interim.analyte]} at the interim test on "
            f"{interim.day.isoformat()} ({interim.seen()}): postpone the next cycle by 2 weeks, "
            f"to {later}; it may then be cancelled if there is no recovery.",
            value=Quantity(interim.grade, "{grade}"),
            threshold=Threshold(3, "{grade}", ">="),
            details={
                "analyte": interim.analyte,
                "date": interim.day.isoformat(),
                "earliest": later,
            },
        )
    if scheduled is not None and scheduled.grade >= 2:
        what = (
            f"Grade {scheduled.grade} {_TERM_OF[scheduled.analyte]} on the scheduled date "
            f"({scheduled.day.isoformat()}, {scheduled.seen()}): "
        )
        if scheduled.grade >= 3:
            yield finding(
                "toxicity.hematologic_grade2_scheduled",
                what + f"postpone by 2 weeks, to {later}.",
                value=Quantity(scheduled.grade, "{grade}"),
                threshold=Threshold(2, "{grade}", ">="),
                decision="postpone",
                details={"analyte": scheduled.analyte, "earliest": later},
            )
        else:
            yield finding(
                "toxicity.hematologic_grade2_scheduled",
                what + "reduce the activity by 20 % (or postpone).",
                value=Quantity(scheduled.grade, "{grade}"),
                threshold=Threshold(2, "{grade}", ">="),
                decision="reduce",
                details={"analyte": scheduled.analyte},
            )


def egfr_series(ctx: Context) -> list[tuple[date, float, str]]:
    """eGFR by date: reported values, else CKD-EPI 2021 from creatinine (age and sex known)."""
    series: dict[date, tuple[float, str]] = {}
    sex = ctx.sex
    for view in ctx.labs.get("creatinine", []):
        age = ctx.age_on(view.day)
        if sex in ("male", "female") and age is not None and age >= 18:
            value = egfr_ckd_epi_2021(view.value, age, sex)  # type: ignore[arg-type]
            series[view.day] = (value, "computed (CKD-EPI 2021)")
    for view in ctx.labs.get("egfr", []):
        series[view.day] = (view.value, "reported")
    return sorted((day, value, how) for day, (value, how) in series.items())


def renal(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """eGFR loss (item 3) and GFR < 30 mL/min (item 6)."""
    if plan.last is None:
        return
    gfr = ctx.gfr
    failure = GFR_FAILURE_ML_MIN
    if gfr is not None and gfr.day > day_of(plan.cycles[0].date) and gfr.value_ml_min < failure:
        yield finding(
            "discontinue.gfr",
            f"GFR {show(gfr.value_ml_min, gfr.unit)} on {gfr.day.isoformat()} ({gfr.note}) "
            "is below 30 mL/min: discontinue RLT.",
            value=Quantity(gfr.value_ml_min, gfr.unit),
            threshold=Threshold(failure, gfr.unit, "<"),
        )
        return
    series = egfr_series(ctx)
    first_day = day_of(plan.cycles[0].date)
    last_day = day_of(plan.last.date)
    baseline = [e for e in series if e[0] <= first_day]
    before_last = [e for e in series if e[0] <= last_day]
    after = [e for e in series if e[0] > last_day]
    if not after:
        return
    current_day, current, how = after[-1]
    references = []
    if baseline:
        references.append(("baseline before cycle 1", baseline[-1]))
    if before_last and (not baseline or before_last[-1] != baseline[-1]):
        references.append((f"the value before cycle {plan.last.number}", before_last[-1]))
    for label, (ref_day, ref_value, _) in references:
        loss = 1 - current / ref_value
        if loss > EGFR_LOSS and current > failure:
            yield finding(
                "toxicity.egfr_loss",
                f"eGFR {show(current, 'mL/min/{1.73_m2}')} on {current_day.isoformat()} ({how}) "
                f"is {100 * loss:.0f} % below {label} ({show(ref_value, 'mL/min/{1.73_m2}')} on "
                f"{ref_day.isoformat()}): reduce the activity by 20 %.",
                value=Quantity(100 * loss, "%"),
                threshold=Threshold(40, "%", ">"),
            )
            return


def liver(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Unexpected liver toxicity (item 6) or expected with liver metastases."""
    if plan.last is None:
        return
    pet = ctx.case.psma_pet
    metastases = pet is not None and any(lesion.site == "liver" for lesion in pet.lesions)
    for analyte in ("ast", "alt"):
        view = ctx.latest(analyte)
        if view is None or view.day <= day_of(plan.last.date) or view.uln is None:
            continue
        if view.value <= 5 * view.uln:
            continue
        ratio = view.value / view.uln
        if metastases:
            yield finding(
                "toxicity.liver_with_metastases",
                f"{LABEL[analyte]} {show(view.value, 'U/L')} on {view.day.isoformat()} is "
                f"{ratio:.1f} × ULN with known liver metastases: not unexpected; hold and have a "
                "physician review.",
                value=Quantity(view.value, "U/L"),
                threshold=Threshold(5 * view.uln, "U/L", ">"),
            )
        else:
            yield finding(
                "discontinue.liver",
                f"{LABEL[analyte]} {show(view.value, 'U/L')} on {view.day.isoformat()} is "
                f"{ratio:.1f} × ULN without known liver metastases: unexpected liver toxicity; "
                "discontinue RLT.",
                value=Quantity(view.value, "U/L"),
                threshold=Threshold(5 * view.uln, "U/L", ">"),
            )


def _is_hematologic(event: AdverseEvent) -> bool:
    return event.term.strip().lower() in HEMATOLOGIC_TERMS


def adverse_events(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Items 4, 5 and 6 from ``course.adverse_events``."""
    course = ctx.case.course
    if course is None:
        return
    as_of = ctx.case.as_of
    for i, event in enumerate(course.adverse_events):
        where = f"course.adverse_events[{i}]"
        onset = day_of(event.onset)
        resolved = day_of(event.resolved) if event.resolved is not None else None
        term = event.term
        if event.unacceptable_to_patient:
            yield finding(
                "discontinue.unacceptable_toxicity",
                f"{term} (grade {event.grade}, {onset.isoformat()}) is unacceptable to the "
                "patient: discontinue RLT.",
                value=Quantity(term),
                details={"event": where},
            )
        if event.grade >= 4:
            end = resolved or as_of
            if end - onset > UNRESOLVED_LIMIT:
                state = f"resolved only on {resolved.isoformat()}" if resolved else "unresolved"
                yield finding(
                    "discontinue.unresolved_toxicity",
                    f"Life-threatening {term} (grade {event.grade}) since {onset.isoformat()} "
                    f"is {state} after more than 4 weeks ({(end - onset).days} days): "
                    "discontinue RLT.",
                    value=Quantity((end - onset).days, "d"),
                    threshold=Threshold(28, "d", ">"),
                    details={"event": where},
                )
        if resolved is not None:
            continue
        skeletal = any(word in term.lower() for word in SKELETAL_WORDS)
        if skeletal and not event.treated:
            how = "not recorded as treated" if event.treated is None else "not yet treated"
            yield finding(
                "toxicity.skeletal_event",
                f"{term} since {onset.isoformat()} is {how}: hold until it has been adequately "
                "treated (radiation oncologist or orthopaedic surgeon).",
                value=Quantity(event.treated),
                details={"event": where},
            )
        elif event.grade >= 3 and not _is_hematologic(event) and not skeletal:
            yield finding(
                "toxicity.nonhematologic_grade3",
                f"Grade {event.grade} {term} since {onset.isoformat()}, unresolved: hold until "
                "recovery to grade ≤ 2 or baseline.",
                value=Quantity(event.grade, "{grade}"),
                threshold=Threshold(3, "{grade}", ">="),
                details={"event": where},
            )


def gcsf(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """At least 2 weeks between G-CSF and the injection (item 1)."""
    for i, treatment in enumerate(ctx.case.treatments):
        if treatment.treatment_class != "gcsf":
            continue
        if treatment.end is None:
            yield finding(
                "toxicity.gcsf_interval",
                f"{treatment.name} (G-CSF) is ongoing: stop it at least 2 weeks before the "
                "injection; postpone.",
                value=Quantity(None, "d"),
                threshold=Threshold(14, "d", "<"),
                details={"treatment_index": i, "earliest": None},
            )
            continue
        gap = plan.planned - treatment.end
        if gap < GCSF_GAP:
            earliest = treatment.end + GCSF_GAP
            yield finding(
                "toxicity.gcsf_interval",
                f"{treatment.name} (G-CSF) ended {treatment.end.isoformat()}, {gap.days} days "
                f"before the planned injection: at least 14 days are needed; postpone to "
                f"{earliest.isoformat()}.",
                value=Quantity(gap.days, "d"),
                threshold=Threshold(14, "d", "<"),
                details={"treatment_index": i, "earliest": earliest.isoformat()},
            )


def regimen(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 11: number of cycles, interval and activity."""
    course = ctx.case.course
    given = len(plan.cycles)
    if given >= MAX_CYCLES:
        individual = course is not None and course.individual_dosimetry
        yield finding(
            "regimen.max_cycles",
            f"{given} cycles given: "
            + (
                "beyond the approved 6, planned under patient-individual dosimetry."
                if individual
                else "the approved maximum of 6 is reached; the course is complete. Follow-up: "
                "blood counts and creatinine 4–6 weeks after the last cycle, PSA 4–6 weeks "
                "after the end, restaging."
            ),
            value=Quantity(given),
            threshold=Threshold(MAX_CYCLES, None, ">="),
            decision=None if individual else "complete",
        )
    if plan.last is not None:
        interval = plan.planned - day_of(plan.last.date)
        low, high = INTERVAL - INTERVAL_TOLERANCE, INTERVAL + INTERVAL_TOLERANCE
        if not low <= interval <= high:
            practice = PRACTICE_INTERVAL[0] <= interval <= PRACTICE_INTERVAL[1]
            yield finding(
                "regimen.interval",
                f"The planned date is {interval.days} days ({interval.days / 7:.1f} weeks) after "
                f"cycle {plan.last.number}: outside the approved 6 ± 1 weeks; "
                + (
                    "still within the 4–10 weeks reported in practice."
                    if practice
                    else "also outside the 4–10 weeks reported in practice."
                ),
                value=Quantity(interval.days, "d"),
                threshold=Threshold([low.days, high.days], "d", "not in"),
            )
    activity = plan.planned_activity_gbq
    explained = any(
        abs(activity - base * REDUCTION**k) <= 0.01 * base * REDUCTION**k
        for base in {APPROVED_ACTIVITY_GBQ, *(c.activity_gbq for c in plan.cycles)}
        for k in (1, 2, 3)
    )
    low_a, high_a = PRACTICE_ACTIVITY_GBQ
    if activity > high_a or (activity < low_a and not explained):
        yield finding(
            "regimen.activity_range",
            f"Planned activity {activity:g} GBq is "
            + (f"above {high_a:g} GBq" if activity > high_a else f"below {low_a:g} GBq")
            + " and not explained by a 20 % reduction: outside the 6–9.3 GBq used in practice "
            "(approved: 7.4 GBq).",
            value=Quantity(activity, "GBq"),
            threshold=Threshold([low_a, high_a], "GBq", "not in"),
        )


def wellbeing(ctx: Context) -> Iterator[Finding]:
    """Follow-up item 5: patient-reported well-being (physician review)."""
    course = ctx.case.course
    if course is None or not course.wellbeing:
        return
    last = max(course.wellbeing, key=lambda w: day_of(w.date))
    if last.status == "worse":
        yield finding(
            "followup.wellbeing_worse",
            f"Patient-reported well-being was worse on {day_of(last.date).isoformat()}"
            + (f" ({last.note})" if last.note else "")
            + ": the key parameter for the decision to continue; physician review.",
            value=Quantity(last.status),
        )


def psa_follow_up(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Follow-up item 2: PCWG3, flare window and progression after the 2nd cycle."""
    if not plan.cycles:
        return
    first_day = day_of(plan.cycles[0].date)
    values = ctx.labs.get("psa", [])
    before = [v for v in values if v.day <= first_day]
    after = [v for v in values if v.day > first_day]
    if not before or not after:
        return
    baseline = PsaValue(before[-1].day, before[-1].value)
    result = pcwg3(baseline, [PsaValue(v.day, v.value) for v in after])
    yield finding(
        "response.pcwg3",
        f"PSA baseline {show(baseline.psa_ng_ml, 'ng/mL')} ({baseline.day.isoformat()}), nadir "
        f"{show(result.nadir.psa_ng_ml, 'ng/mL')} ({result.nadir.day.isoformat()}), largest "
        f"decline {result.max_decline_percent:.0f} %: "
        + (
            f"PCWG3 response (≥ 50 %) confirmed on {result.response_confirmed_on}."
            if result.response
            else "≥ 50 % decline not yet confirmed ≥ 3 weeks later."
            if result.unconfirmed_response
            else "no PSA50 response."
        ),
        value=Quantity(result.max_decline_percent, "%"),
        threshold=Threshold(50, "%", ">="),
        details={
            "baseline_ng_ml": baseline.psa_ng_ml,
            "nadir_ng_ml": result.nadir.psa_ng_ml,
            "nadir_date": result.nadir.day.isoformat(),
            "psa50_confirmed": result.response,
            "pcwg3_progression_confirmed": result.progression,
        },
    )
    if len(plan.cycles) < 2:
        if after:
            yield finding(
                "response.psa_flare_window",
                "PSA values after cycle 1 are before the 2nd cycle: flare-up or delayed response "
                "is possible; PSA becomes reliable 2–3 weeks after the 2nd cycle.",
                value=Quantity([v.day.isoformat() for v in after]),
            )
        return
    reliable_from = day_of(plan.cycles[1].date) + PSA_RELIABLE_AFTER
    early = [v for v in after if v.day < reliable_from]
    if early:
        yield finding(
            "response.psa_flare_window",
            f"{len(early)} PSA value(s) before {reliable_from.isoformat()} (2 weeks after the "
            "2nd cycle) may reflect flare-up or delayed response.",
            value=Quantity([v.day.isoformat() for v in early]),
        )
    nadir = min(before[-1:] + after, key=lambda v: v.value)
    late = [v for v in after if v.day >= reliable_from]
    if late:
        nadir_value = min(v.value for v in [before[-1], *after] if v.day <= late[-1].day)
        current = late[-1]
        if nadir_value > 0 and current.value > 1.25 * nadir_value:
            yield finding(
                "response.psa_progression",
                f"PSA {show(current.value, 'ng/mL')} on {current.day.isoformat()} is "
                f"{100 * (current.value / nadir_value - 1):.0f} % above the nadir "
                f"{show(nadir_value, 'ng/mL')}: possible resistance; restage with imaging "
                "(PSMA PET/CT with a second modality).",
                value=Quantity(current.value, "ng/mL"),
                threshold=Threshold(1.25 * nadir_value, "ng/mL", ">"),
                details={"nadir_date": nadir.day.isoformat()},
            )


def lab_panel(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 2 for the next cycle: safety labs ≤ 5 days old, else postpone."""
    window_start = plan.planned - timedelta(days=STALE_AFTER_DAYS)
    missing: list[str] = []
    stale: dict[str, str] = {}
    blocking = False
    for analyte in REQUIRED_LABS:
        if analyte == "egfr":
            view, _ = ctx.egfr
        else:
            view = ctx.latest(analyte)
        if view is None:
            missing.append(analyte)
            blocking = blocking or analyte in (*SAFETY_LABS, "egfr")
        elif view.day < window_start:
            stale[analyte] = view.day.isoformat()
            blocking = blocking or analyte in (*SAFETY_LABS, "egfr")
    gfr = ctx.gfr
    if (
        "egfr" in missing
        and gfr is not None
        and gfr.source in ("gfr_measured", "creatinine_clearance")
    ):
        missing.remove("egfr")
    decision: Decision | None = "postpone" if blocking else None
    if missing:
        yield finding(
            "labs.missing",
            "Missing for the cycle on "
            + plan.planned.isoformat()
            + ": "
            + ", ".join(LABEL[a] for a in missing)
            + (
                ". Blood counts, creatinine/eGFR and AST/ALT are needed to proceed: redraw "
                "and decide again."
                if decision
                else "."
            ),
            value=Quantity(missing),
            decision=decision,
            details={"earliest": plan.planned.isoformat()},
        )
    if stale:
        yield finding(
            "labs.stale",
            f"Older than 5 days at the planned date {plan.planned.isoformat()}: "
            + ", ".join(f"{LABEL[a]} ({d})" for a, d in stale.items())
            + ". Redraw within 5 days before the cycle.",
            value=Quantity(stale),
            threshold=Threshold(STALE_AFTER_DAYS, "d", ">"),
            decision=decision,
            details={"earliest": plan.planned.isoformat()},
        )


def consent(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 1: written consent ≥ 24 h before the first cycle."""
    if plan.cycles:
        return
    signed = ctx.case.consent.signed_at
    if signed is None:
        yield finding(
            "consent.missing",
            "No written informed consent is recorded for the first cycle.",
            value=Quantity(None),
            decision="postpone",
            details={"earliest": plan.planned.isoformat()},
        )
    elif not consent_ok(signed, plan.planned_moment, ctx.settings.consent_lead_h):
        lead = ctx.settings.consent_lead_h
        earliest: date | datetime = (
            signed + timedelta(hours=lead)
            if isinstance(signed, datetime)
            else signed + timedelta(days=math.ceil(lead / 24))
        )
        yield finding(
            "consent.missing",
            f"Consent signed {signed.isoformat()} is less than {lead:g} h before the first cycle "
            f"({plan.planned_moment.isoformat()}): the earliest time is {earliest.isoformat()}.",
            value=Quantity(signed.isoformat()),
            threshold=Threshold(lead, "h", "<"),
            decision="postpone",
            details={"earliest": earliest.isoformat()},
        )


_REPLACED = ("labs.missing", "labs.stale", "consent.missing")


def next_cycle(case: Case, settings: Settings | None = None) -> CourseResult:
    """Decide the next cycle of ``case``'s course."""
    plan = _plan(case)
    selection = assess(case, settings)
    ctx = Context(case, settings)
    course_findings: list[Finding] = []
    individual = case.course is not None and case.course.individual_dosimetry
    over = len(plan.cycles) >= MAX_CYCLES and not individual
    rules = (hematologic, renal, liver, adverse_events, gcsf, regimen, psa_follow_up)
    for rule in rules if over else (*rules, lab_panel, consent):
        course_findings.extend(rule(ctx, plan))
    course_findings.extend(wellbeing(ctx))
    kept = [f for f in selection.findings if f.code not in _REPLACED]
    findings = tuple(course_findings + kept)

    decisions: list[Decision] = [f.decision for f in course_findings if f.decision is not None]
    decision: Decision = min([*decisions, "proceed"], key=DECISION_ORDER.index)
    activity: float | None = None
    earliest: date | datetime | None = None
    if decision == "proceed":
        activity, earliest = plan.planned_activity_gbq, plan.planned
    elif decision == "reduce":
        activity, earliest = plan.planned_activity_gbq * REDUCTION, plan.planned
    elif decision == "postpone":
        candidates: list[date | datetime] = [plan.planned]
        for f in course_findings:
            if f.decision == "postpone":
                text = f.details.get("earliest")
                if isinstance(text, str):
                    moment = (
                        datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
                    )
                    candidates.append(moment)
                elif f.code == "toxicity.gcsf_interval":
                    candidates.append(plan.planned + POSTPONEMENT)
        # The latest day wins; on the same day a time of day is the stricter bound.
        earliest = max(candidates, key=lambda m: (day_of(m), isinstance(m, datetime)))
    return CourseResult(
        decision=decision,
        activity_gbq=activity,
        earliest_date=earliest,
        planned_date=plan.planned,
        planned_activity_gbq=plan.planned_activity_gbq,
        next_cycle=len(plan.cycles) + 1,
        findings=findings,
        selection=selection,
    )
