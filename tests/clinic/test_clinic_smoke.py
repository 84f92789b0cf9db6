"""First light: the demo seeds every example, and every page renders for every clinical role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from lutetia.clinic.demo import DEMO_USERS, seed
from lutetia.clinic.models import Patient, Stage
from lutetia.clinic.store import today


@pytest.mark.django_db
def test_demo_seeds_every_example_at_a_stage_and_every_page_renders() -> None:
    counts = seed(today())
    assert counts["created"] == counts["patients"] == Patient.objects.count() >= 31
    stages = set(Patient.objects.values_list("stage", flat=True))
    assert {
        Stage.CANDIDATE,
        Stage.CONSENTED,
        Stage.IN_TREATMENT,
        Stage.COMPLETED,
        Stage.DISCONTINUED,
    } <= stages
    client = Client()
    signed_in = client.post("/login/", {"username": "demo", "password": "demo"})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/"
    assert set(DEMO_USERS) >= {"physician", "physicist", "technologist", "viewer", "admin"}
    for patient in Patient.objects.all():
        response = client.get(f"/patients/{patient.pk}/")
        assert response.status_code == 200, patient.identifier
        assert b"The case cannot be evaluated" not in response.content, patient.identifier
    for path in ("/", "/worklist/", "/overrides/"):
        assert client.get(path).status_code == 200
    # a second seed adds nobody
    assert seed(today())["created"] == 0


def test_pages_show_no_python_repr_or_none(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    """Absent values show as a dash; mappings as text, never Python's repr."""
    viewer = client_for("viewer")
    for name in (
        "14-incomplete-workup.json",
        "05-taxane-naive-docetaxel-fit.json",
        "06-history-incomplete.json",
        "16-other-ligand-late-consent.json",
    ):
        patient = make_patient(name)
        page = viewer.get(f"/patients/{patient.pk}/").content.decode()
        for token in (">None<", " None ", ", None)", "{'", "None</td>"):
            assert token not in page, (name, token)
        history = viewer.get(f"/patients/{patient.pk}/history/").content.decode()
        assert "{'" not in history


def test_units_are_shown_as_a_reader_writes_them() -> None:
    from lutetia.clinic.templatetags.clinic import shown, unit

    assert unit("10*9/L") == "×10⁹/L"
    assert unit("{grade}") == "grade"
    assert unit("mL/min/{1.73_m2}") == "mL/min/1.73 m2"
    assert unit(None) == ""
    assert shown(None) == "—"
    assert shown({"alp": "2026-11-19", "psa": 2.0}) == "alp: 2026-11-19; psa: 2"
    assert shown(54.1666666) == "54.17"
