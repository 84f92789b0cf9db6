"""Killing the server while it writes loses nothing it acknowledged; backup and restore.

These run the real server (``lutetia demo``: waitress over a SQLite file in WAL mode) in a
subprocess and ``lutetia db`` as the command line, as a department would.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.clinic.with_postgres import free_port

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@contextmanager
def _server(
    arguments: list[str], env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``lutetia ARGUMENTS --port P`` in a subprocess: its address once /healthz answers,
    and the process (killed on leaving)."""
    import requests

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lutetia", *arguments, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.kill()
        server.wait(timeout=30)


def _environment(folder: Path) -> dict[str, str]:
    database = folder / "demo.sqlite3"
    return {
        **os.environ,
        "LUTETIA_DATA_DIR": str(folder),
        "LUTETIA_DATABASE_URL": f"sqlite:///{database}",
        "LUTETIA_INSECURE_HTTP": "1",
        "DJANGO_SETTINGS_MODULE": "lutetia.clinic.settings",
    }


def _lutetia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lutetia", *args],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=300,
    )


def _case_of(database: Path, identifier: str) -> dict[str, Any]:
    with sqlite3.connect(database) as connection:
        (text,) = connection.execute(
            'SELECT "case" FROM clinic_patient WHERE identifier = ?', (identifier,)
        ).fetchone()
    connection.close()
    document: dict[str, Any] = json.loads(text)
    return document


def test_killing_the_server_during_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    import requests

    env = _environment(tmp_path)
    seeded = _lutetia("demo", "--data-dir", str(tmp_path), "--no-serve", env=env)
    assert seeded.returncode == 0, seeded.stderr
    session = requests.Session()
    with _server(["demo", "--data-dir", str(tmp_path)], env) as (base, server):
        session.get(f"{base}/login/")
        token = session.cookies["csrftoken"]
        signed = session.post(
            f"{base}/login/",
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token},
            headers={"Referer": base},
        )
        assert signed.status_code == 200
        token = session.cookies["csrftoken"]
        patients = session.get(f"{base}/api/patients", params={"q": "ex-01"}).json()["items"]
        patient = patients[0]
        version = patient["version"]
        acknowledged: list[str] = []
        start = date(2024, 1, 1)
        deadline = time.monotonic() + 3.0
        i = 0
        while True:
            day = (start + timedelta(days=i)).isoformat()
            if time.monotonic() > deadline and acknowledged:
                server.send_signal(signal.SIGKILL)  # mid-stream: a request may be in flight
            try:
                response = session.post(
                    f"{base}/api/patients/{patient['id']}/labs",
                    json={
                        "version": version,
                        "analyte": "crp",
                        "value": 1.0 + i,
                        "unit": "mg/L",
                        "date": day,
                    },
                    headers={"X-CSRFToken": str(token), "Referer": base},
                    timeout=5,
                )
            except requests.ConnectionError:
                break
            assert response.status_code == 200, response.text
            version = response.json()["version"]
            acknowledged.append(day)
            i += 1
    database = tmp_path / "demo.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    stored = {lab["date"] for lab in _case_of(database, "ex-01")["labs"] if lab["analyte"] == "crp"}
    assert len(acknowledged) >= 5
    assert set(acknowledged) <= stored, "an acknowledged write was lost"


def test_backup_and_restore_on_sqlite(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    assert _lutetia("demo", "--data-dir", str(tmp_path), "--no-serve", env=env).returncode == 0
    database = tmp_path / "demo.sqlite3"
    copy = tmp_path / "backup.sqlite3"
    result = _lutetia("db", "backup", str(copy), env=env)
    assert result.returncode == 0, result.stderr
    # the backup refuses to overwrite, and refuses stdout
    assert _lutetia("db", "backup", str(copy), env=env).returncode == 2
    assert _lutetia("db", "backup", "-", env=env).returncode == 2
    original = _case_of(database, "ex-01")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE clinic_patient SET name = 'changed after the backup'")
    connection.close()
    restored = _lutetia("db", "restore", str(copy), env=env)
    assert restored.returncode == 0, restored.stderr
    assert _case_of(database, "ex-01") == original
    with sqlite3.connect(database) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM clinic_patient")}
    connection.close()
    assert "changed after the backup" not in names
    # a file that is not a clinic backup is refused before anything changes
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    refused = _lutetia("db", "restore", str(junk), env=env)
    assert refused.returncode == 2
    assert "not a SQLite database" in refused.stderr
    assert _case_of(database, "ex-01") == original


def test_migrate_creates_the_tables_and_is_idempotent(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    for _ in range(2):
        result = _lutetia("db", "migrate", env=env)
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "demo.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert {"clinic_patient", "clinic_decision", "clinic_historicalpatient"} <= tables
    assert mode == "wal"


@pytest.mark.skipif(
    not os.environ.get("LUTETIA_DATABASE_URL", "").startswith("postgres"),
    reason="runs in the PostgreSQL pass (tests/clinic/with_postgres.py)",
)
def test_backup_and_restore_on_postgresql(tmp_path: Path) -> None:
    import psycopg

    server = os.environ["LUTETIA_DATABASE_URL"].rsplit("/", 1)[0]
    name = "lutetia_backup_test"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    env = {
        **os.environ,
        "LUTETIA_DATA_DIR": str(tmp_path),
        "LUTETIA_DATABASE_URL": f"{server}/{name}",
        "DJANGO_SETTINGS_MODULE": "lutetia.clinic.settings",
    }
    assert _lutetia("db", "migrate", env=env).returncode == 0
    seeded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from lutetia.clinic.demo import ensure_roles_and_users as e; e()",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    copy = tmp_path / "backup.dump"
    result = _lutetia("db", "backup", str(copy), env=env)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(f"{server}/{name}", autocommit=True) as db:
        before = db.execute("SELECT count(*) FROM auth_user").fetchone()
        db.execute("DELETE FROM auth_user_groups")
        db.execute("DELETE FROM auth_user")
    restored = _lutetia("db", "restore", str(copy), env=env)
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(f"{server}/{name}") as db:
        assert db.execute("SELECT count(*) FROM auth_user").fetchone() == before
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump")
    assert _lutetia("db", "restore", str(junk), env=env).returncode == 2
    with psycopg.connect(f"{server}/{name}") as db:
        assert db.execute("SELECT count(*) FROM auth_user").fetchone() == before


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_answers_with_one_or_several_processes(processes: int, tmp_path: Path) -> None:
    import requests

    env = _environment(tmp_path)
    with _server(["serve", "--processes", str(processes)], env) as (base, _):
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{base}/", timeout=5).url.endswith("/login/?next=/")
    assert _lutetia("serve", "--processes", "0", env=env).returncode == 2
