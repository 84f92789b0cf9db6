"""Plausible ranges of dosimetry inputs: what is impossible is an error, never a result.

Each bound says why it is there. Hard bounds (this module raises
:class:`~lutetia.errors.BadInputError` naming the field) are set where a value
is physically impossible (an effective half-life longer than the physical one)
or off by a unit error (a mass in mg or kg for g, a table in Bq for MBq), and
where a computation would otherwise overflow; judgement about values that are
possible but unusual is left to the warnings of each calculation.

Organ masses: ICRP Publication 89 (Basic anatomical and physiological data
for use in radiological protection: reference values, Ann ICRP 2002;32(3-4),
Table 2.8), adult male (177Lu-PSMA patients are men), with a factor of 10
either way: wide enough for a single or atrophic kidney, organomegaly or a
part-organ VOI, narrow enough to catch a mass given in mg or kg.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

from lutetia.errors import BadInputError

#: A T_eff may exceed the physical half-life by this relative amount (a half-life rounded
#: to three or four digits, e.g. 6.65 d for 6.647 d), never more.
HALF_LIFE_ROUNDING: Final[float] = 1e-3
#: Latest time after injection accepted for a measurement: 20 physical half-lives
#: (about 133 d for 177Lu), when less than 1e-6 of the activity is left.
MAX_TIME_HALF_LIVES: Final[float] = 20.0
#: No administered activity of 177Lu-PSMA approaches 50 GBq (7.4 GBq per cycle, 6–9.3 GBq in
#: practice; guideline, Procedure item 11); a region cannot hold more than was given. A
#: larger number in a TAC is a unit error (kBq or Bq for MBq).
MAX_ACTIVITY_MBQ: Final[float] = 50_000.0
MAX_ACTIVITY_GBQ: Final[float] = 50.0
MIN_ACTIVITY_GBQ: Final[float] = 0.1
#: 10 kGy: above any absorbed dose of radionuclide therapy (177Lu-PSMA lesions reach a few
#: hundred Gy); a larger value is a unit error and would overflow D² in the BED.
MAX_DOSE_GY: Final[float] = 10_000.0
#: α/β from 0.1 to 100 Gy spans, by an order of magnitude each way, the usual tissue values
#: (late-reacting tissues ≈ 1–5 Gy, kidneys 2.6 Gy, early-reacting tissues and many tumours
#: ≈ 10 Gy; Joiner & van der Kogel, Basic Clinical Radiobiology, 5th ed. 2018); outside it
#: the BED is meaningless (and D²/(α/β) overflows for α/β → 0).
ALPHA_BETA_RANGE_GY: Final[tuple[float, float]] = (0.1, 100.0)
#: Absorbed dose per administered activity: 0.001–100 Gy/GBq covers red marrow (0.035) to
#: lacrimal glands (2.1) and lesions (guideline, Dosimetry) by more than an order of magnitude.
GY_PER_GBQ_RANGE: Final[tuple[float, float]] = (0.001, 100.0)
#: Maximum CSDA range of 177Lu β⁻ in soft tissue (guideline, Definitions: ≤ 1.8 mm).
MAX_ELECTRON_RANGE_CM: Final[float] = 0.18
MASS_FACTOR: Final[float] = 10.0


@dataclass(frozen=True)
class MassRange:
    """The accepted mass of a region (g) and why."""

    low_g: float
    high_g: float
    source: str


def _icrp89(reference_g: float, what: str) -> MassRange:
    return MassRange(
        reference_g / MASS_FACTOR,
        reference_g * MASS_FACTOR,
        f"ICRP 89 adult male {what} {reference_g:g} g, ×/÷ {MASS_FACTOR:g}",
    )


def minimum_sphere_mass_g() -> float:
    """A unit-density sphere whose radius equals the maximum 177Lu β⁻ range (≈ 0.024 g).

    Below it most of the electron energy can leave the sphere and local
    deposition, the model of :mod:`lutetia.dosimetry.absorbed`, does not apply.
    """
    return 4.0 / 3.0 * math.pi * MAX_ELECTRON_RANGE_CM**3


MASS_RANGES_G: Final[dict[str, MassRange]] = {
    "kidneys": _icrp89(310.0, "kidneys (both)"),
    "liver": _icrp89(1800.0, "liver"),
    "spleen": _icrp89(150.0, "spleen"),
    "lungs": _icrp89(1200.0, "lungs (with blood)"),
    "parotid_glands": _icrp89(50.0, "parotid glands (both)"),
    # Marrow is usually measured in a vertebral VOI (tens of grams), hence a lower floor.
    "bone_marrow": MassRange(
        1.0, 11_700.0, "VOI of a few vertebrae (≥ 1 g) to ICRP 89 red marrow 1170 g × 10"
    ),
    "tumor": MassRange(
        minimum_sphere_mass_g(),
        10_000.0,
        "a sphere no smaller than the maximum β⁻ range (1.8 mm radius) to 10 kg of tumour",
    ),
    "": MassRange(
        minimum_sphere_mass_g(),
        200_000.0,
        "a sphere no smaller than the maximum β⁻ range (1.8 mm radius) to a 200 kg whole body",
    ),
}


@functools.cache
def physical_half_life_h() -> float:
    """Physical half-life of 177Lu (ICRP-107, via :mod:`lutetia.nuclides`)."""
    from lutetia.nuclides import nuclide

    return nuclide("Lu-177").half_life_h


def max_time_h() -> float:
    """Latest plausible measurement time after injection (20 physical half-lives)."""
    return MAX_TIME_HALF_LIVES * physical_half_life_h()


def check_teff(teff_h: float, field: str = "--teff-h") -> float:
    """An effective half-life: positive, finite and never longer than the physical one.

    T_eff = T_phys·T_bio/(T_phys + T_bio) < T_phys for any biological
    half-life: activity in a region cannot disappear more slowly than 177Lu
    decays unless uptake continues, which mono-exponential kinetics exclude.
    """
    if not (math.isfinite(teff_h) and teff_h > 0):
        raise BadInputError(field, f"{teff_h!r} must be a positive effective half-life (h)")
    physical = physical_half_life_h()
    if teff_h > physical * (1 + HALF_LIFE_ROUNDING):
        raise BadInputError(
            field,
            f"{teff_h:g} h is longer than the physical half-life of 177Lu ({physical:.4g} h): "
            "impossible for a decaying nuclide without continued uptake",
        )
    return teff_h


def check_time(time_h: float, field: str, *, allow_zero: bool = False) -> float:
    """A time after injection (h): finite, ≥ 0 (or > 0), at most 20 physical half-lives."""
    if not math.isfinite(time_h) or time_h < 0 or (time_h == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise BadInputError(field, f"{time_h!r} must be a finite time {bound} h")
    if time_h > max_time_h():
        raise BadInputError(
            field,
            f"{time_h:g} h is more than {MAX_TIME_HALF_LIVES:g} physical half-lives "
            f"({max_time_h():.0f} h) after injection: nothing measurable is left",
        )
    return time_h


def check_activity_mbq(activity_mbq: float, field: str) -> float:
    """An activity in a region (MBq): finite, ≥ 0, at most 50 GBq."""
    if not (math.isfinite(activity_mbq) and activity_mbq >= 0):
        raise BadInputError(field, f"{activity_mbq!r} must be a finite, non-negative activity")
    if activity_mbq > MAX_ACTIVITY_MBQ:
        raise BadInputError(
            field,
            f"{activity_mbq:g} MBq is more than any administered activity "
            f"({MAX_ACTIVITY_MBQ:g} MBq): is it in kBq or Bq?",
        )
    return activity_mbq


def check_mass(mass_g: float, region: str | None = None, field: str = "--mass-g") -> float:
    """A region's mass (g) within the plausible range of :data:`MASS_RANGES_G`."""
    if not (math.isfinite(mass_g) and mass_g > 0):
        raise BadInputError(field, f"{mass_g!r} must be a positive mass")
    key = region or ""
    if key not in MASS_RANGES_G:
        raise BadInputError("--region", f"{region!r} has no plausible mass range")
    accepted = MASS_RANGES_G[key]
    if not accepted.low_g <= mass_g <= accepted.high_g:
        what = region.replace("_", " ") if region else "a region"
        raise BadInputError(
            field,
            f"{mass_g:g} g is outside {accepted.low_g:.3g}–{accepted.high_g:.3g} g, the "
            f"plausible mass of {what} ({accepted.source}); is it in mg or kg?",
        )
    return mass_g


def check_range(value: float, field: str, low: float, high: float, unit: str) -> float:
    """``value`` finite and within [low, high]."""
    if not (math.isfinite(value) and low <= value <= high):
        raise BadInputError(field, f"{value!r} {unit} is outside the plausible {low:g}–{high:g}")
    return value


def check_dose(dose_gy: float, field: str, *, positive: bool = False) -> float:
    """An absorbed dose or BED (Gy): finite, ≥ 0 (or > 0), at most 10 kGy."""
    if not math.isfinite(dose_gy) or dose_gy < 0 or (positive and dose_gy == 0):
        bound = "positive" if positive else "≥ 0"
        raise BadInputError(field, f"{dose_gy!r} Gy must be {bound}")
    if dose_gy > MAX_DOSE_GY:
        raise BadInputError(
            field,
            f"{dose_gy:g} Gy is above {MAX_DOSE_GY:g} Gy, more than any absorbed dose of "
            "radionuclide therapy: is it in mGy?",
        )
    return dose_gy


def require_finite(value: float, field: str) -> float:
    """A computed result must be finite; otherwise the inputs were out of range."""
    if not math.isfinite(value):
        raise BadInputError(field, "the result is out of the floating-point range; check inputs")
    return value
