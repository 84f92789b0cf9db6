"""``lutetia demo`` (the seeded clinic on 127.0.0.1); ``lutetia db`` (migrate, backup, restore)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from lutetia.errors import BadInputError


def register(commands: Any) -> None:
    """Add the clinic subcommands."""
    demo = commands.add_parser(
        "demo",
        help="the clinic web app with synthetic patients on 127.0.0.1 (SQLite)",
        description="Create (or reuse) a demo database of synthetic patients at every stage, "
        "with a user per role (password 'demo'), and serve the clinic on 127.0.0.1 only.",
    )
    demo.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (8000)")
    demo.add_argument(
        "--data-dir",
        help="folder for the demo database and key (default: the user data dir's 'demo')",
    )
    demo.add_argument("--fresh", action="store_true", help="delete the demo database first")
    demo.add_argument(
        "--no-serve", action="store_true", help="seed the database and exit (for scripts)"
    )
    demo.set_defaults(handler=run_demo)

    serve = commands.add_parser(
        "serve",
        help="serve the clinic (waitress) over the configured database",
        description="Serve the clinic over LUTETIA_DATABASE_URL with waitress. Listen on "
        "loopback behind a TLS-terminating reverse proxy; cookies are Secure unless "
        "LUTETIA_INSECURE_HTTP=1.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    serve.add_argument("--threads", type=int, default=4, help="threads per process, 1-64 (4)")
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes, 1-32 (1: waitress; more: gunicorn workers, one per core)",
    )
    serve.set_defaults(handler=run_serve)

    db = commands.add_parser(
        "db",
        help="the clinic database: migrate, backup, restore",
        description="The clinic database named by LUTETIA_DATABASE_URL (default: SQLite in "
        "the user data directory).",
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = actions.add_parser("migrate", help="create or upgrade the tables")
    migrate.set_defaults(handler=run_migrate)
    backup = actions.add_parser(
        "backup", help="consistent copy while the clinic runs (SQLite online backup / pg_dump)"
    )
    backup.add_argument("file", help="the backup file to write (not overwritten)")
    backup.set_defaults(handler=run_backup)
    restore = actions.add_parser(
        "restore", help="replace the database by a backup (checked before anything changes)"
    )
    restore.add_argument("file", help="a file written by 'lutetia db backup'")
    restore.set_defaults(handler=run_restore)


def setup_django() -> None:
    """Configure Django from the environment (``lutetia.clinic.settings``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lutetia.clinic.settings")
    import django

    django.setup()


def _demo_environment(args: argparse.Namespace) -> Path:
    if args.data_dir:
        folder = Path(args.data_dir)
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        folder = Path(base) / "lutetia" / "demo"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = folder / "demo.sqlite3"
    if args.fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.environ["LUTETIA_DATA_DIR"] = str(folder)
    os.environ["LUTETIA_DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["LUTETIA_INSECURE_HTTP"] = "1"  # plain HTTP on loopback only
    return database


def run_demo(args: argparse.Namespace) -> int:
    """Seed the demo database and serve the clinic on 127.0.0.1."""
    if not 1024 <= args.port <= 65535:
        raise BadInputError("--port", f"{args.port} is outside 1024-65535")
    database = _demo_environment(args)
    setup_django()
    from django.core.management import call_command

    from lutetia.clinic.demo import DEMO_PASSWORD, DEMO_USERS, seed
    from lutetia.clinic.store import today

    call_command("migrate", verbosity=0, interactive=False)
    counts = seed(today())
    print(f"Lutetia clinic demo: {counts['patients']} synthetic patients in {database}")
    address = f"http://127.0.0.1:{args.port}/"
    print(f"Sign in at {address} as one of: {', '.join(DEMO_USERS)} (password '{DEMO_PASSWORD}')")
    print("  demo = physician + physicist + technologist; admin = user administration")
    if args.no_serve:
        return 0
    from waitress import serve

    from lutetia.clinic.wsgi import application

    print("Serving on 127.0.0.1 only; press Ctrl-C to stop.", flush=True)
    serve(application, host="127.0.0.1", port=args.port, threads=4, _quiet=True)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the clinic over the configured database (migrated first)."""
    if not 1024 <= args.port <= 65535:
        raise BadInputError("--port", f"{args.port} is outside 1024-65535")
    if not 1 <= args.threads <= 64:
        raise BadInputError("--threads", f"{args.threads} is outside 1-64")
    if not 1 <= args.processes <= 32:
        raise BadInputError("--processes", f"{args.processes} is outside 1-32")
    setup_django()
    from django.core.management import call_command

    from lutetia.clinic.store import engine_settings
    from lutetia.clinic.wsgi import application

    ruleset = engine_settings().ruleset  # a site's ruleset file is checked before serving
    call_command("migrate", verbosity=0, interactive=False)
    print(
        f"Lutetia clinic on http://{args.host}:{args.port}/ "
        f"({args.processes} process(es) × {args.threads} threads; "
        f"ruleset {ruleset.name} version {ruleset.version})",
        flush=True,
    )
    if args.processes == 1:
        from waitress import serve

        serve(application, host=args.host, port=args.port, threads=args.threads, _quiet=True)
    else:
        _gunicorn(application, f"{args.host}:{args.port}", args.processes, args.threads)
    return 0


def _gunicorn(application: Any, bind: str, workers: int, threads: int) -> None:
    """Serve with gunicorn's pre-forked workers (each its own interpreter: both cores)."""
    from gunicorn.app.base import BaseApplication

    class Clinic(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "loglevel": "warning",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Clinic().run()


def run_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the clinic's tables."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=1, interactive=False)
    return 0


def run_backup(args: argparse.Namespace) -> int:
    """Back the database up to a new file."""
    setup_django()
    from lutetia.clinic.backup import backup

    target = Path(args.file)
    print(backup(target))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Restore the database from a backup file."""
    setup_django()
    from lutetia.clinic.backup import restore

    print(restore(Path(args.file)))
    return 0
