"""The release and letter use cases called as a library (the clinic will), not through the CLI.

The command line is an adapter over :mod:`lutetia.services.release`: the same request gives
the same document either way, and the letter's cycle, activity and deviation are decided in
the service.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from lutetia.cases.io import load_case
from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.protection.release import configure_profile
from lutetia.services.release import (
    DEVIATION_WARNING_PERCENT,
    ReleaseSettings,
    letter_data,
    release_advice_for,
    release_document,
)
from tests.conftest import EXAMPLES

CET = timezone(timedelta(hours=1))
AT = datetime(2026, 2, 19, 10, 30, tzinfo=CET)
#: The two-phase readings of issue 9 (h = µSv/h at 1 m).
READINGS = ((1.0, 25.0), (24.0, 12.0), (48.0, 7.0), (120.0, 2.5))


def settings(**changes: object) -> ReleaseSettings:
    values: dict[str, object] = {"profile": configure_profile("eu-dose-rate"), "readings": READINGS}
    values.update(changes)
    return ReleaseSettings(**values)  # type: ignore[arg-type]


def test_the_cli_is_an_adapter_over_the_service(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["release", "--administered-at", AT.isoformat(), "--administered-gbq", "7.4", "--json"]
    argv += [f"--dose-rate={h:g}={r:g}" for h, r in READINGS]
    assert main(argv) == 0
    from_cli = json.loads(capsys.readouterr().out)
    direct = release_document(release_advice_for(settings(), AT, 7.4), AT)
    assert json.loads(json.dumps(direct)) == from_cli
    assert direct["clearance"]["model"] == "bi"  # issue 9: the two-phase fit is kept


def test_without_readings_or_activity_there_is_nothing_to_advise_on() -> None:
    with pytest.raises(BadInputError) as error:
        release_advice_for(settings(readings=()), AT, None)
    assert error.value.field == "--dose-rate"
    population = release_advice_for(settings(readings=()), AT, 7.4)
    assert population.plausibility == "no readings to check"


def test_letter_takes_the_cycle_of_the_injection_day_and_its_activity() -> None:
    case = load_case(EXAMPLES / "21-course-proceed.json")
    data = letter_data(case, settings(), injected_at=AT)
    assert data.cycle_number == 2
    assert data.administered_gbq == pytest.approx(7.4)
    assert data.deviation_percent is None
    assert data.activity_warnings == ()
    # A day without a cycle of the case: the activity must then be given.
    with pytest.raises(BadInputError) as error:
        letter_data(case, settings(), injected_at=AT + timedelta(days=1))
    assert error.value.field == "--administered-gbq"


@pytest.mark.parametrize(
    ("administered", "warns"),
    [(7.4 * 1.10, False), (7.4 * 0.90, False), (7.4 * 1.1001, True), (7.4 * 0.8999, True)],
)
def test_letter_warns_beyond_10_percent_from_the_prescription(
    administered: float, warns: bool
) -> None:
    assert DEVIATION_WARNING_PERCENT == 10.0
    case = load_case(EXAMPLES / "21-course-proceed.json")
    data = letter_data(
        case, settings(), injected_at=AT, administered_gbq=administered, prescribed_gbq=7.4
    )
    assert data.deviation_percent == pytest.approx(100 * (administered / 7.4 - 1))
    assert bool(data.activity_warnings) is warns


def test_letter_needs_a_time_when_the_last_cycle_has_none() -> None:
    case = load_case(EXAMPLES / "21-course-proceed.json")  # cycles dated by day only
    with pytest.raises(BadInputError) as error:
        letter_data(case, settings())
    assert error.value.field == "--injected-at"
