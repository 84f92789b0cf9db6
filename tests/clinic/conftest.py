"""Fixtures for the clinic: users per role, patients from the example cases, signed-in clients.

The clinic tests run on the database ``LUTETIA_DATABASE_URL`` names: SQLite by default,
and PostgreSQL when ``make test`` runs them again under tests/clinic/with_postgres.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from lutetia.clinic import store
from lutetia.clinic.demo import shifted
from lutetia.clinic.models import Patient
from lutetia.clinic.roles import Role
from lutetia.services.course import validated
from tests.conftest import EXAMPLES

PASSWORD = "correct horse battery staple"


def flag(name: str) -> bool:
    """Whether the environment variable is set to a true value."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def users(db: None) -> dict[str, User]:
    """One user per role (named after it), plus ``nobody`` (signed in, no role)."""
    result = {}
    for role in Role:
        group = Group.objects.get_or_create(name=role.value)[0]
        user = User.objects.create_user(role.value, password=PASSWORD)
        if role is Role.ADMINISTRATOR:
            user.is_staff = user.is_superuser = True
            user.save()
        user.groups.add(group)
        result[role.value] = user
    result["nobody"] = User.objects.create_user("nobody", password=PASSWORD)
    return result


@pytest.fixture
def client_for(users: dict[str, User]) -> Callable[[str], Client]:
    """A test client signed in as the user of a role (CSRF checks on, as in production)."""

    def make(name: str) -> Client:
        client = Client(enforce_csrf_checks=True)
        client.force_login(users[name])
        return client

    return make


def example(name: str, today: date) -> dict[str, Any]:
    """An example case moved so that its ``as_of`` is ``today`` (as the demo seeds it)."""
    document: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    days = (today - date.fromisoformat(document["as_of"])).days
    moved: dict[str, Any] = shifted(document, days)
    return moved


@pytest.fixture
def make_patient(db: None) -> Callable[[str], Patient]:
    """Register a patient from an example case file name."""

    def make(name: str) -> Patient:
        document = example(name, store.today())
        return store.create_patient(document, validated(document), name="Test Patient")

    return make


def csrf_token(client: Client) -> str:
    """The CSRF token a browser holds after opening a page with a form (the sign-in page)."""
    client.get("/login/")
    return str(client.cookies["csrftoken"].value)


def messages_of(response: Any) -> list[str]:
    """The messages a page redirect carries (what the user reads after a POST)."""
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(response.wsgi_request)]


def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    """POST a form with the CSRF token a browser would send."""
    return client.post(path, {**data, "csrfmiddlewaretoken": csrf_token(client)})


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download here).

    Without /usr/bin/chromium the browser tests skip, unless ``LUTETIA_REQUIRE_BROWSER`` is
    set (``.ci/run`` installs Chromium and sets it): then they fail.
    """
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is absent (Debian package chromium): the browser tests need it"
        if flag("LUTETIA_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}; LUTETIA_REQUIRE_BROWSER is set", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty advice cache (a test database reuses record keys)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
