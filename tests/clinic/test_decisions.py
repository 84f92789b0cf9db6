"""Signed decisions: advice accepted or overridden with a reason, reproducible later."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from lutetia.clinic import store
from lutetia.clinic.models import Decision, Patient
from lutetia.clinic.views import digest
from lutetia.guideline.catalogue import CATALOGUE_VERSION
from lutetia.guideline.context import Settings
from lutetia.guideline.ruleset import ruleset_from_provenance
from lutetia.services.course import as_of, decide_next_cycle, validated
from tests.clinic.conftest import messages_of as _messages
from tests.clinic.conftest import post


def _advice(patient: Patient) -> dict[str, object]:
    return decide_next_cycle(validated(as_of(patient.case, store.today())))


def test_accepting_keeps_the_inputs_the_output_and_the_catalogue_version(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("23-course-grade2-scheduled.json")
    advice = _advice(patient)
    response = post(
        client_for("physician"),
        f"/patients/{patient.pk}/sign/next_cycle/",
        {"version": patient.version, "accept": "yes", "advice_digest": digest(advice)},
    )
    assert "decision signed" in _messages(response)
    decision = Decision.objects.get(patient=patient)
    assert decision.accepted
    assert decision.engine_decision == decision.final_decision == advice["decision"]
    assert decision.catalogue_version == CATALOGUE_VERSION
    assert decision.signed_by.username == "physician"
    # reproducible: the engine run again on the stored snapshot gives the stored output
    assert decide_next_cycle(validated(decision.input_snapshot)) == decision.engine_output


def test_an_override_needs_a_decision_and_a_written_reason_and_is_listed(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    advice = _advice(patient)
    physician = client_for("physician")
    path = f"/patients/{patient.pk}/sign/next_cycle/"
    base = {"version": patient.version, "accept": "no", "advice_digest": digest(advice)}
    refused = post(physician, path, {**base, "final_decision": "postpone", "reason": "x"})
    assert any(m.startswith("reason:") for m in _messages(refused))
    refused = post(physician, path, {**base, "final_decision": "maybe", "reason": "a" * 20})
    assert any(m.startswith("final_decision:") for m in _messages(refused))
    assert not Decision.objects.exists()
    reason = "patient travelling abroad; postpone one week"
    post(physician, path, {**base, "final_decision": "postpone", "reason": reason})
    decision = Decision.objects.get()
    assert not decision.accepted
    assert decision.final_decision == "postpone"
    assert decision.engine_decision == advice["decision"]
    listed = client_for("viewer").get("/overrides/")
    assert reason.encode() in listed.content


def test_advice_that_changed_since_the_page_was_opened_is_not_signed(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    seen = digest(_advice(patient))
    physician = client_for("physician")
    # a new grade 3 adverse event arrives before the physician signs
    post(
        physician,
        f"/patients/{patient.pk}/adverse-events/",
        {
            "version": patient.version,
            "term": "Fatigue",
            "grade": 3,
            "onset": store.today().isoformat(),
        },
    )
    patient.refresh_from_db()
    response = post(
        physician,
        f"/patients/{patient.pk}/sign/next_cycle/",
        {"version": patient.version, "accept": "yes", "advice_digest": seen},
    )
    assert any("advice changed" in m for m in _messages(response))
    assert not Decision.objects.exists()


def test_a_signed_discontinuation_moves_the_patient_off_the_worklist(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("27-course-gfr-below-30.json")
    advice = _advice(patient)
    assert advice["decision"] == "discontinue"
    post(
        client_for("physician"),
        f"/patients/{patient.pk}/sign/next_cycle/",
        {"version": patient.version, "accept": "yes", "advice_digest": digest(advice)},
    )
    patient.refresh_from_db()
    assert patient.stage == "discontinued"
    worklist = client_for("viewer").get("/worklist/", {"start": "2000-01-01", "end": "2000-12-31"})
    assert patient.identifier.encode() not in worklist.content


def test_cached_advice_follows_the_record_even_when_its_version_does_not(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    """A restored database reuses record keys and versions: the cache must not answer for it."""
    from lutetia.clinic.views import _advice
    from tests.clinic.conftest import example

    patient = make_patient("21-course-proceed.json")
    assert _advice(patient)["next_cycle"]["decision"] == "proceed"
    # the same key and version, another content (as after `lutetia db restore`)
    replaced = example("27-course-gfr-below-30.json", store.today())
    replaced["patient"]["id"] = patient.identifier
    Patient.objects.filter(pk=patient.pk).update(case=replaced)
    patient.refresh_from_db()
    assert patient.version == 1
    assert _advice(patient)["next_cycle"]["decision"] == "discontinue"
    page = client_for("viewer").get(f"/patients/{patient.pk}/")
    assert b'class="decision discontinue"' in page.content


def test_the_clinic_runs_the_site_ruleset_and_the_signed_decision_names_it(
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
    settings: Any,
    tmp_path: Path,
) -> None:
    # A site profile that reduces by 30 % instead of 20 %: the advice on the patient page,
    # the signed decision and its reproduction all follow it.
    profile = {
        "schema": "lutetia.ruleset/1",
        "name": "site-clinic",
        "version": "2",
        "based_on": "eanm-snmmi-2023",
        "reason": "test site: 30 % reductions",
        "changes": {"reduction_factor": 0.7},
    }
    path = tmp_path / "site.json"
    path.write_text(json.dumps(profile))
    settings.RULESET = str(path)
    patient = make_patient("23-course-grade2-scheduled.json")
    advice = decide_next_cycle(
        validated(as_of(patient.case, store.today())), store.engine_settings()
    )
    assert advice["ruleset"]["name"] == "site-clinic"
    assert advice["activity_gbq"] == pytest.approx(advice["planned_activity_gbq"] * 0.7)
    page = client_for("physician").get(f"/patients/{patient.pk}/")
    assert b"site-clinic" in page.content
    post(
        client_for("physician"),
        f"/patients/{patient.pk}/sign/next_cycle/",
        {"version": patient.version, "accept": "yes", "advice_digest": digest(advice)},
    )
    decision = Decision.objects.get(patient=patient)
    assert decision.ruleset == "site-clinic 2"
    # reproducible from the stored documents alone, after the site's file is gone
    path.unlink()
    rules = ruleset_from_provenance(decision.engine_output["ruleset"])
    again = decide_next_cycle(validated(decision.input_snapshot), Settings(ruleset=rules))
    assert again == decision.engine_output
