"""Synthetic demo data: the example cases at every programme stage, and a user per role.

Every date of an example case is moved by the same number of days so that its
``as_of`` falls on today: the cases keep their meaning (labs as fresh, cycles as
far apart) in a database opened today. No real patient data is involved.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

DEMO_PASSWORD = "demo"
#: user name → roles; ``demo`` holds the three clinical roles so one sign-in shows everything.
DEMO_USERS: dict[str, tuple[str, ...]] = {
    "demo": ("physician", "physicist", "technologist"),
    "physician": ("physician",),
    "physicist": ("physicist",),
    "technologist": ("technologist",),
    "viewer": ("viewer",),
    "admin": ("administrator",),
}
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(.*)$")


def examples_dir() -> Path:
    """The repository's ``examples/cases`` (the demo runs from a clone)."""
    return Path(__file__).resolve().parents[3] / "examples" / "cases"


def shifted(value: Any, days: int) -> Any:
    """``value`` with every ISO date or datetime string moved by ``days``."""
    if isinstance(value, dict):
        return {key: shifted(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [shifted(item, days) for item in value]
    if isinstance(value, str):
        match = _ISO.match(value)
        if match:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                return value
            return (day + timedelta(days=days)).isoformat() + match.group(2)
    return value


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every example case, in file order."""
    from lutetia.cases.io import parse_document

    result = []
    for path in sorted(examples_dir().glob("[0-9]*.*")):
        text = path.read_text(encoding="utf-8")
        document = parse_document(
            text, yaml_syntax=path.suffix in {".yaml", ".yml"}, source=str(path)
        )
        result.append((path.name, document))
    return result


def ensure_roles_and_users() -> dict[str, Any]:
    """The role groups, and the demo users (password ``demo``), created if absent."""
    from django.contrib.auth.models import Group, User

    from lutetia.clinic.roles import Role

    groups = {role.value: Group.objects.get_or_create(name=role.value)[0] for role in Role}
    users = {}
    for name, roles in DEMO_USERS.items():
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User.objects.create_user(name, password=DEMO_PASSWORD)
        user.is_staff = user.is_superuser = "administrator" in roles
        user.save()
        user.groups.set([groups[r] for r in roles])
        users[name] = user
    return users


def seed(today: date) -> dict[str, int]:
    """Create the demo users and patients (on an empty clinic database)."""
    from django.db import transaction

    from lutetia.clinic import store
    from lutetia.clinic.models import Decision, Patient
    from lutetia.services.course import assess_case, decide_next_cycle, validated

    with transaction.atomic():
        users = ensure_roles_and_users()
        if Patient.objects.exists():
            return {"patients": Patient.objects.count(), "created": 0}
        physician = users["physician"]
        created = 0
        names = iter(_NAMES)
        for file_name, original in example_documents():
            days = (today - date.fromisoformat(str(original["as_of"]))).days
            document = shifted(original, days)
            document["as_of"] = today.isoformat()
            case = validated(document, source=file_name)
            patient = store.create_patient(document, case, name=next(names, ""))
            created += 1
            number = int(file_name.split("-", 1)[0])
            # Signed decisions put patients on every stage of the board.
            if number in {1, 3, 5, 16} or (case.course is not None and case.course.cycles):
                kind = "next_cycle" if case.course and case.course.cycles else "selection"
                settings = store.engine_settings()
                output = (
                    decide_next_cycle(case, settings)
                    if kind == "next_cycle"
                    else assess_case(case, settings)
                )
                engine = output["decision"] if kind == "next_cycle" else output["recommendation"]
                override = number == 23
                Decision.objects.create(
                    patient=patient,
                    kind=kind,
                    engine_decision=engine,
                    final_decision="postpone" if override else engine,
                    accepted=not override,
                    reason="demo: patient asked to postpone by one week for a family event"
                    if override
                    else "",
                    input_snapshot=document,
                    engine_output=output,
                    catalogue_version=output["catalogue_version"],
                    ruleset=store.ruleset_label(output),
                    lutetia_version=output["lutetia_version"],
                    signed_by=physician,
                    signed_at=datetime.combine(today, time(9, 0)).astimezone(),
                )
                store.save_case(patient, document, case, patient.version, reason="demo decision")
        created += _demo_administration(users["technologist"], today)
    return {"patients": Patient.objects.count(), "created": created}


def _demo_administration(technologist: Any, today: date) -> int:
    """A new patient given cycle 1 yesterday, with dose-rate readings: release and letter."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from lutetia.clinic import store
    from lutetia.clinic.models import DoseRateReading, Patient
    from lutetia.services.course import validated

    patient = Patient.objects.filter(identifier="ex-01").first()
    source = dict(patient.case) if patient is not None else None
    if source is None:
        return 0
    document = shifted(source, 0)
    document["patient"] = {**document["patient"], "id": "DEMO-RELEASE"}
    zone = ZoneInfo(settings.TIME_ZONE)
    consented = datetime.combine(today - timedelta(days=3), time(11, 0), zone)
    document["consent"] = {"signed_at": consented.isoformat()}
    record = store.create_patient(document, validated(document), name="Release Demo")
    injected = datetime.combine(today - timedelta(days=1), time(10, 30), zone)
    administration = store.record_administration(
        record,
        record.version,
        store.Readings(
            injected_at=injected,
            prescribed_gbq=7.4,
            before_gbq=7.62,
            before_at=injected - timedelta(minutes=20),
            residual_gbq=0.08,
            residual_at=injected + timedelta(minutes=15),
        ),
        technologist,
    )
    for hours, rate in ((2.0, 25.0), (24.0, 12.0)):
        DoseRateReading.objects.create(
            patient=record,
            cycle_number=administration.cycle_number,
            measured_at=injected + timedelta(hours=hours),
            rate_usv_h=rate,
            distance_m=1.0,
            recorded_by=technologist,
        )
    _demo_study(record, administration.cycle_number)
    return 1


def _demo_study(patient: Any, cycle_number: int) -> None:
    """The synthetic SPECT/CT phantom (4 scans, moved between them) as the cycle's study.

    Written into the clinic's study directory, where a physicist can import it again.
    """
    from django.conf import settings
    from django.contrib.auth.models import User

    from lutetia.clinic import store
    from lutetia.imaging.phantom import make_phantom

    name = "DEMO-RELEASE-cycle-1-phantom"
    folder = Path(settings.STUDIES_DIR) / name
    if not (folder / "labels.nii.gz").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        truth = make_phantom(folder, shape=(48, 48, 48), spacing_mm=(6.4, 6.4, 6.4))
        # the phantom's counts need its camera calibration (docs/imaging.md, study.json)
        (folder / "study.json").write_text(
            json.dumps({"calibration_cps_per_mbq": truth.calibration_cps_per_mbq}),
            encoding="utf-8",
        )
    document = store.compute_study(name)
    patient.refresh_from_db()
    store.record_study(
        patient,
        patient.version,
        cycle_number=cycle_number,
        name=name,
        document=document,
        user=User.objects.get(username="physicist"),
    )


_NAMES = (
    "Alain Synthetic",
    "Bruno Fictif",
    "Carl Example",
    "Didier Sample",
    "Emil Testcase",
    "Felix Placeholder",
    "Gaston Demo",
    "Henri Mock",
    "Ivo Synthetic",
    "Jules Fictif",
    "Karl Example",
    "Louis Sample",
    "Marc Testcase",
    "Noel Placeholder",
    "Otto Demo",
    "Paul Mock",
    "Quentin Synthetic",
    "Rene Fictif",
    "Serge Example",
    "Theo Sample",
    "Ugo Testcase",
    "Victor Placeholder",
    "Willem Demo",
    "Xavier Mock",
    "Yves Synthetic",
    "Zeno Fictif",
    "Armand Example",
    "Basile Sample",
    "Cyril Testcase",
    "Denis Placeholder",
    "Emile Demo",
    "Fabien Mock",
)
