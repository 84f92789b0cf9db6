"""The JSON API: session auth, CSRF on writes, the same validation and locking as the pages.

schemathesis generates requests from the OpenAPI document (every operation, valid and
invalid input) against the WSGI application and the test database: no 5xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from lutetia.clinic import store
from lutetia.clinic.models import Patient


def _lab(patient: Patient, **changes: Any) -> dict[str, Any]:
    return {
        "version": patient.version,
        "analyte": "testosterone",
        "value": 20.0,
        "unit": "ng/dL",
        "date": store.today().isoformat(),
        **changes,
    }


def _post(client: Client, path: str, body: dict[str, Any], *, token: bool = True) -> Any:
    client.get("/login/")
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value} if token else {}
    return client.post(path, body, content_type="application/json", headers=headers)


def test_a_write_without_the_csrf_token_is_refused(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    response = _post(
        client_for("physician"), f"/api/patients/{patient.pk}/labs", _lab(patient), token=False
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.version == 1


def test_bad_input_is_422_naming_the_field_and_a_stale_version_409(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    client = client_for("physician")
    path = f"/api/patients/{patient.pk}/labs"
    bad = _post(client, path, _lab(patient, unit="mg/furlong"))
    assert bad.status_code == 422
    assert "unit" in bad.json()["detail"]
    ok = _post(client, path, _lab(patient))
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = _post(client, path, _lab(patient, value=30.0, date="2026-01-01"))
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["detail"]
    patient.refresh_from_db()
    assert patient.version == 2


def test_the_engines_answer_as_the_command_line_does(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    from lutetia.services.course import as_of, assess_case, decide_next_cycle, validated

    patient = make_patient("24-course-egfr-loss.json")
    case = validated(as_of(patient.case, store.today()))
    client = client_for("viewer")
    assert client.get(f"/api/patients/{patient.pk}/next-cycle").json() == decide_next_cycle(case)
    assert client.get(f"/api/patients/{patient.pk}/assessment").json() == assess_case(case)
    listed = client.get("/api/patients", {"q": patient.identifier}).json()
    assert [p["id"] for p in listed["items"]] == [patient.pk]
    assert client.get("/api/patients", {"limit": 0}).status_code == 422


def test_the_worklist_lists_what_is_due_and_what_is_overdue(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    items = client_for("viewer").get("/api/worklist").json()
    mine = [i for i in items if i["patient_id"] == patient.pk]
    assert mine, "a patient in treatment has something due or overdue"
    today = store.today().isoformat()
    assert all(not i["overdue"] or (i["window_end"] or i["date"]) < today for i in mine)
    # example 21 has no blood count 2-3 weeks after cycle 2: still open, so overdue
    assert any(i["overdue"] and i["kind"] == "interim_labs" for i in mine)
    assert (
        client_for("viewer")
        .get("/api/worklist", {"start": "2026-02-01", "end": "2026-01-01"})
        .status_code
        == 422
    )


def test_no_generated_request_gets_a_server_error(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    from lutetia.clinic.wsgi import application

    make_patient("21-course-proceed.json")
    make_patient("01-vision-eligible.json")
    client = client_for("physician")
    client.get("/login/")
    cookie = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    headers = {"Cookie": cookie, "X-CSRFToken": client.cookies["csrftoken"].value}
    # As Django's test client does: the WSGI handler would otherwise close the test
    # transaction's connection at the end of each request.
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        _fuzz(application, headers)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(application: Any, headers: dict[str, str]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=[not_a_server_error])

        call()


@pytest.mark.parametrize("path", ["/api/patients", "/api/worklist"])
def test_anonymous_gets_401(path: str, db: None) -> None:
    assert Client().get(path).status_code == 401
