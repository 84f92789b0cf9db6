"""What a living adult's lab results, reference limits and treatment activities can be.

These are limits of the physiologically possible (plus the resolution of the
assay: an undetectable PSA is reported as 0), **not** reference ranges. A value
outside them is not disease but a wrong number, almost always a unit mix-up
(a creatinine in µmol/L labelled mg/dL, a hemoglobin in g/L labelled g/dL,
an upper reference limit copied in another unit than its value), and the case
is rejected as bad input naming the field, with the unit that would have made
the number plausible. The bounds are deliberately generous: a true extreme
value must never be rejected.

All bounds are inclusive and in the analyte's canonical unit
(:data:`lutetia.units.CANONICAL_UNITS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from lutetia import units
from lutetia.errors import BadInputError
from lutetia.units import Analyte


@dataclass(frozen=True)
class Band:
    """An inclusive range ``low <= x <= high`` in the analyte's canonical unit."""

    low: float
    high: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies within the band (bounds included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class LabPlausibility:
    """Plausible result and reference limits of one analyte, with the reasoning."""

    #: A measured result of a living adult.
    value: Band
    #: A laboratory's lower reference limit (LLN) for this analyte.
    lln: Band
    #: A laboratory's upper reference limit (ULN) for this analyte.
    uln: Band
    #: Why these bounds (source or rationale).
    basis: str


_COUNT_ZERO = (
    "0 allowed: analysers report counts below their resolution as 0 in aplasia; "
    "the upper bound covers hyperleukocytosis of leukaemia (counts of several hundred "
    "10^9/L are documented); a count given per µL as if per nL (x1000) exceeds it"
)
_ENZYME = (
    "0 allowed (assays report activities below their limit of detection as 0); ischaemic "
    "hepatitis and rhabdomyolysis reach the low tens of thousands U/L; reference upper limits "
    "lie near 30-60 U/L (IFCC 37 °C methods), so a ULN given in µkat/L (x1/60) is caught"
)

#: The plausibility table, one row per analyte of ``lutetia.case/1``.
LAB_PLAUSIBILITY: Final[dict[Analyte, LabPlausibility]] = {
    "hemoglobin": LabPlausibility(
        Band(0.5, 30.0),
        Band(9.0, 16.0),
        Band(12.0, 22.0),
        "g/dL. Survival with hemoglobin below 1 g/dL is documented only in case reports "
        "(e.g. transfusion-refusing patients); 0 is incompatible with life. Polycythaemia "
        "vera rarely exceeds 25 g/dL; a value in g/L labelled g/dL (x10) exceeds 30. "
        "Reference limits of adults lie near 12-13.5 (LLN) and 15.5-18 g/dL (ULN).",
    ),
    "wbc": LabPlausibility(Band(0.0, 1000.0), Band(1.5, 6.0), Band(6.0, 20.0), _COUNT_ZERO),
    "anc": LabPlausibility(
        Band(0.0, 1000.0),
        Band(0.5, 3.0),
        Band(3.0, 15.0),
        _COUNT_ZERO + "; ANC can truly be 0 (agranulocytosis)",
    ),
    "lymphocytes": LabPlausibility(
        Band(0.0, 1000.0), Band(0.3, 2.0), Band(2.0, 10.0), _COUNT_ZERO + " (CLL)"
    ),
    "platelets": LabPlausibility(
        Band(0.0, 5000.0),
        Band(50.0, 250.0),
        Band(250.0, 1000.0),
        "10^9/L. 0 allowed (analyser resolution in severe thrombocytopenia); essential "
        "thrombocythaemia rarely exceeds 3000; a count per µL labelled 10^9/L (x1000) "
        "exceeds 5000. Reference limits lie near 150 (LLN) and 400-450 (ULN).",
    ),
    "creatinine": LabPlausibility(
        Band(0.1, 40.0),
        Band(0.1, 1.2),
        Band(0.5, 3.0),
        "mg/dL. Creatinine is made continuously by muscle, so 0 is impossible; values "
        "below 0.2 mg/dL occur only with extreme loss of muscle mass. Untreated uraemia "
        "and rhabdomyolysis stay below 40 mg/dL. The µmol/L <-> mg/dL factor is 88.4, so a "
        "mix-up in either direction leaves this range for any real value above 3.5 "
        "µmol/L. Reference limits lie near 0.5-0.7 (LLN) and 0.9-1.3 mg/dL (ULN).",
    ),
    "egfr": LabPlausibility(
        Band(0.5, 200.0),
        Band(30.0, 120.0),
        Band(90.0, 200.0),
        "mL/min/1.73 m². A living patient off dialysis has some filtration (0 excluded); "
        "the upper bound is EGFR_MAXIMUM (see there).",
    ),
    "gfr_measured": LabPlausibility(
        Band(0.5, 300.0),
        Band(30.0, 150.0),
        Band(90.0, 300.0),
        "mL/min, not indexed to body surface area: the 200 mL/min/1.73 m² bound of eGFR "
        "scaled to a body surface area of 2.6 m².",
    ),
    "creatinine_clearance": LabPlausibility(
        Band(0.5, 400.0),
        Band(30.0, 150.0),
        Band(90.0, 300.0),
        "mL/min. Cockcroft-Gault overestimates GFR in heavy young patients (up to about "
        "400 mL/min at 150 kg and creatinine 0.5 mg/dL).",
    ),
    "ast": LabPlausibility(Band(0.0, 50000.0), Band(0.0, 30.0), Band(10.0, 200.0), _ENZYME),
    "alt": LabPlausibility(Band(0.0, 50000.0), Band(0.0, 30.0), Band(10.0, 200.0), _ENZYME),
    "bilirubin": LabPlausibility(
        Band(0.0, 100.0),
        Band(0.0, 0.5),
        Band(0.5, 3.0),
        "mg/dL (total). 0 allowed (below the limit of detection); the highest values in "
        "adults (haemolysis with liver failure) stay well below 100 mg/dL. The ULN lies "
        "near 1.0-1.2 mg/dL (17-21 µmol/L), so a ULN in µmol/L labelled mg/dL (x17.1) "
        "or the reverse leaves 0.5-3.",
    ),
    "albumin": LabPlausibility(
        Band(0.0, 8.0),
        Band(2.5, 4.5),
        Band(4.0, 6.5),
        "g/dL. 0 allowed: congenital analbuminaemia gives values below detection; "
        "dehydration rarely exceeds 6 g/dL; a value in g/L labelled g/dL (x10) exceeds 8. "
        "Reference limits lie near 3.4-3.5 (LLN) and 5.0-5.5 g/dL (ULN).",
    ),
    "alp": LabPlausibility(
        Band(0.0, 50000.0),
        Band(0.0, 80.0),
        Band(50.0, 500.0),
        "U/L. 0 allowed (hypophosphatasia, limit of detection); osteoblastic bone "
        "metastases reach several thousand U/L. The adult ULN lies near 110-150 U/L.",
    ),
    "ldh": LabPlausibility(
        Band(0.0, 100000.0),
        Band(0.0, 250.0),
        Band(100.0, 1000.0),
        "U/L. 0 allowed (limit of detection); haemolysis and bulky tumours reach tens of "
        "thousands. The ULN is 220-250 U/L (IFCC) or up to about 600 U/L (older methods).",
    ),
    "psa": LabPlausibility(
        Band(0.0, 100000.0),
        Band(0.0, 1.0),
        Band(0.5, 10.0),
        "ng/mL. 0 allowed (undetectable after prostatectomy or on response); PSA in "
        "widespread metastatic disease reaches the tens of thousands. Age-specific ULNs "
        "lie between 2.5 and 6.5 ng/mL.",
    ),
    "crp": LabPlausibility(
        Band(0.0, 1000.0),
        Band(0.0, 1.0),
        Band(1.0, 20.0),
        "mg/L. 0 allowed (below detection); severe sepsis rarely exceeds 500 mg/L. The ULN "
        "lies near 3-10 mg/L, so a ULN in mg/dL labelled mg/L (x1/10) falls below 1.",
    ),
    "testosterone": LabPlausibility(
        Band(0.0, 5000.0),
        Band(5.0, 600.0),
        Band(30.0, 1500.0),
        "ng/dL. 0 allowed (castrate levels below detection); supraphysiological "
        "replacement stays below 5000 ng/dL. Reference limits span female ranges "
        "(ULN near 50-70 ng/dL) and male ranges (264-916 ng/dL, Travison TG et al., "
        "J Clin Endocrinol Metab 2017;102:1161-1173).",
    ),
}

#: Upper bound of a computed or reported eGFR (mL/min/1.73 m²). The thresholds used to
#: define glomerular *hyper*filtration in 405 studies ranged from 90.7 to 175 (median 135)
#: mL/min/1.73 m² (Cachat F et al., Clin J Am Soc Nephrol 2015;10:382-389,
#: doi:10.2215/CJN.03080314); a value above 200 lies beyond the highest of them and comes
#: from a wrong creatinine (typically mg/dL labelled µmol/L), not from a kidney.
EGFR_MAXIMUM: Final[float] = 200.0

#: Plausible activity of one 177Lu-PSMA cycle (GBq, inclusive). The approved regimen is
#: 7.4 GBq per cycle, and 6-9.3 GBq per treatment were used safely in clinical practice
#: (EANM/SNMMI 2023, "Process of treatment procedure", item 11); reductions by 20 %
#: (5.92 GBq, then 4.74) stay far above 1 GBq, and no regimen approaches 15 GBq. Outside
#: 1-15 GBq the number is in the wrong unit (MBq or mCi entered as GBq, x1000 or x27) or
#: mistyped.
ACTIVITY_PER_CYCLE_GBQ: Final[Band] = Band(1.0, 15.0)

#: Oldest age (years) a case may describe. The adult kidney equations are implemented
#: for 18-120 years (:mod:`lutetia.clinical.renal`); the oldest verified human lived 122
#: years, so no living patient is excluded in practice.
AGE_MAXIMUM_YEARS: Final[float] = 120.0

#: Units that are commonly confused for each analyte; the error names the one that would
#: have made an implausible number plausible.
ALTERNATIVE_UNITS: Final[dict[Analyte, tuple[str, ...]]] = {
    "hemoglobin": ("g/dL", "g/L", "mmol/L"),
    "wbc": ("10*9/L", "/uL"),
    "anc": ("10*9/L", "/uL"),
    "lymphocytes": ("10*9/L", "/uL"),
    "platelets": ("10*9/L", "/uL"),
    "creatinine": ("mg/dL", "umol/L"),
    "egfr": ("mL/min/{1.73_m2}",),
    "gfr_measured": ("mL/min",),
    "creatinine_clearance": ("mL/min",),
    "ast": ("U/L", "ukat/L"),
    "alt": ("U/L", "ukat/L"),
    "bilirubin": ("mg/dL", "umol/L"),
    "albumin": ("g/dL", "g/L"),
    "alp": ("U/L", "ukat/L"),
    "ldh": ("U/L", "ukat/L"),
    "psa": ("ng/mL",),
    "crp": ("mg/L", "mg/dL"),
    "testosterone": ("ng/dL", "nmol/L"),
}

LabPart = Literal["value", "lln", "uln"]

_WHAT: Final[dict[LabPart, str]] = {
    "value": "a measured value",
    "lln": "a lower reference limit",
    "uln": "an upper reference limit",
}


def to_canonical(analyte: Analyte, value: float, unit: str, *, field: str) -> float:
    """``value`` in ``unit`` converted to the analyte's canonical unit (no range check)."""
    molar = units.MOLAR_MASSES.get(analyte)
    return units.convert(
        value,
        unit,
        units.CANONICAL_UNITS[analyte],
        field=field,
        molar_mass_g_per_mol=molar.g_per_mol if molar else None,
    )


def _band(analyte: Analyte, part: LabPart) -> Band:
    row = LAB_PLAUSIBILITY[analyte]
    return row.value if part == "value" else row.lln if part == "lln" else row.uln


def likely_units(analyte: Analyte, value: float, unit: str, part: LabPart) -> list[str]:
    """The commonly confused units under which ``value`` would be plausible for ``part``."""
    band = _band(analyte, part)
    found = []
    for other in ALTERNATIVE_UNITS[analyte]:
        if units.normalize_ucum(other) == units.normalize_ucum(unit):
            continue
        try:
            converted = to_canonical(analyte, value, other, field=part)
        except BadInputError:
            continue
        if band.holds(converted):
            found.append(other)
    return found


def check_lab(
    analyte: Analyte,
    value: float,
    unit: str,
    *,
    lln: float | None = None,
    uln: float | None = None,
) -> tuple[float, float | None, float | None]:
    """Check a lab result and its reference limits; return them in the canonical unit.

    Raises :class:`BadInputError` whose ``field`` is ``value``, ``lln`` or ``uln`` (the
    caller prefixes the path of the lab) when a number lies outside
    :data:`LAB_PLAUSIBILITY`; the reason gives the canonical value, the bounds and the
    unit that would have made the number plausible.

    >>> [round(x, 3) for x in check_lab("creatinine", 88, "umol/L", uln=106) if x]
    [0.995, 1.199]
    """
    results: dict[LabPart, float | None] = {}
    parts: tuple[tuple[LabPart, float | None], ...] = (
        ("value", value),
        ("lln", lln),
        ("uln", uln),
    )
    for part, raw in parts:
        if raw is None:
            results[part] = None
            continue
        converted = to_canonical(analyte, raw, unit, field="unit")
        band = _band(analyte, part)
        if not (math.isfinite(converted) and band.holds(converted)):
            reason = _reason(analyte, raw, unit, converted=converted, part=part, band=band)
            raise BadInputError(part, reason)
        results[part] = converted
    canonical_value = results["value"]
    assert canonical_value is not None
    return canonical_value, results["lln"], results["uln"]


def _reason(
    analyte: Analyte, raw: float, unit: str, *, converted: float, part: LabPart, band: Band
) -> str:
    canonical_unit = units.CANONICAL_UNITS[analyte]
    shown = f"{analyte} {part} {raw:g} {unit}"
    if units.normalize_ucum(unit) != units.normalize_ucum(canonical_unit):
        shown += f" (= {converted:.4g} {canonical_unit})"
    side = "below" if converted < band.low else "above"
    hints = likely_units(analyte, raw, unit, part)
    reason = (
        f"{shown} is {side} what is possible for {_WHAT[part]} "
        f"({band.low:g}-{band.high:g} {canonical_unit})"
    )
    reason += f"; was it in {' or '.join(hints)}?" if hints else "."
    if part == "value":
        return reason + " Check the value and its unit"
    return reason + f" {part} must be in the unit of value ({unit})"


def check_computed_egfr(egfr: float, *, note: str) -> None:
    """Reject an eGFR above :data:`EGFR_MAXIMUM` (field ``value``; ``note`` says how it came).

    >>> check_computed_egfr(200.0, note="")
    """
    if not (math.isfinite(egfr) and egfr <= EGFR_MAXIMUM):
        raise BadInputError(
            "value",
            f"{note} gives an eGFR of {egfr:.0f} mL/min/1.73 m², above the physiological "
            f"{EGFR_MAXIMUM:g} (no kidney filters that much): is the creatinine in the "
            "wrong unit (mg/dL given as umol/L)?",
        )


def check_activity_gbq(activity_gbq: float) -> float:
    """Return a per-cycle activity (GBq) if within :data:`ACTIVITY_PER_CYCLE_GBQ`; else raise.

    Raises :class:`ValueError` (a pydantic field validator turns it into a field error).
    """
    band = ACTIVITY_PER_CYCLE_GBQ
    if not (math.isfinite(activity_gbq) and band.holds(activity_gbq)):
        hint = ""
        # Name a unit only when it turns the number into a usual activity (4-10 GBq).
        usual = Band(4.0, 10.0)
        for name, per_unit_gbq in (("MBq", 0.001), ("mCi", 0.037)):
            if usual.holds(activity_gbq * per_unit_gbq):
                hint = f"; was it in {name} ({activity_gbq * per_unit_gbq:.3g} GBq)?"
                break
        raise ValueError(
            f"{activity_gbq:g} GBq is outside the plausible activity of one cycle "
            f"({band.low:g}-{band.high:g} GBq; 7.4 GBq is the approved activity){hint}"
        )
    return activity_gbq
