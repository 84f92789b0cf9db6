"""Clinic latency with a programme of N patients (issue 10): patient page, worklist, board.

    uv run python benchmarks/clinic_load.py --patients 10000
    uv run python tests/clinic/with_postgres.py \\
        uv run --frozen --no-sync python benchmarks/clinic_load.py --patients 10000

The database is SQLite in a temporary folder unless ``LUTETIA_DATABASE_URL`` is set
(the second line runs it on a throw-away PostgreSQL server). N patients are cloned from
the example cases (each clone its own identifier, worklist and stage), the clinic is served
by ``lutetia serve`` (waitress, 4 threads) and measured over loopback:

* cold: the first request for each of 200 different patient pages (the engines run), timed
  by this script one after another;
* warm: ApacheBench (Debian's apache2-utils, ``ab``), 1 and 4 concurrent clients, 400
  requests per page, p50/p95 from ab's percentile table.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def populate(patients: int, teams: int = 0) -> list[int]:
    """Create the users and ``patients`` clones; the keys of some patients in treatment.

    With ``teams`` > 0, the patients are spread over that many care teams and the viewer
    (who loads the pages) is a member of the first: per-object authorization in use.
    """
    from django.core.management import call_command
    from django.db import transaction

    from lutetia.clinic.demo import ensure_roles_and_users, example_documents, shifted
    from lutetia.clinic.models import CareTeam, Patient, WorklistItem
    from lutetia.clinic.store import today, worklist_item
    from lutetia.services.course import due_items, stage, validated

    call_command("migrate", verbosity=0, interactive=False)
    users = ensure_roles_and_users()
    groups = [CareTeam.objects.create(name=f"Team {k}") for k in range(teams)]
    if groups:
        groups[0].members.add(users["viewer"])
    templates = []
    for name, original in example_documents():
        days = (today() - date.fromisoformat(str(original["as_of"]))).days
        document = shifted(original, days)
        case = validated(document, source=name)
        templates.append((document, stage(case, {}), due_items(case)))
    treated: list[int] = []
    batch = 1000
    for start in range(0, patients, batch):
        with transaction.atomic():
            rows = []
            for i in range(start, min(start + batch, patients)):
                document, status, _ = templates[i % len(templates)]
                clone = copy.deepcopy(document)
                clone["patient"]["id"] = f"bench-{i:05d}"
                rows.append(
                    Patient(
                        identifier=clone["patient"]["id"],
                        name=f"Bench {i}",
                        stage=status,
                        case=clone,
                        team=groups[i % teams] if groups else None,
                    )
                )
            created = Patient.objects.bulk_create(rows)
            items: list[WorklistItem] = []
            for offset, patient in enumerate(created):
                _, status, due = templates[(start + offset) % len(templates)]
                visible = not groups or (start + offset) % teams == 0
                if status == "in_treatment" and visible and len(treated) < 200:
                    treated.append(patient.pk)
                if status in ("completed", "discontinued"):
                    continue
                items.extend(worklist_item(patient, d) for d in due)
            WorklistItem.objects.bulk_create(items, batch_size=5000)
    # what a running database's maintenance does (autovacuum; SQLite's PRAGMA optimize)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return treated


def _ab(url: str, cookie: str, requests: int, clients: int) -> dict[str, float]:
    output = subprocess.run(
        ["ab", "-q", "-n", str(requests), "-c", str(clients), "-C", cookie, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", output)
    percent = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.MULTILINE))
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return {
        "p50_ms": float(percent["50"]),
        "p95_ms": float(percent["95"]),
        "max_ms": float(percent["100"]),
        "per_s": rate,
        "failed": failed + (int(non2xx.group(1)) if non2xx else 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--processes", type=int, default=1, help="lutetia serve --processes")
    parser.add_argument(
        "--teams", type=int, default=0, help="spread the patients over this many care teams"
    )
    args = parser.parse_args()
    if shutil.which("ab") is None:
        print("ab (ApacheBench, Debian package apache2-utils) is needed", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="lutetia-bench-"))
    os.environ.setdefault("LUTETIA_DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite3'}")
    os.environ.update(
        LUTETIA_DATA_DIR=str(folder),
        LUTETIA_INSECURE_HTTP="1",
        DJANGO_SETTINGS_MODULE="lutetia.clinic.settings",
    )
    import django

    django.setup()
    from django.db import connection

    started = time.perf_counter()
    treated = populate(args.patients, args.teams)
    print(
        f"{connection.vendor}: {args.patients} patients ({args.teams} care teams) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lutetia",
            "serve",
            "--port",
            str(port),
            "--processes",
            str(args.processes),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        session = requests.Session()
        for _ in range(200):
            try:
                session.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        session.get(f"{base}/login/")
        session.post(
            f"{base}/login/",
            data={
                "username": "viewer",
                "password": "demo",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": base},
        )
        cookie = f"sessionid={session.cookies['sessionid']}"
        cold = []
        for pk in treated:
            moment = time.perf_counter()
            response = session.get(f"{base}/patients/{pk}/")
            cold.append((time.perf_counter() - moment) * 1000)
            assert response.status_code == 200
        cold.sort()
        print(
            f"patient page, cold (engines run), {len(cold)} patients: "
            f"p50 {statistics.median(cold):.1f} ms, p95 {cold[int(0.95 * len(cold)) - 1]:.1f} ms"
        )
        pages: dict[str, str] = {
            "patient page (warm)": f"{base}/patients/{treated[0]}/",
            "worklist (14 days + overdue)": f"{base}/worklist/",
            "board (first page)": f"{base}/",
            "API worklist": f"{base}/api/worklist",
        }
        results: dict[str, Any] = {}
        for (name, url), clients in itertools.product(pages.items(), (1, 4)):
            results[name] = figures = _ab(url, cookie, args.requests, clients)
            print(
                f"{clients} client{'s' if clients > 1 else ''}, "
                f"{name}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
                f"max {figures['max_ms']:.0f} ms, {figures['per_s']:.0f}/s, "
                f"failed {figures['failed']:.0f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
