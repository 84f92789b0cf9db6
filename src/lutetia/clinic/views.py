"""Server-rendered pages of the clinic. Every view checks sign-in and role on the server.

Every view that writes runs in one transaction (``transaction.atomic``): a request
that fails writes nothing; pages that only read do not hold a write lock. A write
names the patient version it read; a concurrent save
is refused with a message (:class:`lutetia.clinic.store.StaleVersion`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from lutetia.clinic import forms, store
from lutetia.clinic.models import (
    Decision,
    DecisionKind,
    DoseRateReading,
    Patient,
    Stage,
    WorklistItem,
)
from lutetia.clinic.roles import Action, requires
from lutetia.errors import BadInputError

MAX_CASE_BYTES = 1_000_000
#: Worklist rows per page (overdue and due are paged separately).
WORKLIST_PAGE = 50


def _user(request: HttpRequest) -> User:
    """The signed-in user (every writing view is behind :func:`requires`)."""
    user = request.user
    assert isinstance(user, User), "requires() lets only signed-in users through"
    return user


def digest(document: Any) -> str:
    """A fingerprint of the advice the physician saw (the sign form must match it)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@require_GET
@requires(Action.VIEW)
def board(request: HttpRequest) -> HttpResponse:
    """Patients by programme stage, with search."""
    search = forms.SearchForm(request.GET or None)
    visible = store.visible_patients(request.user)
    patients = visible.only("pk", "identifier", "name", "stage", "updated_at")
    if search.is_valid():
        query = search.cleaned_data.get("q")
        if query:
            patients = patients.filter(Q(identifier__icontains=query) | Q(name__icontains=query))
        if search.cleaned_data.get("stage"):
            patients = patients.filter(stage=search.cleaned_data["stage"])
    counts = dict(visible.values_list("stage").annotate(n=Count("pk")))
    page = Paginator(patients.order_by("identifier"), 50).get_page(request.GET.get("page"))
    stages = [(value, label, counts.get(value, 0)) for value, label in Stage.choices]
    return render(request, "clinic/board.html", {"search": search, "page": page, "stages": stages})


@require_GET
@requires(Action.VIEW)
def worklist(request: HttpRequest) -> HttpResponse:
    """Everything due in a date range across the programme, overdue items first."""
    today = store.today()
    form = forms.WorklistForm(request.GET or None)
    start, end = today, today + timedelta(days=14)
    if form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    if end < start or (end - start).days > 366:
        return HttpResponseBadRequest("end: must be on or after start, at most one year later")
    # Completed and discontinued patients have no worklist rows (store._rebuild_worklist).
    rows = WorklistItem.objects.filter(store.team_filter(request.user)).order_by("date", "id")
    overdue = rows.filter(store.overdue(today))
    due = rows.filter(store.due_between(start, end))
    return render(
        request,
        "clinic/worklist.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "overdue": _worklist_page(overdue, request.GET.get("overdue_page")),
            "due": _worklist_page(due, request.GET.get("page")),
        },
    )


def _worklist_page(rows: Any, number: str | None) -> Any:
    """One page of worklist rows: keys from the covering index, then those rows in full.

    Sorting the full rows (descriptions, patients) of a busy fortnight costs tens of
    milliseconds with 10,000 patients; sorting their keys in the index costs a few.
    """
    page = Paginator(rows.values_list("id", flat=True), WORKLIST_PAGE).get_page(number)
    keys = list(page.object_list)
    page.object_list = store.worklist_rows(keys)
    return page


def _cached(kind: str, inputs: Any, compute: Any) -> Any:
    """``compute()``, cached under a digest of everything it reads and of today's date.

    The key is the content (the case document; the administration and its readings),
    not a record number or version: a restored or replaced database can never be
    answered from an earlier one's cache, and the engines read the case as of today,
    under the ruleset in force (its name, version and thresholds are in the key).
    """
    from django.core.cache import cache

    rules = store.engine_settings().ruleset
    profile = [rules.name, rules.version, rules.thresholds()]
    material = json.dumps(
        [kind, store.today().isoformat(), profile, inputs], sort_keys=True, default=str
    )
    key = f"{kind}:{hashlib.sha256(material.encode()).hexdigest()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=3600)
    return value


def _advice(patient: Patient) -> dict[str, Any]:
    """The engines' advice on today's case: selection, next cycle, plan; or the input error."""
    result: dict[str, Any] = _cached("advice", patient.case, lambda: _compute_advice(patient))
    return result


def _compute_advice(patient: Patient) -> dict[str, Any]:
    from lutetia.services.course import assess_case, decide_next_cycle, plan

    try:
        document, case = store.evaluated(patient)
    except BadInputError as error:
        return {"error": f"{error.field}: {error.reason}"}
    result: dict[str, Any] = {"case": case, "document": document}
    settings = store.engine_settings()
    result["selection"] = assess_case(case, settings)
    if case.course is not None and case.course.cycles:
        result["next_cycle"] = decide_next_cycle(case, settings)
    course = case.course
    result["plan"] = (
        plan(case, settings) if course and (course.cycles or course.planned_date) else []
    )
    return result


def _release(patient: Patient) -> dict[str, Any] | None:
    """Release advice for the latest administration from its dose-rate readings."""
    latest = store.latest_administration(patient)
    if latest is None:
        return None
    readings = list(patient.dose_rates.filter(cycle_number=latest.cycle_number))
    result: dict[str, Any] = {"administration": latest, "readings": readings}
    if not readings:
        return {**result, "document": None}
    inputs = [
        [latest.injected_at, latest.administered_gbq],
        [[r.measured_at, r.rate_usv_h, r.distance_m] for r in readings],
    ]
    computed: dict[str, Any] = _cached(
        "release", inputs, lambda: _compute_release(latest, readings)
    )
    return {**result, **computed}


def _compute_release(latest: Any, readings: list[DoseRateReading]) -> dict[str, Any]:
    from lutetia.services.release import release_advice_for, release_document

    try:
        settings = store.release_settings(latest, readings)
        advice = release_advice_for(settings, latest.injected_at, latest.administered_gbq)
        return {"document": release_document(advice, latest.injected_at)}
    except BadInputError as error:
        return {"error": str(error), "document": None}


@require_GET
@requires(Action.VIEW)
def patient_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One patient: timeline, plots, findings, decision, administrations, release, doses."""
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    advice = _advice(patient)
    version = {"version": patient.version}
    context: dict[str, Any] = {
        "patient": patient,
        "advice": advice,
        "decisions": patient.decisions.select_related("signed_by")[:20],
        "administrations": patient.administrations.all(),
        "release": _release(patient),
        "lab_form": forms.LabForm(initial=version),
        "ae_form": forms.AdverseEventForm(initial=version),
        "wellbeing_form": forms.WellbeingForm(initial=version),
        "consent_form": forms.ConsentForm(initial=version),
        "plan_form": forms.PlanForm(initial=version),
        "administration_form": forms.AdministrationForm(initial={**version, "prescribed_gbq": 7.4}),
        "dose_rate_form": forms.DoseRateForm(initial={**version, "distance_m": 1.0}),
        "import_form": forms.ImportForm(initial=version),
        "study_form": forms.StudyForm(initial=version, folders=store.study_folders()),
        "studies": _studies(patient),
    }
    for kind in ("selection", "next_cycle"):
        output = advice.get(kind)
        if output is not None:
            context[f"{kind}_sign"] = forms.DecisionForm(
                initial={**version, "advice_digest": digest(output), "accept": "yes"},
                choices=_choices(kind),
            )
    if "case" in advice:
        context["doses"] = _doses(advice["case"])
    return render(request, "clinic/patient.html", context)


def _choices(kind: str) -> list[str]:
    if kind == DecisionKind.SELECTION:
        return ["recommended", "consider", "not_recommended", "insufficient_data"]
    return ["proceed", "reduce", "postpone", "hold", "discontinue", "complete"]


def _doses(case: Any) -> list[dict[str, Any]]:
    """Cumulative population-estimate organ doses of the given cycles against their limits."""
    from lutetia.dosimetry.bed import LIMITS
    from lutetia.dosimetry.population import course_estimates

    cycles = case.course.cycles if case.course is not None else []
    if not cycles:
        return []
    limits = {"kidneys": LIMITS["kidneys_absorbed"], "red_marrow": LIMITS["red_marrow_absorbed"]}
    rows = []
    for estimate in course_estimates([c.activity_gbq for c in cycles]):
        limit = limits.get(estimate.organ)
        rows.append(
            {
                "organ": estimate.organ.replace("_", " "),
                "per_cycle_gy": estimate.per_cycle_gy,
                "cumulative_gy": estimate.cumulative_gy,
                "sd_gy": estimate.cumulative_sd_gy,
                "limit": limit,
                "fraction": estimate.cumulative_gy / limit.limit_gy if limit else None,
                "source": estimate.source,
            }
        )
    return rows


def _form_error(request: HttpRequest, form: Form) -> None:
    for field, errors in form.errors.items():
        label = "form" if field == "__all__" else field
        for error in errors:
            messages.error(request, f"{label}: {error}")


def _write(
    request: HttpRequest, patient: Patient, form: forms.VersionedForm, change: Any, reason: str
) -> bool:
    """Validate, apply ``change`` (document, form → document, case), save with the version read.

    False (and messages saying why) when the input is refused or the record went stale.
    """
    if not form.is_valid():
        _form_error(request, form)
        return False
    if form.cleaned_data["version"] != patient.version:
        messages.error(request, str(store.StaleVersion(patient, form.cleaned_data["version"])))
        return False
    try:
        document, case = change(patient.case, form)
    except BadInputError as error:
        form.add_bad_input(error)
        _form_error(request, form)
        return False
    try:
        store.save_case(patient, document, case, form.cleaned_data["version"], reason=reason)
    except store.StaleVersion as error:
        messages.error(request, str(error))
        return False
    messages.success(request, reason)
    return True


def _entry_view(
    action: Action, form_class: type[forms.VersionedForm], section: Any, reason: str
) -> Any:
    """A POST view that appends the form's entry to a list of the case document."""

    @require_POST
    @transaction.atomic
    @requires(action)
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        from lutetia.services.course import with_entry

        patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
        form = form_class(request.POST)
        _write(
            request,
            patient,
            form,
            lambda doc, f: with_entry(doc, section, f.entry(), store.today()),
            reason,
        )
        if getattr(form, "unknown_term", False):
            messages.warning(
                request,
                "the term is not in Lutetia's CTCAE v5.0 table: the rules report it as "
                "unknown; check the spelling",
            )
        return redirect("patient", pk=patient.pk)

    view.__name__ = f"add_{section}"
    view.__doc__ = f"Record: {reason}."
    return view


add_lab = _entry_view(Action.CLINICAL_DATA, forms.LabForm, "labs", "lab result recorded")
add_adverse_event = _entry_view(
    Action.CLINICAL_DATA, forms.AdverseEventForm, "adverse_events", "adverse event recorded"
)
add_wellbeing = _entry_view(
    Action.CLINICAL_DATA, forms.WellbeingForm, "wellbeing", "well-being recorded"
)


def _fields_view(form_class: type[forms.VersionedForm], part: str, fields: Any, reason: str) -> Any:
    """A POST view that sets ``fields(form)`` in the object ``part`` of the case document."""

    @require_POST
    @transaction.atomic
    @requires(Action.CLINICAL_DATA)
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        from lutetia.services.course import with_fields

        patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
        form = form_class(request.POST)
        _write(
            request,
            patient,
            form,
            lambda doc, f: with_fields(doc, part, fields(f.cleaned_data), store.today()),
            reason,
        )
        return redirect("patient", pk=patient.pk)

    view.__doc__ = f"Record: {reason}."
    return view


def _consent_fields(data: dict[str, Any]) -> dict[str, Any]:
    from lutetia.services.course import jsonable

    return {"signed_at": jsonable(data["signed_at"])}


set_consent = _fields_view(forms.ConsentForm, "consent", _consent_fields, "consent recorded")
set_plan = _fields_view(
    forms.PlanForm,
    "course",
    lambda data: {
        "planned_date": data["planned_date"].isoformat(),
        "planned_activity_gbq": data["planned_activity_gbq"],
    },
    "next cycle planned",
)


@require_POST
@transaction.atomic
@requires(Action.ADMINISTRATION)
def add_administration(request: HttpRequest, pk: int) -> HttpResponse:
    """Record an administration: calibrator readings → decay-corrected activity → a cycle."""
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    form = forms.AdministrationForm(request.POST)
    if not form.is_valid():
        _form_error(request, form)
        return redirect("patient", pk=patient.pk)
    data = form.cleaned_data
    if data["version"] != patient.version:
        messages.error(request, str(store.StaleVersion(patient, data["version"])))
        return redirect("patient", pk=patient.pk)
    try:
        record = store.record_administration(
            patient,
            data["version"],
            store.Readings(
                injected_at=data["injected_at"],
                prescribed_gbq=data["prescribed_gbq"],
                before_gbq=data["before_gbq"],
                before_at=data["before_at"],
                residual_gbq=data["residual_gbq"],
                residual_at=data["residual_at"],
            ),
            _user(request),
        )
    except BadInputError as error:
        form.add_bad_input(error)
        _form_error(request, form)
    except store.StaleVersion as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"cycle {record.cycle_number}: {record.administered_gbq:.3f} GBq administered",
        )
        for warning in record.calculation["warnings"]:
            messages.warning(request, warning)
    return redirect("patient", pk=patient.pk)


@require_POST
@transaction.atomic
@requires(Action.DOSE_RATE)
def add_dose_rate(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a dose-rate reading after the latest administration."""
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    form = forms.DoseRateForm(request.POST)
    if not form.is_valid():
        _form_error(request, form)
        return redirect("patient", pk=patient.pk)
    if store.latest_administration(patient) is None:
        messages.error(request, "no administration is recorded: a reading needs one")
        return redirect("patient", pk=patient.pk)
    data = form.cleaned_data
    try:
        store.record_dose_rate(
            patient,
            data["version"],
            measured_at=data["measured_at"],
            rate_usv_h=data["rate_usv_h"],
            distance_m=data["distance_m"],
            user=_user(request),
        )
    except BadInputError as error:
        form.add_bad_input(error)
        _form_error(request, form)
    except store.StaleVersion as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "dose-rate reading recorded")
    return redirect("patient", pk=patient.pk)


@require_POST
@requires(Action.DOSIMETRY)
def add_study(request: HttpRequest, pk: int) -> HttpResponse:
    """Compute organ and lesion doses of a SPECT/CT study and keep them for a cycle.

    The images are read and fitted before any transaction opens (seconds); the result
    is then stored if nobody changed the record meanwhile.
    """
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    form = forms.StudyForm(request.POST, folders=store.study_folders())
    if not form.is_valid():
        _form_error(request, form)
        return redirect("patient", pk=patient.pk)
    data = form.cleaned_data
    try:
        document = store.compute_study(data["study"])
        store.record_study(
            patient,
            data["version"],
            cycle_number=data["cycle_number"],
            name=data["study"],
            document=document,
            user=_user(request),
        )
    except BadInputError as error:
        form.add_bad_input(error)
        _form_error(request, form)
    except store.StaleVersion as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"image dosimetry of {data['study']} recorded")
        for warning in document.get("warnings", []):
            messages.warning(request, warning)
    return redirect("patient", pk=patient.pk)


def _studies(patient: Patient) -> dict[str, Any]:
    """The patient's image studies and the measured absorbed doses summed over cycles."""
    from lutetia.dosimetry.bed import KIDNEY_REGIONS, LIMITS

    studies = list(patient.studies.select_related("recorded_by").order_by("cycle_number"))
    latest: dict[int, Any] = {}
    for study in studies:
        latest.setdefault(study.cycle_number, study)  # newest first within a cycle
    limits = dict.fromkeys(KIDNEY_REGIONS, LIMITS["kidneys_absorbed"])
    limits["red_marrow"] = LIMITS["red_marrow_absorbed"]
    totals: dict[str, float] = {}
    beds: dict[str, list[float | None]] = {}
    for study in latest.values():
        for name, region in study.document.get("regions", {}).items():
            dose = region.get("absorbed_dose_gy")
            if isinstance(dose, int | float):
                totals[name] = totals.get(name, 0.0) + float(dose)
                if name in KIDNEY_REGIONS:  # a study recorded before BED was computed has none
                    bed = region.get("bed_gy")
                    beds.setdefault(name, []).append(
                        float(bed) if isinstance(bed, int | float) else None
                    )
    cumulative = [
        {
            "region": name,
            "cumulative_gy": total,
            "limit": limits.get(name),
            "fraction": total / limits[name].limit_gy if name in limits else None,
        }
        for name, total in sorted(totals.items())
    ]
    bed_limit = LIMITS["kidneys_bed"]  # the patient's risk factors are the physician's call
    for name, values in sorted(beds.items()):
        if all(v is not None for v in values):
            total = sum(v for v in values if v is not None)
            cumulative.append(
                {"region": f"{name} (BED)", "cumulative_gy": total, "limit": bed_limit,
                 "fraction": total / bed_limit.limit_gy}
            )  # fmt: skip
    return {"list": studies, "cycles": sorted(latest), "cumulative": cumulative}


@require_POST
@transaction.atomic
@requires(Action.SIGN_DECISION)
def sign_decision(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Sign the engine's advice (accept or override with a reason), with its inputs kept."""
    from lutetia import __version__
    from lutetia.guideline.catalogue import CATALOGUE_VERSION

    if kind not in DecisionKind.values:
        return HttpResponseBadRequest("kind: not a decision kind")
    patient = get_object_or_404(store.visible_patients(request.user).select_for_update(), pk=pk)
    advice = _advice(patient)
    output = advice.get(kind)
    form = forms.DecisionForm(request.POST, choices=_choices(kind))
    if output is None:
        messages.error(
            request,
            f"no {kind.replace('_', ' ')} advice to sign: "
            + (advice.get("error") or "the case has none (no cycle given yet)"),
        )
    elif not form.is_valid():
        _form_error(request, form)
    elif form.cleaned_data["advice_digest"] != digest(output):
        messages.error(
            request,
            "the advice changed since you opened the page (new data were recorded): nothing was "
            "signed; read the new advice and sign again",
        )
    elif form.cleaned_data["version"] != patient.version:
        messages.error(request, str(store.StaleVersion(patient, form.cleaned_data["version"])))
    else:
        engine = output["recommendation"] if kind == DecisionKind.SELECTION else output["decision"]
        accepted = form.cleaned_data["accept"]
        Decision.objects.create(
            patient=patient,
            kind=kind,
            engine_decision=engine,
            final_decision=engine if accepted else form.cleaned_data["final_decision"],
            accepted=accepted,
            reason="" if accepted else form.cleaned_data["reason"].strip(),
            input_snapshot=advice["document"],
            engine_output=output,
            catalogue_version=CATALOGUE_VERSION,
            ruleset=store.ruleset_label(output),
            lutetia_version=__version__,
            signed_by=_user(request),
            signed_at=timezone.now(),
        )
        store.save_case(
            patient, patient.case, advice["case"], patient.version, reason=f"{kind} signed"
        )
        messages.success(request, "decision signed")
    return redirect("patient", pk=patient.pk)


@require_GET
@requires(Action.VIEW)
def overrides(request: HttpRequest) -> HttpResponse:
    """Every decision where the physician overrode the engine, newest first."""
    rows = Decision.objects.filter(
        store.team_filter(request.user, "patient__"), accepted=False
    ).select_related("patient", "signed_by")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "clinic/overrides.html", {"page": page})


@require_GET
@requires(Action.VIEW)
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """The audit trail of one patient: who changed what, when, with the differences."""
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    changes = []
    records = list(patient.history.select_related("history_user").order_by("-history_date")[:100])
    for newer, older in zip(records, [*records[1:], None], strict=True):
        differences = []
        if older is not None:
            differences = [
                (c.field, c.old, c.new)
                for c in newer.diff_against(older).changes
                if c.field not in {"updated_at"}
            ]
        changes.append({"record": newer, "differences": differences})
    return render(request, "clinic/history.html", {"patient": patient, "changes": changes})


@require_GET
@requires(Action.VIEW)
def export_case(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient's ``lutetia.case/1`` document, as a download."""
    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    response = JsonResponse(patient.case, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="case-{patient.pk}.json"'
    return response


def _read_case_upload(upload: Any) -> Any:
    from lutetia.cases.io import parse_document

    if upload.size > MAX_CASE_BYTES:
        raise BadInputError("case_file", f"larger than {MAX_CASE_BYTES} bytes")
    raw = upload.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError("case_file", "is not UTF-8 text") from None
    name = (upload.name or "").lower()
    return parse_document(text, yaml_syntax=name.endswith((".yaml", ".yml")), source="case_file")


@require_POST
@transaction.atomic
@requires(Action.REGISTER_PATIENT)
def import_case(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace the case document by an imported file for the same patient."""
    from lutetia.services.course import validated

    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    form = forms.ImportForm(request.POST, request.FILES)

    def change(_: Any, f: forms.ImportForm) -> Any:
        document = _read_case_upload(f.cleaned_data["case_file"])
        case = validated(document, source="case_file")
        if case.patient.id != patient.identifier:
            raise BadInputError(
                "patient.id", f"the file is for {case.patient.id!r}, not this patient"
            )
        return document, case

    _write(request, patient, form, change, "case file imported")
    return redirect("patient", pk=patient.pk)


@transaction.atomic
@requires(Action.REGISTER_PATIENT)
def new_patient(request: HttpRequest) -> HttpResponse:
    """Register a patient from a case file."""
    from lutetia.services.course import validated

    form = forms.NewPatientForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            document = _read_case_upload(form.cleaned_data["case_file"])
            case = validated(document, source="case_file")
            if Patient.objects.filter(identifier=case.patient.id).exists():
                raise BadInputError("patient.id", f"{case.patient.id!r} is already registered")
        except BadInputError as error:
            form.add_error("case_file", f"{error.field}: {error.reason}")
        else:
            # A member of exactly one care team registers into that team; anyone else
            # into the department's common pool (an administrator can reassign).
            teams = list(request.user.care_teams.all())  # type: ignore[union-attr]
            patient = store.create_patient(
                document,
                case,
                name=form.cleaned_data["name"],
                team=teams[0] if len(teams) == 1 else None,
            )
            messages.success(request, "patient registered")
            return redirect("patient", pk=patient.pk)
    return render(request, "clinic/new_patient.html", {"form": form})


@require_GET
@requires(Action.RELEASE)
def letter_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The discharge letter of the latest administration (PDF, WeasyPrint)."""
    import tempfile
    from pathlib import Path

    from lutetia.reports.letter import render_html, write_pdf
    from lutetia.services.release import letter_data

    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    latest = store.latest_administration(patient)
    if latest is None:
        return HttpResponseBadRequest("no administration is recorded")
    readings = list(patient.dose_rates.filter(cycle_number=latest.cycle_number))
    try:
        _, case = store.evaluated(patient)
        data = letter_data(
            case,
            store.release_settings(latest, readings),
            injected_at=latest.injected_at,
            administered_gbq=latest.administered_gbq,
            prescribed_gbq=latest.prescribed_gbq,
            rules=store.engine_settings().ruleset,
        )
    except BadInputError as error:
        return HttpResponseBadRequest(f"{error.field}: {error.reason}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "letter.pdf"
        write_pdf(render_html(data), path)
        content = path.read_bytes()
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="discharge-letter-{patient.pk}.pdf"'
    return response


@require_GET
@requires(Action.VIEW)
def plot(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """A server-side SVG plot of the patient's PSA or blood counts."""
    from lutetia.clinic import plots

    patient = get_object_or_404(store.visible_patients(request.user), pk=pk)
    if name not in plots.PLOTS:
        return HttpResponseBadRequest("name: not a plot")
    try:
        _, case = store.evaluated(patient)
    except BadInputError as error:
        return HttpResponseBadRequest(f"{error.field}: {error.reason}")
    return HttpResponse(plots.PLOTS[name](case), content_type="image/svg+xml")


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the demo launcher: no data, no authentication."""
    return HttpResponse("ok", content_type="text/plain")


def at(value: datetime) -> str:
    """A datetime in the department's zone, for messages."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
