"""Between cycles: the decision for the next cycle of a course.

Implements the guideline's "Management of side effects" items 1–6,
"Follow-up" items 2 and 5, and "Process of treatment procedure" items 1, 2
and 11, with the decision rules of spec/case-format.md:

* a lab dated within 5 days before the planned date is the test at the
  scheduled date; an earlier one after the last cycle is an interim test;
* the eGFR baseline is the last value on or before the day of cycle 1;
* the reference date is ``course.planned_date``, else ``as_of``; every time
  window is measured to it;
* the most restrictive decision wins: discontinue > hold > complete >
  postpone > reduce > proceed (see :data:`DECISION_ORDER`); several
  reductions make one 20 % cut of the planned activity;
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
from lutetia.clinical.ctcae_terms import Term, lookup
from lutetia.clinical.psa import RESPONSE_DECLINE_AT_LEAST as PCWG3_RESPONSE_DECLINE_AT_LEAST
from lutetia.clinical.psa import PsaValue, pcwg3
from lutetia.clinical.renal import egfr_ckd_epi_2021
from lutetia.guideline.catalogue import finding
from lutetia.guideline.context import Context, LabView, Settings
from lutetia.guideline.findings import Decision, Finding, Quantity, Threshold
from lutetia.guideline.ruleset import Ruleset, in_words, span_in_words
from lutetia.guideline.selection import (
    LABEL,
    REQUIRED_LABS,
    SelectionResult,
    assess,
    consent_ok,
    show,
)
from lutetia.units import Analyte

#: Most restrictive first (spec: discontinue > hold > postpone > reduce > proceed). A
#: complete course outranks postpone and reduce, which concern a next cycle that a complete
#: course does not have; discontinue and hold still outrank it, so that a toxicity that
#: ends or suspends treatment is never hidden behind "complete".
DECISION_ORDER: Final[tuple[Decision, ...]] = (
    "discontinue",
    "hold",
    "complete",
    "postpone",
    "reduce",
    "proceed",
)
HEMATOLOGIC: Final[tuple[Analyte, ...]] = ("hemoglobin", "wbc", "anc", "platelets")
#: Words that mark an unknown term as skeletal (item 5), so that it still holds.
SKELETAL_WORDS: Final[tuple[str, ...]] = ("skeletal", "fracture", "spinal cord compression")
#: Where the GFR is measured rather than estimated (it stands in for a missing eGFR).
MEASURED_GFR_SOURCES: Final[tuple[Analyte, ...]] = ("gfr_measured", "creatinine_clearance")
SAFETY_LABS: Final[tuple[Analyte, ...]] = (
    "hemoglobin",
    "wbc",
    "anc",
    "platelets",
    "creatinine",
    "ast",
    "alt",
)
#: How close a planned activity must be to 7.4 GBq (or a given cycle's) × 0.8, 0.8² or 0.8³
#: to count as the guideline's 20 % reductions (relative; rounding on the prescription).
REDUCED_ACTIVITY_MATCH: Final[float] = 0.01
#: Labs whose absence or age postpones the cycle: the safety labs and the eGFR.
BLOCKING_LABS: Final[tuple[str, ...]] = (*SAFETY_LABS, "egfr")


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
    #: Whether ``planned`` is the case's planned date (else it is ``as_of``).
    dated: bool


def _plan(case: Case, rules: Ruleset) -> _Plan:
    course = case.course
    cycles = list(course.cycles) if course is not None else []
    last = cycles[-1] if cycles else None
    # The reference date: the planned date when the case has one, else as_of (spec,
    # "Decision rules": time windows are measured to it).
    if course is not None and course.planned_date is not None:
        moment: date | datetime = course.planned_date
    else:
        moment = case.as_of
    explicit = course is not None and course.planned_activity_gbq is not None
    if course is not None and course.planned_activity_gbq is not None:
        activity = course.planned_activity_gbq
    elif last is not None:
        activity = last.activity_gbq  # earlier reductions carry over
    else:
        activity = rules.approved_activity_gbq
    dated = course is not None and course.planned_date is not None
    return _Plan(cycles, last, day_of(moment), moment, activity, explicit, dated)


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
    window_start = plan.planned - timedelta(days=ctx.rules.stale_after_days)
    results: list[_Toxicity] = []
    for analyte in HEMATOLOGIC:
        for view in ctx.labs.get(analyte, []):
            if view.day > last_day:
                results.append(_Toxicity(_hematologic_grade(view), analyte, view.day, view))
    course = ctx.case.course
    for event in course.adverse_events if course is not None else []:
        term = lookup(event.term)
        onset = day_of(event.onset)
        if (
            term is not None
            and term.family == "hematologic"
            and term.analyte in HEMATOLOGIC
            and last_day < onset <= plan.planned
        ):
            results.append(_Toxicity(event.grade, term.analyte, onset))
    interim = _worst([t for t in results if t.day < window_start])
    scheduled = _worst([t for t in results if t.day >= window_start])
    later = (plan.planned + ctx.rules.postponement).isoformat()
    if interim is not None and interim.grade >= ctx.rules.hematologic_interim_grade_at_least:
        yield finding(
            "toxicity.hematologic_grade3_interim",
            f"Grade {interim.grade} {_TERM_OF[interim.analyte]} at the interim test on "
            f"{interim.day.isoformat()} ({interim.seen()}): postpone the next cycle by "
            f"{in_words(ctx.rules.postponement)}, "
            f"to {later}; it may then be cancelled if there is no recovery.",
            value=Quantity(interim.grade, "{grade}"),
            threshold=Threshold(ctx.rules.hematologic_interim_grade_at_least, "{grade}", ">="),
            details={
                "analyte": interim.analyte,
                "date": interim.day.isoformat(),
                "earliest": later,
            },
        )
    if scheduled is not None and scheduled.grade >= ctx.rules.hematologic_scheduled_grade_at_least:
        what = (
            f"Grade {scheduled.grade} {_TERM_OF[scheduled.analyte]} on the scheduled date "
            f"({scheduled.day.isoformat()}, {scheduled.seen()}): "
        )
        if scheduled.grade >= ctx.rules.hematologic_scheduled_postpone_grade_at_least:
            yield finding(
                "toxicity.hematologic_grade2_scheduled",
                what + f"postpone by {in_words(ctx.rules.postponement)}, to {later}.",
                value=Quantity(scheduled.grade, "{grade}"),
                threshold=Threshold(
                    ctx.rules.hematologic_scheduled_grade_at_least, "{grade}", ">="
                ),
                decision="postpone",
                details={"analyte": scheduled.analyte, "earliest": later},
            )
        else:
            yield finding(
                "toxicity.hematologic_grade2_scheduled",
                what + f"reduce the activity by {_reduction(ctx)} % (or postpone).",
                value=Quantity(scheduled.grade, "{grade}"),
                threshold=Threshold(
                    ctx.rules.hematologic_scheduled_grade_at_least, "{grade}", ">="
                ),
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
    failure = ctx.rules.gfr_failure_below_ml_min
    if gfr is not None and gfr.day > day_of(plan.cycles[0].date) and gfr.value_ml_min < failure:
        yield finding(
            "discontinue.gfr",
            f"GFR {show(gfr.value_ml_min, gfr.unit)} on {gfr.day.isoformat()} ({gfr.note}) "
            f"is below {failure:g} mL/min: discontinue RLT.",
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
        if ref_value <= 0:  # pragma: no mutate
            continue  # the case model rejects it (eGFR > 0); never divide by it
        loss = 1 - current / ref_value
        if loss > ctx.rules.egfr_loss_above and current > failure:
            yield finding(
                "toxicity.egfr_loss",
                f"eGFR {show(current, 'mL/min/{1.73_m2}')} on {current_day.isoformat()} ({how}) "
                f"is {100 * loss:.0f} % below {label} ({show(ref_value, 'mL/min/{1.73_m2}')} on "
                f"{ref_day.isoformat()}): reduce the activity by {_reduction(ctx)} %.",
                value=Quantity(100 * loss, "%"),
                threshold=Threshold(100 * ctx.rules.egfr_loss_above, "%", ">"),
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
        limit = ctx.rules.liver_failure_above_x_uln * view.uln
        if view.value <= limit:
            continue
        ratio = view.value / view.uln
        if metastases:
            yield finding(
                "toxicity.liver_with_metastases",
                f"{LABEL[analyte]} {show(view.value, 'U/L')} on {view.day.isoformat()} is "
                f"{ratio:.1f} × ULN with known liver metastases: not unexpected; hold and have a "
                "physician review.",
                value=Quantity(view.value, "U/L"),
                threshold=Threshold(limit, "U/L", ">"),
            )
        else:
            yield finding(
                "discontinue.liver",
                f"{LABEL[analyte]} {show(view.value, 'U/L')} on {view.day.isoformat()} is "
                f"{ratio:.1f} × ULN without known liver metastases: unexpected liver toxicity; "
                "discontinue RLT.",
                value=Quantity(view.value, "U/L"),
                threshold=Threshold(limit, "U/L", ">"),
            )


def _family(event: AdverseEvent) -> tuple[Term | None, str]:
    """The CTCAE v5 term of an event and its family; an unknown term with a skeletal word is
    skeletal, any other unknown term non-hematological (the conservative reading)."""
    term = lookup(event.term)
    if term is not None:
        return term, term.family
    lowered = event.term.lower()
    if any(word in lowered for word in SKELETAL_WORDS):
        return None, "skeletal"
    return None, "non_hematologic"


def adverse_events(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Items 4, 5 and 6 from ``course.adverse_events``, as they stand on the reference date.

    The reference date is the planned date (else ``as_of``): an event resolved after
    it is unresolved on it, and "not resolved within 4 weeks" is counted to it.
    Events with an onset after the reference date are not yet known on it.
    """
    course = ctx.case.course
    if course is None:
        return
    reference = plan.planned
    for i, event in enumerate(course.adverse_events):
        where = f"course.adverse_events[{i}]"
        onset = day_of(event.onset)
        if onset > reference:
            continue
        resolved_day = day_of(event.resolved) if event.resolved is not None else None
        resolved = resolved_day if resolved_day is not None and resolved_day <= reference else None
        term = event.term
        ctcae, family = _family(event)
        if ctcae is None:
            yield finding(
                "toxicity.term_unknown",
                f"Adverse event '{term}' (course.adverse_events[{i}]) is not a CTCAE v5.0 term "
                f"Lutetia knows: it is treated as {family.replace('_', '-')} toxicity; record "
                "the CTCAE term so that the right rule applies.",
                value=Quantity(term),
                details={"event": where, "treated_as": family},
            )
        if event.unacceptable_to_patient:
            yield finding(
                "discontinue.unacceptable_toxicity",
                f"{term} (grade {event.grade}, {onset.isoformat()}) is unacceptable to the "
                "patient: discontinue RLT.",
                value=Quantity(term),
                details={"event": where},
            )
        if event.grade >= ctx.rules.life_threatening_grade_at_least:
            end = resolved or reference
            if end - onset > ctx.rules.unresolved_limit:
                state = f"resolved only on {resolved.isoformat()}" if resolved else "unresolved"
                yield finding(
                    "discontinue.unresolved_toxicity",
                    f"Life-threatening {term} (grade {event.grade}) since {onset.isoformat()} "
                    f"is {state} after more than {ctx.rules.unresolved_limit.days // 7} weeks "
                    f"({(end - onset).days} days to {end.isoformat()}): discontinue RLT.",
                    value=Quantity((end - onset).days, "d"),
                    threshold=Threshold(ctx.rules.unresolved_limit.days, "d", ">"),
                    details={"event": where},
                )
        if resolved is not None:
            continue
        if family == "skeletal":
            if not event.treated:
                how = "not recorded as treated" if event.treated is None else "not yet treated"
                yield finding(
                    "toxicity.skeletal_event",
                    f"{term} since {onset.isoformat()} is {how}: hold until it has been "
                    "adequately treated (radiation oncologist or orthopaedic surgeon).",
                    value=Quantity(event.treated),
                    details={"event": where},
                )
        elif family == "hematologic":
            if ctcae is not None and ctcae.analyte not in HEMATOLOGIC:
                yield finding(
                    "toxicity.hematologic_other",
                    f"Grade {event.grade} {ctcae.name.lower()} since {onset.isoformat()}: a "
                    "hematological toxicity outside the guideline's items 1–2 (anemia, "
                    "leukopenia or neutropenia, thrombocytopenia); physician review.",
                    value=Quantity(event.grade, "{grade}"),
                    details={"event": where, "term": ctcae.name},
                )
        elif event.grade >= ctx.rules.nonhematologic_grade_at_least:
            yield finding(
                "toxicity.nonhematologic_grade3",
                f"Grade {event.grade} {term} since {onset.isoformat()}, unresolved on "
                f"{reference.isoformat()}: hold until recovery to grade ≤ 2 or baseline.",
                value=Quantity(event.grade, "{grade}"),
                threshold=Threshold(ctx.rules.nonhematologic_grade_at_least, "{grade}", ">="),
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
                f"{treatment.name} (G-CSF) is ongoing: stop it at least "
                f"{in_words(ctx.rules.gcsf_gap)} before the injection; postpone.",
                value=Quantity(None, "d"),
                threshold=Threshold(ctx.rules.gcsf_gap.days, "d", "<"),
                details={"treatment_index": i, "earliest": None},
            )
            continue
        gap = plan.planned - treatment.end
        if gap < ctx.rules.gcsf_gap:
            earliest = treatment.end + ctx.rules.gcsf_gap
            yield finding(
                "toxicity.gcsf_interval",
                f"{treatment.name} (G-CSF) ended {treatment.end.isoformat()}, {gap.days} days "
                f"before the planned injection: at least {ctx.rules.gcsf_gap.days} days are "
                "needed; postpone to "
                f"{earliest.isoformat()}.",
                value=Quantity(gap.days, "d"),
                threshold=Threshold(ctx.rules.gcsf_gap.days, "d", "<"),
                details={"treatment_index": i, "earliest": earliest.isoformat()},
            )


def regimen(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 11: number of cycles, interval and activity."""
    course = ctx.case.course
    given = len(plan.cycles)
    if given >= ctx.rules.max_cycles:
        individual = course is not None and course.individual_dosimetry
        end = span_in_words(ctx.rules.end_follow_up_from, ctx.rules.end_follow_up_until)
        yield finding(
            "regimen.max_cycles",
            f"{given} cycles given: "
            + (
                f"beyond the approved {ctx.rules.max_cycles}, planned under patient-individual "
                "dosimetry."
                if individual
                else f"the approved maximum of {ctx.rules.max_cycles} is reached; the course is "
                f"complete. Follow-up: blood counts and creatinine {end} after the last cycle, "
                f"PSA {end} after the end, restaging."
            ),
            value=Quantity(given),
            threshold=Threshold(ctx.rules.max_cycles, None, ">="),
            decision=None if individual else "complete",
        )
    if plan.last is not None:
        interval = plan.planned - day_of(plan.last.date)
        low, high = (
            ctx.rules.interval - ctx.rules.interval_tolerance,
            ctx.rules.interval + ctx.rules.interval_tolerance,
        )
        if not low <= interval <= high:
            practice = (
                ctx.rules.practice_interval_low <= interval <= ctx.rules.practice_interval_high
            )
            yield finding(
                "regimen.interval",
                ("The planned date" if plan.dated else "as_of (no planned date is given)")
                + f" is {interval.days} days ({interval.days / 7:.1f} weeks) after "
                f"cycle {plan.last.number}: outside the approved "
                f"{_weeks(ctx.rules.interval)} ± {_weeks(ctx.rules.interval_tolerance)} weeks; "
                + ("still within" if practice else "also outside")
                + " the "
                + span_in_words(ctx.rules.practice_interval_low, ctx.rules.practice_interval_high)
                + " reported in practice.",
                value=Quantity(interval.days, "d"),
                threshold=Threshold([low.days, high.days], "d", "not in"),
            )
    activity = plan.planned_activity_gbq
    explained = any(
        math.isclose(activity, base * ctx.rules.reduction_factor**k, rel_tol=REDUCED_ACTIVITY_MATCH)
        for base in {ctx.rules.approved_activity_gbq, *(c.activity_gbq for c in plan.cycles)}
        for k in (1, 2, 3)
    )
    low_a, high_a = ctx.rules.practice_activity_low_gbq, ctx.rules.practice_activity_high_gbq
    if activity > high_a:
        where = f"above {high_a:g} GBq"
    elif activity < low_a and not explained:
        where = f"below {low_a:g} GBq"
    else:
        return
    yield finding(
        "regimen.activity_range",
        f"Planned activity {activity:g} GBq is {where} and not explained by a "
        f"{_reduction(ctx)} % reduction: outside the {low_a:g}–{high_a:g} GBq used in practice "
        f"(approved: {ctx.rules.approved_activity_gbq:g} GBq).",
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
    if not after:
        return
    if before:
        yield _pcwg3_response(before[-1], after)
    yield from _psa_progression(plan, before, after, ctx.rules)


def _pcwg3_response(base: LabView, after: list[LabView]) -> Finding:
    """PCWG3 PSA response against the last value on or before the day of cycle 1."""
    baseline = PsaValue(base.day, base.value)
    result = pcwg3(baseline, [PsaValue(v.day, v.value) for v in after])
    return finding(
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
        threshold=Threshold(100 * PCWG3_RESPONSE_DECLINE_AT_LEAST, "%", ">="),
        details={
            "baseline_ng_ml": baseline.psa_ng_ml,
            "nadir_ng_ml": result.nadir.psa_ng_ml,
            "nadir_date": result.nadir.day.isoformat(),
            "psa50_confirmed": result.response,
            "pcwg3_progression_confirmed": result.progression,
        },
    )


def _psa_progression(
    plan: _Plan, before: list[LabView], after: list[LabView], rules: Ruleset
) -> Iterator[Finding]:
    """Follow-up item 2: flare window, then a rise of > 25 % over the nadir.

    The nadir is the lowest value available up to the current one: the last
    value before cycle 1 when there is one, and every value after it.
    """
    if len(plan.cycles) < 2:
        if after:
            yield finding(
                "response.psa_flare_window",
                "PSA values after cycle 1 are before the 2nd cycle: flare-up or delayed response "
                "is possible; PSA becomes reliable 2–3 weeks after the 2nd cycle.",
                value=Quantity([v.day.isoformat() for v in after]),
            )
        return
    reliable_from = day_of(plan.cycles[1].date) + rules.psa_reliable_after
    early = [v for v in after if v.day < reliable_from]
    if early:
        yield finding(
            "response.psa_flare_window",
            f"{len(early)} PSA value(s) before {reliable_from.isoformat()} "
            f"({in_words(rules.psa_reliable_after)} after the 2nd cycle) may reflect flare-up "
            "or delayed response.",
            value=Quantity([v.day.isoformat() for v in early]),
        )
    late = [v for v in after if v.day >= reliable_from]
    if late:
        current = late[-1]
        nadir = min((v for v in [*before[-1:], *after] if v.day <= current.day), key=_psa)
        nadir_value = nadir.value
        limit = (1 + rules.psa_progression_above) * nadir_value
        if current.value > limit:
            rise = (
                f"{100 * (current.value / nadir_value - 1):.0f} % above the nadir "
                if nadir_value > 0
                else "a rise from the undetectable nadir "
            )
            yield finding(
                "response.psa_progression",
                f"PSA {show(current.value, 'ng/mL')} on {current.day.isoformat()} is {rise}"
                f"{show(nadir_value, 'ng/mL')} ({nadir.day.isoformat()}): possible resistance; "
                "restage with imaging (PSMA PET/CT with a second modality).",
                value=Quantity(current.value, "ng/mL"),
                threshold=Threshold(limit, "ng/mL", ">"),
                details={"nadir_date": nadir.day.isoformat()},
            )


def _reduction(ctx: Context) -> str:
    """The reduction in per cent, as a message states it ("20")."""
    return f"{100 * (1 - ctx.rules.reduction_factor):.0f}"


def _weeks(duration: timedelta) -> str:
    """A duration in weeks without the unit ("6", "0.5")."""
    return f"{duration.days / 7:g}"


def _psa(view: LabView) -> float:
    return view.value


def lab_panel(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 2 for the next cycle: safety labs ≤ 5 days old, else postpone."""
    window_start = plan.planned - timedelta(days=ctx.rules.stale_after_days)
    missing: list[str] = []
    stale: dict[str, str] = {}
    # A measured GFR or a creatinine clearance stands in for a missing eGFR, never for a
    # stale one: the eGFR-loss rule compares eGFRs only, so a stale eGFR must be redrawn.
    measured = [ctx.latest(a) for a in MEASURED_GFR_SOURCES]
    measured_days = [v.day for v in measured if v is not None]
    for analyte in REQUIRED_LABS:
        if analyte == "egfr":
            view, _ = ctx.egfr
            if view is not None:
                day: date | None = view.day
            else:
                day = max(measured_days) if measured_days else None
        else:
            latest = ctx.latest(analyte)
            day = latest.day if latest is not None else None
        if day is None:
            missing.append(analyte)
        elif day < window_start:
            stale[analyte] = day.isoformat()
    blocking = any(analyte in BLOCKING_LABS for analyte in (*missing, *stale))
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
            f"Older than {ctx.rules.stale_after_days} days at the planned date "
            f"{plan.planned.isoformat()}: "
            + ", ".join(f"{LABEL[a]} ({d})" for a, d in stale.items())
            + f". Redraw within {ctx.rules.stale_after_days} days before the cycle.",
            value=Quantity(stale),
            threshold=Threshold(ctx.rules.stale_after_days, "d", ">"),
            decision=decision,
            details={"earliest": plan.planned.isoformat()},
        )


def consent(ctx: Context, plan: _Plan) -> Iterator[Finding]:
    """Process item 1: written consent ≥ 24 h before the first cycle.

    Before cycle 1 a missing or late consent postpones. Once cycles have been
    given, a consent that was never recorded is still reported (the record is
    incomplete), without changing the decision.
    """
    signed = ctx.case.consent.signed_at
    if plan.cycles:
        if signed is None:
            yield finding(
                "consent.missing",
                f"No written informed consent is recorded, yet {len(plan.cycles)} cycle(s) "
                "have been given: record the signed consent in the case.",
                value=Quantity(None),
                decision=None,
            )
        return
    if signed is None:
        yield finding(
            "consent.missing",
            "No written informed consent is recorded for the first cycle.",
            value=Quantity(None),
            decision="postpone",
            details={"earliest": plan.planned.isoformat()},
        )
    elif not consent_ok(signed, plan.planned_moment, ctx.settings.lead_h):
        lead = ctx.settings.lead_h
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
    ctx = Context(case, settings)
    plan = _plan(case, ctx.rules)
    selection = assess(case, settings)
    course_findings: list[Finding] = []
    individual = case.course is not None and case.course.individual_dosimetry
    over = len(plan.cycles) >= ctx.rules.max_cycles and not individual
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
        activity, earliest = plan.planned_activity_gbq * ctx.rules.reduction_factor, plan.planned
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
                    candidates.append(plan.planned + ctx.rules.postponement)
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
