"""Dosimetry against analytic integrals, independent numerical integration and published values.

* TIA of Σ Aᵢ e^{−λᵢt} is Σ Aᵢ/λᵢ (MIRD Pamphlet 21, eq. 6): exact for noiseless data.
* AICc (Burnham & Anderson 2002, eq. 2.2) picks the generating model on noiseless data.
* Sphere escape probability (Case, de Hoffmann & Placzek 1953) against numerical quadrature.
* Lea–Catcheside G (Dale 1985) against numerical double integration.
* VISION population values: guideline, Dosimetry — 6 × 7.4 GBq give kidneys 19 ± 7.3 Gy
  and red marrow 1.5 ± 0.9 Gy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lutetia.dosimetry.absorbed import (
    absorbed_dose,
    escape_probability,
    photon_absorbed_fraction,
)
from lutetia.dosimetry.bed import bed_from_rates, bed_mono, lea_catcheside_g
from lutetia.dosimetry.kinetics import (
    ModelName,
    TimeActivity,
    fit_model,
    select_model,
    trapezoid,
)
from lutetia.dosimetry.population import course_estimates, plan_cycles
from lutetia.dosimetry.stp import estimate, haenscheid_ratio
from lutetia.errors import BadInputError
from lutetia.nuclides import nuclide

LP = math.log(2) / (6.647 * 24)
TIMES = (1.0, 4.0, 12.0, 24.0, 48.0, 72.0, 96.0, 120.0, 168.0)


def series(function: Callable[[float], float], times: tuple[float, ...] = TIMES) -> TimeActivity:
    return TimeActivity(times, tuple(float(function(t)) for t in times))


@settings(max_examples=25, deadline=None)
@given(
    a0=st.floats(min_value=1, max_value=1e4),
    half_life=st.floats(min_value=5, max_value=159),
)
def test_tia_of_a_mono_exponential_is_a0_over_lambda(a0: float, half_life: float) -> None:
    lam = math.log(2) / half_life
    fit = fit_model(series(lambda t: a0 * math.exp(-lam * t)), "mono")
    assert fit.tia_mbq_h == pytest.approx(a0 / lam, rel=1e-5)


def test_bi_exponential_tia() -> None:
    def f(t: float) -> float:
        return 60 * math.exp(-0.3 * t) + 40 * math.exp(-0.02 * t)

    fit = fit_model(series(f), "bi")
    assert fit.tia_mbq_h == pytest.approx(60 / 0.3 + 40 / 0.02, rel=1e-5)


def test_uptake_washout_tia() -> None:
    lw, lu = 0.02, 0.6

    def f(t: float) -> float:
        return 100 * (math.exp(-lw * t) - math.exp(-lu * t))

    fit = fit_model(series(f), "uptake_washout")
    assert fit.tia_mbq_h == pytest.approx(100 * (1 / lw - 1 / lu), rel=1e-5)
    assert fit.effective_half_life_h == pytest.approx(math.log(2) / lw, rel=1e-5)


@pytest.mark.parametrize(
    ("generator", "expected"),
    [
        (lambda t: 80 * math.exp(-0.02 * t), "mono"),
        (lambda t: 50 * math.exp(-0.25 * t) + 50 * math.exp(-0.015 * t), "bi"),
        (lambda t: 100 * (math.exp(-0.018 * t) - math.exp(-0.7 * t)), "uptake_washout"),
    ],
)
def test_aicc_picks_the_generating_model(
    generator: Callable[[float], float], expected: str
) -> None:
    assert select_model(series(generator)).model == expected


def test_effective_decay_never_slower_than_physical() -> None:
    # A region whose activity "decays" more slowly than 177Lu itself: impossible; clamped.
    fit = fit_model(series(lambda t: 50 * math.exp(-0.5 * LP * t)), "mono")
    assert fit.parameters["lambda1_per_h"] == pytest.approx(LP, rel=1e-6)


def test_tia_uncertainty_from_covariance() -> None:
    lam = 0.02
    times = (4.0, 24.0, 48.0, 72.0, 120.0)
    values = tuple(100 * math.exp(-lam * t) for t in times)
    small = fit_model(TimeActivity(times, values, tuple(0.02 * v for v in values)), "mono")
    large = fit_model(TimeActivity(times, values, tuple(0.04 * v for v in values)), "mono")
    assert small.tia_sd_mbq_h is not None
    assert large.tia_sd_mbq_h is not None
    # With absolute sigma the SD scales with the point SDs.
    assert large.tia_sd_mbq_h == pytest.approx(2 * small.tia_sd_mbq_h, rel=1e-3)
    # Independent check: propagate by finite differences through A0/λ with the fit covariance
    # reconstructed from the Jacobian J (cov = (JᵀWJ)⁻¹).
    a0, lm = 100.0, lam
    jac = np.array([[math.exp(-lm * t), -a0 * t * math.exp(-lm * t)] for t in times])
    weights = np.diag([1 / (0.02 * v) ** 2 for v in values])
    cov = np.linalg.inv(jac.T @ weights @ jac)
    gradient = np.array([1 / lm, -a0 / lm**2])
    assert small.tia_sd_mbq_h == pytest.approx(math.sqrt(gradient @ cov @ gradient), rel=1e-3)


def test_trapezoid_conventions() -> None:
    # Constant-then-physical-decay data: head triangle + rectangles + physical tail.
    points = TimeActivity((2.0, 4.0), (10.0, 10.0))
    fit = trapezoid(points)
    assert fit.tia_mbq_h == pytest.approx(0.5 * 2 * 10 + 2 * 10 + 10 / LP)
    fitted = trapezoid(TimeActivity((2.0, 4.0, 6.0), (10.0, 8.0, 6.4)), tail="fitted")
    assert fitted.parameters["tail_lambda_per_h"] == pytest.approx(math.log(8 / 6.4) / 2)


@pytest.mark.parametrize(
    ("times", "values", "field"),
    [
        ((1.0, 2.0), (1.0, -1.0), "activity_mbq[1]"),
        ((2.0, 1.0), (1.0, 1.0), "time_h[1]"),
        ((1.0, 1.0), (1.0, 1.0), "time_h[1]"),
        ((1.0, 2.0), (1.0, float("nan")), "activity_mbq[1]"),
    ],
)
def test_bad_points(times: tuple[float, ...], values: tuple[float, ...], field: str) -> None:
    with pytest.raises(BadInputError) as raised:
        TimeActivity(times, values)
    assert raised.value.field == field


def test_fewer_points_than_parameters() -> None:
    with pytest.raises(BadInputError, match="parameters"):
        fit_model(TimeActivity((1.0, 2.0, 3.0), (3.0, 2.0, 1.0)), "bi")


def _escape_by_quadrature(mu: float, radius: float) -> float:
    rs = np.linspace(0, radius, 801)
    cosines = np.linspace(-1, 1, 801)
    r, c = np.meshgrid(rs, cosines, indexing="ij")
    path = -r * c + np.sqrt(radius**2 - r**2 * (1 - c**2))
    inner = np.trapezoid(np.exp(-mu * path), cosines, axis=1) / 2
    return float(3 / radius**3 * np.trapezoid(rs**2 * inner, rs))


@pytest.mark.parametrize("mu_r", [0.05, 0.3, 1.0, 3.0])
def test_escape_probability_against_quadrature(mu_r: float) -> None:
    assert escape_probability(mu_r) == pytest.approx(_escape_by_quadrature(mu_r, 1.0), rel=2e-4)


def test_photon_absorbed_fraction_limits() -> None:
    assert photon_absorbed_fraction(0.208366, 0.001) < 0.01
    assert 0.9 < photon_absorbed_fraction(0.208366, 1e9) <= 1.0
    assert photon_absorbed_fraction(0.11295, 100) < photon_absorbed_fraction(0.11295, 1000)


def test_electron_dose_is_local_deposition() -> None:
    # 1000 MBq·h in 100 g: 3.6e12 decays × E_np (ICRP-107) × 1.602176634e-13 J/MeV / 0.1 kg.
    result = absorbed_dose(1000.0, 100.0)
    expected = 3.6e12 * nuclide().non_penetrating_mev * 1.602176634e-13 / 0.1
    assert result.electron_gy == pytest.approx(expected, rel=1e-12)
    assert 0 < result.photon_gy < 0.05 * result.electron_gy


@given(
    tia=st.floats(min_value=0, max_value=1e6),
    factor=st.floats(min_value=0.1, max_value=10),
    mass=st.floats(min_value=1, max_value=5000),
)
def test_dose_is_linear_in_activity(tia: float, factor: float, mass: float) -> None:
    assert absorbed_dose(tia * factor, mass).absorbed_dose_gy == pytest.approx(
        factor * absorbed_dose(tia, mass).absorbed_dose_gy, rel=1e-9, abs=1e-300
    )


def test_mass_must_be_positive() -> None:
    with pytest.raises(BadInputError, match="--mass-g"):
        absorbed_dose(100, 0)


@given(teff=st.floats(min_value=5, max_value=150), factor=st.sampled_from([1.0, 2.0]))
def test_haenscheid_exact_at_one_and_two_half_lives(teff: float, factor: float) -> None:
    lam = math.log(2) / teff
    time_h = factor * teff
    result = estimate(
        activity_mbq=100 * math.exp(-lam * time_h), time_h=time_h, method="haenscheid"
    )
    assert result.tia_mbq_h == pytest.approx(100 / lam, rel=1e-9)
    assert haenscheid_ratio(time_h, teff) == pytest.approx(1.0)


@given(teff=st.floats(min_value=5, max_value=150), time_h=st.floats(min_value=1, max_value=200))
def test_madsen_exact_with_the_true_half_life(teff: float, time_h: float) -> None:
    lam = math.log(2) / teff
    result = estimate(
        activity_mbq=100 * math.exp(-lam * time_h), time_h=time_h, method="madsen", teff_h=teff
    )
    assert result.tia_mbq_h == pytest.approx(100 / lam, rel=1e-9)


def test_stp_warns_outside_the_accurate_window() -> None:
    early = estimate(activity_mbq=50, time_h=4, method="haenscheid", region="kidneys")
    assert any("10 %" in w for w in early.warnings)
    marrow = estimate(activity_mbq=5, time_h=48, method="madsen", region="bone_marrow")
    assert any("least reliable" in w for w in marrow.warnings)


def _g_by_quadrature(amplitudes: list[float], lambdas: list[float], repair_h: float) -> float:
    mu = math.log(2) / repair_h
    ts = np.linspace(0, 1500, 6001)
    rate = np.zeros_like(ts)
    for a, lam in zip(amplitudes, lambdas, strict=True):
        rate += a * np.exp(-lam * ts)
    inner = np.zeros_like(ts)
    step = ts[1] - ts[0]
    for i in range(1, len(ts)):  # ∫₀ᵗ Ḋ(s) e^{−μ(t−s)} ds by recursion
        inner[i] = inner[i - 1] * math.exp(-mu * step) + step / 2 * (
            rate[i] + rate[i - 1] * math.exp(-mu * step)
        )
    dose = float(np.trapezoid(rate, ts))
    return float(2 * np.trapezoid(rate * inner, ts) / dose**2)


@pytest.mark.parametrize(
    ("amplitudes", "lambdas"),
    [([0.1], [0.0173]), ([0.05, 0.08], [0.3, 0.015]), ([0.2, -0.2], [0.015, 0.8])],
)
def test_lea_catcheside_against_quadrature(amplitudes: list[float], lambdas: list[float]) -> None:
    assert lea_catcheside_g(amplitudes, lambdas, 2.8) == pytest.approx(
        _g_by_quadrature(amplitudes, lambdas, 2.8), rel=5e-3
    )


def test_bed_mono_closed_form() -> None:
    # BED = D (1 + D/(α/β) · λ/(λ + μ)), Dale 1985.
    lam, mu = math.log(2) / 40, math.log(2) / 2.8
    assert bed_mono(10, 40) == pytest.approx(10 * (1 + 10 / 2.6 * lam / (lam + mu)))
    assert bed_from_rates([10 * lam], [lam]) == pytest.approx(bed_mono(10, 40))


@given(dose=st.floats(min_value=0.01, max_value=50), teff=st.floats(min_value=1, max_value=159.5))
def test_bed_at_least_dose(dose: float, teff: float) -> None:
    assert bed_mono(dose, teff) >= dose


def test_vision_population_matches_the_guideline() -> None:
    estimates = {e.organ: e for e in course_estimates([7.4] * 6)}
    # Guideline, Dosimetry: cumulative kidneys 19 ± 7.3 Gy, red marrow 1.5 ± 0.9 Gy.
    assert estimates["kidneys"].cumulative_gy == pytest.approx(19, abs=0.5)
    assert estimates["kidneys"].cumulative_sd_gy == pytest.approx(7.3, abs=0.3)
    assert estimates["red_marrow"].cumulative_gy == pytest.approx(1.5, abs=0.1)
    assert estimates["red_marrow"].cumulative_sd_gy == pytest.approx(0.9, abs=0.05)
    assert estimates["lacrimal_glands"].per_cycle_gy[0] == pytest.approx(2.1 * 7.4)


def test_plan_cycles() -> None:
    plan = plan_cycles(organ="kidneys", gy_per_gbq=0.43, activity_gbq=7.4, teff_h=40, target_gy=5)
    assert plan.cycles_within_absorbed_limit == math.floor(23 / (0.43 * 7.4))
    assert plan.bed_per_cycle_gy == pytest.approx(bed_mono(0.43 * 7.4, 40))
    assert plan.bed_per_cycle_gy is not None
    assert plan.cycles_within_bed_limit == math.floor(40 / plan.bed_per_cycle_gy)
    assert plan.activity_for_target_gbq == pytest.approx(5 / 0.43)
    risky = plan_cycles(
        organ="kidneys", gy_per_gbq=0.43, activity_gbq=7.4, teff_h=40, risk_factors=True
    )
    assert risky.bed_limit is not None
    assert risky.bed_limit.limit_gy == 28
    marrow = plan_cycles(
        organ="red_marrow", gy_per_gbq=0.035, activity_gbq=7.4, already_absorbed_gy=1.0
    )
    assert marrow.cycles_within_absorbed_limit == math.floor(1.0 / (0.035 * 7.4))


# --- fits that do not describe their points (review of 2026-12-02, docs/hazards.md H-M22) -----


def _constant(value: float) -> Callable[[float], float]:
    return lambda _t: value


@pytest.mark.parametrize(
    ("fitted", "warned"),
    [(120.0 * (1 + 1e-9), True), (120.0 * (1 - 1e-9), False), (80.0 * (1 - 1e-9), True),
     (80.0 * (1 + 1e-9), False), (100.0, False)],
)  # fmt: skip
def test_a_point_missed_by_more_than_20_percent_is_warned(fitted: float, warned: bool) -> None:
    from lutetia.dosimetry.kinetics import MAX_POINT_MISFIT, fit_quality_warnings

    assert MAX_POINT_MISFIT == 0.20
    points = TimeActivity((4.0, 24.0, 48.0), (100.0, 100.0, 100.0))
    said = fit_quality_warnings(points, "mono", _constant(fitted))
    assert bool(said) is warned
    if warned:
        assert said[0].startswith(
            "the fitted mono curve misses 3 of the 3 points by more than 20 %"
        )
        assert "4 h: measured 100 MBq" in said[0]


@pytest.mark.parametrize(
    ("model", "n", "warned"),
    [("mono", 2, False), ("mono", 3, False), ("uptake_washout", 3, True),
     ("uptake_washout", 4, False), ("bi", 4, True), ("bi", 5, False), ("tri", 6, True),
     ("tri", 7, False)],
)  # fmt: skip
def test_a_fit_with_as_many_parameters_as_points_is_warned(
    model: ModelName, n: int, warned: bool
) -> None:
    """H-M45: `dose tac --model bi` on four points gave a rest of body 29.6 GBq at t = 0
    (four times the administration) and a TIA 34 % high, without a word. The mono-exponential
    through two points (the two-time-point method, tail bounded by physical decay) is not
    warned."""
    from lutetia.dosimetry.kinetics import fit_quality_warnings

    times = (1.0, 4.0, 24.0, 48.0, 72.0, 96.0, 168.0)[:n]
    points = TimeActivity(times, tuple(100.0 * math.exp(-0.02 * t) for t in times))
    said = fit_quality_warnings(points, model, lambda t: 100.0 * math.exp(-0.02 * t))
    assert any("no degree of freedom left" in w for w in said) is warned
    if warned:
        assert said[0].startswith(f"{n} points and {n} parameters: the {model} fit")


@pytest.mark.parametrize(
    ("second", "sd", "warned"),
    [(105.0, None, False), (105.0 + 1e-9, None, True), (102.0, None, False),
     (100.0 + 2 * math.hypot(3.0, 4.0) + 1e-6, (3.0, 4.0, 1.0, 1.0), True),
     (100.0 + 2 * math.hypot(3.0, 4.0) - 1e-6, (3.0, 4.0, 1.0, 1.0), False)],
)  # fmt: skip
def test_a_rise_without_an_uptake_phase_is_warned(
    second: float, sd: tuple[float, ...] | None, warned: bool
) -> None:
    from lutetia.dosimetry.kinetics import MIN_RISE_FRACTION, MISFIT_SDS, fit_quality_warnings

    assert (MIN_RISE_FRACTION, MISFIT_SDS) == (0.05, 2.0)
    points = TimeActivity((4.0, 24.0, 48.0, 72.0), (100.0, second, 90.0, 85.0), sd)
    curve = _constant(95.0)  # within 20 % of every point: only the rise can be said
    said = fit_quality_warnings(points, "mono", curve)
    assert bool(said) is warned
    if warned:
        assert said[0].startswith("the activity rises from 4 h to 24 h (100 → ")
        assert "extrapolated back to 95 MBq at the administration" in said[0]
    # a model with an uptake phase follows a rise: nothing to say
    assert fit_quality_warnings(points, "uptake_washout", curve) == ()


@pytest.mark.parametrize(
    ("sd", "warned"), [(None, True), (15.0, True), (20.0 - 1e-9, True), (20.0 + 1e-9, False)]
)
def test_a_miss_within_two_sds_is_not_a_model_failure(sd: float | None, warned: bool) -> None:
    # A point 40 % off (40 MBq of 100): more than 20 %; with SDs it must also be > 2 SD.
    from lutetia.dosimetry.kinetics import fit_quality_warnings

    sds = None if sd is None else (sd, sd, sd)
    points = TimeActivity((4.0, 24.0, 48.0), (100.0, 100.0, 100.0), sds)
    said = fit_quality_warnings(points, "mono", _constant(140.0))
    assert bool([w for w in said if "misses" in w]) is warned


def test_a_good_fit_says_nothing_and_a_poor_one_says_why() -> None:
    clean = select_model(series(lambda t: 100.0 * math.exp(-0.02 * t)))
    assert not [w for w in clean.warnings if "misses" in w or "rises" in w]
    # bi-exponential kinetics seen at four points: only the mono-exponential can be fitted
    four = (4.0, 24.0, 48.0, 168.0)
    bi = select_model(series(lambda t: 80 * math.exp(-0.3 * t) + 20 * math.exp(-LP * t), four))
    assert bi.model == "mono"
    assert any("misses" in w for w in bi.warnings)


# --- the kidney course check of measured doses (issue 11: image dosimetry → BED, limits) -----


def test_kidney_course_adds_the_cycles_and_counts_the_further_ones() -> None:
    from lutetia.dosimetry.bed import LIMITS, kidney_course_check

    check = kidney_course_check(4.0, 5.0, already_gy=8.0, already_bed_gy=10.0)
    assert (check.absorbed_total_gy, check.bed_total_gy) == (12.0, 15.0)
    assert check.absorbed_limit is LIMITS["kidneys_absorbed"]
    assert check.bed_limit is LIMITS["kidneys_bed"]
    # absorbed: (23 − 12)/4 = 2.75 → 2; BED: (40 − 15)/5 = 5 → 5; the fewer
    assert check.further_cycles == 2
    assert check.warnings == ()
    risky = kidney_course_check(4.0, 5.0, already_gy=8.0, already_bed_gy=10.0, risk_factors=True)
    assert risky.bed_limit is LIMITS["kidneys_bed_risk"]
    assert risky.further_cycles == 2  # BED (28 − 15)/5 = 2.6 → 2


@pytest.mark.parametrize(
    ("absorbed", "bed", "further", "over"),
    [(23.0, 23.0, 0, ()), (23.0 + 1e-9, 24.0, 0, ("absorbed dose",)),
     (11.5, 20.0, 1, ()), (11.5, 20.0 + 1e-9, 0, ()), (5.0, 40.0 + 1e-9, 0, ("BED",))],
)  # fmt: skip
def test_kidney_course_limits_at_their_edges(
    absorbed: float, bed: float, further: int, over: tuple[str, ...]
) -> None:
    from lutetia.dosimetry.bed import kidney_course_check

    check = kidney_course_check(absorbed, bed)
    assert check.further_cycles == further
    said = [w for w in check.warnings if "exceeds" in w]
    assert [w.split("cumulative kidney ")[1].split(" ")[0] for w in said] == [
        o.split()[0] for o in over
    ]


def test_kidney_course_without_the_bed_already_received_says_so() -> None:
    from lutetia.dosimetry.bed import kidney_course_check

    check = kidney_course_check(4.0, 5.0, already_gy=8.0)
    assert check.bed_total_gy == 13.0  # 8 Gy counted as BED, its lower bound
    assert "lower bound" in check.warnings[0]
    assert kidney_course_check(4.0, 5.0).warnings == ()  # first cycle: nothing already


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"already_gy": 8.0, "already_bed_gy": 7.0}, "--kidney-already-bed-gy"),
     ({"already_gy": -1.0}, "--kidney-already-gy"),
     ({"already_gy": math.nan}, "--kidney-already-gy"),
     ({"already_bed_gy": 2e4}, "--kidney-already-bed-gy")],
)  # fmt: skip
def test_kidney_course_bad_input_names_the_option(kwargs: dict[str, float], field: str) -> None:
    from lutetia.dosimetry.bed import kidney_course_check

    with pytest.raises(BadInputError) as error:
        kidney_course_check(4.0, 5.0, **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


def test_kidney_course_messages_and_edges_word_for_word() -> None:
    # Mutation testing (2026-12-02) left messages, field names and exact edges untested.
    from lutetia.dosimetry.bed import kidney_course_check

    check = kidney_course_check(4.0, 5.0, already_gy=20.0)
    assert check.warnings == (
        "kidney BED already received not given (--kidney-already-bed-gy): counted as the 20 Gy "
        "already absorbed, its lower bound (BED ≥ D), so the BED total may be higher",
        "the cumulative kidney absorbed dose 24 Gy exceeds the 23 Gy limit (EBRT tolerance "
        "TD5/5 for the whole kidney (Emami B et al., Int J Radiat Oncol Biol Phys "
        "1991;21:109-122))",
    )
    assert kidney_course_check(4.0, 5.0, already_gy=0.5).warnings[0].startswith("kidney BED")
    # a BED equal to the absorbed dose, and a BED already equal to the dose already: accepted
    assert kidney_course_check(4.0, 4.0, already_gy=2.0, already_bed_gy=2.0).bed_total_gy == 6.0
    # a cycle that delivered nothing limits nothing: the further cycles come from the other
    assert kidney_course_check(0.0, 0.0).further_cycles == 10**9
    assert kidney_course_check(0.0, 0.0).absorbed_gy == 0.0
    assert kidney_course_check(2.0, 3.0).bed_gy == 3.0
    assert kidney_course_check(2.0, 3.0).absorbed_gy == 2.0
    cases = [
        ((-1.0, 5.0), {}, "absorbed_gy", "-1.0 Gy must be ≥ 0"),
        ((4.0, -1.0), {}, "bed_gy", "-1.0 Gy must be ≥ 0"),
        ((4.0, 3.0), {}, "bed_gy", "3 Gy is less than the absorbed 4 Gy"),
        ((4.0, 5.0), {"already_gy": 8.0, "already_bed_gy": 7.0}, "--kidney-already-bed-gy",
         "7 Gy is less than the 8 Gy already absorbed (--kidney-already-gy): a BED is never "
         "less than its absorbed dose"),
    ]  # fmt: skip
    for arguments, options, field, reason in cases:
        with pytest.raises(BadInputError) as error:
            kidney_course_check(*arguments, **options)  # type: ignore[arg-type]
        assert (error.value.field, error.value.reason) == (field, reason)


def test_fit_quality_warning_word_for_word_and_its_edges() -> None:
    from lutetia.dosimetry.kinetics import fit_quality_warnings

    points = TimeActivity((4.0, 24.0, 48.0), (100.0, 90.0, 0.5))
    said = fit_quality_warnings(points, "mono", lambda t: {4.0: 100.0, 24.0: 90.0}.get(t, 0.8))
    assert said == (
        "the fitted mono curve misses 1 of the 3 points by more than 20 % (48 h: measured "
        "0.5 MBq, fitted 0.8 MBq (+60 %)): the model does not describe these points (other "
        "kinetics, or a point off by motion, partial volume or a wrong time), so the TIA is "
        "unreliable",
    )
    two = fit_quality_warnings(points, "mono", lambda t: {4.0: 50.0, 24.0: 90.0}.get(t, 0.8))
    assert "(4 h: measured 100 MBq, fitted 50 MBq (-50 %); 48 h:" in two[0]
    # a point measured as zero cannot be missed by a fraction of itself
    zero = TimeActivity((4.0, 24.0, 48.0), (100.0, 90.0, 0.0))
    assert fit_quality_warnings(zero, "mono", lambda t: {4.0: 100.0, 24.0: 90.0}.get(t, 1.0)) == ()
    # exactly 20 % (and exactly 2 SDs) is not more than the limit
    exact = TimeActivity((4.0, 24.0), (100.0, 100.0))
    assert fit_quality_warnings(exact, "mono", lambda _t: 80.0) == ()
    sds = TimeActivity((4.0, 24.0), (100.0, 100.0), (15.0, 15.0))
    assert fit_quality_warnings(sds, "mono", lambda _t: 70.0) == ()  # 30 = 2 × 15
    assert fit_quality_warnings(sds, "mono", lambda _t: 69.0) != ()


def test_rise_warning_word_for_word_with_two_points_and_small_cycles() -> None:
    from lutetia.dosimetry.bed import kidney_course_check
    from lutetia.dosimetry.kinetics import fit_quality_warnings

    two = TimeActivity((4.0, 24.0), (100.0, 110.0))
    curve = {0.0: 101.0, 4.0: 100.0, 24.0: 105.0}.__getitem__
    assert fit_quality_warnings(two, "mono", curve) == (
        "the activity rises from 4 h to 24 h (100 → 110 MBq) but the mono model has no uptake "
        "phase: before 4 h the curve is extrapolated back to 101 MBq at the administration, so "
        "that part of the TIA is overestimated (the uptake–washout model follows a rise; chosen "
        "automatically it needs at least 5 points)",
    )
    # cycles of less than 1 Gy are counted too: (23 − 0.5)/0.5 = 45, (40 − 0.6)/0.6 = 65.67
    assert kidney_course_check(0.5, 0.6).further_cycles == 45
