"""Close-contact restriction periods against glowgreen, the independent reference.

Cormack J, Shearer J. Calculation of radiation exposures from patients to whom radioactive
materials have been administered. Phys Med Biol 1998;43:501-516
(doi:10.1088/0031-9155/43/3/003).

Lutetia computes the restriction periods itself (:mod:`lutetia.protection.contact`);
glowgreen 0.1.1 (``glowgreen.cs_restrictions``, SA Medical Imaging), which Lutetia called
until then, is the reference here and nowhere else: its pattern table field by field, its
graduated elements, its dose at any delay, and its restriction periods, doses and corrected
constraints for every pattern, over a grid and over random clearances (mono- and
bi-exponential, half-lives 5-200 h, 1-100 µSv/h at 1 m, administrations at any minute of a
week, 1-13 treatments a year).

Agreement found: **exact** (``==``) for every repeating pattern — restriction period, dose,
constraint and end time — and for the once-off pattern with a mono-exponential clearance
(the closed form, evaluated in the same order). The once-off pattern with a bi-exponential
clearance is the root of D(τ) = constraint, which glowgreen finds with scipy's ``fsolve``
(relative ``xtol`` 1.49e-8) and Lutetia with Newton's method to the last bit: they agree
within that tolerance (observed: below 1e-12 relative, over 10,000 random cases).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lutetia.protection.clearance import Clearance
from lutetia.protection.contact import (
    CS_PATTERNS,
    ContactPattern,
    graduate,
    onceoff_dose,
    repeating_dose,
    restriction_period,
    restriction_periods,
)
from lutetia.protection.release import restrictions

#: fsolve's default relative tolerance, which bounds glowgreen's once-off bi-exponential root.
FSOLVE_XTOL = 1.49012e-8
MONDAY = datetime(2026, 3, 2)  # noqa: DTZ001 - naive: the patterns are local clock times


def _glowgreen_clearance(clearance: Clearance) -> Any:
    import glowgreen

    if clearance.model == "mono":
        return glowgreen.Clearance_1m(
            "exponential", [clearance.initial_usv_h, clearance.half_life_1_h], 1.0
        )
    return glowgreen.Clearance_1m(
        "biexponential",
        [
            clearance.initial_usv_h,
            clearance.fraction,
            clearance.half_life_1_h,
            clearance.half_life_2_h,
        ],
        1.0,
    )


def _glowgreen_pattern(pattern: ContactPattern) -> Any:
    import glowgreen

    row = next(r for r in glowgreen.cs_patterns().to_dict("records") if r["name"] == pattern.name)
    kind = (
        glowgreen.ContactPatternRepeating
        if row["pattern_type"] == "repeating"
        else glowgreen.ContactPatternOnceoff
    )
    return kind(row["theta"], row["c"], row["d"])


def assert_same_as_glowgreen(clearance: Clearance, treatments: float, local: datetime) -> int:
    """Every pattern's period, dose, constraint and end as glowgreen gives them; the count."""
    import glowgreen

    table = glowgreen.cs_restrictions(_glowgreen_clearance(clearance), treatments, local)
    reference = table.to_dict("records")
    ours = restriction_periods(clearance, treatments, local)
    assert [r.pattern.name for r in ours] == [r["name"] for r in reference]
    for row, ref in zip(ours, reference, strict=True):
        where = f"{row.pattern.name}: {clearance}, {treatments} a year, {local}"
        assert row.constraint_msv == ref["dose_constraint_corrected"], where
        if row.pattern.kind == "onceoff" and clearance.model == "bi":
            assert row.restriction_h == pytest.approx(ref["restriction_period"], rel=FSOLVE_XTOL)
            assert row.dose_msv == pytest.approx(ref["dose"], rel=FSOLVE_XTOL), where
        else:
            assert row.restriction_h == ref["restriction_period"], where
            assert row.dose_msv == ref["dose"], where
            assert local + timedelta(hours=row.restriction_h) == ref["datetime_end"], where
    return len(ours)


def test_pattern_table_is_glowgreens_field_by_field() -> None:
    import glowgreen

    reference = glowgreen.cs_patterns().to_dict("records")
    assert len(CS_PATTERNS) == len(reference) == 18
    for ours, ref in zip(CS_PATTERNS, reference, strict=True):
        assert ours.name == ref["name"]
        assert ours.kind == ref["pattern_type"]
        assert ours.constraint_msv == ref["dose_constraint"]
        assert ours.per_episode is bool(ref["per_episode"])
        assert ref["per_episode"] in (0, 1)
        for field, key in (("start_h", "theta"), ("duration_h", "c"), ("distance_m", "d")):
            expected = np.atleast_1d(np.asarray(ref[key], dtype=np.float64))
            assert np.array_equal(np.array(getattr(ours, field)), expected), (ours.name, key)


@pytest.mark.parametrize("pattern", CS_PATTERNS, ids=lambda p: p.name[:40])
def test_graduated_elements_are_glowgreens(pattern: ContactPattern) -> None:
    reference = _glowgreen_pattern(pattern)
    elements = graduate(pattern)
    assert np.array_equal(elements.start_h, np.asarray(reference.theta, dtype=np.float64))
    assert np.array_equal(elements.duration_h, np.asarray(reference.c, dtype=np.float64))
    assert np.array_equal(elements.factor, reference._dist_func(np.asarray(reference.d)))
    if pattern.kind == "repeating":
        # Pieces of at most 1 h, none empty, in order and within the day.
        assert np.all((elements.duration_h > 0) & (elements.duration_h <= 1))
        assert np.all(np.diff(elements.start_h) > 0)
        assert elements.start_h[-1] + elements.duration_h[-1] <= 24


CLEARANCES = [
    Clearance("mono", 1.0, 1.0, 5.0, None, "grid"),
    Clearance("mono", 1.0, 1.0, 67.0, None, "grid"),
    Clearance("mono", 1.0, 1.0, 200.0, None, "grid"),
    Clearance("bi", 1.0, 0.5, 5.0, 200.0, "grid"),
    Clearance("bi", 1.0, 0.8, 12.0, 90.0, "grid"),
    Clearance("bi", 1.0, 0.2, 40.0, 160.0, "grid"),
    Clearance("bi", 1.0, 0.95, 6.0, 30.0, "grid"),
]
INITIALS = (1.0, 10.0, 100.0)
#: Across the day and the week: midnight, element starts (07:00, 08:00, 17:00, 19:00), inside
#: elements (07:10, 23:50), between them, and times with seconds.
TIMES = (
    MONDAY,
    MONDAY + timedelta(days=1, hours=7, minutes=10),
    MONDAY + timedelta(days=2, hours=8),
    MONDAY + timedelta(days=3, hours=10, minutes=30),
    MONDAY + timedelta(days=4, hours=17),
    MONDAY + timedelta(days=5, hours=19),
    MONDAY + timedelta(days=6, hours=23, minutes=50),
    MONDAY + timedelta(hours=13, minutes=29, seconds=59, microseconds=500_000),
)
TREATMENTS = (1.0, 2.0, 4.0, 5.5, 13.0)


@pytest.mark.parametrize("clearance", CLEARANCES, ids=lambda c: f"{c.model}-{c.half_life_1_h:g}")
def test_restrictions_equal_glowgreens_over_a_grid(clearance: Clearance) -> None:
    compared = 0
    for i, initial in enumerate(INITIALS):
        scaled = Clearance(
            clearance.model, initial, clearance.fraction, clearance.half_life_1_h,
            clearance.half_life_2_h, "grid",
        )  # fmt: skip
        for j, local in enumerate(TIMES):
            treatments = TREATMENTS[(i + j) % len(TREATMENTS)]
            compared += assert_same_as_glowgreen(scaled, treatments, local)
    assert compared == len(INITIALS) * len(TIMES) * len(CS_PATTERNS)


@st.composite
def clearances(draw: st.DrawFn) -> Clearance:
    """Mono- or bi-exponential, 1-100 µSv/h at 1 m, half-lives 5-200 h."""
    initial = draw(st.floats(1.0, 100.0))
    first = draw(st.floats(5.0, 200.0))
    if draw(st.booleans()):
        return Clearance("mono", initial, 1.0, first, None, "drawn")
    second = draw(st.floats(5.0, 200.0))
    fraction = draw(st.floats(0.01, 0.99))
    return Clearance("bi", initial, fraction, min(first, second), max(first, second), "drawn")


@settings(max_examples=60)
@given(
    clearance=clearances(),
    minute=st.integers(0, 7 * 24 * 60 - 1),
    second=st.integers(0, 59),
    treatments=st.one_of(st.integers(1, 13).map(float), st.floats(1.0, 13.0)),
)
def test_restrictions_equal_glowgreens_for_drawn_clearances(
    clearance: Clearance, minute: int, second: int, treatments: float
) -> None:
    local = MONDAY + timedelta(minutes=minute, seconds=second)
    assert_same_as_glowgreen(clearance, treatments, local)


@settings(max_examples=40)
@given(
    clearance=clearances(),
    delay=st.one_of(st.integers(0, 400).map(float), st.floats(0.0, 400.0)),
    minute=st.integers(0, 24 * 60 - 1),
    index=st.integers(0, len(CS_PATTERNS) - 1),
)
def test_dose_at_any_delay_equals_glowgreens(
    clearance: Clearance, delay: float, minute: int, index: int
) -> None:
    pattern = CS_PATTERNS[index]
    reference = _glowgreen_pattern(pattern)
    cfit = _glowgreen_clearance(clearance)
    local = MONDAY + timedelta(minutes=minute)
    if pattern.kind == "repeating":
        dose, moved = reference.get_dose(cfit, delay, local)
        assert repeating_dose(pattern, clearance, delay, local) == (dose, moved)
    else:
        assert onceoff_dose(pattern, clearance, delay) == reference.get_dose(cfit, delay)


def test_a_delay_ending_inside_an_element_moves_to_its_end() -> None:
    sleeping = next(p for p in CS_PATTERNS if p.name.startswith("Sleeping with another"))
    clearance = Clearance("mono", 20.0, 1.0, 40.0, None, "t")
    # Administered 23:50: at 0 h the 23:00-24:00 element is under way; skipped until its end.
    dose, moved = repeating_dose(sleeping, clearance, 0.0, MONDAY.replace(hour=23, minute=50))
    assert moved == pytest.approx(10 / 60)
    assert dose == repeating_dose(sleeping, clearance, moved, MONDAY.replace(hour=23, minute=50))[0]


def test_restriction_ends_at_the_next_bus() -> None:
    # Daily public transport at 08:00 and 17:00: a period that would end at 09:30 ends at 17:00.
    bus = next(p for p in CS_PATTERNS if p.name.startswith("Daily public transport"))
    clearance = Clearance("mono", 30.0, 1.0, 60.0, None, "t")
    at = MONDAY.replace(hour=10, minute=30)
    hours, _ = restriction_period(bus, clearance, 0.25, at)
    assert (at + timedelta(hours=hours)).time().hour in (8, 17)
    assert (at + timedelta(hours=hours)).minute == 0


def test_the_release_restrictions_are_these_and_keep_the_offset() -> None:
    cet = timezone(timedelta(hours=1))
    administered = datetime(2026, 2, 19, 10, 30, tzinfo=cet)
    clearance = Clearance("bi", 25.95, 0.595, 12.6, 57.6, "t")
    rows = restrictions(clearance, administered, treatments_per_year=4)
    local = administered.replace(tzinfo=None)
    assert_same_as_glowgreen(clearance, 4.0, local)
    for row, ours in zip(rows, restriction_periods(clearance, 4.0, local), strict=True):
        assert row.contact == ours.pattern.name
        assert row.restriction_h == ours.restriction_h
        assert row.dose_msv == ours.dose_msv
        assert row.until == administered + timedelta(hours=ours.restriction_h)
        assert row.until.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("treatments", "pattern_name", "constraint"),
    [
        (4.0, "Sleeping with another person (includes pregnant or child)", 0.25),
        (4.0, "Sleeping with informed supporter", 5.0),  # per episode: not divided
        (13.0, "Work with radiosensitive materials", 0.1 / 13),
    ],
)
def test_annual_constraints_are_divided_per_treatment(
    treatments: float, pattern_name: str, constraint: float
) -> None:
    rows = restriction_periods(Clearance("mono", 10.0, 1.0, 50.0, None, "t"), treatments, MONDAY)
    row = next(r for r in rows if r.pattern.name == pattern_name)
    assert row.constraint_msv == constraint
    assert row.dose_msv <= constraint


def test_bad_arguments_are_refused() -> None:
    clearance = Clearance("mono", 10.0, 1.0, 50.0, None, "t")
    with pytest.raises(ValueError, match="naive"):
        restriction_periods(clearance, 4.0, MONDAY.replace(tzinfo=UTC))
    with pytest.raises(ValueError, match="≥ 1"):
        restriction_periods(clearance, 0.5, MONDAY)
    with pytest.raises(ValueError, match="> 0"):
        restriction_period(CS_PATTERNS[0], clearance, 0.0, MONDAY)
    with pytest.raises(ValueError, match="finite"):
        repeating_dose(CS_PATTERNS[0], clearance, math.inf, MONDAY)
    with pytest.raises(ValueError, match="≥ 0"):
        onceoff_dose(CS_PATTERNS[-1], clearance, -1.0)
