"""Release from isolation and close-contact restrictions after 177Lu-PSMA.

Process item 8: depending on national legislation a patient stays isolated
until a local discharge threshold is reached, and is instructed how to limit
exposure of others. Two jurisdiction profiles are built in; every value is
configurable and carries its source:

* ``us-nrc``: 10 CFR 35.75 — release when the total effective dose equivalent
  to any other individual is not likely to exceed 5 mSv; written instructions
  when it may exceed 1 mSv. The dose is estimated as in NUREG-1556 Vol. 9
  Rev. 3, Appendix U (eq. U-1 with the measured dose rate at 1 m in place of
  Γ·Q₀/r²): D = E · ∫ Ḣ₁ₘ dt from release to ∞, occupancy factor E = 0.25.
* ``eu-dose-rate``: a dose-rate-at-distance rule, by default 3.5 µSv/h at
  2 m, the criterion used in German practice (Richtlinie Strahlenschutz in der
  Medizin) for an annual public dose ≤ 1 mSv; check the current national rule.

Close-contact restriction periods use glowgreen (Cormack & Shearer 1998
contact patterns with their dose constraints, as adapted by SA Medical
Imaging): for each pattern the least time after administration after which
resuming it keeps the dose below its constraint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from lutetia.errors import BadInputError
from lutetia.protection.clearance import Clearance

Category = Literal[
    "partner", "children", "pregnant", "household", "carer", "work", "public", "other"
]


@dataclass(frozen=True)
class ReleaseProfile:
    """A jurisdiction's discharge rule, each value with its source."""

    name: str
    rule: Literal["dose_rate", "dose_to_others"]
    source: str
    threshold_usv_h: float | None = None
    distance_m: float = 1.0
    dose_limit_msv: float | None = None
    instructions_above_msv: float | None = None
    occupancy: float = 0.25


PROFILES: Final[dict[str, ReleaseProfile]] = {
    "us-nrc": ReleaseProfile(
        "us-nrc",
        "dose_to_others",
        "10 CFR 35.75 (release ≤ 5 mSv to any other individual; written instructions above "
        "1 mSv); dose per NUREG-1556 Vol. 9 Rev. 3, Appendix U, occupancy factor 0.25 at 1 m",
        dose_limit_msv=5.0,
        instructions_above_msv=1.0,
        occupancy=0.25,
    ),
    "eu-dose-rate": ReleaseProfile(
        "eu-dose-rate",
        "dose_rate",
        "dose-rate-at-distance discharge rule; default 3.5 µSv/h at 2 m as used in German "
        "practice (Richtlinie Strahlenschutz in der Medizin) to keep the public below 1 mSv/a; "
        "configure the value of the local legislation",
        threshold_usv_h=3.5,
        distance_m=2.0,
    ),
}


def custom_threshold(threshold_usv_h: float, distance_m: float = 1.0) -> ReleaseProfile:
    """A dose-rate rule with a user-given threshold (the site's own regulation)."""
    if not (math.isfinite(threshold_usv_h) and threshold_usv_h > 0):
        raise BadInputError("--threshold-usv-h", f"{threshold_usv_h!r} must be positive")
    return replace(
        PROFILES["eu-dose-rate"],
        name="threshold",
        threshold_usv_h=threshold_usv_h,
        distance_m=distance_m,
        source=f"user-configured discharge threshold {threshold_usv_h:g} µSv/h at {distance_m:g} m",
    )


@dataclass(frozen=True)
class Discharge:
    """When the patient may leave isolation under a profile."""

    profile: ReleaseProfile
    after_h: float
    criterion: str
    dose_to_others_msv: float
    instructions_required: bool


def discharge(clearance: Clearance, profile: ReleaseProfile) -> Discharge:
    """Hours after administration at which ``profile`` allows release."""
    if profile.rule == "dose_rate":
        assert profile.threshold_usv_h is not None
        after = clearance.time_to_rate_h(profile.threshold_usv_h, profile.distance_m)
        criterion = f"dose rate at {profile.distance_m:g} m ≤ {profile.threshold_usv_h:g} µSv/h"
    else:
        assert profile.dose_limit_msv is not None
        limit_usv = 1000 * profile.dose_limit_msv / profile.occupancy
        after = clearance.time_to_integral_h(limit_usv)
        criterion = (
            f"dose to any other individual ≤ {profile.dose_limit_msv:g} mSv "
            f"(occupancy {profile.occupancy:g} at 1 m)"
        )
    dose = dose_to_others_msv(clearance, after, occupancy=profile.occupancy)
    threshold = profile.instructions_above_msv
    return Discharge(profile, after, criterion, dose, threshold is not None and dose > threshold)


def dose_to_others_msv(clearance: Clearance, release_h: float, *, occupancy: float = 0.25) -> float:
    """D = E · ∫_{release}^{∞} Ḣ₁ₘ dt (NUREG-1556 Vol. 9 Rev. 3, Appendix U), in mSv."""
    return occupancy * clearance.integral_usv(release_h) / 1000.0


@dataclass(frozen=True)
class Restriction:
    """How long after administration a contact pattern must be avoided."""

    contact: str
    category: Category
    constraint_msv: float
    per_episode: bool
    restriction_h: float
    until: datetime
    dose_msv: float


def _category(name: str) -> Category:
    text = name.lower()
    rules: tuple[tuple[str, Category], ...] = (
        ("sleeping", "partner"),
        ("pregnant", "pregnant"),
        ("infant", "children"),
        ("child", "children"),
        ("school", "children"),
        ("caring for patient", "carer"),
        ("household", "household"),
        ("work", "work"),
        ("public", "public"),
        ("cinema", "public"),
    )
    return next((category for word, category in rules if word in text), "other")


def restrictions(
    clearance: Clearance, administered_at: datetime, *, treatments_per_year: float = 4.0
) -> list[Restriction]:
    """Restriction periods for the Cormack & Shearer contact patterns (glowgreen).

    Annual constraints are divided by ``treatments_per_year``; per-episode ones
    (informed supporters) are not. Patterns are defined in local clock time, so
    the administration's own wall-clock time is used.
    """
    if not (math.isfinite(treatments_per_year) and treatments_per_year >= 1):
        raise BadInputError("--treatments-per-year", "must be at least 1")
    import glowgreen

    if clearance.model == "mono":
        cfit = glowgreen.Clearance_1m(
            "exponential", [clearance.initial_usv_h, clearance.half_life_1_h], 1.0
        )
    else:
        assert clearance.half_life_2_h is not None
        cfit = glowgreen.Clearance_1m(
            "biexponential",
            [
                clearance.initial_usv_h,
                clearance.fraction,
                clearance.half_life_1_h,
                clearance.half_life_2_h,
            ],
            1.0,
        )
    local = administered_at.replace(tzinfo=None)
    table = glowgreen.cs_restrictions(cfit, treatments_per_year, local)
    result = []
    for row in table.to_dict("records"):
        hours = float(row["restriction_period"])
        result.append(
            Restriction(
                contact=str(row["name"]),
                category=_category(str(row["name"])),
                constraint_msv=float(row["dose_constraint_corrected"]),
                per_episode=bool(row["per_episode"]),
                restriction_h=hours,
                until=administered_at + timedelta(hours=hours),
                dose_msv=float(row["dose"]),
            )
        )
    return result
