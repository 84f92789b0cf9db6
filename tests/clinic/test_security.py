"""Sign-in throttling, security headers, cookies and logs without patient data."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from django.test import Client, override_settings

from lutetia.clinic.models import Patient
from tests.clinic.conftest import PASSWORD


def _sign_in(client: Client, username: str, password: str) -> int:
    status: int = client.post("/login/", {"username": username, "password": password}).status_code
    return status


def test_repeated_failed_sign_ins_lock_the_account(users: dict[str, object]) -> None:
    client = Client()
    for _ in range(5):
        assert _sign_in(client, "physician", "wrong password") in (200, 403, 429)
    # locked: even the right password is refused now (django-axes, 15 minutes)
    assert _sign_in(client, "physician", PASSWORD) != 302
    other = Client()
    assert _sign_in(other, "viewer", PASSWORD) == 302  # another account is not affected


def test_a_successful_sign_in_resets_the_failure_count(users: dict[str, object]) -> None:
    client = Client()
    for _ in range(3):
        _sign_in(client, "physician", "wrong password")
    assert _sign_in(client, "physician", PASSWORD) == 302
    for _ in range(3):
        _sign_in(Client(), "physician", "wrong password")
    assert _sign_in(Client(), "physician", PASSWORD) == 302


def test_pages_carry_the_security_headers(client_for: Callable[[str], Client]) -> None:
    response = client_for("viewer").get("/")
    policy = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_session_and_csrf_cookies_are_secure_httponly_and_strict(users: dict[str, object]) -> None:
    client = Client()
    client.get("/login/")
    response = client.post(
        "/login/",
        {
            "username": "viewer",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    session = response.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Strict"
    assert client.cookies["csrftoken"]["secure"]


def test_the_production_settings_mark_cookies_secure() -> None:
    from django.conf import settings

    # the test settings inherit the clinic's: only LUTETIA_INSECURE_HTTP=1 turns this off
    assert settings.SESSION_COOKIE_SECURE is (not settings.INSECURE_HTTP)
    assert settings.PASSWORD_HASHERS  # Argon2 first in production (lutetia.clinic.settings)
    from lutetia.clinic import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_logs_carry_no_patient_identifier_or_name(
    client_for: Callable[[str], Client],
    make_patient: Callable[[str], Patient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    patient = make_patient("21-course-proceed.json")
    caplog.set_level(logging.DEBUG)
    viewer = client_for("viewer")
    viewer.get(f"/patients/{patient.pk}/")
    viewer.post(f"/patients/{patient.pk}/labs/", {})  # refused: 403, logged
    client_for("nobody").get(f"/patients/{patient.pk}/")
    text = caplog.text
    assert patient.identifier not in text
    assert patient.name not in text
