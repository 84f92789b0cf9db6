"""Bad input found by a sweep of the running clinic: each class refused, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from lutetia.clinic import store
from lutetia.clinic.models import Administration, Decision, DoseRateReading, Patient
from lutetia.clinic.views import digest
from tests.clinic.conftest import messages_of as _messages
from tests.clinic.conftest import post
from tests.clinic.test_records import _administration, local


def _refused(response: Any, field: str) -> bool:
    return any(m.startswith(f"{field}:") for m in _messages(response))


def test_no_cycle_without_written_consent(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("14-incomplete-workup.json")  # no consent recorded
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient),
    )
    assert _refused(response, "injected_at")
    assert any("consent" in m for m in _messages(response))
    assert not Administration.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("hours_ago", "reason"),
    [(-3, "in the future"), (24 * 40, "days ago"), (24 * 3, "before the written consent")],
)
def test_no_cycle_in_the_future_long_ago_or_before_consent(
    hours_ago: float,
    reason: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    patient = make_patient("01-vision-eligible.json")  # consent two days before today
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient, hours_ago=hours_ago),
    )
    assert any(m.startswith("injected_at:") and reason in m for m in _messages(response)), (
        _messages(response)
    )
    assert not Administration.objects.filter(patient=patient).exists()


def test_no_cycle_for_a_discontinued_course(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    from lutetia.services.course import as_of, decide_next_cycle, validated

    patient = make_patient("27-course-gfr-below-30.json")
    advice = decide_next_cycle(validated(as_of(patient.case, store.today())))
    post(
        client_for("physician"),
        f"/patients/{patient.pk}/sign/next_cycle/",
        {"version": patient.version, "accept": "yes", "advice_digest": digest(advice)},
    )
    patient.refresh_from_db()
    assert patient.stage == "discontinued"
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient),
    )
    assert any("discontinued" in m for m in _messages(response))


def test_dose_rates_follow_the_letters_limits_and_are_not_in_the_future(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("01-vision-eligible.json")
    post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient, hours_ago=30),
    )
    patient.refresh_from_db()
    injected = Administration.objects.get(patient=patient).injected_at
    path = f"/patients/{patient.pk}/dose-rates/"
    physicist = client_for("physicist")
    for moment, rate, field in (
        (timezone.now() + timedelta(hours=1), 10.0, "measured_at"),
        (injected + timedelta(hours=2), 1e-9, "rate_usv_h"),  # below the meter's range
        (injected + timedelta(hours=2), 0.03, "rate_usv_h"),  # mSv/h typed as µSv/h
    ):
        response = post(
            physicist,
            path,
            {
                "version": patient.version,
                "measured_at": local(moment),
                "rate_usv_h": rate,
                "distance_m": 1.0,
            },
        )
        assert _refused(response, field), (rate, _messages(response))
    assert not DoseRateReading.objects.filter(patient=patient).exists()
    # the letter still works: the refused readings were never stored
    assert client_for("physicist").get(f"/patients/{patient.pk}/letter.pdf").status_code == 200


@pytest.mark.parametrize("days", [-30, 400])
def test_a_plan_in_the_past_or_over_a_year_ahead_is_refused(
    days: int, client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    day = (store.today() + timedelta(days=days)).isoformat()
    response = post(
        client_for("physician"),
        f"/patients/{patient.pk}/plan/",
        {"version": patient.version, "planned_date": day, "planned_activity_gbq": 7.4},
    )
    assert _refused(response, "planned_date")
    patient.refresh_from_db()
    assert patient.version == 1


def test_consent_later_today_is_refused(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("14-incomplete-workup.json")
    later = local(timezone.now() + timedelta(hours=2))
    response = post(
        client_for("physician"),
        f"/patients/{patient.pk}/consent/",
        {"version": patient.version, "signed_at": later},
    )
    assert _refused(response, "signed_at")


@pytest.mark.parametrize("reason", ["because\x07\x1b[31m red", "fine \u202e reversed", "x" * 2001])
def test_an_override_reason_is_plain_text_of_reasonable_length(
    reason: str, client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    from lutetia.services.course import as_of, decide_next_cycle, validated

    patient = make_patient("21-course-proceed.json")
    advice = decide_next_cycle(validated(as_of(patient.case, store.today())))
    response = post(
        client_for("physician"),
        f"/patients/{patient.pk}/sign/next_cycle/",
        {
            "version": patient.version,
            "accept": "no",
            "final_decision": "postpone",
            "reason": reason,
            "advice_digest": digest(advice),
        },
    )
    assert _refused(response, "reason")
    assert not Decision.objects.exists()


def test_grade_5_cannot_resolve(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    day = store.today().isoformat()
    response = post(
        client_for("physician"),
        f"/patients/{patient.pk}/adverse-events/",
        {"version": patient.version, "term": "Vomiting", "grade": 5, "onset": day, "resolved": day},
    )
    assert _refused(response, "resolved")


def test_the_api_takes_numbers_not_booleans_and_no_unknown_field(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    client = client_for("physician")
    client.get("/login/")
    token = client.cookies["csrftoken"].value
    body = {
        "version": 1,
        "analyte": "testosterone",
        "value": 20.0,
        "unit": "ng/dL",
        "date": store.today().isoformat(),
    }
    for changed in ({"value": True}, {"version": True}, {"extra": 1}):
        response = client.post(
            f"/api/patients/{patient.pk}/labs",
            {**body, **changed},
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 422, changed
    patient.refresh_from_db()
    assert patient.version == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/patients", {"offset": "99999999999999999999"}),
        ("/api/patients", {"offset": str(2**63)}),
        ("/api/worklist", {"start": "9999-12-31"}),
        ("/api/worklist", {"offset": str(2**63)}),
    ],
)
def test_api_bounds_are_422_not_a_server_error(
    path: str, params: dict[str, str], client_for: Callable[[str], Client]
) -> None:
    assert client_for("viewer").get(path, params).status_code == 422


def test_a_yes_no_answer_is_yes_no_or_unknown_never_guessed(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    physician = client_for("physician")
    base = {"term": "Nausea", "grade": 2, "onset": store.today().isoformat()}
    refused = post(
        physician,
        f"/patients/{patient.pk}/adverse-events/",
        {**base, "version": 1, "treated": "maybe"},
    )
    assert _refused(refused, "treated")
    post(
        physician,
        f"/patients/{patient.pk}/adverse-events/",
        {**base, "version": 1, "treated": "yes", "unacceptable_to_patient": ""},
    )
    patient.refresh_from_db()
    event = patient.case["course"]["adverse_events"][-1]
    assert event["treated"] is True
    assert "unacceptable_to_patient" not in event
