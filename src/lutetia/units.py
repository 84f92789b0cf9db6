"""Units of measure: UCUM parsing and every conversion Lutetia makes, in one place.

Unit strings are UCUM case-sensitive codes (https://ucum.org), parsed by
``ucumvert`` into ``pint`` units. Conversions between mass and amount of
substance (g/dL ↔ mmol/L for hemoglobin, mg/dL ↔ µmol/L for creatinine,
ng/dL ↔ nmol/L for testosterone, mg/dL ↔ µmol/L for bilirubin) use the molar
masses in :data:`MOLAR_MASSES`, each with its source.

Every conversion here is linear (no offset units), so a conversion factor is
computed once per pair of units and cached. The units the case format and the
commands name (:data:`KNOWN_UNITS`) convert by a table of exact factors, without
``pint``; building the UCUM registry takes longer than the rest of a command, so
``pint`` is imported only for a unit outside the table. The table gives the same
factors as ``pint``/UCUM (``tests/test_units.py`` checks every pair).

>>> convert(1.0, "mg/dL", "umol/L", field="creatinine", molar_mass_g_per_mol=113.12)
88.4016973126
>>> round(convert(200, "mCi", "GBq", field="activity"), 9)
7.4
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from lutetia.errors import BadInputError

Analyte = Literal[
    "hemoglobin",
    "wbc",
    "anc",
    "lymphocytes",
    "platelets",
    "creatinine",
    "egfr",
    "gfr_measured",
    "creatinine_clearance",
    "ast",
    "alt",
    "bilirubin",
    "albumin",
    "alp",
    "ldh",
    "psa",
    "crp",
    "testosterone",
]

ANALYTES: Final[tuple[Analyte, ...]] = get_args(Analyte)

#: The unit (UCUM) in which Lutetia holds each analyte internally, chosen to
#: match the unit of the thresholds that apply to it (CTCAE v5.0 writes
#: hemoglobin and albumin in g/dL, counts in 10^9/L, creatinine in mg/dL for
#: CKD-EPI 2021; the guideline writes testosterone in ng/dL).
CANONICAL_UNITS: Final[dict[Analyte, str]] = {
    "hemoglobin": "g/dL",
    "wbc": "10*9/L",
    "anc": "10*9/L",
    "lymphocytes": "10*9/L",
    "platelets": "10*9/L",
    "creatinine": "mg/dL",
    "egfr": "mL/min/{1.73_m2}",
    "gfr_measured": "mL/min",
    "creatinine_clearance": "mL/min",
    "ast": "U/L",
    "alt": "U/L",
    "bilirubin": "mg/dL",
    "albumin": "g/dL",
    "alp": "U/L",
    "ldh": "U/L",
    "psa": "ng/mL",
    "crp": "mg/L",
    "testosterone": "ng/dL",
}


@dataclass(frozen=True)
class MolarMass:
    """A molar mass with the source it comes from."""

    g_per_mol: float
    substance: str
    source: str


#: Molar masses for the mass ↔ amount-of-substance conversions of lab values.
MOLAR_MASSES: Final[dict[Analyte, MolarMass]] = {
    "creatinine": MolarMass(
        113.12,
        "creatinine, C4H7N3O",
        "PubChem CID 588 (molecular weight 113.12 g/mol); gives the conventional "
        "88.4 µmol/L per mg/dL",
    ),
    "testosterone": MolarMass(
        288.42,
        "testosterone, C19H28O2",
        "PubChem CID 6013 (molecular weight 288.4 g/mol); gives the conventional "
        "0.0347 nmol/L per ng/dL",
    ),
    "hemoglobin": MolarMass(
        16114.5,
        "hemoglobin monomer (one haem-binding subunit)",
        "ICSH 1995 reference method for haemoglobinometry (Zwart et al., Clin Lab "
        "Haematol 1996;18:207-216, doi:10.1111/j.1365-2257.1996.tb00770.x): "
        "1 g/dL = 0.6206 mmol/L",
    ),
    "bilirubin": MolarMass(
        584.66,
        "bilirubin, C33H36N4O6",
        "PubChem CID 5280352 (molecular weight 584.7 g/mol); gives the conventional "
        "17.1 µmol/L per mg/dL",
    ),
}

_MICRO = re.compile("[µμ]")
_POWER = re.compile(r"10\^(-?\d+)")
_BODY_SURFACE = re.compile(r"/\s*1\.73\s*m(2|\^2|²)$")


@functools.lru_cache(maxsize=4096)
def normalize_ucum(unit: str) -> str:
    """Turn common lab spellings into the UCUM code they mean.

    ``µ`` and ``μ`` become ``u``, ``10^9`` becomes ``10*9`` and a trailing
    ``/1.73m2`` becomes the UCUM annotation ``/{1.73_m2}``. Anything else is
    passed through unchanged for the UCUM parser to accept or reject.

    >>> normalize_ucum("µmol/L")
    'umol/L'
    >>> normalize_ucum("10^9/L")
    '10*9/L'
    >>> normalize_ucum("mL/min/1.73m2")
    'mL/min/{1.73_m2}'
    """
    text = unit.strip()
    text = _MICRO.sub("u", text)
    text = _POWER.sub(r"10*\1", text)
    return _BODY_SURFACE.sub("/{1.73_m2}", text)


#: Exact factors of the commonly written UCUM codes: code → (kind, factor to the
#: kind's base unit, written in the comment). Two codes of one kind convert by
#: the ratio of their factors; mass and substance concentrations convert through
#: a molar mass (mass = amount × molar mass). Codes outside the table go to the
#: UCUM registry. Each code is also known with ``l`` for ``L`` (UCUM accepts both).
_FACTORS: Final[dict[str, tuple[str, float]]] = {
    # mass concentration, g/L
    "g/L": ("mass", 1.0),
    "g/dL": ("mass", 10.0),
    "g/mL": ("mass", 1000.0),
    "mg/mL": ("mass", 1.0),
    "mg/dL": ("mass", 0.01),
    "mg/L": ("mass", 0.001),
    "ug/mL": ("mass", 0.001),
    "ug/dL": ("mass", 1e-5),
    "ug/L": ("mass", 1e-6),
    "ng/mL": ("mass", 1e-6),
    "ng/dL": ("mass", 1e-8),
    "ng/L": ("mass", 1e-9),
    "pg/mL": ("mass", 1e-9),
    # substance concentration, mol/L
    "mol/L": ("substance", 1.0),
    "mmol/L": ("substance", 1e-3),
    "umol/L": ("substance", 1e-6),
    "nmol/L": ("substance", 1e-9),
    "pmol/L": ("substance", 1e-12),
    # number concentration (cell counts), /L
    "/L": ("number", 1.0),
    "10*6/L": ("number", 1e6),
    "10*9/L": ("number", 1e9),
    "10*12/L": ("number", 1e12),
    "/uL": ("number", 1e6),
    "/nL": ("number", 1e9),
    "10*3/uL": ("number", 1e9),
    "10*6/uL": ("number", 1e12),
    "/mm3": ("number", 1e6),
    "10*3/mm3": ("number", 1e9),
    # catalytic concentration, U/L (1 U = 1 umol/min; 1 ukat = 1 umol/s = 60 U)
    "U/L": ("catalytic", 1.0),
    "kU/L": ("catalytic", 1000.0),
    "U/mL": ("catalytic", 1000.0),
    "mU/mL": ("catalytic", 1.0),
    "ukat/L": ("catalytic", 60.0),
    "nkat/L": ("catalytic", 0.06),
    # volume flow, mL/min (UCUM annotations such as {1.73_m2} are unity)
    "mL/min": ("flow", 1.0),
    "mL/s": ("flow", 60.0),
    "L/min": ("flow", 1000.0),
    "mL/min/{1.73_m2}": ("flow", 1.0),
    "mL/s/{1.73_m2}": ("flow", 60.0),
    # activity, Bq (1 Ci = 3.7e10 Bq exactly)
    "Bq": ("activity", 1.0),
    "kBq": ("activity", 1e3),
    "MBq": ("activity", 1e6),
    "GBq": ("activity", 1e9),
    "TBq": ("activity", 1e12),
    "Ci": ("activity", 3.7e10),
    "mCi": ("activity", 3.7e7),
    "uCi": ("activity", 3.7e4),
    # ambient dose-equivalent rate, Sv/h
    "Sv/h": ("dose_rate", 1.0),
    "mSv/h": ("dose_rate", 1e-3),
    "uSv/h": ("dose_rate", 1e-6),
    "nSv/h": ("dose_rate", 1e-9),
}
KNOWN_UNITS: Final[dict[str, tuple[str, float]]] = {
    **{code.replace("L", "l"): entry for code, entry in _FACTORS.items()},
    **_FACTORS,
}


def _rounded(factor: float) -> float:
    # 12 significant digits: removes binary noise (212 /nL must stay 212 10*9/L,
    # not 211.99999999999997, at a threshold) while keeping every real digit.
    return float(f"{factor:.12g}")


def _table_factor(
    from_code: str, to_code: str, molar_mass_g_per_mol: float | None
) -> float | Literal[False] | None:
    """The factor from :data:`KNOWN_UNITS`: a float, None when the two cannot be
    converted, False when a code is not in the table (ask the UCUM registry)."""
    source = KNOWN_UNITS.get(from_code)
    target = KNOWN_UNITS.get(to_code)
    if source is None or target is None:
        return False
    (source_kind, source_factor), (target_kind, target_factor) = source, target
    if source_kind == target_kind:
        return _rounded(source_factor / target_factor)
    if molar_mass_g_per_mol is not None:
        if (source_kind, target_kind) == ("substance", "mass"):
            return _rounded(source_factor * molar_mass_g_per_mol / target_factor)
        if (source_kind, target_kind) == ("mass", "substance"):
            return _rounded(source_factor / molar_mass_g_per_mol / target_factor)
    return None


@functools.cache
def _registry() -> Any:
    """The UCUM-aware pint registry (built on first use; pint's own types are loose)."""
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


@functools.cache
def _parse(code: str) -> Any:
    return _registry().from_ucum(code)


def parse_unit(unit: str, *, field: str) -> Any:
    """Parse a UCUM unit string into a pint quantity of magnitude one unit.

    Raises :class:`BadInputError` naming ``field`` when the string is not UCUM.
    """
    if not isinstance(unit, str) or not unit.strip():
        raise BadInputError(field, "a unit is required")
    code = normalize_ucum(unit)
    try:
        return _parse(code)
    except Exception as error:
        raise BadInputError(field, f"unknown unit {unit!r} (not a UCUM unit)") from error


@functools.cache
def _factor(from_code: str, to_code: str, molar_mass_g_per_mol: float | None) -> float | None:
    """Multiplier from ``from_code`` to ``to_code``; None when incompatible."""
    import pint

    source = _parse(from_code)
    target = _parse(to_code)
    candidates = [source]
    if molar_mass_g_per_mol is not None:
        molar_mass = _parse("g/mol") * molar_mass_g_per_mol
        candidates += [source * molar_mass, source / molar_mass]
    for candidate in candidates:
        try:
            factor = float(candidate.to(target.units).magnitude / target.magnitude)
        except pint.DimensionalityError:
            continue
        return _rounded(factor)
    return None


def convert(
    value: float,
    from_unit: str,
    to_unit: str,
    *,
    field: str,
    molar_mass_g_per_mol: float | None = None,
) -> float:
    """Convert ``value`` from one UCUM unit to another.

    With ``molar_mass_g_per_mol`` the conversion may cross between mass and
    amount of substance (mass = amount × molar mass). An unknown or
    incompatible unit raises :class:`BadInputError` naming ``field``.
    """
    factor = _checked_factor(from_unit, to_unit, molar_mass_g_per_mol)
    if isinstance(factor, str):
        raise BadInputError(field, factor)
    return value * factor


@functools.lru_cache(maxsize=4096)
def _checked_factor(
    from_unit: str, to_unit: str, molar_mass_g_per_mol: float | None
) -> float | str:
    """The conversion factor, or the reason there is none (cached either way)."""
    if isinstance(from_unit, str) and isinstance(to_unit, str):
        from_code, to_code = normalize_ucum(from_unit), normalize_ucum(to_unit)
        known = _table_factor(from_code, to_code, molar_mass_g_per_mol)
        if known is not False:
            if known is None:
                return f"unit {from_unit!r} cannot be converted to {to_unit!r}"
            return known
    for unit in (from_unit, to_unit):
        try:
            parse_unit(unit, field="")
        except BadInputError as error:
            return error.reason
    factor = _factor(normalize_ucum(from_unit), normalize_ucum(to_unit), molar_mass_g_per_mol)
    if factor is None:
        return f"unit {from_unit!r} cannot be converted to {to_unit!r}"
    return factor


def convert_lab(analyte: Analyte, value: float, unit: str, *, field: str) -> float:
    """Convert a lab value to its canonical unit (:data:`CANONICAL_UNITS`).

    A negative or non-finite value raises :class:`BadInputError` naming ``field``; whether
    the result is physiologically possible is checked by
    :func:`lutetia.clinical.plausibility.check_lab`, the one place of those ranges.

    >>> round(convert_lab("hemoglobin", 118, "g/L", field="labs[0]"), 6)
    11.8
    >>> round(convert_lab("creatinine", 88.4, "umol/L", field="labs[0]"), 3)
    1.0
    """
    if not math.isfinite(value):
        raise BadInputError(field, f"value {value!r} is not a finite number")
    if value < 0:
        raise BadInputError(field, f"value {value!r} is negative")
    molar = MOLAR_MASSES.get(analyte)
    converted = convert(
        value,
        unit,
        CANONICAL_UNITS[analyte],
        field=field,
        molar_mass_g_per_mol=molar.g_per_mol if molar else None,
    )
    return converted


def activity_to_gbq(value: float, unit: str, *, field: str) -> float:
    """Convert an activity (Bq, kBq, MBq, GBq, mCi, ...) to GBq.

    >>> activity_to_gbq(7400, "MBq", field="activity")
    7.4
    """
    if not math.isfinite(value) or value < 0:
        raise BadInputError(field, f"activity {value!r} must be a finite, non-negative number")
    return convert(value, unit, "GBq", field=field)


def dose_rate_to_usv_per_h(value: float, unit: str, *, field: str) -> float:
    """Convert an ambient dose-equivalent rate (Sv/h, mSv/h, uSv/h, ...) to µSv/h.

    >>> dose_rate_to_usv_per_h(0.02, "mSv/h", field="dose_rate")
    20.0
    """
    if not math.isfinite(value) or value < 0:
        raise BadInputError(field, f"dose rate {value!r} must be a finite, non-negative number")
    return convert(value, unit, "uSv/h", field=field)
