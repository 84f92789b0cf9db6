"""A patient from referral to completion in real headless Chromium (Playwright), role by role.

The physician registers nothing by hand here: the patient comes from the example case of
the VISION setting; the physician signs the selection and records consent and the plan,
the technologist records the administration, the physicist the dose rates and the letter,
and the physician signs the next-cycle decision; a second test takes a course from its
fifth cycle through the sixth to the signed completion. Screenshots of the board, the patient
page and the worklist go to ``LUTETIA_SCREENSHOTS`` when it is set (docs/screenshots).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lutetia.clinic import store
from lutetia.clinic.models import Administration, Decision, DoseRateReading, Patient
from tests.clinic.conftest import PASSWORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LUTETIA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def signed_in(page: Any, live_server: Any) -> Callable[[str], Any]:
    def sign_in(user: str) -> Any:
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return sign_in


def test_one_patient_from_selection_to_release_in_the_browser(
    signed_in: Callable[[str], Any],
    live_server: Any,
    users: dict[str, Any],
    make_patient: Callable[[str], Patient],
    shots: Path,
) -> None:
    patient = make_patient("01-vision-eligible.json")
    for other in ("21-course-proceed.json", "23-course-grade2-scheduled.json"):
        make_patient(other)
    url = f"{live_server.url}/patients/{patient.pk}/"
    today = store.today()

    page = signed_in("physician")
    assert page.get_by_role("link", name=patient.identifier).is_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "board.png"))
    page.get_by_role("link", name=patient.identifier).click()
    page.wait_for_url(url)
    assert "recommended" in page.locator("#selection h2").inner_text()
    page.locator("#selection form.sign button[type=submit]").click()
    assert "decision signed" in page.locator(".messages").inner_text()
    consent = (today - timedelta(days=2)).isoformat() + "T09:00"
    page.fill("#id_signed_at", consent)
    page.get_by_role("button", name="Record consent").click()
    assert "consent recorded" in page.locator(".messages").inner_text()
    # a unit mix-up is refused on the page, naming the field
    page.select_option("#id_analyte", "creatinine")
    page.fill("#id_value", "80")
    page.fill("#id_unit", "mg/dL")
    page.fill("#id_date", today.isoformat())
    page.get_by_role("button", name="Record lab").click()
    assert "value:" in page.locator(".messages li.error").first.inner_text()

    page = signed_in("technologist")
    page.goto(url)
    assert page.get_by_role("button", name="Record lab").count() == 0  # not this role's
    injected = (today - timedelta(days=1)).isoformat()
    page.fill("#id_injected_at", injected + "T10:30")
    page.fill("#id_prescribed_gbq", "7.4")
    page.fill("#id_before_gbq", "7.6")
    page.fill("#id_before_at", injected + "T10:10")
    page.fill("#id_residual_gbq", "0.1")
    page.fill("#id_residual_at", injected + "T10:45")
    page.get_by_role("button", name="Record administration").click()
    assert "GBq administered" in page.locator(".messages").inner_text()

    page = signed_in("physicist")
    page.goto(url)
    from django.utils import timezone

    later = timezone.localtime(timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    for hour, rate in (("12:30", "25"), (None, "12")):
        moment = injected + "T" + hour if hour else later
        page.fill("#id_measured_at", moment)
        page.fill("#id_rate_usv_h", rate)
        page.get_by_role("button", name="Record reading").click()
        assert "dose-rate reading recorded" in page.locator(".messages").inner_text()
    assert "Discharge after" in page.locator("#release").inner_text()
    with page.expect_response(lambda r: r.url.endswith("letter.pdf")) as letter:
        page.goto(f"{url}letter.pdf")
    assert letter.value.headers["content-type"] == "application/pdf"

    page = signed_in("physician")
    page.goto(url)
    page.wait_for_load_state("networkidle")
    images = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
    assert images, "no plot on the patient page"
    assert all(width > 0 for width in images), "a plot did not render"
    page.screenshot(path=str(shots / "patient.png"), full_page=False)
    page.goto(f"{live_server.url}/worklist/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "worklist.png"), full_page=False)

    patient.refresh_from_db()
    assert patient.stage == "in_treatment"
    assert Decision.objects.filter(patient=patient, kind="selection").count() == 1
    assert Administration.objects.filter(patient=patient).count() == 1
    assert DoseRateReading.objects.filter(patient=patient).count() == 2
    users_in_history = set(
        patient.history.exclude(history_user=None).values_list("history_user__username", flat=True)
    )
    assert {"physician", "technologist"} <= users_in_history


def test_the_last_cycle_to_completion_in_the_browser(
    signed_in: Callable[[str], Any], live_server: Any, users: dict[str, Any]
) -> None:
    # The other half of a course: a patient whose fifth cycle was given 8 weeks ago (the
    # course of 32-course-complete without its sixth cycle, moved to today). The physician
    # signs "proceed", the technologist records cycle 6, and the physician signs the
    # engine's "complete": the patient leaves the worklist and the board shows the course
    # completed. (Eight weeks cannot pass in a test; the first half is the test above.)
    from django.utils import timezone

    from lutetia.services.course import validated
    from tests.clinic.conftest import example

    today = store.today()
    document = example("32-course-complete.json", today)
    document["course"]["cycles"] = document["course"]["cycles"][:5]
    document["course"]["planned_date"] = today.isoformat()
    patient = store.create_patient(document, validated(document), name="Last Cycle")
    url = f"{live_server.url}/patients/{patient.pk}/"

    page = signed_in("physician")
    page.goto(url)
    assert "proceed" in page.locator("#next-cycle h2").inner_text()
    assert "5.92 GBq" in page.locator("#next-cycle h2").inner_text()
    page.locator("#next-cycle form.sign button[type=submit]").click()
    assert "decision signed" in page.locator(".messages").inner_text()

    page = signed_in("technologist")
    page.goto(url)
    injected = timezone.localtime(timezone.now() - timedelta(hours=1))
    page.fill("#id_injected_at", injected.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_prescribed_gbq", "5.92")
    page.fill("#id_before_gbq", "6.1")
    page.fill("#id_before_at", (injected - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_residual_gbq", "0.1")
    page.fill("#id_residual_at", (injected + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Record administration").click()
    assert "GBq administered" in page.locator(".messages").inner_text()

    page = signed_in("physician")
    page.goto(url)
    assert "complete" in page.locator("#next-cycle h2").inner_text()
    page.locator("#next-cycle form.sign button[type=submit]").click()
    assert "decision signed" in page.locator(".messages").inner_text()
    assert "Completed" in page.locator("h1 .stage").inner_text()
    page.goto(f"{live_server.url}/worklist/")
    assert "Last Cycle" not in page.content()
    assert patient.identifier not in page.content()

    patient.refresh_from_db()
    assert patient.stage == "completed"
    assert len(patient.case["course"]["cycles"]) == 6
    finals = list(
        Decision.objects.filter(patient=patient, kind="next_cycle")
        .order_by("signed_at", "pk")
        .values_list("final_decision", flat=True)
    )
    assert finals == ["proceed", "complete"]
    assert Administration.objects.filter(patient=patient, cycle_number=6).count() == 1
