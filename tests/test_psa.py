"""PSA doubling time and PCWG3 response and progression.

PCWG3: Scher HI et al., J Clin Oncol 2016;34:1402-1418, Table 2 (PSA
response ≥ 50 % decline confirmed ≥ 3 weeks later; progression ≥ 25 % and
≥ 2 ng/mL above nadir, confirmed ≥ 3 weeks later; without a decline, from
12 weeks). PSADT: Arlen PM et al., J Urol 2008;179:2181-2186 (log-linear
regression of ln PSA on time).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia.clinical.psa import PsaValue, doubling_time, pcwg3
from lutetia.errors import BadInputError

D0 = date(2026, 1, 5)


def series(*pairs: tuple[int, float]) -> list[PsaValue]:
    return [PsaValue(D0 + timedelta(days=d), v) for d, v in pairs]


def test_doubling_time_exact_exponential() -> None:
    # PSA doubling every 90 days exactly: the regression recovers 90 days.
    values = series(*[(d, 4.0 * 2 ** (d / 90)) for d in (0, 30, 75, 140, 200)])
    result = doubling_time(values)
    assert result.doubling_time_days == pytest.approx(90.0)
    assert result.doubling_time_months == pytest.approx(90.0 / (365.25 / 12))


def test_doubling_time_regression_not_endpoints() -> None:
    # ln PSA = 0, 0.5, 0.7 at days 0, 30, 60: slope by least squares is 0.35/30 per day.
    values = series((0, 1.0), (30, math.exp(0.5)), (60, math.exp(0.7)))
    assert doubling_time(values).slope_per_day == pytest.approx(0.35 / 30)


def test_falling_psa_has_no_doubling_time() -> None:
    assert doubling_time(series((0, 10.0), (30, 5.0))).doubling_time_days is None


def test_doubling_time_needs_two_values() -> None:
    with pytest.raises(BadInputError, match="two PSA values"):
        doubling_time(series((0, 10.0)))


def test_psa50_confirmed() -> None:
    result = pcwg3(PsaValue(D0, 100.0), series((42, 60.0), (84, 45.0), (105, 40.0)))
    assert result.response
    assert result.response_date == D0 + timedelta(days=84)
    assert result.response_confirmed_on == D0 + timedelta(days=105)
    assert result.max_decline_percent == pytest.approx(60.0)
    assert result.nadir.psa_ng_ml == 40.0


def test_psa50_needs_confirmation_three_weeks_later() -> None:
    result = pcwg3(PsaValue(D0, 100.0), series((42, 45.0), (56, 44.0)))
    assert not result.response
    assert result.unconfirmed_response


def test_progression_over_nadir_confirmed() -> None:
    # nadir 10; 13 is +30 % but only +3 ng/mL... ≥ 2 ng/mL: qualifies; confirmed by 15 at +3 weeks.
    result = pcwg3(PsaValue(D0, 40.0), series((42, 10.0), (84, 13.0), (105, 15.0)))
    assert result.progression
    assert result.progression_date == D0 + timedelta(days=84)


def test_small_absolute_rise_is_not_progression() -> None:
    # nadir 2.0 → 3.5 is +75 % but only +1.5 ng/mL: not progression.
    result = pcwg3(PsaValue(D0, 10.0), series((42, 2.0), (84, 3.5), (126, 3.9)))
    assert not result.progression


def test_unconfirmed_rise() -> None:
    result = pcwg3(PsaValue(D0, 40.0), series((42, 10.0), (84, 13.0)))
    assert not result.progression
    assert result.unconfirmed_progression


def test_rise_without_decline_counts_only_after_12_weeks() -> None:
    early = pcwg3(PsaValue(D0, 10.0), series((28, 14.0), (56, 16.0)))
    assert not early.progression
    late = pcwg3(PsaValue(D0, 10.0), series((84, 14.0), (112, 16.0)))
    assert late.progression


def test_follow_up_must_follow_baseline() -> None:
    with pytest.raises(BadInputError):
        pcwg3(PsaValue(D0, 10.0), series((0, 9.0)))


@given(
    st.lists(st.floats(min_value=0.01, max_value=5000, allow_nan=False), min_size=1, max_size=12),
    st.floats(min_value=0.01, max_value=5000),
)
def test_nadir_is_minimum_and_decline_consistent(values: list[float], baseline: float) -> None:
    result = pcwg3(
        PsaValue(D0, baseline), series(*[(28 * (i + 1), v) for i, v in enumerate(values)])
    )
    assert result.nadir.psa_ng_ml == min([baseline, *values])
    assert result.max_decline_percent == pytest.approx(
        max(0.0, 100 * (1 - min(values) / baseline)), abs=1e-9
    )
    if result.response:
        assert result.max_decline_percent >= 50
