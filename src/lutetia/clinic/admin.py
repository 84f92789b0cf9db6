"""The Django admin: data correction by an administrator, with history (simple-history)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from lutetia.clinic.models import Administration, CareTeam, Decision, DoseRateReading, Patient


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Patients; corrections are audited like every other write."""

    list_display = ("identifier", "name", "team", "stage", "version", "updated_at")
    search_fields = ("identifier", "name")
    list_filter = ("stage", "team")
    readonly_fields = ("version", "stage")

    def save_model(self, request: Any, obj: Patient, form: Any, change: bool) -> None:
        """Save; a change of care team reaches the patient's worklist rows too."""
        from lutetia.clinic import store

        super().save_model(request, obj, form, change)
        if change and "team" in form.changed_data:
            store.assign_team(obj, obj.team)


@admin.register(CareTeam)
class CareTeamAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Care teams and their members: who sees which patients (audited)."""

    list_display = ("name",)
    filter_horizontal = ("members",)


@admin.register(Decision)
class DecisionAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Signed decisions are read-only: they are evidence."""

    list_display = ("patient", "kind", "engine_decision", "final_decision", "accepted", "signed_by")
    list_filter = ("kind", "accepted")

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


admin.site.register(Administration, SimpleHistoryAdmin)
admin.site.register(DoseRateReading, SimpleHistoryAdmin)
admin.site.site_header = "Lutetia administration"
