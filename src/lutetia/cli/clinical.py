"""``lutetia grade`` (CTCAE v5.0) and ``lutetia egfr`` (CKD-EPI 2021)."""

from __future__ import annotations

import argparse
from typing import Any

from lutetia.cli.output import emit_json, finite
from lutetia.errors import BadInputError
from lutetia.units import ANALYTES

_GRADED = (
    "hemoglobin", "wbc", "anc", "lymphocytes", "platelets", "creatinine", "ast", "alt",
    "bilirubin", "alp", "albumin", "egfr", "gfr_measured", "creatinine_clearance",
)  # fmt: skip


def register(commands: Any) -> None:
    """Add the clinical calculator subcommands."""
    grade = commands.add_parser(
        "grade",
        help="CTCAE v5.0 grade of a lab value",
        description="CTCAE v5.0 grade of a lab value. --lln, --uln and --baseline are in the "
        "same unit as --value.",
    )
    grade.add_argument("--analyte", required=True, choices=_GRADED)
    grade.add_argument("--value", type=finite, required=True)
    grade.add_argument("--unit", required=True, help="UCUM unit, e.g. g/dL, 10*9/L, umol/L")
    grade.add_argument("--lln", type=finite)
    grade.add_argument("--uln", type=finite)
    grade.add_argument("--baseline", type=finite, help="the patient's baseline value")
    grade.add_argument("--json", action="store_true", help="print one JSON object")
    grade.set_defaults(handler=run_grade)

    egfr = commands.add_parser("egfr", help="eGFR by the race-free CKD-EPI 2021 equation")
    egfr.add_argument("--creatinine", type=finite, required=True, metavar="V")
    egfr.add_argument("--unit", required=True, help="UCUM unit: mg/dL or umol/L")
    egfr.add_argument("--age", type=finite, required=True, metavar="YEARS")
    egfr.add_argument("--sex", required=True, choices=("male", "female"))
    egfr.add_argument("--json", action="store_true", help="print one JSON object")
    egfr.set_defaults(handler=run_egfr)


def run_grade(args: argparse.Namespace) -> int:
    """Print the CTCAE grade."""
    from lutetia.clinical.ctcae import grade
    from lutetia.clinical.plausibility import check_lab
    from lutetia.units import CANONICAL_UNITS

    analyte = args.analyte
    assert analyte in ANALYTES
    option = {"value": "--value", "lln": "--lln", "uln": "--uln", "unit": "--unit"}
    try:
        value, lln_canonical, uln_canonical = check_lab(
            analyte, args.value, args.unit, lln=args.lln, uln=args.uln
        )
    except BadInputError as error:
        raise BadInputError(option[error.field], error.reason) from None
    try:
        baseline = (
            None if args.baseline is None else check_lab(analyte, args.baseline, args.unit)[0]
        )
    except BadInputError as error:
        raise BadInputError("--baseline", error.reason.replace(" value ", " baseline ")) from None
    limits = {"lln": lln_canonical, "uln": uln_canonical, "baseline": baseline}
    for name in ("uln", "baseline"):
        reference = limits[name]
        if reference is not None and reference <= 0:
            raise BadInputError(f"--{name}", "must be above zero (values are graded against it)")
    lln, uln = limits["lln"], limits["uln"]
    if lln is not None and uln is not None and lln >= uln:
        raise BadInputError("--lln", f"{args.lln:g} is not below --uln {args.uln:g}")
    result = grade(analyte, value, **limits)
    unit = CANONICAL_UNITS[analyte]
    if result.grade is None:
        options = " and ".join(f"--{m}" for m in result.missing)
        raise BadInputError(
            options,
            f"{result.term} {value:g} {unit} is grade {result.lowest}–{result.highest}; "
            f"give {options} to decide (never assumed)",
        )
    document = {
        "term": result.term,
        "grade": result.grade,
        "ctcae_version": result.ctcae_version,
        "analyte": analyte,
        "value": value,
        "unit": unit,
        "criterion": result.criterion,
    }
    if args.json:
        emit_json(document)
    else:
        print(
            f"{result.term}: grade {result.grade} (CTCAE v{result.ctcae_version}; "
            f"{value:g} {unit}; {result.criterion})"
        )
    return 0


def run_egfr(args: argparse.Namespace) -> int:
    """Print the eGFR."""
    from lutetia.clinical.plausibility import check_computed_egfr, check_lab
    from lutetia.clinical.renal import egfr_ckd_epi_2021

    try:
        creatinine = check_lab("creatinine", args.creatinine, args.unit)[0]
    except BadInputError as error:
        option = "--unit" if error.field == "unit" else "--creatinine"
        raise BadInputError(option, error.reason) from None
    if creatinine <= 0:
        raise BadInputError("--creatinine", "must be above zero")
    value = egfr_ckd_epi_2021(creatinine, args.age, args.sex)
    try:
        check_computed_egfr(value, note=f"creatinine {args.creatinine:g} {args.unit}")
    except BadInputError as error:
        raise BadInputError("--creatinine", error.reason) from None
    document = {
        "egfr_ml_min_1_73m2": value,
        "equation": "CKD-EPI 2021 creatinine (race-free), Inker et al. NEJM 2021",
        "creatinine_mg_dl": creatinine,
        "age_years": args.age,
        "sex": args.sex,
    }
    if args.json:
        emit_json(document)
    else:
        print(
            f"eGFR {value:.1f} mL/min/1.73 m² (CKD-EPI 2021, race-free; "
            f"creatinine {creatinine:.3g} mg/dL, {args.age:g} y, {args.sex})"
        )
    return 0
