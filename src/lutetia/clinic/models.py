"""What the clinic stores: patients with their case document, signed decisions, readings.

Each patient's clinical data is one ``lutetia.case/1`` document (the same contract
as the command line), validated by :mod:`lutetia.cases` on every write, so that
the web app and the CLI apply the same units and plausibility rules. Every table
with clinical content keeps its full history (django-simple-history: who, when,
before and after). ``Patient.version`` implements optimistic locking: a write
names the version it read, and is refused when someone saved in between.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class Stage(models.TextChoices):
    """Where a patient stands in the programme (the board's columns)."""

    CANDIDATE = "candidate", "Candidate"
    ASSESSED = "assessed", "Assessed"
    CONSENTED = "consented", "Consented"
    IN_TREATMENT = "in_treatment", "In treatment"
    FOLLOW_UP = "follow_up", "Follow-up"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"


class CareTeam(models.Model):
    """A care team: a patient assigned to one is seen only by its members.

    Per-object authorization: a clinical user sees a patient when the patient has no
    team (the department's common pool: a new referral, or a department that does not
    use teams) or when the user is a member of the patient's team. An administrator
    assigns teams and members in the admin.
    """

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="care_teams", blank=True
    )
    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    """A patient in the programme and the case document that holds their course."""

    identifier = models.CharField(
        max_length=64, unique=True, help_text="the case file's patient.id (pseudonymous)"
    )
    name = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(
        CareTeam,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patients",
        help_text="only this team's members see the patient; none: every clinical user",
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.CANDIDATE)
    case: Any = models.JSONField(help_text="the lutetia.case/1 document")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("identifier",)
        indexes = (models.Index(fields=("stage", "identifier")),)

    def __str__(self) -> str:
        return self.identifier


class DecisionKind(models.TextChoices):
    """Which engine gave the advice."""

    SELECTION = "selection", "Patient selection"
    NEXT_CYCLE = "next_cycle", "Next cycle"


class Decision(models.Model):
    """A physician's signed decision: the engine's advice accepted or overridden.

    The input snapshot, the engine's output and the rule-catalogue version are
    kept so that the advice can be reproduced later. Decisions are never edited.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    engine_decision = models.CharField(max_length=32)
    final_decision = models.CharField(max_length=32)
    accepted = models.BooleanField()
    reason = models.TextField(blank=True)
    input_snapshot: Any = models.JSONField()
    engine_output: Any = models.JSONField()
    catalogue_version = models.CharField(max_length=32)
    #: The ruleset the advice was computed under ("name version"; empty before it was kept).
    ruleset = models.CharField(max_length=128, blank=True, default="")
    lutetia_version = models.CharField(max_length=32)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    signed_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ("-signed_at",)
        indexes = (models.Index(fields=("accepted", "signed_at")),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(accepted=True) | ~models.Q(reason=""),
                name="override_has_reason",
            ),
        )

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.final_decision}"


class Administration(models.Model):
    """One cycle's administration: the dose-calibrator readings and the decay-corrected result."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="administrations")
    cycle_number = models.PositiveSmallIntegerField()
    injected_at = models.DateTimeField()
    prescribed_gbq = models.FloatField()
    before_gbq = models.FloatField()
    before_at = models.DateTimeField()
    residual_gbq = models.FloatField()
    residual_at = models.DateTimeField()
    administered_gbq = models.FloatField()
    calculation: Any = models.JSONField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    history = HistoricalRecords()

    class Meta:
        ordering = ("patient", "cycle_number")
        constraints = (
            models.UniqueConstraint(fields=("patient", "cycle_number"), name="one_per_cycle"),
        )


class DoseRateReading(models.Model):
    """A dose-rate reading after an administration (µSv/h at a stated distance)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dose_rates")
    cycle_number = models.PositiveSmallIntegerField()
    measured_at = models.DateTimeField()
    rate_usv_h = models.FloatField()
    distance_m = models.FloatField(default=1.0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    history = HistoricalRecords()

    class Meta:
        ordering = ("patient", "cycle_number", "measured_at")


class DosimetryStudy(models.Model):
    """Organ and lesion doses of one cycle from serial quantitative SPECT/CT.

    ``document`` is the output of ``lutetia dose images`` for the study
    (:func:`lutetia.services.image_dosimetry.run_study`): regions with masses,
    time points, fitted model, TIA and absorbed dose, registration, assumptions and
    warnings. ``source`` names the study folder it was computed from.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    cycle_number = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=300)
    document: Any = models.JSONField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("patient", "cycle_number", "-recorded_at")


class WorklistItem(models.Model):
    """One dated item of a patient's plan, rebuilt from the case whenever it is saved."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="worklist")
    date = models.DateField()
    window_end = models.DateField(null=True)
    kind = models.CharField(max_length=24)
    description = models.CharField(max_length=300)
    section = models.CharField(max_length=120)
    cycle = models.PositiveSmallIntegerField(null=True)
    #: ``services.course.DueStatus``: done, open, missed, untracked
    status = models.CharField(max_length=12)
    #: The patient's care team, copied so that the worklist is filtered without a join
    #: (``store.assign_team`` keeps it in step).
    team = models.ForeignKey(
        CareTeam,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # No index of its own: one on the team alone would tempt the planner to read every
        # row of the user's teams (OR over team_id) instead of the covering index below.
        db_index=False,
    )

    class Meta:
        ordering = ("date", "patient_id")
        # Covers the worklist's filters (status, date range, window end, care team) and its
        # order.
        indexes = (
            models.Index(
                fields=("status", "date", "window_end", "team"), name="clinic_work_status_team_idx"
            ),
        )
