"""Settings for the test suite: the clinic's own, with a throw-away data directory and key.

The database still comes from ``LUTETIA_DATABASE_URL`` (the suite runs once on SQLite
and once on PostgreSQL); pytest-django creates and drops its test database.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LUTETIA_DATA_DIR", tempfile.mkdtemp(prefix="lutetia-test-data-"))
os.environ.setdefault("LUTETIA_SECRET_KEY", "tests-only-" + "x" * 40)

from lutetia.clinic.settings import *

# Argon2 is the clinic's hasher; tests sign in hundreds of times, MD5 keeps them fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: the browser tests' live server answers requests in
    # parallel (a page and its plots), as the real server does over WAL.
    DATABASES["default"]["TEST"] = {"NAME": str(data_dir() / "test.sqlite3")}
