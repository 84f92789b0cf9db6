"""Per-object authorization: a patient of a care team is seen only by that team's members.

Each route of the clinic and each API operation on a patient is tried on a patient of
another team by a user whose role allows it: every one answers 404 (the patient does
not exist for that user, and nothing is written), while the same request on a patient
of the user's team, or of no team, is served. Lists (board, worklist, overrides, API)
leave the other team's patients out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lutetia.clinic import store
from lutetia.clinic.models import CareTeam, Decision, Patient
from lutetia.clinic.roles import PERMISSIONS, Role
from lutetia.services.course import validated
from tests.clinic.conftest import csrf_token, example, post
from tests.clinic.test_roles import API, ROUTES, _path


@pytest.fixture
def teams(users: dict[str, User]) -> dict[str, CareTeam]:
    """Team A with every clinical user as a member; team B with none."""
    a = CareTeam.objects.create(name="Team A")
    b = CareTeam.objects.create(name="Team B")
    for role in (Role.PHYSICIAN, Role.PHYSICIST, Role.TECHNOLOGIST, Role.VIEWER):
        a.members.add(users[role.value])
    return {"a": a, "b": b}


def _patient(name: str, identifier: str, team: CareTeam | None) -> Patient:
    document = example(name, store.today())
    document["patient"]["id"] = identifier
    return store.create_patient(document, validated(document), name=identifier, team=team)


def _allowed_user(name: str) -> str:
    """A role that may use the route (so that only the team can refuse it)."""
    action = ROUTES[name][1]
    return next(role.value for role in Role if role in PERMISSIONS[action])


#: The routes that name no patient.
LISTS = {"board", "worklist", "overrides", "new_patient"}


@pytest.mark.parametrize("name", sorted(set(ROUTES) - LISTS))
def test_every_patient_route_hides_another_teams_patient(
    name: str, teams: dict[str, CareTeam], client_for: Callable[[str], Client]
) -> None:
    theirs = _patient("21-course-proceed.json", "team-b-1", teams["b"])
    ours = _patient("21-course-proceed.json", "team-a-1", teams["a"])
    pool = _patient("21-course-proceed.json", "pool-1", None)
    client = client_for(_allowed_user(name))
    method = ROUTES[name][0]

    def request(patient: Patient) -> Any:
        path = _path(name, patient)
        if method == "GET":
            return client.get(path)
        return post(client, path, {"version": patient.version})

    before = (theirs.version, theirs.history.count(), Decision.objects.count())
    assert request(theirs).status_code == 404, name
    theirs.refresh_from_db()
    assert (theirs.version, theirs.history.count(), Decision.objects.count()) == before
    for visible in (ours, pool):
        assert request(visible).status_code != 404, (name, visible.identifier)


def test_lists_leave_out_another_teams_patients(
    teams: dict[str, CareTeam], client_for: Callable[[str], Client]
) -> None:
    _patient("23-course-grade2-scheduled.json", "team-b-2", teams["b"])
    _patient("23-course-grade2-scheduled.json", "team-a-2", teams["a"])
    _patient("23-course-grade2-scheduled.json", "pool-2", None)
    client = client_for("viewer")
    for path in ("/", "/worklist/?start=2000-01-01&end=2000-12-31", "/api/patients"):
        content = client.get(path).content
        assert b"team-b-2" not in content, path
        assert b"pool-2" in content or path.startswith("/worklist"), path
    worklist = client.get("/api/worklist").json()
    identifiers = {row["identifier"] for row in worklist}
    assert "team-b-2" not in identifiers
    assert {"team-a-2", "pool-2"} <= identifiers


def test_overrides_of_another_team_are_not_listed(
    teams: dict[str, CareTeam], users: dict[str, User], client_for: Callable[[str], Client]
) -> None:
    theirs = _patient("21-course-proceed.json", "team-b-3", teams["b"])
    reason = "override recorded by team B for its own patient"
    Decision.objects.create(
        patient=theirs,
        kind="next_cycle",
        engine_decision="proceed",
        final_decision="postpone",
        accepted=False,
        reason=reason,
        input_snapshot=theirs.case,
        engine_output={},
        catalogue_version="x",
        lutetia_version="x",
        signed_by=users["physician"],
        signed_at=theirs.created_at,
    )
    assert reason.encode() not in client_for("physician").get("/overrides/").content


@pytest.mark.parametrize(("method", "template"), sorted(k for k in API if "{pk}" in k[1]))
def test_every_api_operation_on_a_patient_hides_another_team(
    method: str,
    template: str,
    teams: dict[str, CareTeam],
    client_for: Callable[[str], Client],
) -> None:
    theirs = _patient("21-course-proceed.json", "team-b-4", teams["b"])
    ours = _patient("21-course-proceed.json", "team-a-4", teams["a"])
    action = API[(method, template)]
    client = client_for(next(r.value for r in Role if r in PERMISSIONS[action]))

    def call(patient: Patient) -> Any:
        path = template.replace("{pk}", str(patient.pk))
        if method == "GET":
            return client.get(path)
        body = {
            "analyte": "psa",
            "value": 5.0,
            "unit": "ng/mL",
            "date": store.today().isoformat(),
            "version": patient.version,
        }
        return client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={"X-CSRFToken": csrf_token(client)},
        )

    assert call(theirs).status_code == 404
    assert call(ours).status_code in (200, 422)


def test_a_member_of_one_team_registers_into_it(
    teams: dict[str, CareTeam], client_for: Callable[[str], Client]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    document = example("01-vision-eligible.json", store.today())
    document["patient"]["id"] = "new-in-team-a"
    upload = SimpleUploadedFile("case.json", json.dumps(document).encode(), "application/json")
    post(client_for("physician"), "/patients/new/", {"name": "N", "case_file": upload})
    assert Patient.objects.get(identifier="new-in-team-a").team == teams["a"]


def test_a_patient_moved_to_another_team_leaves_the_worklist(
    teams: dict[str, CareTeam], client_for: Callable[[str], Client]
) -> None:
    # The worklist rows carry the team (no join on the busiest page); assigning a team
    # moves them along, and the history records who moved the patient.
    moved = _patient("23-course-grade2-scheduled.json", "moved-1", None)
    client = client_for("viewer")

    def identifiers() -> set[str]:
        return {row["identifier"] for row in client.get("/api/worklist").json()}

    assert "moved-1" in identifiers()
    store.assign_team(moved, teams["b"])
    assert "moved-1" not in identifiers()
    assert set(moved.worklist.values_list("team", flat=True)) == {teams["b"].pk}
    store.assign_team(moved, teams["a"])
    assert "moved-1" in identifiers()
    assert moved.history.first().history_change_reason == "care team assigned"
