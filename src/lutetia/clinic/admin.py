"""The Django admin: data correction by an administrator, with history (simple-history)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from lutetia.clinic.models import Administration, Decision, DoseRateReading, Patient


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Patients; corrections are audited like every other write."""

    list_display = ("identifier", "name", "stage", "version", "updated_at")
    search_fields = ("identifier", "name")
    list_filter = ("stage",)
    readonly_fields = ("version", "stage")


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
