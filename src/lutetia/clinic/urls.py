"""The clinic's routes. Every route but sign-in and the health check needs a signed-in user."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from lutetia.clinic import views
from lutetia.clinic.api import api

urlpatterns = [
    path("", views.board, name="board"),
    path("login/", auth_views.LoginView.as_view(template_name="clinic/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("worklist/", views.worklist, name="worklist"),
    path("overrides/", views.overrides, name="overrides"),
    path("patients/new/", views.new_patient, name="new_patient"),
    path("patients/<int:pk>/", views.patient_page, name="patient"),
    path("patients/<int:pk>/history/", views.history, name="history"),
    path("patients/<int:pk>/case.json", views.export_case, name="export_case"),
    path("patients/<int:pk>/import/", views.import_case, name="import_case"),
    path("patients/<int:pk>/labs/", views.add_lab, name="add_lab"),
    path("patients/<int:pk>/adverse-events/", views.add_adverse_event, name="add_adverse_event"),
    path("patients/<int:pk>/wellbeing/", views.add_wellbeing, name="add_wellbeing"),
    path("patients/<int:pk>/consent/", views.set_consent, name="set_consent"),
    path("patients/<int:pk>/plan/", views.set_plan, name="set_plan"),
    path("patients/<int:pk>/administrations/", views.add_administration, name="add_administration"),
    path("patients/<int:pk>/dose-rates/", views.add_dose_rate, name="add_dose_rate"),
    path("patients/<int:pk>/sign/<str:kind>/", views.sign_decision, name="sign_decision"),
    path("patients/<int:pk>/studies/", views.add_study, name="add_study"),
    path("patients/<int:pk>/letter.pdf", views.letter_pdf, name="letter_pdf"),
    path("patients/<int:pk>/plots/<str:name>.svg", views.plot, name="plot"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
