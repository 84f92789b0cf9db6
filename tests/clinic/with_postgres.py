"""Run a command against a throw-away PostgreSQL server on 127.0.0.1 (initdb + pg_ctl).

    python tests/clinic/with_postgres.py pytest tests/clinic

The server's binaries are found in Debian's /usr/lib/postgresql/*/bin or on the PATH;
as root, the cluster is created and run by the ``postgres`` user (PostgreSQL refuses
root). The command gets ``LUTETIA_DATABASE_URL`` (an empty database ``lutetia``; pytest-django
makes its own ``test_lutetia`` beside it); the cluster is removed afterwards.
Without PostgreSQL the command is not run and the script exits 0 saying so, unless
``LUTETIA_REQUIRE_POSTGRES`` is set (``.ci/run`` sets it): then it fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def _binary(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(command: list[str]) -> int:
    """Start the server, run ``command`` with LUTETIA_DATABASE_URL, stop the server."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found"
        if os.environ.get("LUTETIA_REQUIRE_POSTGRES"):
            print(f"with_postgres: {message}; LUTETIA_REQUIRE_POSTGRES is set", file=sys.stderr)
            return 1
        print(f"with_postgres: {message}: the PostgreSQL run is skipped", file=sys.stderr)
        return 0
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="lutetia-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    log = folder / "server.log"
    try:
        subprocess.run(
            [
                *as_user,
                initdb,
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [
                *as_user,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        createdb = _binary("createdb") or "createdb"
        subprocess.run(
            [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "lutetia"],
            check=True,
        )
        environment = {
            **os.environ,
            "LUTETIA_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/lutetia",
        }
        print(f"with_postgres: PostgreSQL on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return subprocess.run(command, env=environment, check=False).returncode
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
