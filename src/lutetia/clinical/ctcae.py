"""CTCAE v5.0 grading of laboratory adverse events.

Common Terminology Criteria for Adverse Events (CTCAE) version 5.0, U.S.
Department of Health and Human Services, National Cancer Institute,
published 27 November 2017. Each term below is transcribed from its row of
the CTCAE v5.0 table ("Investigations", "Blood and lymphatic system
disorders", "Metabolism and nutrition disorders", "Renal and urinary
disorders"), in the units CTCAE uses (g/dL, 10^9/L, multiples of ULN,
mL/min/1.73 m²).

Reading of the published ranges: "<10.0 - 8.0 g/dL" is below 10.0 down to
8.0 inclusive; ">3.0 - 5.0 x ULN" is above 3.0 up to 5.0 inclusive. Where
v5.0 grades a liver test relative to an abnormal baseline ("if baseline was
abnormal"), the baseline replaces the ULN as reference; for creatinine the
baseline criteria (">1.5 - 3.0 x baseline", ">3.0 x baseline") apply
alongside the ULN criteria and the higher grade wins. Grades 4 and 5 of
anemia and hypoalbuminemia are clinical (life-threatening, death), not
laboratory, so a lab value grades them at most 3.

A limit of normal that a grade needs but that is not given is never
assumed: the result then says which grades the value allows and what is
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from lutetia.errors import BadInputError
from lutetia.units import Analyte

CTCAE_VERSION: Final[str] = "5.0"

Direction = Literal["decrease", "increase"]
Reference = Literal["absolute", "lln", "uln", "baseline"]


@dataclass(frozen=True)
class Criterion:
    """One grade's lower edge: the value is at this grade or worse beyond ``bound``.

    For a decrease, the value qualifies when it is below ``bound`` × reference
    (or at it, with ``inclusive``); for an increase, when it is above.
    """

    grade: int
    bound: float
    reference: Reference
    inclusive: bool = False


@dataclass(frozen=True)
class Term:
    """A CTCAE v5.0 laboratory term and its published grade criteria."""

    name: str
    direction: Direction
    unit: str
    criteria: tuple[Criterion, ...]
    abnormal_baseline_criteria: tuple[Criterion, ...] = ()
    baseline_criteria: tuple[Criterion, ...] = ()


# _down and _up run at import only, to build TERMS: mutmut forks its test runs after the
# import, so their mutants could never be activated; TERMS is pinned by tests/test_thresholds.py.
def _down(
    lln_grade1: bool, *bounds: tuple[int, float]
) -> tuple[Criterion, ...]:  # pragma: no mutate block
    first = (Criterion(1, 1.0, "lln"),) if lln_grade1 else ()
    return first + tuple(Criterion(g, b, "absolute") for g, b in bounds)


def _up(
    reference: Reference, *bounds: tuple[int, float]
) -> tuple[Criterion, ...]:  # pragma: no mutate block
    return tuple(Criterion(g, b, reference) for g, b in bounds)


_AST_ALT_NORMAL = _up("uln", (1, 1.0), (2, 3.0), (3, 5.0), (4, 20.0))
_AST_ALT_ABNORMAL = (
    Criterion(1, 1.5, "baseline", inclusive=True),
    *_up("baseline", (2, 3.0), (3, 5.0), (4, 20.0)),
)

#: The terms Lutetia grades, keyed by the case file's analyte.
TERMS: Final[dict[Analyte, Term]] = {
    "hemoglobin": Term("Anemia", "decrease", "g/dL", _down(True, (2, 10.0), (3, 8.0))),
    "wbc": Term(
        "White blood cell decreased",
        "decrease",
        "10*9/L",
        _down(True, (2, 3.0), (3, 2.0), (4, 1.0)),
    ),
    "anc": Term(
        "Neutrophil count decreased",
        "decrease",
        "10*9/L",
        _down(True, (2, 1.5), (3, 1.0), (4, 0.5)),
    ),
    "lymphocytes": Term(
        "Lymphocyte count decreased",
        "decrease",
        "10*9/L",
        _down(True, (2, 0.8), (3, 0.5), (4, 0.2)),
    ),
    "platelets": Term(
        "Platelet count decreased",
        "decrease",
        "10*9/L",
        _down(True, (2, 75.0), (3, 50.0), (4, 25.0)),
    ),
    "albumin": Term("Hypoalbuminemia", "decrease", "g/dL", _down(True, (2, 3.0), (3, 2.0))),
    "egfr": Term(
        "Chronic kidney disease",
        "decrease",
        "mL/min/{1.73_m2}",
        _down(True, (2, 60.0), (3, 30.0), (4, 15.0)),
    ),
    "creatinine": Term(
        "Creatinine increased",
        "increase",
        "mg/dL",
        _up("uln", (1, 1.0), (2, 1.5), (3, 3.0), (4, 6.0)),
        baseline_criteria=_up("baseline", (2, 1.5), (3, 3.0)),
    ),
    "ast": Term(
        "Aspartate aminotransferase increased",
        "increase",
        "U/L",
        _AST_ALT_NORMAL,
        _AST_ALT_ABNORMAL,
    ),
    "alt": Term(
        "Alanine aminotransferase increased",
        "increase",
        "U/L",
        _AST_ALT_NORMAL,
        _AST_ALT_ABNORMAL,
    ),
    "bilirubin": Term(
        "Blood bilirubin increased",
        "increase",
        "mg/dL",
        _up("uln", (1, 1.0), (2, 1.5), (3, 3.0), (4, 10.0)),
        _up("baseline", (1, 1.0), (2, 1.5), (3, 3.0), (4, 10.0)),
    ),
    "alp": Term(
        "Alkaline phosphatase increased",
        "increase",
        "U/L",
        _up("uln", (1, 1.0), (2, 2.5), (3, 5.0), (4, 20.0)),
        (
            Criterion(1, 2.0, "baseline", inclusive=True),
            *_up("baseline", (2, 2.5), (3, 5.0), (4, 20.0)),
        ),
    ),
}
# eGFR, measured GFR and creatinine clearance share the CKD criteria
# ("eGFR or CrCl" in CTCAE v5.0).
TERMS["gfr_measured"] = TERMS["creatinine_clearance"] = Term(
    "Chronic kidney disease", "decrease", "mL/min", TERMS["egfr"].criteria
)


@dataclass(frozen=True)
class Grade:
    """The CTCAE grade a value earns, or the range it allows when data are missing.

    ``grade`` is None when a limit of normal that would decide between
    ``lowest`` and ``highest`` is missing; ``missing`` names it.
    """

    term: str
    grade: int | None
    lowest: int
    highest: int
    criterion: str
    missing: tuple[str, ...] = ()
    ctcae_version: str = CTCAE_VERSION


def _meets(value: float, limit: float, direction: Direction, inclusive: bool) -> bool:
    # A value on a published edge (1.8 mg/dL against 1.5 x ULN 1.2) must compare as equal
    # although 1.5 * 1.2 is 1.7999999999999998 in binary: edges get a 1e-9 relative margin.
    margin = 1e-9 * abs(limit)
    if direction == "decrease":
        return value <= limit + margin if inclusive else value < limit - margin
    return value >= limit - margin if inclusive else value > limit + margin


def _describe(criterion: Criterion, direction: Direction, unit: str) -> str:
    sign = {"decrease": "<", "increase": ">"}[direction]
    if criterion.inclusive:
        sign += "="
    if criterion.reference == "absolute":
        return f"grade {criterion.grade}: {sign} {criterion.bound:g} {unit}"
    name = {"lln": "LLN", "uln": "ULN", "baseline": "baseline"}[criterion.reference]
    if criterion.bound == 1.0:
        return f"grade {criterion.grade}: {sign} {name}"
    return f"grade {criterion.grade}: {sign} {criterion.bound:g} x {name}"


def _grade_by(
    value: float,
    criteria: tuple[Criterion, ...],
    direction: Direction,
    unit: str,
    references: dict[Reference, float | None],
) -> tuple[int, int, str, tuple[str, ...]]:
    """(lowest, highest, criterion text, missing) for one set of criteria."""
    missing: list[str] = []
    for criterion in sorted(criteria, key=lambda c: -c.grade):
        reference = 1.0 if criterion.reference == "absolute" else references[criterion.reference]
        if reference is None:
            missing.append(criterion.reference)
            continue
        if _meets(value, criterion.bound * reference, direction, criterion.inclusive):
            if missing:
                # A higher grade could not be checked: the value is at least this grade.
                return criterion.grade, max(c.grade for c in criteria), "", tuple(missing)
            return criterion.grade, criterion.grade, _describe(criterion, direction, unit), ()
    if missing:
        unchecked = [c.grade for c in criteria if c.reference in missing]
        return 0, max(unchecked), "", tuple(dict.fromkeys(missing))
    return 0, 0, "within the grade 1 limit", ()


def grade(
    analyte: Analyte,
    value: float,
    *,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
) -> Grade:
    """CTCAE v5.0 grade of ``value`` for ``analyte``.

    ``value``, ``lln``, ``uln`` and ``baseline`` are in the term's unit
    (:data:`TERMS`; :func:`lutetia.units.convert_lab` gives it).

    >>> grade("platelets", 62).grade
    2
    >>> grade("ast", 180, uln=40).grade
    2
    >>> grade("ast", 180, uln=40, baseline=100).grade   # abnormal baseline: 1.8 x baseline
    1
    >>> g = grade("platelets", 120)
    >>> g.grade, g.lowest, g.highest, g.missing
    (None, 0, 1, ('lln',))
    """
    term = TERMS.get(analyte)
    if term is None:
        raise BadInputError("analyte", f"{analyte!r} has no CTCAE v5.0 laboratory term")
    for name, number in (("value", value), ("lln", lln), ("uln", uln), ("baseline", baseline)):
        if number is not None and not number >= 0:
            raise BadInputError(name, f"{number!r} must be a non-negative number")
    references: dict[Reference, float | None] = {"lln": lln, "uln": uln, "baseline": baseline}

    criteria = term.criteria
    if (
        term.abnormal_baseline_criteria
        and baseline is not None
        and uln is not None
        and baseline > uln
    ):
        criteria = term.abnormal_baseline_criteria
    lowest, highest, text, missing = _grade_by(
        value, criteria, term.direction, term.unit, references
    )

    if term.baseline_criteria and baseline is not None:
        b_low, _, b_text, _ = _grade_by(
            value, term.baseline_criteria, term.direction, term.unit, references
        )
        if b_low > lowest:
            lowest, text = b_low, b_text
        highest = max(highest, lowest)
    decided = lowest == highest
    return Grade(
        term=term.name,
        grade=lowest if decided else None,
        lowest=lowest,
        highest=highest,
        criterion=text if decided else "",
        missing=missing,  # empty whenever the grade is decided (the tables make it so)
    )
