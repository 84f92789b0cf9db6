"""Data-entry forms, validated on the server by the same rules as the command line.

Each form turns its fields into an entry of the case document (or a reading) and
validates the whole document with :mod:`lutetia.cases`; a :class:`BadInputError`
becomes an error on the field it names. ``version`` is the patient version the
form was opened on (optimistic locking, :mod:`lutetia.clinic.store`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django import forms

from lutetia.clinic.models import Stage
from lutetia.errors import BadInputError
from lutetia.units import ANALYTES

#: Characters refused in free text: controls (a newline could print a fake line in a
#: text report) and bidirectional overrides (which reorder what a reader sees).
_BIDI = {
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
}


def plain_text(value: str, *, newlines: bool = False) -> str:
    """``value`` if it holds no control or bidirectional-override character."""
    allowed = {"\n", "\r", "\t"} if newlines else set()
    for character in value:
        if (ord(character) < 32 or 127 <= ord(character) < 160 or character in _BIDI) and (
            character not in allowed
        ):
            raise forms.ValidationError(
                f"contains the control character U+{ord(character):04X}: type plain text"
            )
    return value


def not_in_future(value: datetime) -> datetime:
    """An aware datetime that is not later than now."""
    from django.utils import timezone

    if value > timezone.now():
        raise forms.ValidationError("is in the future")
    return value


class VersionedForm(forms.Form):
    """A form that writes to a patient record: it carries the version it was opened on."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    #: For mapping a case-model field name to this form's field.
    field_map: ClassVar[dict[str, str]] = {}

    def entry(self) -> dict[str, Any]:
        """The case-document entry the cleaned data describes."""
        raise NotImplementedError

    def add_bad_input(self, error: BadInputError) -> None:
        """Attach a validation error to the form field it names (or the form)."""
        leaf = error.field.rsplit(".", 1)[-1].split("[", 1)[0]
        target = self.field_map.get(leaf, leaf)
        if target in self.fields and target != "version":
            self.add_error(target, f"{error.reason} ({error.field})")
        else:
            self.add_error(None, f"{error.field}: {error.reason}")


_DATE = forms.DateInput(attrs={"type": "date"})
_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class LabForm(VersionedForm):
    """A laboratory result in its own unit (UCUM), with the lab's limits in the same unit."""

    analyte = forms.ChoiceField(choices=[(a, a.replace("_", " ")) for a in ANALYTES])
    value = forms.FloatField()
    unit = forms.CharField(max_length=32, help_text="UCUM, e.g. g/dL, 10*9/L, umol/L, ng/mL")
    date = forms.DateField(widget=_DATE)
    lln = forms.FloatField(required=False, label="LLN")
    uln = forms.FloatField(required=False, label="ULN")

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {
            "analyte": data["analyte"],
            "value": data["value"],
            "unit": data["unit"],
            "date": data["date"].isoformat(),
        }
        for limit in ("lln", "uln"):
            if data.get(limit) is not None:
                entry[limit] = data[limit]
        return entry


#: A yes/no answer that may be left unknown (never guessed: anything else is refused).
_YES_NO = [("", "not known"), ("yes", "yes"), ("no", "no")]


def _yes_no(value: str) -> bool:
    return value == "yes"


class AdverseEventForm(VersionedForm):
    """An adverse event by its CTCAE v5.0 term and grade."""

    term = forms.CharField(max_length=120, help_text="CTCAE v5.0 term or a common synonym")
    grade = forms.TypedChoiceField(coerce=int, choices=[(g, f"grade {g}") for g in range(1, 6)])
    onset = forms.DateField(widget=_DATE)
    resolved = forms.DateField(widget=_DATE, required=False)
    treated = forms.TypedChoiceField(
        choices=_YES_NO, coerce=_yes_no, empty_value=None, required=False
    )
    unacceptable_to_patient = forms.TypedChoiceField(
        choices=_YES_NO, coerce=_yes_no, empty_value=None, required=False
    )

    def clean_term(self) -> str:
        from lutetia.clinical.ctcae_terms import lookup

        term: str = self.cleaned_data["term"].strip()
        if any(ord(c) < 32 for c in term):
            raise forms.ValidationError("control characters are not allowed")
        if lookup(term) is None:
            self.unknown_term = True
        return term

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("grade") == 5 and data.get("resolved"):
            self.add_error("resolved", "grade 5 is death related to the event: nothing resolves")
        return data

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {
            "term": data["term"],
            "grade": data["grade"],
            "onset": data["onset"].isoformat(),
        }
        if data.get("resolved"):
            entry["resolved"] = data["resolved"].isoformat()
        for flag in ("treated", "unacceptable_to_patient"):
            if data.get(flag) is not None:
                entry[flag] = data[flag]
        return entry


class WellbeingForm(VersionedForm):
    """The patient's own report of well-being (Follow-up)."""

    date = forms.DateField(widget=_DATE)
    status = forms.ChoiceField(
        choices=[("improved", "improved"), ("stable", "stable"), ("worse", "worse")]
    )
    note = forms.CharField(max_length=500, required=False)

    def clean_note(self) -> str:
        return plain_text(self.cleaned_data.get("note") or "")

    def entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {"date": data["date"].isoformat(), "status": data["status"]}
        if data.get("note"):
            entry["note"] = data["note"]
        return entry


class ConsentForm(VersionedForm):
    """When the written informed consent was signed."""

    signed_at = forms.DateTimeField(widget=_DATETIME)
    field_map: ClassVar[dict[str, str]] = {"consent": "signed_at"}

    def clean_signed_at(self) -> datetime:
        return not_in_future(self.cleaned_data["signed_at"])


class PlanForm(VersionedForm):
    """The next cycle's planned date and activity."""

    planned_date = forms.DateField(widget=_DATE)
    planned_activity_gbq = forms.FloatField(min_value=0.0, label="Planned activity (GBq)")

    def clean_planned_date(self) -> Any:
        from django.utils import timezone

        planned = self.cleaned_data["planned_date"]
        today = timezone.localdate()
        if planned < today:
            raise forms.ValidationError(f"{planned} is in the past: plan from today on")
        if (planned - today).days > 366:
            raise forms.ValidationError(f"{planned} is more than a year ahead")
        return planned


class AdministrationForm(VersionedForm):
    """Dose-calibrator readings of the syringe before and the residual after the injection."""

    injected_at = forms.DateTimeField(widget=_DATETIME)
    prescribed_gbq = forms.FloatField(label="Prescribed (GBq)")
    before_gbq = forms.FloatField(label="Syringe before (GBq)")
    before_at = forms.DateTimeField(widget=_DATETIME, label="Measured at")
    residual_gbq = forms.FloatField(label="Residual after (GBq)")
    residual_at = forms.DateTimeField(widget=_DATETIME, label="Measured at")
    field_map: ClassVar[dict[str, str]] = {
        "--injected-at": "injected_at",
        "--prescribed-gbq": "prescribed_gbq",
        "--before-gbq": "before_gbq",
        "--before-at": "before_at",
        "--residual-gbq": "residual_gbq",
        "--residual-at": "residual_at",
        "activity_gbq": "before_gbq",
        "date": "injected_at",
    }


class DoseRateForm(VersionedForm):
    """A dose-rate reading after the latest administration."""

    measured_at = forms.DateTimeField(widget=_DATETIME)
    rate_usv_h = forms.FloatField(label="Dose rate (µSv/h)")
    distance_m = forms.FloatField(label="Distance (m)", initial=1.0)
    field_map: ClassVar[dict[str, str]] = {
        "--dose-rate": "rate_usv_h",
        "--distance-m": "distance_m",
    }


class StudyForm(VersionedForm):
    """Import a serial SPECT/CT study (a folder of the clinic's study directory) for a cycle."""

    study = forms.ChoiceField(choices=[])
    cycle_number = forms.IntegerField(min_value=1, max_value=12, label="Cycle")

    def __init__(self, *args: Any, folders: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["study"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name) for name in folders]


class DecisionForm(VersionedForm):
    """The physician's signature on the engine's advice: accept, or override with a reason."""

    accept = forms.TypedChoiceField(
        coerce=lambda v: v == "yes",
        choices=[("yes", "Accept the advice"), ("no", "Override")],
        widget=forms.RadioSelect,
    )
    final_decision = forms.CharField(max_length=32, required=False)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )
    advice_digest = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, choices: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decision_choices = choices

    def clean_reason(self) -> str:
        return plain_text(self.cleaned_data.get("reason") or "", newlines=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("accept") is False:
            if data.get("final_decision") not in self.decision_choices:
                self.add_error(
                    "final_decision", f"choose one of: {', '.join(self.decision_choices)}"
                )
            if len((data.get("reason") or "").strip()) < 10:
                self.add_error("reason", "an override needs a written reason (10 characters)")
        return data


class NewPatientForm(forms.Form):
    """Register a patient by a case file (the lutetia.case/1 contract)."""

    def clean_name(self) -> str:
        return plain_text(self.cleaned_data.get("name") or "")

    name = forms.CharField(max_length=200, required=False, label="Display name")
    case_file = forms.FileField(help_text="lutetia.case/1 (JSON or YAML), at most 1 MB")


class ImportForm(VersionedForm):
    """Replace a patient's case document by an imported one (same patient.id)."""

    case_file = forms.FileField(help_text="lutetia.case/1 (JSON or YAML), at most 1 MB")


class SearchForm(forms.Form):
    """Board search and stage filter."""

    q = forms.CharField(max_length=64, required=False, label="Search")
    stage = forms.ChoiceField(choices=[("", "all stages"), *Stage.choices], required=False)


class WorklistForm(forms.Form):
    """The worklist's date range."""

    start = forms.DateField(widget=_DATE, required=False)
    end = forms.DateField(widget=_DATE, required=False)
