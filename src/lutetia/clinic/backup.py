"""Backup and restore of the clinic database.

SQLite: the online backup API (a consistent copy while the clinic runs), written
to a temporary file beside the target and renamed into place; restore checks the
file (integrity, the clinic's tables, migrations not newer than this version)
before it copies it into the live database in one step. PostgreSQL: ``pg_dump
--format=custom`` and ``pg_restore --clean --single-transaction``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lutetia.errors import BadInputError

_REQUIRED_TABLES = {"clinic_patient", "clinic_decision", "django_migrations", "auth_user"}


def _database() -> dict[str, Any]:
    from django.conf import settings

    config: dict[str, Any] = settings.DATABASES["default"]
    return config


def _check_target(target: Path) -> None:
    if str(target) == "-":
        raise BadInputError("file", "a backup is written to a file, not to standard output")
    if target.exists() or target.is_symlink():
        raise BadInputError("file", f"{target} exists; choose a new file name")
    if not target.parent.is_dir():
        raise BadInputError("file", f"{target.parent} is not a folder")


def backup(target: Path) -> str:
    """Write a consistent backup of the clinic database to ``target`` (a new file)."""
    _check_target(target)
    config = _database()
    if config["ENGINE"] == "django.db.backends.sqlite3":
        descriptor, temporary = tempfile.mkstemp(prefix=".backup-", dir=target.parent)
        os.close(descriptor)
        try:
            with sqlite3.connect(config["NAME"]) as source, sqlite3.connect(temporary) as copy:
                source.backup(copy)
            source.close()
            copy.close()
            os.link(temporary, target)  # fails rather than replace a file created meanwhile
        finally:
            Path(temporary).unlink(missing_ok=True)
        return f"backup of {config['NAME']} written to {target} (SQLite online backup)"
    _pg_tool("pg_dump", config, ["--format=custom", "--no-owner", f"--file={target}"])
    return f"backup of PostgreSQL database {config['NAME']} written to {target} (pg_dump)"


def _check_sqlite_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            (status,) = connection.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            applied = (
                {
                    (app, name)
                    for app, name in connection.execute("SELECT app, name FROM django_migrations")
                }
                if "django_migrations" in tables
                else set()
            )
        connection.close()
    except sqlite3.DatabaseError as error:
        raise BadInputError("file", f"{path} is not a SQLite database ({error})") from None
    if status != "ok":
        raise BadInputError("file", f"{path} fails SQLite's integrity check: {status}")
    missing = _REQUIRED_TABLES - tables
    if missing:
        raise BadInputError(
            "file", f"{path} is not a clinic backup (no {', '.join(sorted(missing))})"
        )
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, name in applied - known)
    if unknown:
        raise BadInputError(
            "file", f"{path} was written by a newer Lutetia (migrations {', '.join(unknown)})"
        )


def restore(source: Path) -> str:
    """Replace the clinic database by the backup ``source``, after checking it."""
    if not source.is_file():
        raise BadInputError("file", f"{source}: no such file")
    config = _database()
    if config["ENGINE"] == "django.db.backends.sqlite3":
        _check_sqlite_backup(source)
        from django.db import connections

        connections.close_all()
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup_db:
            with sqlite3.connect(config["NAME"]) as live:
                backup_db.backup(live)
            live.close()
        backup_db.close()
        return f"{config['NAME']} restored from {source}"
    _pg_tool(
        "pg_restore",
        config,
        ["--clean", "--if-exists", "--single-transaction", "--no-owner", str(source)],
    )
    return f"PostgreSQL database {config['NAME']} restored from {source} (pg_restore)"


def _pg_tool(tool: str, config: dict[str, Any], arguments: list[str]) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BadInputError("LUTETIA_DATABASE_URL", f"{tool} is not installed (PostgreSQL client)")
    environment = {**os.environ, "PGPASSWORD": str(config.get("PASSWORD") or "")}
    command = [
        executable,
        f"--host={config.get('HOST') or 'localhost'}",
        f"--port={config.get('PORT') or 5432}",
        f"--username={config.get('USER') or ''}",
    ]
    command += [*arguments, f"--dbname={config['NAME']}"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["failed"]
        raise BadInputError("file", f"{tool}: {lines[-1]}")
