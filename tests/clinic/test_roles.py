"""Every route checks sign-in and role on the server: a test per role and route.

The route table below must name every route of the clinic (the first test fails when a
route is added without an entry): a new page cannot ship without its permission test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from lutetia.clinic.models import Decision, Patient
from lutetia.clinic.roles import PERMISSIONS, Action, Role
from tests.clinic.conftest import post

#: route name → (method, the action that guards it). Login, logout, the health check and the
#: admin are Django's own (tested separately below).
ROUTES: dict[str, tuple[str, Action]] = {
    "board": ("GET", Action.VIEW),
    "worklist": ("GET", Action.VIEW),
    "overrides": ("GET", Action.VIEW),
    "new_patient": ("GET", Action.REGISTER_PATIENT),
    "patient": ("GET", Action.VIEW),
    "history": ("GET", Action.VIEW),
    "export_case": ("GET", Action.VIEW),
    "import_case": ("POST", Action.REGISTER_PATIENT),
    "add_lab": ("POST", Action.CLINICAL_DATA),
    "add_adverse_event": ("POST", Action.CLINICAL_DATA),
    "add_wellbeing": ("POST", Action.CLINICAL_DATA),
    "set_consent": ("POST", Action.CLINICAL_DATA),
    "set_plan": ("POST", Action.CLINICAL_DATA),
    "add_administration": ("POST", Action.ADMINISTRATION),
    "add_dose_rate": ("POST", Action.DOSE_RATE),
    "sign_decision": ("POST", Action.SIGN_DECISION),
    "add_study": ("POST", Action.DOSIMETRY),
    "letter_pdf": ("GET", Action.RELEASE),
    "plot": ("GET", Action.VIEW),
}
UNGUARDED = {"login", "logout", "healthz"}
USERS = [role.value for role in Role] + ["nobody"]


def _names(patterns: list[Any]) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            continue  # admin/ and api/ have their own tests
        if isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_every_route_has_a_permission_entry() -> None:
    assert _names(get_resolver().url_patterns) == set(ROUTES) | UNGUARDED


def _path(name: str, patient: Patient) -> str:
    special: dict[str, dict[str, Any]] = {
        "history": {"pk": patient.pk},
        "patient": {"pk": patient.pk},
        "export_case": {"pk": patient.pk},
        "letter_pdf": {"pk": patient.pk},
        "plot": {"pk": patient.pk, "name": "psa"},
        "sign_decision": {"pk": patient.pk, "kind": "next_cycle"},
    }
    kwargs = special.get(name, {"pk": patient.pk} if ROUTES[name][0] == "POST" else {})
    from django.urls import reverse

    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_each_role_is_refused_what_it_may_not_do(
    name: str,
    user: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    patient = make_patient("21-course-proceed.json")
    method, action = ROUTES[name]
    client = client_for(user)
    path = _path(name, patient)
    before = (patient.version, patient.history.count(), Decision.objects.count())
    if method == "GET":
        response = client.get(path)
    else:
        response = post(client, path, {"version": patient.version})
    permitted = user != "nobody" and Role(user) in PERMISSIONS[action]
    if permitted:
        assert response.status_code != 403, (name, user)
    else:
        assert response.status_code == 403, (name, user, response.status_code)
        patient.refresh_from_db()
        after = (patient.version, patient.history.count(), Decision.objects.count())
        assert after == before, "a refused request wrote something"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_anonymous_is_sent_to_sign_in(name: str, make_patient: Callable[[str], Patient]) -> None:
    patient = make_patient("21-course-proceed.json")
    client = Client()
    path = _path(name, patient)
    response = client.get(path) if ROUTES[name][0] == "GET" else client.post(path, {})
    if ROUTES[name][0] == "POST":
        # CSRF is checked before the view: an anonymous POST without a token is refused too
        assert response.status_code in (302, 403)
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("user", USERS)
def test_only_the_administrator_reaches_the_admin(
    user: str, client_for: Callable[[str], Client]
) -> None:
    response = client_for(user).get("/admin/")
    if user == "administrator":
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_the_health_check_shows_no_data(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


#: API operation → the action that guards it.
API: dict[tuple[str, str], Action] = {
    ("GET", "/api/patients"): Action.VIEW,
    ("GET", "/api/patients/{pk}"): Action.VIEW,
    ("GET", "/api/patients/{pk}/case"): Action.VIEW,
    ("GET", "/api/patients/{pk}/assessment"): Action.VIEW,
    ("GET", "/api/patients/{pk}/next-cycle"): Action.VIEW,
    ("POST", "/api/patients/{pk}/labs"): Action.CLINICAL_DATA,
    ("GET", "/api/worklist"): Action.VIEW,
}


def test_every_api_operation_has_a_permission_entry(db: None) -> None:
    from lutetia.clinic.api import api

    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert operations == set(API)


@pytest.mark.parametrize("user", [*USERS, "anonymous"])
@pytest.mark.parametrize(("method", "template"), sorted(API))
def test_each_role_is_refused_what_it_may_not_do_in_the_api(
    method: str,
    template: str,
    user: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    patient = make_patient("21-course-proceed.json")
    path = template.replace("{pk}", str(patient.pk))
    client = Client(enforce_csrf_checks=True) if user == "anonymous" else client_for(user)
    if method == "GET":
        response = client.get(path)
    else:
        client.get("/login/")
        token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
        body = {
            "version": patient.version,
            "analyte": "testosterone",
            "value": 20.0,
            "unit": "ng/dL",
            "date": patient.case["as_of"],
        }
        response = client.post(
            path, body, content_type="application/json", headers={"X-CSRFToken": token}
        )
    if user == "anonymous":
        assert response.status_code == 401
        return
    permitted = user != "nobody" and Role(user) in PERMISSIONS[API[(method, template)]]
    if permitted:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403
        patient.refresh_from_db()
        assert patient.history.count() == 1
