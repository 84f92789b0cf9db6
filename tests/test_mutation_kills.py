"""Tests written against mutants that survived ``mutmut run`` (issue 9, benchmarks/README.md).

Each test names the boundary or branch of the rule code it pins, so that flipping a
comparison (``<`` ↔ ``<=``), an index or a guard changes a result that a test
checks. The thresholds themselves are tested in ``tests/test_thresholds.py``; this
module covers the windows, series and guards around them.
"""

from __future__ import annotations

import copy
import math
from datetime import date, timedelta
from typing import Any

import pytest

from lutetia.cases.io import case_from_mapping
from lutetia.clinical.ctcae import grade
from lutetia.clinical.psa import PsaValue, doubling_time, pcwg3
from lutetia.clinical.renal import creatinine_clearance_cockcroft_gault, egfr_ckd_epi_2021
from lutetia.errors import BadInputError
from lutetia.guideline.context import Context, Settings
from lutetia.guideline.course import next_cycle
from lutetia.guideline.findings import Quantity
from lutetia.guideline.ruleset import EANM_SNMMI_2023
from lutetia.guideline.schedule import cycle_dates, schedule
from lutetia.guideline.selection import consent_ok, psa_doubling_time_months, show
from tests.test_thresholds import (
    AS_OF,
    COMPLETE,
    COURSE,
    SCHEDULED,
    SELECTION,
    Data,
    Mutate,
    course,
    drop_labs,
    expect,
    hits,
    iso,
    lab,
    move_lab,
    seen,
    selection,
    setting,
)

CYCLE_1 = COURSE["course"]["cycles"][0]["date"]  # 2026-01-08
CYCLE_2 = COURSE["course"]["cycles"][1]["date"]  # 2026-02-19


# --- CTCAE v5.0: the criterion reported, and grades with a baseline ------------------------


@pytest.mark.parametrize(
    ("analyte", "value", "limits", "text"),
    [
        ("platelets", 120.0, {"lln": 150.0}, "grade 1: < LLN"),
        ("platelets", 60.0, {}, "grade 2: < 75 10*9/L"),
        ("ast", 130.0, {"uln": 40.0}, "grade 2: > 3 x ULN"),
        ("ast", 60.0, {"uln": 40.0, "baseline": 100.0}, ""),
        ("ast", 150.0, {"uln": 40.0, "baseline": 100.0}, "grade 1: >= 1.5 x baseline"),
        ("creatinine", 1.3, {"uln": 1.2}, "grade 1: > ULN"),
        ("hemoglobin", 14.0, {"lln": 13.5}, "within the grade 1 limit"),
    ],
)
def test_ctcae_reports_the_criterion_it_applied(
    analyte: Any, value: float, limits: dict[str, float], text: str
) -> None:
    result = grade(analyte, value, **limits)
    if text:
        assert result.criterion == text
    else:
        assert result.grade == 0


def test_ctcae_equal_grades_keep_the_uln_criterion() -> None:
    # Creatinine 1.9: 1.58 × ULN 1.2 and 1.58 × baseline 1.2, both grade 2; the ULN
    # criterion is reported (the baseline one replaces it only when strictly higher).
    result = grade("creatinine", 1.9, uln=1.2, baseline=1.2)
    assert result.grade == 2
    assert result.criterion == "grade 2: > 1.5 x ULN"


def test_ctcae_creatinine_baseline_without_uln_is_a_range() -> None:
    # Without the ULN, 2 × baseline proves grade 2 but grades 3–4 (3 and 6 × ULN) stay open.
    result = grade("creatinine", 2.0, baseline=1.0)
    assert (result.grade, result.lowest, result.highest) == (None, 2, 4)
    assert result.missing == ("uln",)
    # With the ULN too, the higher of the two criteria wins and nothing is missing.
    both = grade("creatinine", 3.5, uln=1.2, baseline=1.0)
    assert (both.grade, both.missing) == (3, ())
    assert both.criterion == "grade 3: > 3 x baseline"


def test_ctcae_missing_lln_names_what_is_missing() -> None:
    result = grade("hemoglobin", 11.0)
    assert (result.grade, result.lowest, result.highest) == (None, 0, 1)
    assert result.missing == ("lln",)
    assert result.criterion == ""


@pytest.mark.parametrize(("name", "value"), [("value", -1.0), ("lln", -0.1), ("uln", float("nan"))])
def test_ctcae_rejects_negative_or_nan_inputs_naming_them(name: str, value: float) -> None:
    kwargs: dict[str, float | None] = {"lln": None, "uln": None}
    if name == "value":
        with pytest.raises(BadInputError) as error:
            grade("platelets", value)
    else:
        kwargs[name] = value
        with pytest.raises(BadInputError) as error:
            grade("platelets", 100.0, **kwargs)
    assert error.value.field == name


def test_ctcae_unknown_analyte_is_named() -> None:
    with pytest.raises(BadInputError) as error:
        grade("psa", 4.0)
    assert error.value.field == "analyte"


# --- PSA kinetics ------------------------------------------------------------------------------

D0 = date(2026, 1, 5)


def _values(*pairs: tuple[int, float]) -> list[PsaValue]:
    return [PsaValue(D0 + timedelta(days=d), v) for d, v in pairs]


def test_doubling_time_needs_values_above_zero() -> None:
    with pytest.raises(BadInputError, match="above zero") as error:
        doubling_time(_values((0, 0.0), (30, 1.0)), field="labs.psa")
    assert error.value.field == "labs.psa"


def test_doubling_time_of_a_flat_series_is_none() -> None:
    result = doubling_time(_values((0, 5.0), (30, 5.0), (60, 5.0)))
    assert result.slope_per_day == 0
    assert result.doubling_time_days is None
    assert result.doubling_time_months is None
    assert result.n_values == 3


def test_doubling_time_is_the_regression_over_all_values() -> None:
    # ln PSA = 0, 1, 1 at days 10, 20, 30 (first value not at day 0): slope 0.05 per day.
    values = _values((10, 1.0), (20, math.e), (30, math.e))
    assert doubling_time(values).slope_per_day == pytest.approx(0.05)
    assert doubling_time(values).doubling_time_days == pytest.approx(math.log(2) / 0.05)


def test_pcwg3_with_an_undetectable_baseline() -> None:
    # Baseline 0 is allowed: no decline can be computed, and progression needs ≥ 2 ng/mL.
    result = pcwg3(PsaValue(D0, 0.0), _values((90, 2.0), (120, 2.5)))
    assert result.max_decline_percent == 0
    assert not result.response
    assert result.progression


def test_pcwg3_rejects_a_negative_baseline() -> None:
    with pytest.raises(BadInputError) as error:
        pcwg3(PsaValue(D0, -1.0), _values((30, 1.0)), field="psa")
    assert error.value.field == "psa.baseline"


def test_pcwg3_nadir_is_the_first_of_equal_lowest_values() -> None:
    result = pcwg3(PsaValue(D0, 20.0), _values((28, 8.0), (56, 8.0), (84, 9.0)))
    assert result.nadir.day == D0 + timedelta(days=28)


def test_pcwg3_response_confirmation_must_stay_at_or_below_half() -> None:
    # The value 3 weeks later must still be ≤ 50 % of baseline; exactly 50 % counts.
    assert pcwg3(PsaValue(D0, 20.0), _values((28, 8.0), (49, 10.0))).response
    assert not pcwg3(PsaValue(D0, 20.0), _values((28, 8.0), (49, 10.5))).response


def test_pcwg3_confirmation_is_the_next_value_3_weeks_on_not_an_earlier_one() -> None:
    # An earlier value (day 28) cannot confirm the rise of day 56.
    result = pcwg3(PsaValue(D0, 40.0), _values((14, 20.0), (28, 30.0), (56, 30.0)))
    assert result.progression_date == D0 + timedelta(days=28)
    assert result.progression_confirmed_on == D0 + timedelta(days=56)


def test_pcwg3_unconfirmed_flags() -> None:
    unconfirmed = pcwg3(PsaValue(D0, 20.0), _values((28, 8.0)))
    assert unconfirmed.unconfirmed_response
    assert not unconfirmed.unconfirmed_progression
    assert unconfirmed.response_date is None
    assert unconfirmed.progression_date is None
    confirmed = pcwg3(PsaValue(D0, 20.0), _values((28, 8.0), (56, 8.0)))
    assert not confirmed.unconfirmed_response
    assert confirmed.baseline == PsaValue(D0, 20.0)


# --- Selection: disease status and PSA doubling time -------------------------------------------


def _psa_days(*pairs: tuple[int, float]) -> Any:
    """PSA values at (days before as_of, ng/mL), replacing the example's."""

    def mutate(data: Data) -> None:
        drop_labs("psa")(data)
        for days, value in pairs:
            day = AS_OF - timedelta(days=days)
            data["labs"].append(
                {"analyte": "psa", "value": value, "unit": "ng/mL", "date": iso(day)}
            )

    return mutate


def test_crpc_nadir_is_taken_before_the_rises() -> None:
    # 13 and 16 rise over 10, the last value, but the nadir must precede the rises.
    def series(data: Data) -> None:
        data["diagnosis"]["castration_resistant"] = None
        _psa_days((28, 13.0), (14, 16.0), (0, 10.0))(data)

    assert hits(selection(series), "crpc.not_established")


def test_crpc_rises_may_come_later_in_the_series() -> None:
    def series(data: Data) -> None:
        data["diagnosis"]["castration_resistant"] = None
        _psa_days((56, 20.0), (42, 10.0), (28, 13.0), (14, 16.0), (0, 12.0))(data)

    assert not hits(selection(series), "crpc.not_established")


def _ctx(*mutations: Any) -> Context:
    data = copy.deepcopy(SELECTION)
    for mutate in mutations:
        mutate(data)
    return Context(case_from_mapping(data))


def test_psa_doubling_time_window_is_365_days() -> None:
    assert psa_doubling_time_months(_ctx(_psa_days((365, 1.0), (14, 10.0), (0, 20.0)))) is not None
    assert psa_doubling_time_months(_ctx(_psa_days((366, 1.0), (14, 10.0), (0, 20.0)))) is None


@pytest.mark.parametrize(("span", "computed"), [(27, False), (28, True)])
def test_psa_doubling_time_needs_3_values_over_28_days(span: int, computed: bool) -> None:
    months = psa_doubling_time_months(_ctx(_psa_days((span, 0.25), (span // 2, 0.5), (0, 1.0))))
    assert (months is not None) == computed
    assert psa_doubling_time_months(_ctx(_psa_days((60, 1.0), (0, 2.0)))) is None


def test_psa_doubling_time_uses_values_below_1_ng_ml() -> None:
    months = psa_doubling_time_months(_ctx(_psa_days((28, 0.25), (14, 0.5), (0, 1.0))))
    assert months == pytest.approx(14 / (365.25 / 12))


# --- Selection: procedure, consent, settings ----------------------------------------------------


def test_consent_ok_defaults_to_24_h() -> None:
    assert consent_ok(date(2026, 3, 1), date(2026, 3, 2))
    assert not consent_ok(date(2026, 3, 2), date(2026, 3, 2))
    assert consent_ok(date(2026, 3, 1), date(2026, 3, 3), lead_h=48)
    assert not consent_ok(date(2026, 3, 2), date(2026, 3, 3), lead_h=25)


@pytest.mark.parametrize(
    ("hours", "ok"), [(-0.001, False), (0.0, True), (720.0, True), (720.001, False)]
)
def test_consent_lead_setting_0_to_720_h(hours: float, ok: bool) -> None:
    if ok:
        assert Settings(consent_lead_h=hours).consent_lead_h == hours
    else:
        with pytest.raises(BadInputError) as error:
            Settings(consent_lead_h=hours)
        assert error.value.field == "--consent-lead-h"


@pytest.mark.parametrize(
    ("tracer", "approximate"),
    [
        ("68Ga-PSMA-11", False),
        ("Ga-68 PSMA-11", False),
        ("[68Ga]Ga-PSMA-11", False),
        ("68Ga-PSMA-I&T", True),
        ("PSMA-11", True),
        ("18F-PSMA-1007", True),
    ],
)
def test_liver_criterion_exact_only_for_ga_psma_11(tracer: str, approximate: bool) -> None:
    def pet(data: Data) -> None:
        data["psma_pet"]["parotid_suvmean"] = None
        data["psma_pet"]["tracer"] = tracer
        data["psma_pet"]["lesions"].append({"site": "lymph_node", "size_mm": 20, "suvmax": 1.0})

    (finding,) = hits(selection(pet), "imaging.psma_negative_lesion")
    assert ("approximation" in finding.message) == approximate


# --- Course: which labs and events count --------------------------------------------------------


def test_labs_on_the_day_of_the_last_cycle_are_not_toxicity() -> None:
    # Grade 3 platelets on the day of cycle 2 are its pre-injection count.
    result = course(lab("platelets", 40.0, day=CYCLE_2))
    assert not hits(result, "toxicity.hematologic_grade3_interim")
    assert result.decision == "proceed"


@pytest.mark.parametrize(("onset", "counts"), [(CYCLE_2, False), ("2026-02-20", True)])
def test_hematologic_event_counts_from_the_day_after_the_last_cycle(
    onset: str, counts: bool
) -> None:
    def event(data: Data) -> None:
        data["course"]["adverse_events"] = [
            {"term": "Thrombocytopenia", "grade": 3, "onset": onset}
        ]

    result = course(event)
    assert bool(hits(result, "toxicity.hematologic_grade3_interim")) == counts


def test_hematologic_event_on_the_reference_date_is_scheduled() -> None:
    def event(data: Data) -> None:
        data["course"]["planned_date"] = data["as_of"]
        data["course"]["adverse_events"] = [{"term": "Anemia", "grade": 2, "onset": data["as_of"]}]

    result = course(event)
    finding = expect(result, "toxicity.hematologic_grade2_scheduled", True)
    assert finding is not None
    assert finding.decision == "reduce"
    assert "recorded adverse event" in finding.message


def test_interim_finding_names_the_lab_seen() -> None:
    result = course(lab("anc", 0.8, day="2026-03-10"))
    (finding,) = hits(result, "toxicity.hematologic_grade3_interim")
    assert finding.details == {"analyte": "anc", "date": "2026-03-10", "earliest": "2026-04-16"}
    assert seen(finding) == 3
    assert "ANC 0.8" in finding.message
    assert "neutropenia" in finding.message


def test_egfr_loss_from_creatinine_alone() -> None:
    # Without reported eGFR the series is computed by CKD-EPI 2021 from creatinine.
    def creatinine_only(data: Data) -> None:
        drop_labs("egfr")(data)
        lab("creatinine", 1.8, day=SCHEDULED)(data)

    result = course(creatinine_only)
    finding = expect(result, "toxicity.egfr_loss", True)
    assert finding is not None
    assert "computed (CKD-EPI 2021)" in finding.message
    assert result.decision == "reduce"


def test_egfr_baseline_is_the_value_on_the_day_of_cycle_1() -> None:
    # 100 on the day of cycle 1 is the baseline (not 80 before it): 59 is a 41 % loss.
    result = course(lab("egfr", 100.0, day=CYCLE_1), lab("egfr", 59.0, day=SCHEDULED))
    (finding,) = hits(result, "toxicity.egfr_loss")
    assert "baseline before cycle 1" in finding.message
    assert "2026-01-08" in finding.message


def test_egfr_on_the_day_of_the_last_cycle_is_before_it() -> None:
    result = course(lab("egfr", 100.0, day=CYCLE_2), lab("egfr", 59.0, day=SCHEDULED))
    (finding,) = hits(result, "toxicity.egfr_loss")
    assert "the value before cycle 2" in finding.message


def test_egfr_on_the_day_of_the_last_cycle_is_not_after_it() -> None:
    # No renal value after cycle 2: no loss can be measured (the missing labs postpone).
    result = course(
        lab("egfr", 40.0, day=CYCLE_2),
        drop_labs("egfr", SCHEDULED),
        drop_labs("creatinine", SCHEDULED),
    )
    assert not hits(result, "toxicity.egfr_loss")
    assert not hits(result, "discontinue.gfr")
    assert result.decision == "postpone"


def test_gfr_below_30_at_baseline_does_not_discontinue() -> None:
    # A GFR < 30 on the day of cycle 1 was known when treatment started (Table 1 applies).
    result = course(
        lab("egfr", 25.0, day=CYCLE_1),
        drop_labs("egfr", "2026-01-02", SCHEDULED),
        drop_labs("creatinine"),
    )
    assert not hits(result, "discontinue.gfr")


def test_liver_value_on_the_day_of_the_last_cycle_does_not_discontinue() -> None:
    result = course(lab("ast", 300.0, day=CYCLE_2, uln=50), drop_labs("ast", SCHEDULED))
    assert not hits(result, "discontinue.liver")


def test_liver_finding_reports_the_ratio() -> None:
    result = course(lab("alt", 400.0, day=SCHEDULED, uln=50))
    (finding,) = hits(result, "discontinue.liver")
    assert "8.0 × ULN" in finding.message
    assert seen(finding) == 400.0


def test_adverse_event_on_the_reference_date_counts_and_resolution_on_it_too() -> None:
    def event(resolved: str | None) -> Any:
        def mutate(data: Data) -> None:
            data["course"]["planned_date"] = data["as_of"]
            entry: Data = {"term": "Nausea", "grade": 3, "onset": "2026-03-20"}
            if resolved is not None:
                entry["resolved"] = resolved
            data["course"]["adverse_events"] = [entry]

        return mutate

    assert course(event(None)).decision == "hold"
    assert course(event("2026-03-30")).decision == "proceed"

    def onset_today(data: Data) -> None:
        data["course"]["planned_date"] = data["as_of"]
        data["course"]["adverse_events"] = [{"term": "Nausea", "grade": 3, "onset": data["as_of"]}]

    assert course(onset_today).decision == "hold"


@pytest.mark.parametrize(
    ("treated", "how"), [(None, "not recorded as treated"), (False, "not yet treated")]
)
def test_skeletal_event_holds_until_treated(treated: bool | None, how: str) -> None:
    def event(data: Data) -> None:
        data["course"]["adverse_events"] = [
            {"term": "Pathological fracture", "grade": 2, "onset": "2026-03-20", "treated": treated}
        ]

    result = course(event)
    (finding,) = hits(result, "toxicity.skeletal_event")
    assert how in finding.message
    assert result.decision == "hold"


# --- Course: PSA follow-up ---------------------------------------------------------------


def test_psa_on_the_day_of_cycle_1_is_the_baseline() -> None:
    result = course(lab("psa", 40.0, day=CYCLE_1))
    (finding,) = hits(result, "response.pcwg3")
    assert finding.details["baseline_ng_ml"] == 40.0


def test_psa_progression_nadir_uses_only_the_last_value_before_cycle_1() -> None:
    # An older, lower value (10 in December) is not the nadir: 23 is < 1.25 × 19.
    def older(data: Data) -> None:
        data["labs"].append(
            {"analyte": "psa", "value": 10.0, "unit": "ng/mL", "date": "2025-12-01"}
        )

    result = course(older, lab("psa", 23.0, day=SCHEDULED))
    assert not hits(result, "response.psa_progression")


def test_psa_progression_from_the_first_reliable_day() -> None:
    # A single value exactly 2 weeks after cycle 2 is already reliable.
    result = course(
        drop_labs("psa", "2026-02-17", "2026-03-10"),
        move_lab("psa", SCHEDULED, "2026-03-05"),
        lab("psa", 70.0, day="2026-03-05"),
    )
    (finding,) = hits(result, "response.psa_progression")
    assert finding.details["nadir_date"] == "2026-01-02"
    assert "46 % above the nadir" in finding.message


def test_psa_progression_from_an_undetectable_nadir() -> None:
    result = course(lab("psa", 0.0, day="2026-03-10"), lab("psa", 0.5, day=SCHEDULED))
    (finding,) = hits(result, "response.psa_progression")
    assert "a rise from the undetectable nadir" in finding.message
    low = course(lab("psa", 0.5, day="2026-03-10"), lab("psa", 1.0, day=SCHEDULED))
    (finding,) = hits(low, "response.psa_progression")
    assert "100 % above the nadir" in finding.message


def test_psa_after_cycle_1_before_cycle_2_is_the_flare_window() -> None:
    def one_cycle(data: Data) -> None:
        data["course"]["cycles"] = data["course"]["cycles"][:1]
        data["course"]["planned_date"] = "2026-02-19"
        data["as_of"] = "2026-02-18"
        data["labs"] = [x for x in data["labs"] if x["date"] <= "2026-02-18"]

    result = course(one_cycle)
    (finding,) = hits(result, "response.psa_flare_window")
    assert seen(finding) == ["2026-02-17"]


# --- Course: lab panel and what it blocks -------------------------------------------------


def test_missing_non_safety_lab_informs_without_postponing() -> None:
    result = course(drop_labs("crp", SCHEDULED), drop_labs("crp"))
    (finding,) = hits(result, "labs.missing")
    assert seen(finding) == ["crp"]
    assert finding.decision is None
    assert result.decision == "proceed"


def test_stale_non_safety_lab_informs_without_postponing() -> None:
    result = course(move_lab("crp", SCHEDULED, "2026-03-20"))
    (finding,) = hits(result, "labs.stale")
    assert finding.decision is None
    assert result.decision == "proceed"


def test_stale_egfr_postpones() -> None:
    result = course(drop_labs("creatinine", SCHEDULED), move_lab("egfr", SCHEDULED, "2026-03-20"))
    assert result.decision == "postpone"


def test_measured_gfr_stands_in_for_a_missing_egfr() -> None:
    def measured(data: Data) -> None:
        drop_labs("egfr")(data)
        drop_labs("creatinine")(data)
        data["labs"].append(
            {"analyte": "gfr_measured", "value": 75.0, "unit": "mL/min", "date": SCHEDULED}
        )

    result = course(measured)
    (finding,) = hits(result, "labs.missing")
    assert seen(finding) == ["creatinine"]


def _measured_gfr(day: str, *, keep_creatinine: bool) -> Mutate:
    def mutate(data: Data) -> None:
        if not keep_creatinine:
            drop_labs("egfr")(data)
            drop_labs("creatinine")(data)
        data["labs"].append(
            {"analyte": "gfr_measured", "value": 75.0, "unit": "mL/min", "date": day}
        )

    return mutate


def test_measured_gfr_beside_an_egfr_changes_nothing_in_the_panel() -> None:
    # Both present: nothing is missing, nothing to take out of the missing list.
    result = course(_measured_gfr(SCHEDULED, keep_creatinine=True))
    assert not hits(result, "labs.missing")
    assert not hits(result, "labs.stale")
    assert result.decision == "proceed"


def test_stale_measured_gfr_in_place_of_the_egfr_is_stale_and_postpones() -> None:
    # Creatinine missing (a safety lab) and the measured GFR standing in for the eGFR is
    # 10 days old: the eGFR is reported stale with the measured GFR's date, and the cycle
    # is postponed.
    result = course(_measured_gfr("2026-03-20", keep_creatinine=False))
    (stale,) = hits(result, "labs.stale")
    assert seen(stale) == {"egfr": "2026-03-20"}
    assert stale.decision == "postpone"
    assert result.decision == "postpone"


def test_a_fresh_measured_gfr_does_not_freshen_a_stale_egfr() -> None:
    # The eGFR-loss rule compares eGFRs only: a stale eGFR must be redrawn even when a
    # measured GFR of the scheduled day exists (it stands in only for a missing eGFR).
    def old_renal(data: Data) -> None:
        move_lab("creatinine", SCHEDULED, "2026-03-20")(data)
        move_lab("egfr", SCHEDULED, "2026-03-20")(data)

    result = course(old_renal, _measured_gfr(SCHEDULED, keep_creatinine=True))
    (stale,) = hits(result, "labs.stale")
    assert seen(stale) == {"creatinine": "2026-03-20", "egfr": "2026-03-20"}
    assert result.decision == "postpone"


@pytest.mark.parametrize(
    ("measured_day", "discontinues"),
    [("2026-02-01", True), ("2026-03-24", True), ("2026-03-25", False), (SCHEDULED, False)],
)
def test_an_older_measured_gfr_does_not_hide_a_newer_egfr_below_30(
    measured_day: str, discontinues: bool
) -> None:
    # eGFR 25 on the scheduled day (03-30); a measured GFR of 70 more than 5 days older must
    # not hide it (GFR < 30 mL/min: discontinue). Up to 5 days older, the measurement counts.
    def low_egfr(data: Data) -> None:
        (egfr,) = [x for x in data["labs"] if x["analyte"] == "egfr" and x["date"] == SCHEDULED]
        egfr["value"] = 25.0
        drop_labs("creatinine", SCHEDULED)(data)
        data["labs"].append(
            {"analyte": "gfr_measured", "value": 70.0, "unit": "mL/min", "date": measured_day}
        )

    result = course(low_egfr)
    assert bool(hits(result, "discontinue.gfr")) is discontinues
    if discontinues:
        assert result.decision == "discontinue"


def test_complete_course_needs_no_labs_for_a_next_cycle() -> None:
    result = course(drop_labs("crp"), base=COMPLETE)
    assert result.decision == "complete"
    assert not hits(result, "labs.missing")


def test_individual_dosimetry_beyond_6_cycles_still_checks_labs() -> None:
    result = course(drop_labs("crp"), setting("course.individual_dosimetry", True), base=COMPLETE)
    assert hits(result, "labs.missing")
    assert result.decision != "complete"


def test_activity_after_three_reductions_is_explained_and_after_four_not() -> None:
    three = course(setting("course.planned_activity_gbq", 7.4 * 0.8**3))
    assert not hits(three, "regimen.activity_range")
    four = course(setting("course.planned_activity_gbq", 7.4 * 0.8**4))
    assert hits(four, "regimen.activity_range")


# --- The schedule (Process item 11, Follow-up 1–5) ----------------------------------------


def _events(data: Data) -> list[tuple[str, str, int | None, str | None]]:
    return [
        (iso(e.date), e.kind, e.cycle, iso(e.window_end) if e.window_end else None)
        for e in schedule(case_from_mapping(data), EANM_SNMMI_2023)
    ]


def test_schedule_of_the_proceed_example() -> None:
    # Cycles 1–2 given (2026-01-08, 2026-02-19), cycle 3 planned 2026-04-02, then every
    # 6 weeks to cycle 6; labs within the 5 days before each cycle; SPECT 1–2 days after;
    # blood counts 2–3 weeks after each cycle but the last; end labs and PSA 4–6 weeks
    # after the last; restaging every 12 weeks from cycle 1 and 6 weeks after the last.
    events = _events(copy.deepcopy(COURSE))
    cycles = [(day, c) for day, kind, c, _ in events if kind == "cycle"]
    assert cycles == [
        ("2026-01-08", 1),
        ("2026-02-19", 2),
        ("2026-04-02", 3),
        ("2026-05-14", 4),
        ("2026-06-25", 5),
        ("2026-08-06", 6),
    ]
    assert ("2026-03-28", "lab_panel", 3, "2026-04-02") in events
    assert ("2026-04-03", "spect", 3, "2026-04-04") in events
    interim = [(day, c, end) for day, kind, c, end in events if kind == "interim_labs"]
    assert interim[0] == ("2026-01-22", 1, "2026-01-29")
    assert [c for _, c, _ in interim] == [1, 2, 3, 4, 5]
    assert ("2026-09-03", "end_labs", None, "2026-09-17") in events
    assert ("2026-09-03", "end_psa", None, "2026-09-17") in events
    restaging = [day for day, kind, _, _ in events if kind == "restaging"]
    assert restaging == ["2026-04-02", "2026-06-25", "2026-09-17"]


def test_schedule_carries_a_reduced_activity_over() -> None:
    data = copy.deepcopy(COURSE)
    data["course"]["cycles"][1]["activity_gbq"] = 5.92
    dates = cycle_dates(case_from_mapping(data), EANM_SNMMI_2023)
    assert [a for _, _, a in dates] == [7.4, 5.92, 5.92, 5.92, 5.92, 5.92]
    assert [given for _, given, _ in dates] == [True, True, False, False, False, False]


def test_schedule_restaging_on_the_last_cycle_day_is_the_end_restaging() -> None:
    # Cycle 6 exactly 24 weeks after cycle 1: the 12-week restagings stop before it.
    data = copy.deepcopy(COURSE)
    data["as_of"] = "2026-06-05"
    data["course"]["cycles"] += [
        {"number": 3, "date": "2026-04-02", "activity_gbq": 7.4},
        {"number": 4, "date": "2026-05-14", "activity_gbq": 7.4},
        {"number": 5, "date": "2026-06-04", "activity_gbq": 7.4},
    ]
    data["course"]["planned_date"] = "2026-06-25"
    restaging = [day for day, kind, _, _ in _events(data) if kind == "restaging"]
    assert restaging == ["2026-04-02", "2026-08-06"]


def test_schedule_lab_panel_first_on_a_shared_day() -> None:
    # Cycle 2 planned 19 days after cycle 1: its lab panel falls on cycle 1's interim labs.
    data = copy.deepcopy(COURSE)
    data["course"]["cycles"] = data["course"]["cycles"][:1]
    data["course"]["planned_date"] = "2026-01-27"
    data["as_of"] = "2026-01-20"
    data["labs"] = [x for x in data["labs"] if x["date"] <= "2026-01-20"]
    same_day = [kind for day, kind, _, _ in _events(data) if day == "2026-01-22"]
    assert same_day == ["lab_panel", "interim_labs"]


def test_schedule_needs_a_first_cycle() -> None:
    data = copy.deepcopy(COURSE)
    data["course"]["cycles"] = []
    data["course"]["planned_date"] = None
    with pytest.raises(BadInputError) as error:
        schedule(case_from_mapping(data), EANM_SNMMI_2023)
    assert error.value.field == "course"
    # Given cycles without a planned date are enough.
    assert len([e for e in _events(copy.deepcopy(COMPLETE)) if e[1] == "cycle"]) == 6


@pytest.mark.parametrize(("given", "planned"), [(5, True), (6, True), (6, False), (4, False)])
def test_schedule_has_six_cycles_and_a_planned_date_only_before_the_sixth(
    given: int, planned: bool
) -> None:
    data = copy.deepcopy(COMPLETE)
    data["course"]["cycles"] = data["course"]["cycles"][:given]
    data["course"]["planned_date"] = "2026-12-24" if planned else None
    dates = cycle_dates(case_from_mapping(data), EANM_SNMMI_2023)
    assert len(dates) == 6
    assert [g for _, g, _ in dates] == [True] * given + [False] * (6 - given)
    if planned and given < 6:
        assert dates[given][0] == date(2026, 12, 24)
    assert all(
        b - a == timedelta(weeks=6)
        for (a, _, _), (b, _, _) in zip(dates[given:], dates[given + 1 :], strict=False)
    )


def test_schedule_events_carry_their_cycle_number_and_whether_it_was_given() -> None:
    events = schedule(case_from_mapping(copy.deepcopy(COURSE)), EANM_SNMMI_2023)  # cycles 1–2 given
    by_kind: dict[str, list[int | None]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event.cycle)
    for kind in ("lab_panel", "cycle", "wellbeing", "post_therapy_scan", "spect"):
        assert by_kind[kind] == [1, 2, 3, 4, 5, 6], kind
    assert by_kind["interim_labs"] == [1, 2, 3, 4, 5]
    assert set(by_kind["end_labs"]) == set(by_kind["end_psa"]) == {None}
    cycles = [e for e in events if e.kind == "cycle"]
    assert [e.given for e in cycles] == [True, True, False, False, False, False]
    assert [e.description.endswith("(given)") for e in cycles] == [True, True] + [False] * 4
    assert all(e.description.endswith("(hydration, saline flush)") for e in cycles[2:])


# --- What the documents carry (the output contract) ---------------------------------------


def _psa_values(*pairs: tuple[str, float]) -> Mutate:
    def mutate(data: Data) -> None:
        drop_labs("psa")(data)
        data["labs"] += [
            {"analyte": "psa", "value": v, "unit": "ng/mL", "date": d} for d, v in pairs
        ]

    return mutate


@pytest.mark.parametrize(
    ("march", "ending", "confirmed"),
    [
        # 48 → 19 on 03-09 (−60 %), 15 three weeks later: confirmed.
        ((("2026-03-09", 19.0), ("2026-03-30", 15.0)), "confirmed on 2026-03-30.", True),
        # 20 days later only: not yet confirmed.
        ((("2026-03-10", 19.0), ("2026-03-30", 15.0)), "not yet confirmed ≥ 3 weeks later.", False),
        ((("2026-03-10", 40.0), ("2026-03-30", 44.0)), "no PSA50 response.", False),
    ],
)
def test_pcwg3_response_finding_says_which_response(
    march: tuple[tuple[str, float], ...], ending: str, confirmed: bool
) -> None:
    result = course(_psa_values(("2026-01-02", 48.0), ("2026-02-17", 30.0), *march))
    (response,) = hits(result, "response.pcwg3")
    assert response.message.endswith(ending)
    assert response.details["psa50_confirmed"] is confirmed


def test_next_cycle_document_carries_the_plan_and_finding_details() -> None:
    from lutetia.guideline.assessment import course_document

    data = copy.deepcopy(COURSE)
    case = case_from_mapping(data)
    document = course_document(case, next_cycle(case))
    assert document["planned_date"] == "2026-04-02"
    assert document["planned_activity_gbq"] == pytest.approx(7.4)
    response = next(f for f in document["findings"] if f["code"] == "response.pcwg3")
    assert response["details"]["baseline_ng_ml"] == 48.0


def test_schedule_event_json_keeps_its_window() -> None:
    events = schedule(case_from_mapping(copy.deepcopy(COURSE)), EANM_SNMMI_2023)
    spect = next(e for e in events if e.kind == "spect")
    assert spect.as_json()["window_end"] == (spect.date + timedelta(days=1)).isoformat()
    cycle = next(e for e in events if e.kind == "cycle")
    assert cycle.as_json()["window_end"] is None


@pytest.mark.parametrize(
    ("lesions", "flagged"),
    [
        (None, True),  # no PET at all
        ([{"site": "prostate", "size_mm": 15, "suvmax": 20.0}], True),
        ([{"site": "prostate", "size_mm": 15, "suvmax": 20.0},
          {"site": "bone", "size_mm": 15, "suvmax": 20.0}], False),
    ],
)  # fmt: skip
def test_unrecorded_metastatic_status_is_read_from_the_pet(
    lesions: list[dict[str, Any]] | None, flagged: bool
) -> None:
    def mutate(data: Data) -> None:
        data["diagnosis"]["metastatic"] = None
        if lesions is None:
            data["psma_pet"] = None
        else:
            data["psma_pet"]["lesions"] = lesions

    result = selection(mutate)
    assert bool(hits(result, "disease.not_metastatic")) is flagged


def test_egfr_series_from_creatinine_uses_the_age_on_each_day() -> None:
    from lutetia.guideline.course import egfr_series

    def born_late_in_the_year(data: Data) -> None:
        drop_labs("egfr")(data)
        data["patient"]["birth_date"] = "1950-02-01"

    data = copy.deepcopy(COURSE)
    born_late_in_the_year(data)
    ctx = Context(case_from_mapping(data))
    creatinine = {v.day: v.value for v in ctx.labs["creatinine"]}
    series = egfr_series(ctx)
    assert series
    for day, value, how in series:
        assert how == "computed (CKD-EPI 2021)"
        age = 75 if day < date(2026, 2, 1) else 76
        assert value == pytest.approx(egfr_ckd_epi_2021(creatinine[day], age, "male"))


@pytest.mark.parametrize(
    ("direction", "inclusive", "side", "meets"),
    [
        # Exactly at the 1e-9 relative margin around the edge: inside counts as on the edge.
        ("decrease", True, +1, True),  # ≤ limit: limit + margin still meets
        ("decrease", False, -1, False),  # < limit: limit − margin does not yet
        ("increase", True, -1, True),  # ≥ limit: limit − margin still meets
        ("increase", False, +1, False),  # > limit: limit + margin does not yet
    ],
)
def test_ctcae_edge_margin_is_closed_at_exactly_the_margin(
    direction: Any, inclusive: bool, side: int, meets: bool
) -> None:
    from lutetia.clinical.ctcae import _meets

    limit = 1.5 * 1.2
    value = limit + side * 1e-9 * abs(limit)  # the same arithmetic as the margin itself
    assert _meets(value, limit, direction, inclusive) is meets


@pytest.mark.parametrize(("off", "flagged"), [(0.995, False), (1.005, False), (0.985, True)])
def test_a_reduced_activity_is_recognised_within_1_percent(off: float, flagged: bool) -> None:
    # 7.4 × 0.8 = 5.92 GBq is below the 6 GBq of practice but explained by one reduction;
    # 1 % rounding on the prescription is still that reduction, 1.5 % is not.
    result = course(setting("course.planned_activity_gbq", 7.4 * 0.8 * off))
    assert bool(hits(result, "regimen.activity_range")) is flagged


@pytest.mark.parametrize(("activity", "flagged"), [(9.3, False), (9.3 * (1 + 1e-9), True)])
def test_activity_exactly_at_the_upper_practice_bound_is_not_flagged(
    activity: float, flagged: bool
) -> None:
    result = course(setting("course.planned_activity_gbq", activity))
    found = hits(result, "regimen.activity_range")
    assert bool(found) is flagged
    if flagged:
        assert "above 9.3 GBq" in found[0].message


def test_table1_is_checked_with_an_egfr_alone() -> None:
    # No creatinine, no measured GFR: a fresh reported eGFR is renal function enough.
    result = selection(drop_labs("creatinine"))
    assert result.recommendation != "insufficient_data"
    missing = hits(result, "labs.missing")
    assert missing
    assert missing[0].effect != "insufficient"


def test_next_cycle_passes_the_site_settings_to_its_selection() -> None:
    # Consent signed 2026-01-05 11:00 for cycle 1 on 2026-01-08: enough under the default
    # 24 h lead, not under a site's 200 h; next-cycle's selection must use the site's lead.
    case = case_from_mapping(copy.deepcopy(COURSE))
    default = next_cycle(case)
    strict = next_cycle(case, Settings(consent_lead_h=200.0))
    assert not [f for f in default.selection.findings if f.code.startswith("consent")]
    assert [f.code for f in strict.selection.findings if f.code.startswith("consent")]


def test_every_decided_grade_reports_nothing_missing() -> None:
    """A decided grade never lists a missing reference, for every term, over values from far
    below to far above its limits, with each reference given or not (grade() relies on it)."""
    import itertools

    from lutetia.clinical.ctcae import TERMS

    checked = 0
    for analyte in TERMS:
        for value, lln, uln, baseline in itertools.product(
            [0.0, 0.1, 0.5, 0.9, 1.0, 1.3, 1.6, 2.0, 2.6, 3.2, 4.0, 6.5, 12.0, 30.0, 300.0],
            [None, 1.0],
            [None, 1.0],
            [None, 0.5, 1.0, 2.0],
        ):
            result = grade(analyte, value, lln=lln, uln=uln, baseline=baseline)
            if result.grade is not None:
                assert result.missing == (), (analyte, value, lln, uln, baseline)
                checked += 1
    assert checked > 500


def test_a_decided_grade_reports_nothing_missing() -> None:
    # Platelets 30 × 10⁹/L is grade 3 without an LLN: the LLN it lacks changes nothing.
    result = grade("platelets", 30.0)
    assert result.grade == 3
    assert result.missing == ()
    # Creatinine 3.5 mg/dL with a baseline of 1.0 and no ULN: at least grade 3, not decided.
    undecided = grade("creatinine", 3.5, baseline=1.0)
    assert undecided.grade is None
    assert undecided.missing == ("uln",)


def test_schedule_keeps_a_planned_cycle_beyond_six_under_individual_dosimetry() -> None:
    data = copy.deepcopy(COMPLETE)
    data["course"]["individual_dosimetry"] = True
    data["course"]["planned_date"] = "2026-09-17"
    dates = cycle_dates(case_from_mapping(data), EANM_SNMMI_2023)
    assert len(dates) == 7
    assert dates[-1][:2] == (date(2026, 9, 17), False)


# --- Further guards and branches ----------------------------------------------------------


def test_ctcae_bound_of_2_is_written_as_a_multiple() -> None:
    # ALP with an abnormal baseline: grade 1 is "2.0 - 2.5 x baseline" (inclusive).
    result = grade("alp", 200.0, uln=40.0, baseline=100.0)
    assert result.grade == 1
    assert result.criterion == "grade 1: >= 2 x baseline"


def test_pcwg3_undetectable_baseline_gives_no_response() -> None:
    result = pcwg3(PsaValue(D0, 0.0), _values((30, 0.0), (60, 0.0)))
    assert not result.response
    assert not result.unconfirmed_response


def test_pcwg3_response_from_a_baseline_below_1_ng_ml() -> None:
    assert pcwg3(PsaValue(D0, 0.8), _values((30, 0.3), (60, 0.3))).response


def test_selection_labs_age_to_the_planned_date() -> None:
    # Labs of 2026-10-14 are 6 days old on a first cycle planned for 2026-10-20.
    def planned(data: Data) -> None:
        data["course"] = {"cycles": [], "planned_date": "2026-10-20"}

    finding = expect(selection(planned), "labs.stale", True)
    assert finding is not None
    assert seen(finding)["psa"] == 6


@pytest.mark.parametrize(("planned", "words"), [(True, "The planned date"), (False, "as_of")])
def test_interval_names_what_it_measured_to(planned: bool, words: str) -> None:
    def shape(data: Data) -> None:
        if not planned:
            data["course"]["planned_date"] = None
        data["course"]["cycles"][1]["date"] = "2026-03-20"

    (finding,) = hits(course(shape), "regimen.interval")
    assert finding.message.startswith(words)


def test_consent_by_date_with_a_25_h_lead_needs_2_days() -> None:
    data = copy.deepcopy(COURSE)
    data["course"]["cycles"] = []
    data["course"]["planned_date"] = "2026-03-31"
    data["consent"]["signed_at"] = "2026-03-30"
    result = next_cycle(case_from_mapping(data), Settings(consent_lead_h=25.0))
    (finding,) = hits(result, "consent.missing")
    assert finding.details["earliest"] == "2026-04-01"


def test_egfr_computed_for_an_adult_of_18() -> None:
    def young(data: Data) -> None:
        data["patient"]["birth_date"] = "2008-01-01"
        drop_labs("egfr")(data)
        lab("creatinine", 1.8, day=SCHEDULED)(data)

    assert hits(course(young), "toxicity.egfr_loss")


def test_scheduled_grade_3_five_days_before_is_not_interim() -> None:
    day = "2026-03-28"
    result = course(move_lab("platelets", SCHEDULED, day), lab("platelets", 40.0, day=day))
    assert not hits(result, "toxicity.hematologic_grade3_interim")
    (finding,) = hits(result, "toxicity.hematologic_grade2_scheduled")
    assert finding.decision == "postpone"


def test_missing_safety_lab_postpones() -> None:
    result = course(drop_labs("platelets", SCHEDULED))
    (finding,) = hits(result, "labs.stale")
    assert finding.message.startswith("Older than 5 days")
    assert finding.decision == "postpone"
    missing = course(drop_labs("platelets"))
    (finding,) = hits(missing, "labs.missing")
    assert finding.decision == "postpone"
    assert missing.decision == "postpone"


def test_egfr_loss_without_a_baseline_uses_the_value_before_the_last_cycle() -> None:
    result = course(
        drop_labs("egfr", "2026-01-02"),
        drop_labs("creatinine", "2026-01-02"),
        lab("egfr", 100.0, day="2026-02-10"),
        lab("egfr", 59.0, day=SCHEDULED),
    )
    (finding,) = hits(result, "toxicity.egfr_loss")
    assert "the value before cycle 2" in finding.message


def test_finding_json_has_a_decision_only_when_it_decides() -> None:
    result = course(lab("platelets", 74.0, day=SCHEDULED))
    (decided,) = hits(result, "toxicity.hematologic_grade2_scheduled")
    assert decided.as_json()["decision"] == "reduce"
    (pcwg3_finding,) = hits(result, "response.pcwg3")
    assert "decision" not in pcwg3_finding.as_json()


def test_docetaxel_received_without_a_taxane_line_is_post_taxane() -> None:
    def options(data: Data) -> None:
        data["treatments"] = [t for t in data["treatments"] if t["class"] != "taxane"]

    assert selection(options).indication.code == "indication.post_taxane"


def test_cabazitaxel_given_by_name_is_not_a_candidate_any_more() -> None:
    def given(data: Data) -> None:
        data["taxane_options"]["cabazitaxel"] = "candidate"
        data["treatments"].append(
            {"name": "Cabazitaxel", "class": "taxane", "start": "2022-02-01", "end": "2022-06-01"}
        )

    post = selection(given).indication
    assert post.code == "indication.post_taxane"
    assert "a further taxane is already given" in post.finding.message
    candidate = selection(setting("taxane_options.cabazitaxel", "candidate"))
    assert candidate.indication.code == "indication.cabazitaxel_candidate"


def test_show_writes_units_only_when_given() -> None:
    assert show(5.0) == "5"
    assert show(5.0, "10*9/L") == "5 ×10⁹/L"
    assert show(1234.567, "U/L") == "1235 U/L"


# === Survivors of the mutmut run of 2026-12-01 (benchmarks/README.md, "Mutation testing") =====
#
# Each test below names the mutant class it kills: a comparison or boolean operator, a
# loop guard, or a string that is part of the output contract (finding code, decision,
# unit, detail key, error field).


# --- Management of side effects 3 and 6: eGFR loss and GFR < 30 --------------------------------


def test_egfr_exactly_30_after_a_large_loss_neither_reduces_nor_discontinues() -> None:
    # Item 3: "Acute loss of eGFR > 40% but still > 30 ml/min" reduces; item 6: "GFR loss to
    # < 30 ml/min" discontinues. 30 after 80 is a 62.5 % loss, but neither "> 30" nor "< 30".
    result = course(lab("egfr", 30.0, day=SCHEDULED))
    assert not hits(result, "toxicity.egfr_loss")
    assert not hits(result, "discontinue.gfr")
    # Just above 30 the same loss reduces (the comparator is strict on both sides).
    assert hits(course(lab("egfr", 30.001, day=SCHEDULED)), "toxicity.egfr_loss")


def test_renal_values_only_after_the_last_cycle_have_no_reference() -> None:
    # No eGFR or creatinine on or before a cycle: no loss can be measured, and nothing fails.
    result = course(drop_labs("egfr", "2026-01-02"), drop_labs("creatinine", "2026-01-02"))
    assert not hits(result, "toxicity.egfr_loss")
    assert result.decision == "proceed"


def test_egfr_not_computed_without_a_recorded_sex() -> None:
    # CKD-EPI 2021 needs the sex (Inker 2021, Table 2): without it, creatinine gives no eGFR.
    def unknown_sex(data: Data) -> None:
        data["patient"]["sex"] = None
        drop_labs("egfr")(data)
        lab("creatinine", 1.8, day=SCHEDULED)(data)

    assert not hits(course(unknown_sex), "toxicity.egfr_loss")


# --- Management of side effects 6: every AST/ALT and every event is looked at ----------------


def test_alt_is_checked_when_ast_has_no_usable_value() -> None:
    # AST only before the last cycle (skipped); ALT 8 × ULN after it still discontinues.
    result = course(drop_labs("ast", SCHEDULED), lab("alt", 400.0, day=SCHEDULED, uln=50))
    expect(result, "discontinue.liver", True, 250.0, ">", unit="U/L")
    assert result.decision == "discontinue"


def test_an_event_after_a_resolved_one_still_counts() -> None:
    # A resolved event is skipped; the next, unresolved grade 3 one still holds (item 4).
    def events(data: Data) -> None:
        data["course"]["adverse_events"] = [
            {"term": "Nausea", "grade": 3, "onset": "2026-03-01", "resolved": "2026-03-05"},
            {"term": "Fatigue", "grade": 3, "onset": "2026-03-20"},
        ]

    result = course(events)
    (finding,) = hits(result, "toxicity.nonhematologic_grade3")
    assert finding.details == {"event": "course.adverse_events[1]"}
    assert result.decision == "hold"


def test_every_gcsf_course_is_checked() -> None:
    # Item 1: "at least a 2-week interval between G-CSFs and injection", for each G-CSF.
    def two(data: Data) -> None:
        data["treatments"] += [
            {"name": "filgrastim", "class": "gcsf", "start": "2026-03-01"},
            {"name": "pegfilgrastim", "class": "gcsf", "start": "2026-03-20", "end": "2026-03-28"},
        ]

    result = course(two)
    ongoing, ended = hits(result, "toxicity.gcsf_interval")
    assert ongoing.value == Quantity(None, "d")
    assert ongoing.details["earliest"] is None
    assert ended.value == Quantity(5, "d")
    assert ended.details["earliest"] == "2026-04-11"
    assert result.decision == "postpone"
    assert result.earliest_date == date(2026, 4, 16)  # the ongoing one: planned + 2 weeks


def test_unknown_term_is_treated_as_non_hematologic_in_details() -> None:
    def event(data: Data) -> None:
        data["course"]["adverse_events"] = [
            {
                "term": "Odd thing",
                "grade": 3,
                "onset": "2026-03-20",
                "unacceptable_to_patient": True,
            }
        ]

    result = course(event)
    (unknown,) = hits(result, "toxicity.term_unknown")
    assert unknown.value == Quantity("Odd thing")
    assert unknown.details == {"event": "course.adverse_events[0]", "treated_as": "non_hematologic"}
    (unacceptable,) = hits(result, "discontinue.unacceptable_toxicity")
    assert unacceptable.value == Quantity("Odd thing")
    assert unacceptable.details == {"event": "course.adverse_events[0]"}
    assert result.decision == "discontinue"


def test_hematologic_event_outside_items_1_and_2_is_for_review() -> None:
    def event(data: Data) -> None:
        data["course"]["adverse_events"] = [
            {"term": "Lymphopenia", "grade": 3, "onset": "2026-03-20"}
        ]

    (finding,) = hits(course(event), "toxicity.hematologic_other")
    assert finding.value == Quantity(3, "{grade}")
    assert finding.details == {
        "event": "course.adverse_events[0]",
        "term": "Lymphocyte count decreased",
    }


# --- Follow-up 2: PSA ------------------------------------------------------------------------


def test_a_single_psa_after_the_flare_window_is_its_own_nadir() -> None:
    # No PSA before cycle 1: the one reliable value is the nadir, so no progression (and no
    # PCWG3 response, which needs a baseline).
    result = course(drop_labs("psa"), lab("psa", 50.0, unit="ng/mL", day=SCHEDULED))
    assert not hits(result, "response.psa_progression")
    assert not hits(result, "response.pcwg3")


def test_pcwg3_finding_details() -> None:
    (finding,) = hits(course(), "response.pcwg3")
    assert finding.value == Quantity(68.75, "%")
    # Baseline 48 ng/mL before cycle 1, 15 on 2026-03-30: 68.75 % down, not yet confirmed.
    assert finding.details == {
        "baseline_ng_ml": 48.0,
        "nadir_ng_ml": 15.0,
        "nadir_date": "2026-03-30",
        "psa50_confirmed": False,
        "pcwg3_progression_confirmed": False,
    }


# --- Process item 1 (consent) and item 11 (regimen) -----------------------------------------


def test_no_consent_before_the_first_cycle_postpones() -> None:
    def first_cycle(data: Data) -> None:
        data["course"]["cycles"] = []
        data["consent"]["signed_at"] = None

    result = course(first_cycle)
    (finding,) = hits(result, "consent.missing")
    assert finding.decision == "postpone"
    assert finding.value == Quantity(None)
    assert finding.details == {"earliest": "2026-04-02"}
    assert result.decision == "postpone"


def test_no_consent_after_given_cycles_is_reported_without_deciding() -> None:
    result = course(setting("consent.signed_at", None))
    (finding,) = hits(result, "consent.missing")
    assert finding.decision is None
    assert finding.value == Quantity(None)
    assert result.decision == "proceed"


def test_next_cycle_without_a_course_is_the_first_at_the_approved_activity() -> None:
    result = next_cycle(case_from_mapping(copy.deepcopy(SELECTION)))
    assert (result.decision, result.next_cycle, result.activity_gbq) == ("proceed", 1, 7.4)


def test_activity_2_percent_off_a_reduction_is_not_explained() -> None:
    # 7.4 × 0.8³ = 3.79 GBq is three 20 % reductions ("Management of side effects" 1–3);
    # 2 % above it is outside the 1 % tolerance and below 6 GBq: reported.
    result = course(setting("course.planned_activity_gbq", 7.4 * 0.8**3 * 1.02))
    (finding,) = hits(result, "regimen.activity_range")
    assert finding.value == Quantity(pytest.approx(7.4 * 0.8**3 * 1.02), "GBq")


# --- Reported values carry their unit (the contract of docs/assessment-format.md) ----------


def _liver_lesion(data: Data) -> None:
    data["psma_pet"]["lesions"].append({"site": "liver", "size_mm": 15, "suvmax": 25.0})


def _event_of(term: str, grade_: int, onset: str) -> Mutate:
    def mutate(data: Data) -> None:
        data["course"]["adverse_events"] = [{"term": term, "grade": grade_, "onset": onset}]

    return mutate


def _gcsf_ended(data: Data) -> None:
    data["treatments"].append(
        {"name": "filgrastim", "class": "gcsf", "start": "2026-03-20", "end": "2026-03-28"}
    )


def _worse(data: Data) -> None:
    data["course"]["wellbeing"] = [{"date": "2026-03-30", "status": "worse", "note": "tired"}]


EGFR = "mL/min/{1.73_m2}"
COURSE_VALUES: list[tuple[str, list[Mutate], Data, Quantity]] = [
    (
        "discontinue.liver",
        [lab("alt", 400.0, day=SCHEDULED, uln=50)],
        COURSE,
        Quantity(400.0, "U/L"),
    ),
    (
        "toxicity.liver_with_metastases",
        [_liver_lesion, lab("ast", 400.0, day=SCHEDULED, uln=50)],
        COURSE,
        Quantity(400.0, "U/L"),
    ),
    ("discontinue.gfr", [lab("egfr", 25.0, day=SCHEDULED)], COURSE, Quantity(25.0, EGFR)),
    ("toxicity.egfr_loss", [lab("egfr", 40.0, day=SCHEDULED)], COURSE, Quantity(50.0, "%")),
    (
        "toxicity.hematologic_grade3_interim",
        [lab("platelets", 40.0, day="2026-03-10")],
        COURSE,
        Quantity(3, "{grade}"),
    ),
    (
        "toxicity.hematologic_grade2_scheduled",
        [lab("platelets", 74.0, day=SCHEDULED)],
        COURSE,
        Quantity(2, "{grade}"),
    ),
    (
        "toxicity.hematologic_grade2_scheduled",
        [lab("platelets", 40.0, day=SCHEDULED)],
        COURSE,
        Quantity(3, "{grade}"),
    ),
    (
        "toxicity.nonhematologic_grade3",
        [_event_of("Fatigue", 3, "2026-03-20")],
        COURSE,
        Quantity(3, "{grade}"),
    ),
    (
        "discontinue.unresolved_toxicity",
        [_event_of("Diarrhea", 4, "2026-02-25")],
        COURSE,
        Quantity(36, "d"),
    ),
    ("toxicity.gcsf_interval", [_gcsf_ended], COURSE, Quantity(5, "d")),
    (
        "regimen.interval",
        [setting("course.planned_date", "2026-03-05")],
        COURSE,
        Quantity(14, "d"),
    ),
    (
        "regimen.activity_range",
        [setting("course.planned_activity_gbq", 9.5)],
        COURSE,
        Quantity(9.5, "GBq"),
    ),
    ("regimen.max_cycles", [], COMPLETE, Quantity(6)),
    (
        "response.psa_progression",
        [lab("psa", 0.5, day="2026-03-10"), lab("psa", 1.0, day=SCHEDULED)],
        COURSE,
        Quantity(1.0, "ng/mL"),
    ),
    ("followup.wellbeing_worse", [_worse], COURSE, Quantity("worse")),
]


@pytest.mark.parametrize(("code", "mutations", "base", "value"), COURSE_VALUES)
def test_course_findings_report_the_value_and_its_unit(
    code: str, mutations: list[Mutate], base: Data, value: Quantity
) -> None:
    findings = hits(course(*mutations, base=base), code)
    assert value in [f.value for f in findings], [f.value for f in findings]


SELECTION_VALUES: list[tuple[str, list[Mutate], Quantity]] = [
    ("prognostic.high_psa", [lab("psa", 700.0)], Quantity(700.0, "ng/mL")),
    ("prognostic.high_ldh", [lab("ldh", 300.0)], Quantity(300.0, "U/L")),
    ("prognostic.high_crp", [lab("crp", 12.0)], Quantity(12.0, "mg/L")),
    ("prognostic.high_alp", [lab("alp", 200.0)], Quantity(200.0, "U/L")),
    ("prognostic.low_hemoglobin", [lab("hemoglobin", 12.0)], Quantity(12.0, "g/dL")),
    ("imaging.high_uptake", [], Quantity(1.0, "1")),
]


@pytest.mark.parametrize(("code", "mutations", "value"), SELECTION_VALUES)
def test_selection_findings_report_the_value_and_its_unit(
    code: str, mutations: list[Mutate], value: Quantity
) -> None:
    (finding,) = hits(selection(*mutations), code)
    assert finding.value == value


def test_short_psa_doubling_time_reports_months() -> None:
    (finding,) = hits(
        selection(_psa_days((56, 1.0), (28, 1.5), (0, 3.0))), "prognostic.short_psa_doubling_time"
    )
    assert finding.value is not None
    assert finding.value.unit == "mo"


def test_psa_doubling_time_of_exactly_3_months_is_not_short() -> None:
    # CUTOFFS: "PSA doubling time < 3 months" (D'Amico 2003). These three values (56 days)
    # regress to a doubling time of exactly 3.0 months in binary floating point.
    exactly = _psa_days((56, 1.0), (28, 1.236823201577823), (0, 1.5297316319612162))
    assert psa_doubling_time_months(_ctx(exactly)) == 3.0
    assert not hits(selection(exactly), "prognostic.short_psa_doubling_time")
    shorter = _psa_days((56, 1.0), (28, 1.236823201577823), (0, 1.53))
    assert hits(selection(shorter), "prognostic.short_psa_doubling_time")


# --- Selection: indication and scope --------------------------------------------------------


@pytest.mark.parametrize(("treatments", "naad_progressed"), [("none", None), ("naad", None)])
def test_indication_undetermined_without_a_naad_progression_record(
    treatments: str, naad_progressed: bool | None
) -> None:
    # Indications 1–3 need progression on a NAAD: no history, or a NAAD without the outcome.
    def history(data: Data) -> None:
        if treatments == "none":
            data["treatments"] = []
        else:
            data["treatments"] = [
                {"name": "enzalutamide", "class": "naad", "start": "2019-02-01",
                 "progressed": naad_progressed}
            ]  # fmt: skip

    result = selection(history)
    assert result.indication.code == "indication.undetermined"
    assert result.recommendation == "insufficient_data"


@pytest.mark.parametrize("docetaxel", ["contraindicated", "unfit"])
def test_taxane_naive_docetaxel_unsuitable(docetaxel: str) -> None:
    # Indications 3: taxane-naive, NAAD progression, docetaxel not an option (moderate).
    def naive(data: Data) -> None:
        data["treatments"] = [t for t in data["treatments"] if t["class"] != "taxane"]
        data["taxane_options"] = {"docetaxel": docetaxel, "cabazitaxel": None}

    result = selection(naive)
    assert result.indication.code == "indication.taxane_naive_docetaxel_unsuitable"
    assert result.recommendation == "consider"


def test_cabazitaxel_received_by_option_alone_is_post_taxane() -> None:
    # Indications 1 (VISION): a taxane given counts whether recorded as a line or an option.
    def option_only(data: Data) -> None:
        data["treatments"] = [t for t in data["treatments"] if t["class"] != "taxane"]
        data["taxane_options"] = {"docetaxel": None, "cabazitaxel": "received"}

    assert selection(option_only).indication.code == "indication.post_taxane"


@pytest.mark.parametrize(
    ("ligand", "code"),
    [
        ("177Lu-PSMA-617", None),
        ("[177Lu]Lu-PSMA-617", None),
        (" [177Lu]Lu-PSMA-617", None),
        ("177Lu-PSMA-I&T", "scope.off_label"),
        ("[177Lu]Lu-PSMA-I&T", "scope.off_label"),
        ("Lu-177-PSMA-I&T", "scope.off_label"),
        ("177Lu-DOTATATE", "scope.radiopharmaceutical"),
    ],
)
def test_scope_of_the_guideline(ligand: str, code: str | None) -> None:
    # Scope: [177Lu]Lu-PSMA-617 (approved) and [177Lu]Lu-PSMA-I&T (off-label) only.
    result = course(setting("course.radiopharmaceutical", ligand))
    found = [f for f in result.findings if f.code.startswith("scope.")]
    assert [f.code for f in found] == ([code] if code else [])
    for f in found:
        assert f.value == Quantity(ligand)


# --- The schedule ---------------------------------------------------------------------------


def test_schedule_from_a_planned_first_cycle_at_the_approved_activity() -> None:
    data = copy.deepcopy(COURSE)
    data["course"]["cycles"] = []
    dates = cycle_dates(case_from_mapping(data), EANM_SNMMI_2023)
    assert [a for _, _, a in dates] == [7.4] * 6
    assert dates[0][0] == date(2026, 4, 2)
    given = [
        e.as_json() for e in schedule(case_from_mapping(copy.deepcopy(COURSE)), EANM_SNMMI_2023)
    ]
    cycles = [e for e in given if e["kind"] == "cycle"]
    assert [(e["cycle"], e["given"]) for e in cycles[:3]] == [(1, True), (2, True), (3, False)]
    kinds = {e["kind"] for e in given}
    assert {"post_therapy_scan", "wellbeing"} <= kinds


# --- CTCAE v5.0, PCWG3, CKD-EPI: the calculators ----------------------------------------------


def test_ctcae_range_reports_no_criterion() -> None:
    # Creatinine 2 × baseline without the ULN: grade 2–4, so no single criterion applies.
    result = grade("creatinine", 2.0, baseline=1.0)
    assert result.criterion == ""


def test_ctcae_edge_margin_is_relative_to_the_limit() -> None:
    # AST 5 × ULN 200 = 1000 U/L is grade 2 (">3.0 - 5.0 x ULN"); 1e-10 relative above the
    # edge is still "at" it (the 1e-9 relative margin), 1e-8 above is grade 3.
    assert grade("ast", 1000.0 * (1 + 1e-10), uln=200.0).grade == 2
    assert grade("ast", 1000.0 * (1 + 1e-8), uln=200.0).grade == 3


def test_ctcae_rejects_a_negative_baseline_naming_it() -> None:
    with pytest.raises(BadInputError) as error:
        grade("ast", 40.0, uln=40.0, baseline=-1.0)
    assert error.value.field == "baseline"


@pytest.mark.parametrize("bad", [-1.0, float("inf")])
def test_psa_values_must_be_finite_and_non_negative(bad: float) -> None:
    with pytest.raises(BadInputError) as error:
        doubling_time(_values((0, 1.0), (30, bad)))
    assert error.value.field == "psa[1]"
    with pytest.raises(BadInputError) as error:
        pcwg3(PsaValue(D0, 10.0), _values((30, bad)), field="labs.psa")
    assert error.value.field == "labs.psa[0]"


def test_psa_errors_name_the_default_field() -> None:
    with pytest.raises(BadInputError) as error:
        doubling_time(_values((0, 1.0)))
    assert error.value.field == "psa"
    with pytest.raises(BadInputError) as error:
        doubling_time(_values((0, 1.0), (0, 2.0)))
    assert error.value.field == "psa"
    with pytest.raises(BadInputError) as error:
        pcwg3(PsaValue(D0, 10.0), [PsaValue(D0, 5.0)])
    assert error.value.field == "psa"


def test_pcwg3_decline_from_a_baseline_below_1_ng_ml() -> None:
    assert pcwg3(PsaValue(D0, 0.8), _values((30, 0.3))).max_decline_percent == pytest.approx(62.5)


def test_pcwg3_response_confirmed_by_the_next_value_not_only_the_last() -> None:
    # Scher 2016, Table 2: a ≥ 50 % decline confirmed by a second value ≥ 3 weeks later.
    # Day 56 confirms day 28; a later rise (day 84) does not undo it.
    result = pcwg3(PsaValue(D0, 10.0), _values((28, 4.0), (56, 4.0), (84, 8.0)))
    assert result.response
    assert result.response_confirmed_on == D0 + timedelta(days=56)


def test_pcwg3_progression_confirmed_by_the_next_value_not_only_the_last() -> None:
    # No decline: ≥ 25 % and ≥ 2 ng/mL over baseline from week 12, confirmed ≥ 3 weeks later.
    result = pcwg3(PsaValue(D0, 10.0), _values((90, 14.0), (120, 15.0), (150, 11.0)))
    assert result.progression
    assert result.progression_date == D0 + timedelta(days=90)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: egfr_ckd_epi_2021(-1.0, 60, "male"), "creatinine"),
        (lambda: egfr_ckd_epi_2021(1.0, 60, "other"), "sex"),  # type: ignore[arg-type]
        (lambda: creatinine_clearance_cockcroft_gault(1.0, 60, 70, "x"), "sex"),  # type: ignore[arg-type]
        (lambda: creatinine_clearance_cockcroft_gault(1.0, 60, 10, "male"), "weight_kg"),
        (lambda: creatinine_clearance_cockcroft_gault(1.0, 10, 70, "male"), "age"),
    ],
)
def test_renal_errors_name_the_field(call: Any, field: str) -> None:
    with pytest.raises(BadInputError) as error:
        call()
    assert error.value.field == field
    assert error.value.reason
