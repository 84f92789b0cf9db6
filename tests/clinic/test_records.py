"""Data entry: the CLI's validation, optimistic locking, one transaction, the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from lutetia.clinic import store
from lutetia.clinic.models import Administration, DoseRateReading, Patient, WorklistItem
from tests.clinic.conftest import messages_of as _messages
from tests.clinic.conftest import post


def _lab(patient: Patient, **changes: object) -> dict[str, object]:
    day = store.today() - timedelta(days=1)
    return {
        "version": patient.version,
        "analyte": "hemoglobin",
        "value": 12.1,
        "unit": "g/dL",
        "date": day.isoformat(),
        "lln": 13.0,
        "uln": 17.0,
        **changes,
    }


def test_a_lab_result_is_stored_validated_and_audited(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    labs = len(patient.case["labs"])
    response = post(client_for("physician"), f"/patients/{patient.pk}/labs/", _lab(patient))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert len(patient.case["labs"]) == labs + 1
    assert patient.case["labs"][-1]["value"] == 12.1
    assert patient.version == 2
    newest = patient.history.order_by("-history_date").first()
    assert newest is not None
    assert newest.history_user.username == "physician"
    assert newest.history_change_reason == "lab result recorded"
    before = newest.prev_record
    assert before is not None
    changed = {change.field for change in newest.diff_against(before).changes}
    assert {"case", "version"} <= changed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # creatinine in µmol/L labelled mg/dL (issue 9's unit mix-up): refused, field named
        (
            {"analyte": "creatinine", "value": 80.0, "unit": "mg/dL", "lln": None, "uln": None},
            "value",
        ),
        ({"unit": "furlong"}, "unit"),
        ({"value": -3.0}, "value"),
        ({"date": "2099-01-01"}, "date"),  # after as_of: a lab from the future
        ({"uln": 170.0}, "uln"),  # ULN in g/L beside a value in g/dL
    ],
)
def test_bad_lab_input_is_refused_naming_the_field_and_nothing_is_written(
    changes: dict[str, object],
    field: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    patient = make_patient("21-course-proceed.json")
    before = (patient.version, patient.case, patient.history.count())
    data = {k: v for k, v in _lab(patient, **changes).items() if v is not None}
    response = post(client_for("physician"), f"/patients/{patient.pk}/labs/", data)
    assert response.status_code == 302
    errors = _messages(response)
    assert errors, "no message for a refused input"
    assert any(e.startswith(f"{field}:") for e in errors), errors
    patient.refresh_from_db()
    assert (patient.version, patient.case, patient.history.count()) == before


def test_the_second_of_two_concurrent_saves_is_refused_and_the_first_kept(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("21-course-proceed.json")
    first, second = client_for("physician"), client_for("physician")
    read = patient.version  # both opened the page at this version
    ok = post(first, f"/patients/{patient.pk}/labs/", _lab(patient, value=12.5, version=read))
    assert "lab result recorded" in _messages(ok)
    refused = post(
        second,
        f"/patients/{patient.pk}/wellbeing/",
        {"version": read, "date": store.today().isoformat(), "status": "stable"},
    )
    messages = _messages(refused)
    assert any("changed by someone else" in m and "Nothing was saved" in m for m in messages)
    patient.refresh_from_db()
    assert patient.version == read + 1
    assert patient.case["labs"][-1]["value"] == 12.5
    assert not (patient.case.get("course") or {}).get("wellbeing", [])[-1:] or all(
        w.get("date") != store.today().isoformat() for w in patient.case["course"]["wellbeing"]
    )


def test_a_stale_write_through_the_store_raises_and_rolls_back(
    make_patient: Callable[[str], Patient],
) -> None:
    from lutetia.services.course import with_entry

    patient = make_patient("21-course-proceed.json")
    document, case = with_entry(
        patient.case,
        "wellbeing",
        {"date": store.today().isoformat(), "status": "stable"},
        store.today(),
    )
    store.save_case(patient, document, case, patient.version, reason="first")
    with pytest.raises(store.StaleVersion):
        store.save_case(patient, document, case, 1, reason="second, stale")
    patient.refresh_from_db()
    assert patient.version == 2
    assert patient.history.count() == 2


def local(moment: datetime) -> str:
    """A moment as the form's datetime-local field takes it (the department's zone)."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _administration(patient: Patient, hours_ago: float = 2, **changes: Any) -> dict[str, object]:
    """Readings of an injection ``hours_ago``: syringe 20 min before, residual 15 min after."""
    injected = timezone.now() - timedelta(hours=hours_ago)

    data: dict[str, object] = {
        "version": patient.version,
        "injected_at": local(injected),
        "prescribed_gbq": 7.4,
        "before_gbq": 7.6,
        "before_at": local(injected - timedelta(minutes=20)),
        "residual_gbq": 0.1,
        "residual_at": local(injected + timedelta(minutes=15)),
    }
    data.update(changes)
    return data


def test_an_administration_is_decay_corrected_and_becomes_the_next_cycle(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("01-vision-eligible.json")
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient),
    )
    assert response.status_code == 302, _messages(response)
    record = Administration.objects.get(patient=patient)
    # 20 min of decay before, 15 min after (177Lu, T½ = 6.647 d = 159.5 h): the syringe's
    # 7.6 GBq at 10:10 is 7.6·2^(−(20/60)/159.5) = 7.589 GBq at 10:30.
    assert record.calculation["before_at_injection_gbq"] == pytest.approx(7.5890, abs=2e-4)
    assert record.calculation["residual_at_injection_gbq"] == pytest.approx(0.10011, abs=2e-5)
    assert record.administered_gbq == pytest.approx(7.4889, abs=3e-4)
    patient.refresh_from_db()
    cycles = patient.case["course"]["cycles"]
    assert cycles[-1]["number"] == 1
    assert cycles[-1]["activity_gbq"] == pytest.approx(record.administered_gbq, abs=1e-4)
    assert patient.stage == "in_treatment"
    assert WorklistItem.objects.filter(patient=patient, kind="interim_labs").exists()
    # the guideline's regimen is planned for cycle 2 until a physician plans otherwise
    injected = date.fromisoformat(cycles[-1]["date"][:10])
    assert patient.case["course"]["planned_date"] == (injected + timedelta(weeks=6)).isoformat()
    assert patient.case["course"]["planned_activity_gbq"] == 7.4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"before_gbq": 7600.0}, "before_gbq"),  # MBq typed as GBq
        ({"residual_gbq": 8.0}, "residual_gbq"),  # residual above the syringe
        ({"before_at": "2020-01-01T10:00"}, "before_at"),  # measured years before
    ],
)
def test_an_implausible_administration_writes_nothing(
    changes: dict[str, Any],
    field: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    patient = make_patient("01-vision-eligible.json")
    before = (patient.version, patient.case)
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient, **changes),
    )
    assert any(m.startswith(f"{field}:") for m in _messages(response)), _messages(response)
    patient.refresh_from_db()
    assert (patient.version, patient.case) == before
    assert not Administration.objects.filter(patient=patient).exists()


def test_a_request_that_fails_midway_writes_nothing(
    users: dict[str, object], make_patient: Callable[[str], Patient]
) -> None:
    """The administration's cycle is saved before its record; a failure after it undoes both.

    A second administration for the same cycle number violates ``one_per_cycle`` after the
    case was saved in the same transaction: nothing of it may remain.
    """
    from django.db import IntegrityError, transaction

    patient = make_patient("01-vision-eligible.json")

    def readings(days_ago: int) -> store.Readings:
        injected = timezone.now() - timedelta(days=days_ago, hours=1)
        return store.Readings(
            injected_at=injected,
            prescribed_gbq=7.4,
            before_gbq=7.5,
            before_at=injected - timedelta(minutes=20),
            residual_gbq=0.05,
            residual_at=injected + timedelta(minutes=20),
        )

    store.record_administration(patient, patient.version, readings(1), users["technologist"])
    patient.refresh_from_db()
    Administration.objects.filter(patient=patient).update(cycle_number=2)  # the trap
    before = (patient.version, patient.case, patient.history.count())
    with pytest.raises(IntegrityError), transaction.atomic():
        store.record_administration(patient, patient.version, readings(0), users["technologist"])
    patient.refresh_from_db()
    assert (patient.version, patient.case, patient.history.count()) == before


def test_dose_rate_readings_give_release_advice_and_the_letter(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("01-vision-eligible.json")
    technologist = client_for("technologist")
    post(
        technologist,
        f"/patients/{patient.pk}/administrations/",
        _administration(patient, hours_ago=30),
    )
    patient.refresh_from_db()
    injected = Administration.objects.get(patient=patient).injected_at
    for hours, rate in ((2, 25.0), (26, 12.0)):
        moment = local(injected + timedelta(hours=hours))
        response = post(
            client_for("physicist"),
            f"/patients/{patient.pk}/dose-rates/",
            {
                "version": patient.version,
                "measured_at": moment,
                "rate_usv_h": rate,
                "distance_m": 1.0,
            },
        )
        assert "dose-rate reading recorded" in _messages(response)
        patient.refresh_from_db()
    assert DoseRateReading.objects.filter(patient=patient).count() == 2
    page = client_for("physicist").get(f"/patients/{patient.pk}/")
    assert b"Discharge after" in page.content
    letter = client_for("physicist").get(f"/patients/{patient.pk}/letter.pdf")
    assert letter.status_code == 200
    assert letter["Content-Type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")


def test_an_implausible_dose_rate_is_refused(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    patient = make_patient("01-vision-eligible.json")
    post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient),
    )
    patient.refresh_from_db()
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/dose-rates/",
        {
            "version": patient.version,
            "measured_at": local(timezone.now() - timedelta(minutes=30)),
            "rate_usv_h": 25000.0,
            "distance_m": 1.0,
        },
    )
    assert any(m.startswith("rate_usv_h:") for m in _messages(response)), _messages(response)
    assert not DoseRateReading.objects.filter(patient=patient).exists()


def test_case_export_and_import_round_trip(
    client_for: Callable[[str], Client], make_patient: Callable[[str], Patient]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    patient = make_patient("21-course-proceed.json")
    exported = client_for("viewer").get(f"/patients/{patient.pk}/case.json")
    assert exported.json() == patient.case
    physician = client_for("physician")
    changed = dict(exported.json(), extensions={"site": "imported"})
    import json

    upload = SimpleUploadedFile("case.json", json.dumps(changed).encode())
    response = post(
        physician,
        f"/patients/{patient.pk}/import/",
        {"version": patient.version, "case_file": upload},
    )
    assert "case file imported" in _messages(response)
    patient.refresh_from_db()
    assert patient.case["extensions"] == {"site": "imported"}
    other = dict(changed, patient=dict(changed["patient"], id="someone-else"))
    upload = SimpleUploadedFile("case.json", json.dumps(other).encode())
    response = post(
        physician,
        f"/patients/{patient.pk}/import/",
        {"version": patient.version, "case_file": upload},
    )
    assert any("not this patient" in m for m in _messages(response))
    duplicate = SimpleUploadedFile("case.json", b'{"schema": "lutetia.case/1", "schema": "x"}')
    response = post(
        physician,
        f"/patients/{patient.pk}/import/",
        {"version": patient.version, "case_file": duplicate},
    )
    assert any("given twice" in m for m in _messages(response))


@pytest.fixture(scope="session")
def phantom_study() -> str:
    """The synthetic SPECT/CT phantom in the clinic's study directory (made once)."""
    import json
    from pathlib import Path

    from django.conf import settings

    from lutetia.imaging.phantom import make_phantom

    name = "phantom-for-tests"
    folder = Path(settings.STUDIES_DIR) / name
    if not (folder / "study.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        truth = make_phantom(folder, shape=(40, 40, 40), spacing_mm=(7.2, 7.2, 7.2))
        (folder / "study.json").write_text(
            json.dumps({"calibration_cps_per_mbq": truth.calibration_cps_per_mbq})
        )
    return name


def test_a_physicist_records_image_dosimetry_for_a_given_cycle(
    phantom_study: str,
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
) -> None:
    from lutetia.clinic.models import DosimetryStudy

    patient = make_patient("21-course-proceed.json")
    physicist = client_for("physicist")
    path = f"/patients/{patient.pk}/studies/"
    # only a folder of the study directory, never a path
    refused = post(physicist, path, {"version": 1, "study": "../../etc", "cycle_number": 1})
    assert any(m.startswith("study:") for m in _messages(refused))
    refused = post(physicist, path, {"version": 1, "study": phantom_study, "cycle_number": 5})
    assert any(m.startswith("cycle_number:") for m in _messages(refused))
    assert not DosimetryStudy.objects.exists()
    response = post(physicist, path, {"version": 1, "study": phantom_study, "cycle_number": 2})
    assert any("image dosimetry" in m for m in _messages(response)), _messages(response)
    study = DosimetryStudy.objects.get(patient=patient)
    kidneys = study.document["regions"]["kidneys"]
    assert kidneys["absorbed_dose_gy"] > 0
    assert study.recorded_by.username == "physicist"
    patient.refresh_from_db()
    assert patient.version == 2
    page = client_for("viewer").get(f"/patients/{patient.pk}/")
    assert b"Measured absorbed dose summed over cycles 2" in page.content
    # the kidneys' BED of the cycle is summed too, against the BED limit (40 Gy)
    assert kidneys["bed_gy"] >= kidneys["absorbed_dose_gy"]
    assert b"kidneys (BED)" in page.content
    assert b"kidney_left</td>" in page.content
    assert page.content.count(b"40.0 Gy (BED") >= 1


def test_a_cycle_given_on_its_planned_day_is_recorded(
    client_for: Callable[[str], Client],
) -> None:
    # Cycle 3 of 21-course-proceed given on the day it was planned: the plan it fulfils
    # must not be checked against it ("planned date not after the last cycle"); the next
    # cycle is planned 6 weeks on.
    from lutetia.services.course import validated
    from tests.clinic.conftest import example

    injected = timezone.localtime(timezone.now() - timedelta(hours=2))
    document = example("21-course-proceed.json", store.today())
    document["course"]["planned_date"] = injected.date().isoformat()
    patient = store.create_patient(document, validated(document), name="On Time")
    response = post(
        client_for("technologist"),
        f"/patients/{patient.pk}/administrations/",
        _administration(patient),
    )
    assert response.status_code == 302, _messages(response)
    patient.refresh_from_db()
    course = patient.case["course"]
    assert [c["number"] for c in course["cycles"]] == [1, 2, 3]
    assert course["planned_date"] == (injected.date() + timedelta(weeks=6)).isoformat()
