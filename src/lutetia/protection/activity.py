"""Activity bookkeeping: what was given, what to draw, and the product checks.

Process item 3 and the Radiopharmaceuticals chapter of the guideline: the
syringe is measured in the dose calibrator before and after administration;
the solution is stored below 30 °C, diluted to ≤ 1000 MBq/mL, with a
radiochemical purity ≥ 97 %.

Every reading is decay-corrected to the injection time with the ICRP-107
half-life (:mod:`lutetia.nuclides`):

    A(t_inj) = A_before · e^{−λ (t_inj − t_before)} − A_residual · e^{−λ (t_inj − t_residual)}

(the residual, measured after the injection, is corrected back to it).

Activities are checked for plausibility: a planned or administered activity
outside 1-15 GBq per cycle is bad input (the guideline's practice range is
6-9.3 GBq, Process item 11; a value outside the wider range is a unit or
typing error), as are measurement times more than 7 days (dose calibrator) or
14 days (vial calibration) from the injection and therapy dates outside
2000-2199.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from lutetia.errors import BadInputError
from lutetia.nuclides import decay_factor, elapsed_h, nuclide, require_aware
from lutetia.protection.clearance import PLAUSIBLE_CYCLE_GBQ, check_cycle_activity

DEVIATION_WARNING_PERCENT: Final[float] = 10.0
MAX_CONCENTRATION_MBQ_PER_ML: Final[float] = 1000.0
MIN_RADIOCHEMICAL_PURITY_PERCENT: Final[float] = 97.0
MAX_STORAGE_TEMPERATURE_C: Final[float] = 30.0
#: The syringe is measured before and after administration in the same session (Process
#: item 3); a gap of more than 7 days is a typing error in a date.
MAX_SYRINGE_GAP_H: Final[float] = 7 * 24.0
#: A vial used more than 14 days (two half-lives) from its calibration time is a typo.
MAX_CALIBRATION_GAP_H: Final[float] = 14 * 24.0
#: A vial holding less than one cycle's minimum (1 GBq) or more than 100 GBq is a typo.
MAX_VIAL_GBQ: Final[float] = 100.0
VIAL_ML_RANGE: Final[tuple[float, float]] = (0.1, 100.0)
#: 177Lu-PSMA therapy dates: first given in the 2010s; outside 2000-2199 is a typo.
THERAPY_YEARS: Final[tuple[int, int]] = (2000, 2199)


def check_therapy_time(moment: datetime, option: str) -> datetime:
    """``moment`` if it has a UTC offset and lies in the years 2000-2199."""
    require_aware(moment, field=option)
    first, last = THERAPY_YEARS
    low = datetime(first, 1, 1, tzinfo=UTC)
    high = datetime(last + 1, 1, 1, tzinfo=UTC)
    if not low <= moment < high:
        raise BadInputError(
            option, f"{moment.isoformat()} is outside the years {first}-{last} (a typo?)"
        )
    return moment


def _within(start: datetime, end: datetime, limit_h: float, option: str, what: str) -> None:
    gap = abs(elapsed_h(start, end))
    if gap > limit_h:
        raise BadInputError(
            option, f"{what} is {gap / 24:.1f} days from the injection (more than {limit_h / 24:g})"
        )


def _positive(value: float, field_name: str, *, allow_zero: bool = False) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise BadInputError(
            field_name, f"{value!r} must be a {'non-negative' if allow_zero else 'positive'} number"
        )


@dataclass(frozen=True)
class Administered:
    """The activity given at the injection time, and how it was derived."""

    administered_gbq: float
    before_at_injection_gbq: float
    residual_at_injection_gbq: float
    deviation_percent: float | None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def administered_activity(
    *,
    before_gbq: float,
    before_at: datetime,
    residual_gbq: float,
    residual_at: datetime,
    injected_at: datetime,
    prescribed_gbq: float | None = None,
    half_life_h: float | None = None,
) -> Administered:
    """Activity administered at ``injected_at`` from the syringe before and its residual after.

    The syringe is measured before the injection (``before_at`` ≤
    ``injected_at``) and the residual after it (``residual_at`` ≥
    ``injected_at``); both are decay-corrected to ``injected_at``. The
    deviation from ``prescribed_gbq`` is (A − P)/P · 100 %, with a warning
    beyond ± 10 %.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 3, 10, 0, tzinfo=timezone.utc)
    >>> round(administered_activity(before_gbq=7.6, before_at=t, residual_gbq=0.1,
    ...       residual_at=t, injected_at=t, prescribed_gbq=7.4).administered_gbq, 6)
    7.5
    """
    _positive(before_gbq, "--before-gbq")
    _positive(residual_gbq, "--residual-gbq", allow_zero=True)
    if prescribed_gbq is not None:
        check_cycle_activity(prescribed_gbq, "--prescribed-gbq")
    check_therapy_time(injected_at, "--injected-at")
    check_therapy_time(before_at, "--before-at")
    check_therapy_time(residual_at, "--residual-at")
    if before_at > injected_at:
        raise BadInputError(
            "--before-at", "the syringe must be measured before the injection (--injected-at)"
        )
    if residual_at < injected_at:
        raise BadInputError(
            "--residual-at", "the residual must be measured after the injection (--injected-at)"
        )
    _within(before_at, injected_at, MAX_SYRINGE_GAP_H, "--before-at", "the syringe measurement")
    _within(
        residual_at, injected_at, MAX_SYRINGE_GAP_H, "--residual-at", "the residual measurement"
    )
    half_life = half_life_h if half_life_h is not None else nuclide("Lu-177").half_life_h
    before = before_gbq * decay_factor(before_at, injected_at, half_life)
    residual = residual_gbq * decay_factor(residual_at, injected_at, half_life)
    if residual > before:
        raise BadInputError(
            "--residual-gbq",
            f"the residual ({residual:.4g} GBq at injection) is larger than the syringe before "
            f"injection ({before:.4g} GBq at injection)",
        )
    if before < PLAUSIBLE_CYCLE_GBQ[0]:
        raise BadInputError(
            "--before-gbq",
            f"the syringe held {before:.4g} GBq at injection, less than the plausible "
            f"{PLAUSIBLE_CYCLE_GBQ[0]:g} GBq per cycle (check GBq against MBq, and the times)",
        )
    administered = before - residual
    low, high = PLAUSIBLE_CYCLE_GBQ
    if not low <= administered <= high:
        raise BadInputError(
            "--before-gbq",
            f"the administered activity ({before:.4g} GBq − residual {residual:.4g} GBq at "
            f"injection = {administered:.4g} GBq) is outside the plausible {low:g}-{high:g} GBq "
            "per cycle (check GBq against MBq, and the times)",
        )
    warnings: list[str] = []
    deviation: float | None = None
    if prescribed_gbq is not None:
        deviation = 100.0 * (administered - prescribed_gbq) / prescribed_gbq
        if abs(deviation) > DEVIATION_WARNING_PERCENT:
            warnings.append(
                f"administered activity {administered:.3f} GBq deviates {deviation:+.1f} % from "
                f"the prescribed {prescribed_gbq:g} GBq (beyond ± {DEVIATION_WARNING_PERCENT:g} %)"
            )
    if before > 0 and residual / before > 0.05:
        warnings.append(
            f"residual is {100 * residual / before:.1f} % of the syringe: check for incomplete "
            "administration or extravasation (post-therapy scan)"
        )
    return Administered(administered, before, residual, deviation, tuple(warnings))


@dataclass(frozen=True)
class Draw:
    """How much of the vial to draw for a prescribed activity at a planned time."""

    volume_ml: float
    concentration_mbq_per_ml: float
    vial_activity_at_injection_gbq: float
    warnings: tuple[str, ...] = field(default_factory=tuple)


def draw_volume(
    *,
    vial_gbq: float,
    vial_ml: float,
    calibrated_at: datetime,
    prescribed_gbq: float,
    inject_at: datetime,
    half_life_h: float | None = None,
) -> Draw:
    """Volume V = P / C(t₁), C(t₁) = A_vial · e^{−λ (t₁ − t₀)} / V_vial.

    The syringe then holds the prescribed activity at the planned injection
    time. Raises when the vial does not hold enough activity at that time.
    """
    _positive(vial_gbq, "--vial-gbq")
    if not PLAUSIBLE_CYCLE_GBQ[0] <= vial_gbq <= MAX_VIAL_GBQ:
        raise BadInputError(
            "--vial-gbq",
            f"{vial_gbq!r} GBq is outside {PLAUSIBLE_CYCLE_GBQ[0]:g}-{MAX_VIAL_GBQ:g} GBq "
            "(check GBq against MBq)",
        )
    low_ml, high_ml = VIAL_ML_RANGE
    if not (math.isfinite(vial_ml) and low_ml <= vial_ml <= high_ml):
        raise BadInputError("--vial-ml", f"{vial_ml!r} mL is outside {low_ml:g}-{high_ml:g} mL")
    check_cycle_activity(prescribed_gbq, "--prescribed-gbq")
    check_therapy_time(inject_at, "--inject-at")
    check_therapy_time(calibrated_at, "--calibrated-at")
    _within(calibrated_at, inject_at, MAX_CALIBRATION_GAP_H, "--calibrated-at", "the calibration")
    half_life = half_life_h if half_life_h is not None else nuclide("Lu-177").half_life_h
    vial_then = vial_gbq * decay_factor(calibrated_at, inject_at, half_life)
    concentration_mbq_per_ml = 1000.0 * vial_then / vial_ml
    volume = 1000.0 * prescribed_gbq / concentration_mbq_per_ml
    if volume > vial_ml:
        raise BadInputError(
            "--prescribed-gbq",
            f"the vial holds {vial_then:.3f} GBq at {inject_at.isoformat()}, less than the "
            f"prescribed {prescribed_gbq:g} GBq",
        )
    warnings = list(product_checks(concentration_mbq_per_ml=concentration_mbq_per_ml))
    if inject_at < calibrated_at:
        warnings.append(
            "injection is planned before the calibration time: the activity is decay-corrected "
            "backwards; check the certificate"
        )
    return Draw(volume, concentration_mbq_per_ml, vial_then, tuple(warnings))


def product_checks(
    *,
    concentration_mbq_per_ml: float | None = None,
    radiochemical_purity_percent: float | None = None,
    storage_temperature_c: float | None = None,
) -> tuple[str, ...]:
    """The guideline's product checks; each failed one is a warning naming the limit.

    Radiopharmaceuticals chapter: ≤ 1000 MBq/mL, radiochemical purity
    ≥ 97 %; Process item 3: stored below 30 °C.
    """
    warnings = []
    if (
        concentration_mbq_per_ml is not None
        and concentration_mbq_per_ml > MAX_CONCENTRATION_MBQ_PER_ML
    ):
        warnings.append(
            f"activity concentration {concentration_mbq_per_ml:.0f} MBq/mL exceeds "
            f"{MAX_CONCENTRATION_MBQ_PER_ML:g} MBq/mL (dilute: extravasation risk)"
        )
    if radiochemical_purity_percent is not None:
        if not 0 <= radiochemical_purity_percent <= 100:
            raise BadInputError("radiochemical_purity_percent", "must be between 0 and 100")
        if radiochemical_purity_percent < MIN_RADIOCHEMICAL_PURITY_PERCENT:
            warnings.append(
                f"radiochemical purity {radiochemical_purity_percent:g} % is below "
                f"{MIN_RADIOCHEMICAL_PURITY_PERCENT:g} %: do not release the batch"
            )
    if storage_temperature_c is not None and storage_temperature_c >= MAX_STORAGE_TEMPERATURE_C:
        warnings.append(
            f"storage temperature {storage_temperature_c:g} °C is not below "
            f"{MAX_STORAGE_TEMPERATURE_C:g} °C"
        )
    return tuple(warnings)
