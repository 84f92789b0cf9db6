"""Roles: who may do what, checked on the server for every route.

A role is a Django group of the same name. The table :data:`PERMISSIONS` is the
one place that says which role may perform which action; views, the API and the
templates all ask :func:`allowed`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class Role(StrEnum):
    """The professions that use the clinic."""

    PHYSICIAN = "physician"
    PHYSICIST = "physicist"
    TECHNOLOGIST = "technologist"
    VIEWER = "viewer"
    ADMINISTRATOR = "administrator"


class Action(StrEnum):
    """What a route does, for the permission table."""

    VIEW = "view"  # board, worklist, patient page, exports, plots, API reads
    REGISTER_PATIENT = "register_patient"  # new patient, case import
    CLINICAL_DATA = "clinical_data"  # labs, adverse events, consent, well-being, plan
    SIGN_DECISION = "sign_decision"  # accept or override the engine's advice
    ADMINISTRATION = "administration"  # calibrator readings, administered activity
    DOSE_RATE = "dose_rate"  # dose-rate readings at discharge
    RELEASE = "release"  # release advice and the discharge letter
    DOSIMETRY = "dosimetry"  # organ doses against their limits
    MANAGE_USERS = "manage_users"  # Django admin


_ALL_CLINICAL = {Role.PHYSICIAN, Role.PHYSICIST, Role.TECHNOLOGIST, Role.VIEWER}

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(_ALL_CLINICAL),
    Action.REGISTER_PATIENT: frozenset({Role.PHYSICIAN}),
    Action.CLINICAL_DATA: frozenset({Role.PHYSICIAN}),
    Action.SIGN_DECISION: frozenset({Role.PHYSICIAN}),
    Action.ADMINISTRATION: frozenset({Role.TECHNOLOGIST}),
    Action.DOSE_RATE: frozenset({Role.TECHNOLOGIST, Role.PHYSICIST}),
    Action.RELEASE: frozenset({Role.PHYSICIST, Role.PHYSICIAN}),
    Action.DOSIMETRY: frozenset({Role.PHYSICIST}),
    Action.MANAGE_USERS: frozenset({Role.ADMINISTRATOR}),
}


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The roles of a signed-in, active user (none for anyone else)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, "_lutetia_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = frozenset(role for role in Role if role.value in names)
        user._lutetia_roles = cached  # type: ignore[attr-defined]
    return cached


def allowed(user: AbstractBaseUser | AnonymousUser, action: Action) -> bool:
    """Whether ``user`` may perform ``action``."""
    return bool(roles_of(user) & PERMISSIONS[action])


View = TypeVar("View", bound=Callable[..., HttpResponse])


def requires(action: Action) -> Callable[[View], View]:
    """Decorate a view: sign-in required (redirect), then the role (403 otherwise)."""

    def decorate(view: View) -> View:
        from django.contrib.auth.views import redirect_to_login

        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user, action):
                raise PermissionDenied(f"{action.value} is not allowed for this role")
            return view(request, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the user's roles and what they may do (for showing controls only)."""
    user = request.user
    return {
        "user_roles": sorted(role.value for role in roles_of(user)),
        "may": {action.value: allowed(user, action) for action in Action},
    }
