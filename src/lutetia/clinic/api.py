"""The typed JSON API under ``/api/`` (django-ninja, OpenAPI at ``/api/openapi.json``).

Session authentication with CSRF for every unsafe method (django-ninja's
``SessionAuth``); the role is checked per operation with the same table as the
pages (:mod:`lutetia.clinic.roles`). Writes use the same services and the same
optimistic locking as the forms.
"""

from __future__ import annotations

import datetime
from datetime import timedelta
from typing import Any, Literal

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import HttpError
from ninja.security import SessionAuth
from pydantic import ConfigDict, field_validator

from lutetia.clinic import store
from lutetia.clinic.models import Patient, Stage, WorklistItem
from lutetia.clinic.roles import Action, allowed
from lutetia.errors import BadInputError
from lutetia.units import ANALYTES

#: Paging and date bounds of the API's queries (beyond them: 422, never an overflow).
MAX_OFFSET = 1_000_000_000
EARLIEST, LATEST = datetime.date(1900, 1, 1), datetime.date(2200, 12, 31)

api = NinjaAPI(
    title="Lutetia clinic API",
    version="1",
    description="Patients, their lutetia.case/1 documents, the engines' advice and the "
    "worklist. Session authentication; send the CSRF token with every write.",
    auth=SessionAuth(),
    urls_namespace="api",
    docs_url=None,
)


class ErrorOut(Schema):
    """An error: what was wrong, naming the field."""

    detail: str


class PatientOut(Schema):
    """A patient in the programme."""

    id: int
    identifier: str
    name: str
    stage: Stage
    version: int


class PatientList(Schema):
    """A page of patients."""

    count: int
    items: list[PatientOut]


class LabIn(Schema):
    """A laboratory result in its own UCUM unit; ``version`` is the patient version read.

    Strict types (a JSON ``true`` is not the value 1) and no unknown field, as in a case file.
    """

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31)
    analyte: Literal[ANALYTES]  # type: ignore[valid-type]
    value: float
    unit: str = Field(min_length=1, max_length=32)
    date: datetime.date
    lln: float | None = None
    uln: float | None = None

    @field_validator("version", "value", "lln", "uln", mode="before")
    @classmethod
    def _number_not_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value


class WorkItemOut(Schema):
    """One item due."""

    patient_id: int
    identifier: str
    date: datetime.date
    window_end: datetime.date | None
    kind: str
    description: str
    section: str
    cycle: int | None
    overdue: bool


def _require(request: HttpRequest, action: Action) -> None:
    if not allowed(request.user, action):
        raise HttpError(403, f"{action.value} is not allowed for this role")


def _out(patient: Patient) -> PatientOut:
    return PatientOut(
        id=patient.pk,
        identifier=patient.identifier,
        name=patient.name,
        stage=Stage(patient.stage),
        version=patient.version,
    )


@api.exception_handler(BadInputError)
def bad_input(request: HttpRequest, error: BadInputError) -> Any:
    """Bad input: 422 with one line naming the field."""
    return api.create_response(request, {"detail": f"{error.field}: {error.reason}"}, status=422)


@api.exception_handler(store.StaleVersion)
def stale(request: HttpRequest, error: store.StaleVersion) -> Any:
    """A concurrent save: 409, nothing written."""
    return api.create_response(request, {"detail": str(error)}, status=409)


@api.get("/patients", response={200: PatientList, 403: ErrorOut, 422: ErrorOut})
def patients(
    request: HttpRequest,
    q: Query[str] = "",
    stage: Query[Stage | None] = None,
    offset: Query[int] = 0,
    limit: Query[int] = 50,
) -> Any:
    """Patients, by identifier or name (``q``, up to 64 characters) and stage; 1-500 a page."""
    _require(request, Action.VIEW)
    if len(q) > 64:
        raise BadInputError("q", "at most 64 characters")
    if not 0 <= offset <= MAX_OFFSET:
        raise BadInputError("offset", f"must be 0-{MAX_OFFSET}")
    if not 1 <= limit <= 500:
        raise BadInputError("limit", "must be 1-500")
    rows = store.visible_patients(request.user).only("pk", "identifier", "name", "stage", "version")
    if q:
        rows = rows.filter(Q(identifier__icontains=q) | Q(name__icontains=q))
    if stage is not None:
        rows = rows.filter(stage=stage)
    return {"count": rows.count(), "items": [_out(p) for p in rows[offset : offset + limit]]}


@api.get("/patients/{pk}", response={200: PatientOut, 403: ErrorOut, 404: ErrorOut})
def patient(request: HttpRequest, pk: int) -> Any:
    """One patient."""
    _require(request, Action.VIEW)
    return _out(get_object_or_404(store.visible_patients(request.user), pk=pk))


@api.get("/patients/{pk}/case", response={200: dict[str, Any], 403: ErrorOut, 404: ErrorOut})
def case(request: HttpRequest, pk: int) -> Any:
    """The patient's ``lutetia.case/1`` document."""
    _require(request, Action.VIEW)
    return get_object_or_404(store.visible_patients(request.user), pk=pk).case


@api.get(
    "/patients/{pk}/assessment",
    response={200: dict[str, Any], 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def assessment(request: HttpRequest, pk: int) -> Any:
    """Patient selection as of today (``lutetia.assessment/1``)."""
    from lutetia.services.course import assess_case

    _require(request, Action.VIEW)
    return assess_case(
        store.evaluated(get_object_or_404(store.visible_patients(request.user), pk=pk))[1],
        store.engine_settings(),
    )


@api.get(
    "/patients/{pk}/next-cycle",
    response={200: dict[str, Any], 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def next_cycle(request: HttpRequest, pk: int) -> Any:
    """The next-cycle decision as of today."""
    from lutetia.services.course import decide_next_cycle

    _require(request, Action.VIEW)
    return decide_next_cycle(
        store.evaluated(get_object_or_404(store.visible_patients(request.user), pk=pk))[1],
        store.engine_settings(),
    )


@api.post(
    "/patients/{pk}/labs",
    response={200: PatientOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def add_lab(request: HttpRequest, pk: int, lab: LabIn) -> Any:
    """Record a laboratory result (the same validation as a case file)."""
    from lutetia.services.course import with_entry

    _require(request, Action.CLINICAL_DATA)
    record = get_object_or_404(store.visible_patients(request.user), pk=pk)
    entry: dict[str, Any] = {
        "analyte": lab.analyte,
        "value": lab.value,
        "unit": lab.unit,
        "date": lab.date.isoformat(),
    }
    if lab.lln is not None:
        entry["lln"] = lab.lln
    if lab.uln is not None:
        entry["uln"] = lab.uln
    document, validated_case = with_entry(record.case, "labs", entry, store.today())
    with transaction.atomic():
        saved = store.save_case(record, document, validated_case, lab.version, reason="lab (API)")
    return _out(saved)


@api.get("/worklist", response={200: list[WorkItemOut], 403: ErrorOut, 422: ErrorOut})
def worklist(
    request: HttpRequest,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Any:
    """Items due from ``start`` to ``end`` (default: the next 14 days) and every overdue item.

    Ordered by date; ``offset`` and ``limit`` (1-1000) page through them.
    """
    _require(request, Action.VIEW)
    if not 0 <= offset <= MAX_OFFSET:
        raise BadInputError("offset", f"must be 0-{MAX_OFFSET}")
    if not 1 <= limit <= 1000:
        raise BadInputError("limit", "must be 1-1000")
    today = store.today()
    for name, day in (("start", start), ("end", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise BadInputError(name, f"must lie between {EARLIEST} and {LATEST}")
    start = start or today
    end = end or start + timedelta(days=14)
    if end < start or (end - start).days > 366:
        raise BadInputError("end", "must be on or after start, at most one year later")
    # keys first (the covering index sorts them), then the rows in full
    keys = list(
        WorklistItem.objects.filter(store.due_between(start, end) | store.overdue(today))
        .filter(store.team_filter(request.user))
        .order_by("date", "id")
        .values_list("id", flat=True)[offset : offset + limit]
    )
    rows = store.worklist_rows(keys)
    return [
        WorkItemOut(
            patient_id=row.patient_id,
            identifier=row.patient.identifier,
            date=row.date,
            window_end=row.window_end,
            kind=row.kind,
            description=row.description,
            section=row.section,
            cycle=row.cycle,
            overdue=row.status == "open" and (row.window_end or row.date) < today,
        )
        for row in rows
    ]
