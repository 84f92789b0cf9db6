"""Writes to a patient's record: one transaction each, optimistic locking, derived rows rebuilt.

A write names the ``Patient.version`` it read. The update is conditional on that
version; when someone saved in between, :class:`StaleVersion` is raised and the
transaction (Django's request transaction, or :func:`transaction.atomic` here)
writes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lutetia.cases.model import Case
from lutetia.clinic.models import (
    Administration,
    CareTeam,
    Decision,
    DoseRateReading,
    DosimetryStudy,
    Patient,
    WorklistItem,
)
from lutetia.guideline.context import Settings
from lutetia.services.course import Due


class StaleVersion(Exception):  # noqa: N818 - the name says what happened
    """The record changed since the form was opened; the save is refused."""

    def __init__(self, patient: Patient, read_version: int) -> None:
        super().__init__(
            f"{patient.identifier} was changed by someone else since you opened it (you read "
            f"version {read_version}; it is now version {patient.version}). Nothing was saved: "
            "reload the page, check the change, and enter yours again."
        )


@cache
def _settings_for(choice: str) -> Settings:
    from lutetia.guideline.ruleset import load_ruleset

    return Settings(ruleset=load_ruleset(choice))


def engine_settings() -> Settings:
    """What the engines run under here: the ruleset of ``settings.RULESET`` (read once)."""
    return _settings_for(str(settings.RULESET))


def team_filter(user: Any, prefix: str = "") -> Q:
    """The patients ``user`` may see, as a filter on a model reached by ``prefix``
    (``""`` for Patient, ``"patient__"`` for a row that belongs to one): those of no
    care team, and those of the user's teams (:class:`~lutetia.clinic.models.CareTeam`)."""
    if not CareTeam.objects.exists():
        return Q()  # a department without teams: every patient is in the common pool
    teams = list(user.care_teams.values_list("pk", flat=True)) if user.is_authenticated else []
    return Q(**{f"{prefix}team__isnull": True}) | Q(**{f"{prefix}team__in": teams})


def visible_patients(user: Any) -> Any:
    """Patients ``user`` may see (per-object authorization by care team)."""
    return Patient.objects.filter(team_filter(user))


@transaction.atomic
def assign_team(patient: Patient, team: Any) -> None:
    """Put ``patient`` in care ``team`` (None: the common pool), worklist rows included."""
    patient.team = team
    patient._change_reason = "care team assigned"  # type: ignore[attr-defined]
    patient.save(update_fields=["team", "updated_at"])
    WorklistItem.objects.filter(patient=patient).update(team=team)


def ruleset_label(output: dict[str, Any]) -> str:
    """``name version`` of the ruleset an engine document names (``Decision.ruleset``)."""
    ruleset = output.get("ruleset") or {}
    return f"{ruleset.get('name', '')} {ruleset.get('version', '')}".strip()


def today() -> date:
    """The department's date (``TIME_ZONE``)."""
    return timezone.localdate()


def latest_signed(patient: Patient) -> dict[str, str]:
    """The latest final decision of each kind."""
    signed: dict[str, str] = {}
    for kind, final in (
        Decision.objects.filter(patient=patient)
        .order_by("signed_at", "pk")
        .values_list("kind", "final_decision")
    ):
        signed[kind] = final
    return signed


def rebuild_derived(patient: Patient, case: Case) -> None:
    """The stage and the worklist rows, from the case and the signed decisions."""
    from lutetia.services.course import stage

    patient.stage = stage(case, latest_signed(patient) if patient.pk else {}, engine_settings())
    if patient.pk:
        _rebuild_worklist(patient, case)


#: Stages whose patients have nothing more on the worklist.
CLOSED_STAGES = frozenset({"completed", "discontinued"})


def _rebuild_worklist(patient: Patient, case: Case) -> None:
    """The patient's worklist rows; none once the course is completed or discontinued."""
    from lutetia.services.course import due_items

    WorklistItem.objects.filter(patient=patient).delete()
    if patient.stage in CLOSED_STAGES:
        return
    WorklistItem.objects.bulk_create(
        worklist_item(patient, item) for item in due_items(case, engine_settings())
    )


def worklist_item(patient: Patient, item: Due) -> WorklistItem:
    """The worklist row of one planned item (not saved)."""
    return WorklistItem(
        patient=patient,
        team_id=patient.team_id,
        date=item.event.date,
        window_end=item.event.window_end,
        kind=item.event.kind,
        description=item.event.description[:300],
        section=item.event.section[:120],
        cycle=item.event.cycle,
        status=item.status,
    )


def claim_version(patient: Patient, read_version: int) -> None:
    """The optimistic lock: increment the record's version if it is still ``read_version``.

    Every write to a patient's record goes through here first; when someone saved in
    between, :class:`StaleVersion` (with the current version) and nothing is written.
    """
    updated = Patient.objects.filter(pk=patient.pk, version=read_version).update(
        version=F("version") + 1
    )
    if not updated:
        patient.refresh_from_db()
        raise StaleVersion(patient, read_version)
    patient.version = read_version + 1


def evaluated(patient: Patient) -> tuple[dict[str, Any], Case]:
    """The patient's case document as of today, and the case it validates to."""
    from lutetia.services.course import as_of, validated

    document = as_of(patient.case, today())
    return document, validated(document, source=f"patient {patient.pk}")


@transaction.atomic
def save_case(
    patient: Patient, document: dict[str, Any], case: Case, read_version: int, *, reason: str
) -> Patient:
    """Store a validated case document if nobody saved since ``read_version``."""
    claim_version(patient, read_version)
    current = Patient.objects.select_for_update().get(pk=patient.pk)
    current.case = document
    current._change_reason = reason  # type: ignore[attr-defined]
    rebuild_derived(current, case)
    current.save()
    return current


@transaction.atomic
def create_patient(
    document: dict[str, Any], case: Case, *, name: str = "", team: Any = None
) -> Patient:
    """Register a patient from a validated case document (in ``team``, or the common pool)."""
    patient = Patient(identifier=case.patient.id, name=name, case=document, team=team)
    patient._change_reason = "registered"  # type: ignore[attr-defined]
    rebuild_derived(patient, case)
    patient.save()
    _rebuild_worklist(patient, case)
    return patient


@dataclass(frozen=True)
class Readings:
    """The dose-calibrator readings of one administration (aware datetimes)."""

    injected_at: datetime
    prescribed_gbq: float
    before_gbq: float
    before_at: datetime
    residual_gbq: float
    residual_at: datetime


#: How late an administration may be entered (days after the injection).
LATE_ENTRY_DAYS = 30


def check_can_administer(patient: Patient, injected_at: datetime) -> None:
    """Refuse an administration the record does not allow (Process of treatment procedure, 1).

    No cycle for a completed or discontinued course; none without written consent signed
    before the injection; none in the future or entered more than
    :data:`LATE_ENTRY_DAYS` days late.
    """
    from lutetia.errors import BadInputError

    if patient.stage in CLOSED_STAGES:
        raise BadInputError(
            "injected_at", f"the course is {patient.stage}: no further cycle can be recorded"
        )
    now = timezone.now()
    if injected_at > now:
        raise BadInputError("injected_at", "is in the future")
    if (now - injected_at).days > LATE_ENTRY_DAYS:
        raise BadInputError(
            "injected_at", f"is more than {LATE_ENTRY_DAYS} days ago: correct the date"
        )
    signed = (patient.case.get("consent") or {}).get("signed_at")
    if not signed:
        raise BadInputError(
            "injected_at", "no written informed consent is recorded: record it before a cycle"
        )
    consent = datetime.fromisoformat(str(signed))
    if consent.tzinfo is None:  # a consent date without a time counts from that day's start
        consent = datetime.combine(consent.date(), datetime.min.time(), injected_at.tzinfo)
    if injected_at < consent:
        raise BadInputError("injected_at", f"is before the written consent ({signed})")


@transaction.atomic
def record_administration(
    patient: Patient, read_version: int, readings: Readings, user: Any
) -> Administration:
    """Decay-correct the readings, add the cycle to the case and keep the calculation.

    The plan that was for this cycle is replaced by the guideline's regimen for the next
    one (Process of treatment procedure, 11: every 6 weeks, here with this cycle's
    prescribed activity) until a physician plans otherwise; after the sixth cycle the
    plan is cleared.
    """
    from lutetia.protection.activity import administered_activity
    from lutetia.services.course import jsonable, with_entry

    check_can_administer(patient, readings.injected_at)

    result = administered_activity(
        before_gbq=readings.before_gbq,
        before_at=readings.before_at,
        residual_gbq=readings.residual_gbq,
        residual_at=readings.residual_at,
        injected_at=readings.injected_at,
        prescribed_gbq=readings.prescribed_gbq,
    )
    number = len((patient.case.get("course") or {}).get("cycles") or []) + 1
    entry = {
        "number": number,
        "date": jsonable(readings.injected_at),
        "activity_gbq": round(result.administered_gbq, 4),
    }
    # The plan moves on before the cycle is added, and the result is validated once: the
    # cycle given on its planned day must not meet the plan it fulfils ("planned date not
    # after the last cycle").
    planned = copy.deepcopy(patient.case)
    course = planned.get("course") or {}
    planned["course"] = course
    course.pop("planned_date", None)
    course.pop("planned_activity_gbq", None)
    rules = engine_settings().ruleset
    if number < rules.max_cycles:
        course["planned_date"] = (readings.injected_at + rules.interval).date().isoformat()
        course["planned_activity_gbq"] = readings.prescribed_gbq
    document, case = with_entry(planned, "cycles", entry, today())
    saved = save_case(patient, document, case, read_version, reason=f"cycle {number} given")
    return Administration.objects.create(
        patient=saved,
        cycle_number=number,
        injected_at=readings.injected_at,
        prescribed_gbq=readings.prescribed_gbq,
        before_gbq=readings.before_gbq,
        before_at=readings.before_at,
        residual_gbq=readings.residual_gbq,
        residual_at=readings.residual_at,
        administered_gbq=result.administered_gbq,
        calculation={
            "before_at_injection_gbq": result.before_at_injection_gbq,
            "residual_at_injection_gbq": result.residual_at_injection_gbq,
            "deviation_percent": result.deviation_percent,
            "warnings": list(result.warnings),
            "decay": "177Lu half-life from ICRP-107; both readings corrected to the injection",
        },
        recorded_by=user,
    )


def study_folders() -> list[str]:
    """The study folders the physicist may import (sub-folders of ``STUDIES_DIR``)."""
    from django.conf import settings

    root = Path(settings.STUDIES_DIR)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def compute_study(name: str) -> dict[str, Any]:
    """``lutetia dose images --register`` on the study folder ``name`` (outside any transaction).

    Only a folder listed by :func:`study_folders` is read: a name is never a path.
    """
    from django.conf import settings

    from lutetia.errors import BadInputError
    from lutetia.services.image_dosimetry import Options, run_study, study_inputs

    if name not in study_folders():
        raise BadInputError("study", f"{name!r} is not a study folder of this clinic")
    inputs = study_inputs(Path(settings.STUDIES_DIR) / name)
    return run_study(inputs, Options(register=True))


@transaction.atomic
def record_study(
    patient: Patient,
    read_version: int,
    *,
    cycle_number: int,
    name: str,
    document: dict[str, Any],
    user: Any,
) -> DosimetryStudy:
    """Keep a computed study for a given cycle of the patient (version checked)."""
    from lutetia.errors import BadInputError

    cycles = (patient.case.get("course") or {}).get("cycles") or []
    if cycle_number not in {c.get("number") for c in cycles}:
        raise BadInputError(
            "cycle_number", f"cycle {cycle_number} is not recorded for this patient"
        )
    claim_version(patient, read_version)
    return DosimetryStudy.objects.create(
        patient=patient,
        cycle_number=cycle_number,
        source=name,
        document=document,
        recorded_by=user,
    )


def hours_after(moment: datetime, start: datetime) -> float:
    """Hours from ``start`` to ``moment``."""
    return (moment - start).total_seconds() / 3600


def latest_administration(patient: Patient) -> Administration | None:
    """The patient's administration of the highest cycle number, if any."""
    return patient.administrations.order_by("-cycle_number").first()


def release_settings(administration: Administration, readings: list[DoseRateReading]) -> Any:
    """What release and the letter need: the readings in hours after the injection.

    Without readings, the population estimate (at 1 m); readings at different distances
    are bad input.
    """
    from lutetia.errors import BadInputError
    from lutetia.protection.release import PROFILES
    from lutetia.services.release import ReleaseSettings

    distances = {r.distance_m for r in readings}
    if len(distances) > 1:
        raise BadInputError("distance_m", "readings at different distances; correct them")
    points = tuple(
        (hours_after(r.measured_at, administration.injected_at), r.rate_usv_h) for r in readings
    )
    return ReleaseSettings(PROFILES["eu-dose-rate"], points, distances.pop() if distances else 1.0)


@transaction.atomic
def record_dose_rate(
    patient: Patient,
    read_version: int,
    *,
    measured_at: datetime,
    rate_usv_h: float,
    distance_m: float,
    user: Any,
) -> DoseRateReading:
    """Keep a dose-rate reading after the latest administration, checked with its series.

    The reading must not lie in the future and must fall within 30 days after the
    injection; the cycle's readings with this one must pass the checks release and the
    letter apply (meter range, spacing, no rise, plausible for the activity), at one
    distance.
    """
    from lutetia.errors import BadInputError
    from lutetia.protection.clearance import (
        check_distance,
        check_readings_plausible,
        readings_at_1m,
    )

    latest = latest_administration(patient)
    if latest is None:
        raise BadInputError("measured_at", "no administration is recorded: a reading needs one")
    check_distance(distance_m, "distance_m")
    if measured_at > timezone.now():
        raise BadInputError("measured_at", "is in the future")
    hours = hours_after(measured_at, latest.injected_at)
    if not 0 <= hours <= 24 * LATE_ENTRY_DAYS:
        raise BadInputError(
            "measured_at", f"must lie within {LATE_ENTRY_DAYS} days after the latest injection"
        )
    series = list(patient.dose_rates.filter(cycle_number=latest.cycle_number))
    if any(r.distance_m != distance_m for r in series):
        raise BadInputError(
            "distance_m", "the other readings of this cycle are at another distance"
        )
    points = [(hours_after(r.measured_at, latest.injected_at), r.rate_usv_h) for r in series]
    check_readings_plausible(
        readings_at_1m([*points, (hours, rate_usv_h)], distance_m), latest.administered_gbq
    )
    claim_version(patient, read_version)
    return DoseRateReading.objects.create(
        patient=patient,
        cycle_number=latest.cycle_number,
        measured_at=measured_at,
        rate_usv_h=rate_usv_h,
        distance_m=distance_m,
        recorded_by=user,
    )


#: The worklist's columns shown (the rows are read without the patient's case document).
WORKLIST_COLUMNS = ("date", "window_end", "kind", "description", "section", "cycle", "status")


def overdue(today: date) -> Q:
    """Worklist rows still open whose day or window ended before ``today``."""
    return Q(status="open", date__lt=today) & (Q(window_end__lt=today) | Q(window_end__isnull=True))


def due_between(start: date, end: date) -> Q:
    """Worklist rows open or untracked (post-therapy scans) from ``start`` to ``end``."""
    return Q(status__in=("open", "untracked"), date__gte=start, date__lte=end)


def worklist_rows(keys: list[int]) -> list[WorklistItem]:
    """The worklist rows of ``keys`` in that order, with their patient's identifier and name.

    Only the columns shown are read: not the patient's case document.
    """
    full = (
        WorklistItem.objects.select_related("patient")
        .only(*WORKLIST_COLUMNS, "patient__identifier", "patient__name", "patient__stage")
        .in_bulk(keys)
    )
    return [full[key] for key in keys]
