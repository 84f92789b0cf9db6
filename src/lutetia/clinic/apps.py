"""The clinic's Django application."""

from __future__ import annotations

from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """Patients, their case documents, signed decisions, administrations and readings."""

    name = "lutetia.clinic"
    label = "clinic"
    verbose_name = "Lutetia clinic"
    default_auto_field = "django.db.models.BigAutoField"
