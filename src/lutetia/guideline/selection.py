"""Patient selection: the guideline's selection chapters as executable rules.

Each function below evaluates one rule (or one family of rules sharing a
code prefix) of :mod:`lutetia.guideline.catalogue` and returns the findings
that apply. :func:`assess` runs them all, places exactly one indication and
derives the recommendation:

``not_recommended`` > ``insufficient_data`` > ``consider`` > ``recommended``
(spec/case-format.md, "Decision rules that the guideline leaves implicit").
A finding bears on it through its ``effect``; precautions and prognostic
factors inform and change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from lutetia.cases.model import Case, Lesion, day_of
from lutetia.clinical.psa import PsaValue, doubling_time
from lutetia.guideline.catalogue import RULES, finding
from lutetia.guideline.context import Context, LabView, Settings
from lutetia.guideline.findings import Finding, Quantity, Threshold
from lutetia.guideline.ruleset import EANM_SNMMI_2023, Ruleset, in_words
from lutetia.units import Analyte

Recommendation = Literal["recommended", "consider", "not_recommended", "insufficient_data"]

COUNT = "10*9/L"
CHEMOTHERAPY_CLASSES = ("taxane", "platinum", "chemotherapy")
VISCERAL_SITES = ("liver", "lung", "visceral_other")
REQUIRED_LABS: tuple[Analyte, ...] = (
    "hemoglobin", "wbc", "anc", "platelets", "creatinine", "egfr", "ast", "alt",
    "bilirubin", "albumin", "alp", "ldh", "psa", "crp",
)  # fmt: skip
LABEL: dict[str, str] = {
    "hemoglobin": "Hemoglobin", "wbc": "WBC", "anc": "ANC", "lymphocytes": "Lymphocytes",
    "platelets": "Platelets", "creatinine": "Creatinine", "egfr": "eGFR",
    "gfr_measured": "Measured GFR", "creatinine_clearance": "Creatinine clearance",
    "ast": "AST", "alt": "ALT", "bilirubin": "Bilirubin", "albumin": "Albumin", "alp": "ALP",
    "ldh": "LDH", "psa": "PSA", "crp": "CRP", "testosterone": "Testosterone",
}  # fmt: skip


#: Table 1, myelosuppression: WBC < 2.5/nL, ANC < 1.5/nL, platelets < 75/nL.
def myelosuppression_limits(rules: Ruleset) -> dict[Analyte, tuple[float, str]]:
    """Analyte → (the limit below which it is myelosuppression, its name)."""
    return {
        "wbc": (rules.wbc_below_per_nl, "WBC"),
        "anc": (rules.anc_below_per_nl, "ANC"),
        "platelets": (rules.platelets_below_per_nl, "Platelets"),
    }


Rule = Callable[[Context], Iterator[Finding]]
SELECTION_RULES: list[Rule] = []


# Runs at import only (mutmut cannot activate its mutants); the registered rules are checked
# by tests/test_rule_engine.py.
def selection_rule(function: Rule) -> Rule:  # pragma: no mutate block
    """Register ``function`` as a selection rule."""
    SELECTION_RULES.append(function)
    return function


def show(value: float, unit: str | None = None) -> str:
    """A number for a message: up to 4 significant digits, with its unit."""
    text = f"{value:.4g}"
    if unit is None:
        return text
    shown = {"10*9/L": "×10⁹/L", "mL/min/{1.73_m2}": "mL/min/1.73 m²"}.get(unit, unit)
    return f"{text} {shown}"


def _when(view: LabView) -> str:
    return f"on {view.day.isoformat()}"


# --- Disease status (Definitions) ------------------------------------------------------


def crpc_by_psa(ctx: Context) -> tuple[bool, int]:
    """Whether the PSA series shows castration resistance, and how many values it has.

    Definitions 4: two consecutive PSA rises, at least 2 weeks apart, each to
    more than 25 % over the nadir before them.
    """
    values = ctx.labs.get("psa", [])
    lowest = float("inf")
    for i in range(1, len(values) - 1):
        lowest = min(lowest, values[i - 1].value)
        first, second = values[i], values[i + 1]
        rise = (1 + ctx.rules.crpc_rise_over_nadir_above) * lowest
        if (
            first.value > rise
            and second.value > first.value  # so the second is over the rise too
            and (second.day - first.day).days >= ctx.rules.crpc_rise_gap_days_at_least
        ):
            return True, len(values)
    return False, len(values)


@selection_rule
def disease_status(ctx: Context) -> Iterator[Finding]:
    """crpc.not_established, crpc.testosterone_not_castrate, disease.*."""
    diagnosis = ctx.case.diagnosis
    if diagnosis.castration_resistant is False:
        yield finding(
            "crpc.not_established",
            "The case records the disease as not castration-resistant: the guideline's "
            "indications are for castration-resistant prostate cancer.",
            value=Quantity(False),
            threshold=Threshold(True, None, "=="),
        )
    elif diagnosis.castration_resistant is None:
        shown, count = crpc_by_psa(ctx)
        if not shown:
            yield finding(
                "crpc.not_established",
                f"Castration resistance is not recorded and the PSA series ({count} value"
                f"{'s' if count != 1 else ''}) does not show two rises ≥ "
                f"{in_words(timedelta(days=ctx.rules.crpc_rise_gap_days_at_least))} apart to "
                f"> {100 * ctx.rules.crpc_rise_over_nadir_above:g} % over nadir; record it "
                "(new lesions on imaging count) or add PSA values.",
                value=Quantity(None),
                threshold=Threshold(100 * ctx.rules.crpc_rise_over_nadir_above, "%", ">"),
                effect="insufficient",
            )
    testosterone = ctx.latest("testosterone")
    limit_t = ctx.rules.testosterone_not_castrate_at_least_ng_dl
    if testosterone is not None and testosterone.value >= limit_t:
        yield finding(
            "crpc.testosterone_not_castrate",
            f"Testosterone {show(testosterone.value, 'ng/dL')} {_when(testosterone)} is not at "
            f"castrate level (< {limit_t:g} ng/dL, 1.7 nmol/L): check androgen deprivation "
            "before calling the disease castration-resistant.",
            value=Quantity(testosterone.value, "ng/dL"),
            threshold=Threshold(limit_t, "ng/dL", ">="),
        )
    if diagnosis.metastatic is False:
        yield finding(
            "disease.not_metastatic",
            "No metastases: the indications are for metastatic CRPC (nmCRPC: refer to a trial).",
            value=Quantity(False),
        )
    elif diagnosis.metastatic is None and not metastases_on_pet(ctx.case):
        yield finding(
            "disease.not_metastatic",
            "Metastatic status is not recorded and the PSMA PET lists no lesion outside the "
            "prostate.",
            value=Quantity(None),
            effect="insufficient",
        )
    if diagnosis.neuroendocrine_features:
        yield finding(
            "disease.neuroendocrine",
            "Neuroendocrine features: PSMA expression may be heterogeneous; look for "
            "PSMA-negative (e.g. FDG-positive) disease.",
            value=Quantity(True),
        )


def metastases_on_pet(case: Case) -> bool:
    """Whether the PSMA PET records any lesion outside the prostate."""
    pet = case.psma_pet
    return pet is not None and any(lesion.site != "prostate" for lesion in pet.lesions)


# --- Indication --------------------------------------------------------------------------


@dataclass(frozen=True)
class Indication:
    """The one indication an assessment places, with the finding that explains it."""

    code: str
    finding: Finding


def place_indication(ctx: Context) -> Indication:
    """Place the case in exactly one of the guideline's indications (Indications 1–4)."""
    case = ctx.case

    def made(code: str, message: str, **extra: object) -> Indication:
        return Indication(code, finding(code, message, **extra))  # type: ignore[arg-type]

    if case.diagnosis.castration_resistant is False or case.diagnosis.metastatic is False:
        return made(
            "indication.other",
            "Not metastatic castration-resistant disease (hormone-sensitive or nmCRPC): refer "
            "to a clinical trial; individual or compassionate use only when alternatives are "
            "exhausted or contra-indicated (Indications, 4).",
        )
    treatments = case.treatments
    naads = [t for t in treatments if t.treatment_class == "naad"]
    if not any(t.progressed for t in naads):
        if not treatments:
            return made(
                "indication.undetermined",
                "No treatment history is recorded: progression on a novel androgen-axis drug "
                "(NAAD) is needed to place the indication.",
            )
        if any(t.progressed is None for t in naads):
            return made(
                "indication.undetermined",
                "A NAAD is recorded but not whether the disease progressed on it.",
            )
        return made(
            "indication.other",
            "No progression on a novel androgen-axis drug is recorded: outside Indications 1–3; "
            "refer to a trial, or consider individual use only when alternatives are exhausted "
            "or contra-indicated (Indications, 4).",
        )
    options = case.taxane_options
    taxanes = [t for t in treatments if t.treatment_class == "taxane"]
    # A docetaxel line is a taxane line: only the recorded status adds to ``taxanes``.
    docetaxel_given = options.docetaxel == "received"
    cabazitaxel_given = options.cabazitaxel == "received" or any(
        "cabazitaxel" in t.name.lower() for t in taxanes
    )
    if taxanes or docetaxel_given or cabazitaxel_given:
        if options.cabazitaxel == "candidate" and not cabazitaxel_given:
            return made(
                "indication.cabazitaxel_candidate",
                "Progressed on a NAAD and docetaxel and still a cabazitaxel candidate: "
                "TheraP setting, strong recommendation (Indications, 2).",
            )
        note = ""
        if options.cabazitaxel is None and not cabazitaxel_given:
            note = (
                " Cabazitaxel status is not recorded: if the patient is still a candidate, the "
                "TheraP setting applies (Indications, 2, also strong)."
            )
        return made(
            "indication.post_taxane",
            "Progressed on ≥ 1 NAAD and ≥ 1 taxane; a further taxane is "
            + {
                "unfit": "not tolerable",
                "refused": "refused",
                "received": "already given",
                None: "not planned",
            }.get(options.cabazitaxel if not cabazitaxel_given else "received", "not planned")
            + ": VISION setting, strong recommendation (Indications, 1)."
            + note,
        )
    docetaxel = options.docetaxel
    if docetaxel in ("contraindicated", "unfit"):
        return made(
            "indication.taxane_naive_docetaxel_unsuitable",
            f"Taxane-naive, progressed on a NAAD, docetaxel {docetaxel}: RLT may be more "
            "tolerable than docetaxel (moderate recommendation, Indications, 3).",
        )
    if docetaxel == "refused":
        return made(
            "indication.taxane_naive_docetaxel_unsuitable",
            "Taxane-naive, progressed on a NAAD, docetaxel refused: the patient's choice is "
            "respected (moderate recommendation, Indications, 3). Document that an expert "
            "(board-certified uro-/oncologist) explained the risks and benefits of the "
            "alternatives (Patient selection, last paragraph).",
        )
    if docetaxel == "fit":
        return made(
            "indication.taxane_naive_docetaxel_fit",
            "Taxane-naive and fit for docetaxel: the balance of benefit and risk is uncertain "
            "and RLT cannot be recommended outside a trial (Indications, 3).",
        )
    return made(
        "indication.undetermined",
        "Taxane-naive after NAAD progression, but docetaxel status (fit, unfit, "
        "contra-indicated, refused) is not recorded.",
    )


# --- Relative contra-indications (Table 1) ---------------------------------------------


@selection_rule
def clinical_contraindications(ctx: Context) -> Iterator[Finding]:
    """Table 1 rows that are clinical judgements rather than lab values."""
    performance = ctx.case.performance
    conditions = ctx.case.conditions
    months = performance.life_expectancy_months
    if months is not None and months < ctx.rules.life_expectancy_below_months:
        if performance.palliative_intent:
            pass  # Table 1: except where the main purpose is palliative.
        else:
            yield finding(
                "contraindication.life_expectancy",
                f"Life expectancy {show(months, 'mo')} is below "
                f"{ctx.rules.life_expectancy_below_months:g} months and the intent is not "
                "recorded as "
                "palliative (relative contra-indication).",
                value=Quantity(months, "mo"),
                threshold=Threshold(ctx.rules.life_expectancy_below_months, "mo", "<"),
            )
    if (
        performance.ecog is not None
        and performance.ecog >= ctx.rules.ecog_contraindication_at_least
    ):
        yield finding(
            "contraindication.ecog",
            f"ECOG {performance.ecog} (≥ 3): high radiation burden to caregivers while most "
            "likely only prolonging suffering (relative contra-indication).",
            value=Quantity(performance.ecog),
            threshold=Threshold(ctx.rules.ecog_contraindication_at_least, None, ">="),
        )
    if conditions.urinary_incontinence == "unmanageable":
        yield finding(
            "contraindication.urinary_incontinence",
            "Unmanageable urinary incontinence (a urinary catheter alone is no "
            "contra-indication; it may even help radiation protection).",
            value=Quantity("unmanageable"),
        )
    if conditions.urinary_obstruction or conditions.hydronephrosis:
        what = " and ".join(
            name
            for name, flag in (
                ("acute urinary obstruction", conditions.urinary_obstruction),
                ("hydronephrosis", conditions.hydronephrosis),
            )
            if flag
        )
        yield finding(
            "contraindication.urinary_obstruction",
            f"{what.capitalize()}: consider baseline [99mTc]Tc-MAG3 or -DTPA renal "
            "scintigraphy (relative contra-indication).",
            value=Quantity(True),
        )
    if conditions.psychiatric_comorbidity == "unmanageable":
        yield finding(
            "contraindication.psychiatric",
            "Unmanageable psychiatric comorbidity: the patient may not be able to be isolated "
            "on a therapy ward (relative contra-indication).",
            value=Quantity("unmanageable"),
        )
    if conditions.severe_comorbidity:
        yield finding(
            "contraindication.severe_comorbidity",
            "Severe comorbidity: the patient must be able to tolerate increased hydration "
            "(relative contra-indication).",
            value=Quantity(True),
        )
    if conditions.acute_infection:
        yield finding(
            "contraindication.acute_infection",
            "Acute infection (relative contra-indication).",
            value=Quantity(True),
        )


def _superscan_note(ctx: Context) -> str:
    if ctx.case.conditions.superscan:
        return (
            " Superscan: treating can be reasonable, since tumour-related cytopenia often "
            "improves, under close blood-count monitoring (weak; Table 1, footnote a)."
        )
    return ""


@selection_rule
def myelosuppression(ctx: Context) -> Iterator[Finding]:
    """contraindication.myelosuppression.* (Table 1)."""
    for analyte, (limit, name) in myelosuppression_limits(ctx.rules).items():
        view = ctx.latest(analyte)
        if view is None or view.value >= limit:
            continue
        yield finding(
            f"contraindication.myelosuppression.{analyte}",
            f"{name} {show(view.value, COUNT)} {_when(view)} below {show(limit, COUNT)} "
            "(/nL): myelosuppression (relative contra-indication)." + _superscan_note(ctx),
            value=Quantity(view.value, COUNT),
            threshold=Threshold(limit, COUNT, "<"),
        )


@selection_rule
def organ_failure(ctx: Context) -> Iterator[Finding]:
    """contraindication.organ_failure.* (Table 1)."""
    gfr = ctx.gfr
    if gfr is not None and gfr.value_ml_min < ctx.rules.gfr_failure_below_ml_min:
        yield finding(
            "contraindication.organ_failure.gfr",
            f"GFR {show(gfr.value_ml_min, gfr.unit)} ({gfr.note}) is below "
            f"{ctx.rules.gfr_failure_below_ml_min:g} mL/min: risk of "
            "organ failure (relative contra-indication).",
            value=Quantity(gfr.value_ml_min, gfr.unit),
            threshold=Threshold(ctx.rules.gfr_failure_below_ml_min, gfr.unit, "<"),
            details={"gfr_source": gfr.source},
        )
    creatinine = ctx.latest("creatinine")
    if (
        creatinine is not None
        and creatinine.uln is not None
        and creatinine.value > ctx.rules.creatinine_failure_above_x_uln * creatinine.uln
    ):
        yield finding(
            "contraindication.organ_failure.creatinine",
            f"Creatinine {show(creatinine.value, 'mg/dL')} {_when(creatinine)} is "
            f"{show(creatinine.value / creatinine.uln)} × ULN "
            f"(> {ctx.rules.creatinine_failure_above_x_uln:g} × ULN): risk of organ "
            "failure (relative contra-indication).",
            value=Quantity(creatinine.value, "mg/dL"),
            threshold=Threshold(
                ctx.rules.creatinine_failure_above_x_uln * creatinine.uln, "mg/dL", ">"
            ),
        )
    for analyte in ("ast", "alt"):
        view = ctx.latest(analyte)
        if view is None or view.uln is None:
            continue
        if view.value <= ctx.rules.liver_failure_above_x_uln * view.uln:
            continue
        yield finding(
            "contraindication.organ_failure.liver",
            f"{LABEL[analyte]} {show(view.value, 'U/L')} {_when(view)} is "
            f"{show(view.value / view.uln)} × ULN "
            f"(> {ctx.rules.liver_failure_above_x_uln:g} × ULN): risk of organ failure "
            "(relative contra-indication).",
            value=Quantity(view.value, "U/L"),
            threshold=Threshold(ctx.rules.liver_failure_above_x_uln * view.uln, "U/L", ">"),
            details={"analyte": analyte},
        )


# --- Precautions (C) ----------------------------------------------------------------------


@selection_rule
def precautions(ctx: Context) -> Iterator[Finding]:
    """precaution.washout, reduced_renal_function, marrow_reserve, contraception."""
    reference = ctx.reference_date
    for index, treatment in enumerate(ctx.case.treatments):
        cls = treatment.treatment_class
        marrow_toxic = (
            cls in CHEMOTHERAPY_CLASSES
            or cls == "bone_seeking_radiopharmaceutical"
            or (cls == "ebrt" and treatment.large_field)
        )
        if not marrow_toxic:
            continue
        if treatment.end is None:
            weeks_text, gap = "is ongoing", None
        else:
            gap = reference - treatment.end
            if gap >= ctx.rules.washout:
                continue
            weeks_text = f"ended {gap.days} days before {reference.isoformat()}"
        yield finding(
            "precaution.washout",
            f"{treatment.name} ({cls.replace('_', ' ')}) {weeks_text}: large-field EBRT, "
            "chemotherapy and bone-seeking radiopharmaceuticals should be stopped ≥ "
            f"{in_words(ctx.rules.washout)} "
            "before RLT (red-marrow suppression).",
            value=Quantity(None if gap is None else gap.days, "d"),
            threshold=Threshold(ctx.rules.washout.days, "d", "<"),
            details={"treatment_index": index},
        )
    gfr = ctx.gfr
    low, high = ctx.rules.reduced_renal_low_ml_min, ctx.rules.reduced_renal_high_ml_min
    if gfr is not None and low <= gfr.value_ml_min <= high:
        yield finding(
            "precaution.reduced_renal_function",
            f"GFR {show(gfr.value_ml_min, gfr.unit)} ({gfr.note}) is {low:g}–{high:g} mL/min: "
            "clinical experience is limited; monitor GFR from cycle to cycle and discontinue "
            f"if eGFR falls below {ctx.rules.gfr_failure_below_ml_min:g} mL/min.",
            value=Quantity(gfr.value_ml_min, gfr.unit),
            threshold=Threshold([low, high], gfr.unit, "in"),
            details={"gfr_source": gfr.source},
        )
    reasons: list[str] = []
    if gfr is not None and gfr.value_ml_min <= high:
        reasons.append(f"reduced kidney function (GFR {show(gfr.value_ml_min, gfr.unit)})")
    lines = sum(1 for t in ctx.case.treatments if t.treatment_class in CHEMOTHERAPY_CLASSES)
    if lines >= ctx.rules.marrow_chemotherapy_lines_at_least:
        reasons.append(f"{lines} previous chemotherapy lines")
    if ctx.case.conditions.prolonged_hematotoxicity_history:
        reasons.append("a history of prolonged hematological toxicity")
    if reasons:
        yield finding(
            "precaution.marrow_reserve",
            "Possibly reduced red-marrow reserve: "
            + "; ".join(reasons)
            + ". Higher-grade myelotoxicity is more likely.",
            value=Quantity(reasons),
        )
    yield finding(
        "precaution.contraception",
        "Contraception is needed during and for 3 months after therapy; discuss the risk of "
        "irreversible infertility.",
    )


# --- Imaging selection (Patient selection) ---------------------------------------------


def lesion_size_mm(lesion: Lesion) -> float:
    """A bone lesion's soft-tissue component when given, else its size (spec)."""
    if lesion.site == "bone" and lesion.soft_tissue_component_mm is not None:
        return lesion.soft_tissue_component_mm
    return lesion.size_mm


@dataclass(frozen=True)
class UptakeReference:
    """The PSMA-negative threshold for a scan: 0.5 × parotid or 1.0 × liver SUVmean."""

    suv: float
    organ: Literal["parotid", "liver"]
    factor: float
    approximate: bool

    @property
    def threshold(self) -> float:
        """SUVmax below which a lesion counts as PSMA-negative."""
        return self.factor * self.suv

    def describe(self) -> str:
        """The criterion in words."""
        text = f"{self.factor:g} × {self.organ} SUVmean {self.suv:g} = {self.threshold:.3g}"
        if self.approximate:
            text += (
                " (liver criterion: the guideline states its equivalence for "
                "[68Ga]Ga-PSMA-11; for this tracer it is an approximation)"
            )
        return text


def uptake_reference(case: Case, rules: Ruleset) -> UptakeReference | None:
    """The reference organ for the PSMA-negative rule, parotid first."""
    pet = case.psma_pet
    if pet is None:
        return None
    if pet.parotid_suvmean is not None:
        return UptakeReference(
            pet.parotid_suvmean, "parotid", rules.psma_negative_below_x_parotid, approximate=False
        )
    if pet.liver_suvmean is not None:
        tracer = (pet.tracer or "").lower().replace(" ", "")
        ga_psma11 = "psma-11" in tracer and ("68ga" in tracer or "ga-68" in tracer)
        return UptakeReference(
            pet.liver_suvmean, "liver", rules.psma_negative_below_x_liver, approximate=not ga_psma11
        )
    return None


@selection_rule
def imaging(ctx: Context) -> Iterator[Finding]:
    """imaging.* rules of the "Patient selection" section."""
    case = ctx.case
    pet = case.psma_pet
    if pet is None:
        yield finding(
            "imaging.psma_pet_missing",
            "No PSMA PET (or PSMA SPECT) is recorded: it is required to select patients "
            "(strong recommendation).",
        )
    if not case.conventional_imaging:
        yield finding(
            "imaging.comparator_missing",
            "No conventional comparator (CT, MRI, bone scan or FDG PET/CT) is recorded: it is "
            "required to rule out PSMA-negative disease (strong recommendation).",
        )
    if pet is None:
        return
    if not pet.lesions:
        yield finding(
            "imaging.lesions_missing",
            "The PSMA PET lists no lesions: PSMA-positive disease is not shown.",
        )
        return
    reference = uptake_reference(case, ctx.rules)
    large = [
        (i, lesion)
        for i, lesion in enumerate(pet.lesions)
        if lesion_size_mm(lesion) >= ctx.rules.psma_negative_size_at_least_mm
    ]
    if reference is None:
        if large:
            yield finding(
                "imaging.reference_uptake_missing",
                f"{len(large)} lesion(s) ≥ {ctx.rules.psma_negative_size_at_least_mm:g} mm "
                "but neither parotid nor liver SUVmean is "
                "recorded: the PSMA-negative exclusion cannot be checked.",
                value=Quantity(len(large)),
            )
    else:
        for i, lesion in large:
            if lesion.suvmax < reference.threshold:
                size = lesion_size_mm(lesion)
                yield finding(
                    "imaging.psma_negative_lesion",
                    f"{lesion.site.replace('_', ' ').capitalize()} lesion {show(size, 'mm')} "
                    f"(psma_pet.lesions[{i}]) has SUVmax {show(lesion.suvmax)}, below "
                    f"{reference.describe()}: PSMA-negative lesion ≥ 1 cm, exclude from RLT.",
                    value=Quantity(lesion.suvmax, None),
                    threshold=Threshold(reference.threshold, None, "<"),
                    details={"lesion_index": i, "size_mm": size, "reference": reference.organ},
                )
        for i, lesion in enumerate(pet.lesions):
            if lesion.fdg == "positive" and lesion.suvmax < reference.threshold:
                yield finding(
                    "imaging.fdg_discordant",
                    f"{lesion.site.replace('_', ' ').capitalize()} lesion "
                    f"(psma_pet.lesions[{i}]) is FDG-positive but PSMA-negative (SUVmax "
                    f"{show(lesion.suvmax)} < {reference.threshold:.3g}): viable PSMA-negative "
                    "disease predicts sub-standard response.",
                    value=Quantity(lesion.suvmax, None),
                    threshold=Threshold(reference.threshold, None, "<"),
                    details={"lesion_index": i},
                )
    liver = [lesion for lesion in pet.lesions if lesion.site == "liver"]
    fdg_done = any(s.modality == "fdg_pet" for s in case.conventional_imaging) or any(
        lesion.fdg in ("positive", "negative") for lesion in liver
    )
    if liver and not fdg_done:
        yield finding(
            "imaging.liver_metastases_fdg",
            f"{len(liver)} liver metastasis(es) without FDG PET: liver metastases may convert "
            "to a PSMA-negative phenotype; a complementary FDG PET is advised (weak).",
            value=Quantity(len(liver)),
        )
    yield from _uptake_level(pet.lesions, pet.parotid_suvmean, ctx.rules)


def _uptake_level(
    lesions: list[Lesion], parotid: float | None, rules: Ruleset
) -> Iterator[Finding]:
    limit = parotid if parotid is not None else rules.high_uptake_suvmax_without_parotid
    basis = (
        f"parotid SUVmean {parotid:g}"
        if parotid is not None
        else f"SUVmax {rules.high_uptake_suvmax_without_parotid:g} (no parotid SUVmean: the "
        "guideline's approximation)"
    )
    above = sum(1 for lesion in lesions if lesion.suvmax > limit)
    total = len(lesions)
    if above > rules.uptake_majority_above * total:
        yield finding(
            "imaging.high_uptake",
            f"{above} of {total} lesions are above {basis}: clinically relevant activity is "
            "most likely; such patients should actively be encouraged to receive RLT.",
            value=Quantity(above / total, "1"),
            threshold=Threshold(rules.uptake_majority_above, "1", ">"),
        )
    elif total - above > rules.uptake_majority_above * total:
        yield finding(
            "imaging.low_uptake",
            f"{total - above} of {total} lesions are at or below {basis}: low PSMA uptake "
            "predicts sub-standard response; prioritise alternative options.",
            value=Quantity((total - above) / total, "1"),
            threshold=Threshold(rules.uptake_majority_above, "1", ">"),
        )


# --- Prognostic factors ----------------------------------------------------------------


def _cutoff_threshold(code: str, rules: Ruleset) -> Threshold:
    cutoff = rules.cutoffs[code]
    return Threshold(cutoff.value, cutoff.unit, cutoff.comparator)


def _cutoff_note(code: str, rules: Ruleset) -> str:
    return f" Cut-off: {rules.cutoffs[code].source}."


@selection_rule
def prognostic(ctx: Context) -> Iterator[Finding]:
    """prognostic.* (Factors associated with survival): inform, never decide."""
    case = ctx.case
    age = ctx.age_years
    if age is not None and age < ctx.rules.age_prognostic_below_years:
        yield finding(
            "prognostic.age_under_65",
            f"Age {age:g} (< {ctx.rules.age_prognostic_below_years:g} years): associated with "
            "poorer "
            "outcome.",
            value=Quantity(age, "a"),
            threshold=Threshold(ctx.rules.age_prognostic_below_years, "a", "<"),
        )
    ecog = case.performance.ecog
    if ecog is not None and ecog >= ctx.rules.ecog_prognostic_at_least:
        yield finding(
            "prognostic.ecog_2_or_more",
            f"ECOG {ecog} (≥ {ctx.rules.ecog_prognostic_at_least}): associated with poorer "
            "outcome.",
            value=Quantity(ecog),
            threshold=Threshold(ctx.rules.ecog_prognostic_at_least, None, ">="),
        )
    if case.performance.symptomatic:
        yield finding(
            "prognostic.symptomatic",
            "Symptomatic disease: associated with poorer outcome.",
            value=Quantity(True),
        )
    gleason = case.diagnosis.gleason_score
    if gleason is not None and gleason >= ctx.rules.gleason_high_at_least:
        yield finding(
            "prognostic.high_gleason",
            f"Gleason score {gleason} (≥ {ctx.rules.gleason_high_at_least}): associated with "
            "poorer outcome.",
            value=Quantity(gleason),
            threshold=Threshold(ctx.rules.gleason_high_at_least, None, ">="),
        )
    if case.psma_pet is not None:
        visceral = sorted(
            {lesion.site for lesion in case.psma_pet.lesions if lesion.site in VISCERAL_SITES}
        )
        if visceral:
            yield finding(
                "prognostic.visceral_metastases",
                "Visceral metastases ("
                + ", ".join(s.replace("_", " ") for s in visceral)
                + "): associated with poorer outcome.",
                value=Quantity(visceral),
            )
    yield from _lab_prognostics(ctx)


def _lab_prognostics(ctx: Context) -> Iterator[Finding]:
    psa = ctx.latest("psa")
    if psa is not None and psa.value > ctx.rules.cutoffs["prognostic.high_psa"].value:
        yield finding(
            "prognostic.high_psa",
            f"PSA {show(psa.value, 'ng/mL')} {_when(psa)} is high."
            + _cutoff_note("prognostic.high_psa", ctx.rules),
            value=Quantity(psa.value, "ng/mL"),
            threshold=_cutoff_threshold("prognostic.high_psa", ctx.rules),
        )
    psadt = psa_doubling_time_months(ctx)
    limit = ctx.rules.cutoffs["prognostic.short_psa_doubling_time"].value
    if psadt is not None and psadt < limit:
        yield finding(
            "prognostic.short_psa_doubling_time",
            f"PSA doubling time {show(psadt, 'mo')} (log-linear regression over the last 12 "
            "months) is short." + _cutoff_note("prognostic.short_psa_doubling_time", ctx.rules),
            value=Quantity(psadt, "mo"),
            threshold=_cutoff_threshold("prognostic.short_psa_doubling_time", ctx.rules),
        )
    for code, analyte, unit in (
        ("prognostic.high_ldh", "ldh", "U/L"),
        ("prognostic.high_crp", "crp", "mg/L"),
    ):
        view = ctx.latest(analyte)  # type: ignore[arg-type]
        if view is not None and view.value > ctx.rules.cutoffs[code].value:
            yield finding(
                code,
                f"{LABEL[analyte]} {show(view.value, unit)} {_when(view)} is high."
                + _cutoff_note(code, ctx.rules),
                value=Quantity(view.value, unit),
                threshold=_cutoff_threshold(code, ctx.rules),
            )
    alp = ctx.latest("alp")
    if alp is not None and alp.uln is not None and alp.value > alp.uln:
        yield finding(
            "prognostic.high_alp",
            f"ALP {show(alp.value, 'U/L')} {_when(alp)} is above ULN {show(alp.uln, 'U/L')}."
            + _cutoff_note("prognostic.high_alp", ctx.rules),
            value=Quantity(alp.value, "U/L"),
            threshold=Threshold(alp.uln, "U/L", ">"),
        )
    hemoglobin = ctx.latest("hemoglobin")
    if hemoglobin is not None and hemoglobin.lln is not None and hemoglobin.value < hemoglobin.lln:
        yield finding(
            "prognostic.low_hemoglobin",
            f"Hemoglobin {show(hemoglobin.value, 'g/dL')} {_when(hemoglobin)} is below LLN "
            f"{show(hemoglobin.lln, 'g/dL')}."
            + _cutoff_note("prognostic.low_hemoglobin", ctx.rules),
            value=Quantity(hemoglobin.value, "g/dL"),
            threshold=Threshold(hemoglobin.lln, "g/dL", "<"),
        )


def psa_doubling_time_months(ctx: Context) -> float | None:
    """PSADT from the PSA values of the 12 months up to the reference date (≥ 3 values).

    None when fewer than three positive values span at least 4 weeks, or PSA is not rising.
    """
    start = ctx.reference_date - timedelta(days=365)
    values = [
        PsaValue(v.day, v.value) for v in ctx.labs.get("psa", []) if v.day >= start and v.value > 0
    ]
    unique = {v.day: v for v in values}
    values = sorted(unique.values(), key=lambda v: v.day)
    if len(values) < 3 or (values[-1].day - values[0].day).days < 28:
        return None
    return doubling_time(values).doubling_time_months


# --- Procedure -----------------------------------------------------------------------------


@selection_rule
def lab_panel(ctx: Context) -> Iterator[Finding]:
    """labs.missing, labs.stale, labs.reference_missing (Process item 2)."""
    reference = ctx.reference_date
    missing: list[str] = []
    stale: dict[str, int] = {}
    for analyte in REQUIRED_LABS:
        if analyte == "egfr":
            view, note = ctx.egfr
            if view is None:
                missing.append("egfr")
                continue
        else:
            found = ctx.latest(analyte)
            if found is None:
                missing.append(analyte)
                continue
            view = found
        age_days = (reference - view.day).days
        if age_days > ctx.rules.stale_after_days:
            stale[analyte] = age_days
    egfr, egfr_note = ctx.egfr
    if egfr is not None and egfr.index is None:
        yield finding(
            "labs.egfr_computed",
            f"eGFR {show(egfr.value, egfr.unit)}: {egfr_note}.",
            value=Quantity(egfr.value, egfr.unit),
        )
    # Table 1 needs the blood count and renal function: missing → insufficient data (spec,
    # "Decision rules"); when only staleness stops it, labs.stale carries the effect.
    missing_blocks = table1_unchecked(ctx, set(missing))
    stale_blocks = not missing_blocks and table1_unchecked(ctx, set(missing) | set(stale))
    why = " Table 1 (blood count and renal function) cannot be checked: insufficient data."
    if missing:
        note = ""
        if "egfr" in missing:
            note = f" ({ctx.egfr[1]})"
        yield finding(
            "labs.missing",
            "Required before each cycle but missing: "
            + ", ".join(LABEL[a] for a in missing)
            + note
            + ". Rules that need them were not evaluated; nothing is assumed normal."
            + (why if missing_blocks else ""),
            value=Quantity(missing),
            effect="insufficient" if missing_blocks else "informs",
        )
    if stale:
        yield finding(
            "labs.stale",
            f"Older than {ctx.rules.stale_after_days} days at "
            + reference.isoformat()
            + ": "
            + ", ".join(f"{LABEL[a]} ({d} days)" for a, d in stale.items())
            + ". Repeat before treatment."
            + (why if stale_blocks else ""),
            value=Quantity(stale, "d"),
            threshold=Threshold(ctx.rules.stale_after_days, "d", ">"),
            effect="insufficient" if stale_blocks else "informs",
        )
    for analyte, limit, why in (
        ("creatinine", "uln", f"creatinine > {ctx.rules.creatinine_failure_above_x_uln:g} × ULN"),
        ("ast", "uln", f"AST > {ctx.rules.liver_failure_above_x_uln:g} × ULN"),
        ("alt", "uln", f"ALT > {ctx.rules.liver_failure_above_x_uln:g} × ULN"),
        ("alp", "uln", "ALP above ULN (prognostic)"),
        ("hemoglobin", "lln", "hemoglobin below LLN (prognostic)"),
    ):
        view = ctx.latest(analyte)
        if view is None or getattr(view, limit) is not None:
            continue
        yield finding(
            "labs.reference_missing",
            f"{LABEL[analyte]} {_when(view)} has no {limit.upper()}: the rule '{why}' was not "
            "evaluated.",
            value=Quantity(analyte),
            details={"analyte": analyte, "limit": limit, "lab_index": view.index},
        )


#: The blood count Table 1 needs (spec: "Decision rules", assess with missing labs).
BLOOD_COUNT: tuple[Analyte, ...] = ("hemoglobin", "wbc", "anc", "platelets")
#: Any one of these gives the renal function Table 1 needs.
RENAL_FUNCTION: tuple[Analyte, ...] = (
    "creatinine",
    "egfr",
    "gfr_measured",
    "creatinine_clearance",
)


def table1_unchecked(ctx: Context, unusable: set[str]) -> bool:
    """Whether Table 1 cannot be checked: a blood-count analyte, or all renal function, unusable.

    ``unusable`` names the required analytes that are missing or stale. Renal
    function is usable when any of creatinine, eGFR (given or computed), a
    measured GFR or a creatinine clearance is present and fresh.
    """
    if any(analyte in unusable for analyte in BLOOD_COUNT):
        return True
    for analyte in RENAL_FUNCTION:
        if analyte in unusable:
            continue
        if analyte == "egfr":
            return False  # usable: present (given or computed) and fresh
        view = ctx.latest(analyte)
        if view is not None and (ctx.reference_date - view.day).days <= ctx.rules.stale_after_days:
            return False
    return True


def consent_ok(signed: date | datetime, first_cycle: date | datetime, lead_h: float = 24.0) -> bool:
    """Whether consent was signed at least ``lead_h`` hours before the first cycle.

    With two datetimes the hours count; when either is a date, the comparison
    is by calendar day (signed at least ⌈lead_h / 24⌉ days before).
    """
    if isinstance(signed, datetime) and isinstance(first_cycle, datetime):
        return first_cycle - signed >= timedelta(hours=lead_h)
    return (day_of(first_cycle) - day_of(signed)).days >= math.ceil(lead_h / 24)


@selection_rule
def procedure(ctx: Context) -> Iterator[Finding]:
    """consent.missing, procedure.*, followup.close_blood_counts."""
    case = ctx.case
    course = case.course
    given = course.cycles if course is not None else []
    first = given[0].date if given else (course.planned_date if course is not None else None)
    signed = case.consent.signed_at
    if signed is None:
        yield finding(
            "consent.missing",
            "No written informed consent is recorded (required, "
            f"{ctx.settings.lead_h:g} h before the first cycle depending on national "
            "legislation).",
            value=Quantity(None),
        )
    elif first is not None and not consent_ok(signed, first, ctx.settings.lead_h):
        lead = ctx.settings.lead_h
        yield finding(
            "consent.missing",
            f"Consent signed {signed.isoformat()} is less than {lead:g} h before the first cycle "
            f"({first.isoformat()}).",
            value=Quantity(signed.isoformat()),
            threshold=Threshold(lead, "h", "<"),
        )
    adt = [t for t in case.treatments if t.treatment_class == "adt"]
    if adt and all(t.end is not None for t in adt):
        yield finding(
            "procedure.adt_not_continued",
            "Androgen deprivation is recorded as ended: ADT should be continued during RLT.",
            value=Quantity(max(t.end for t in adt if t.end is not None).isoformat()),
        )
    if case.diagnosis.brain_metastases or case.conditions.swelling_risk_metastases:
        yield finding(
            "procedure.steroids_required",
            "Cerebral, spinal or other metastases at risk of painful or obstructive swelling: "
            "corticosteroids before and for several days after RLT are mandatory (most "
            "experience: dexamethasone 4 mg for 5 days).",
            value=Quantity(True),
        )
    pet = case.psma_pet
    lesions = pet.lesions if pet is not None else []
    burden: list[str] = []
    if case.conditions.superscan:
        burden.append("superscan")
    if len(lesions) >= ctx.rules.tumor_lysis_lesions_at_least:
        burden.append(f"{len(lesions)} lesions recorded")
    largest = max((lesion.size_mm for lesion in lesions), default=0.0)
    if largest >= ctx.rules.tumor_lysis_size_at_least_mm:
        burden.append(f"a lesion of {largest:g} mm")
    if burden:
        yield finding(
            "procedure.tumor_lysis_risk",
            "High tumour burden (" + ", ".join(burden) + "): increased risk of tumour lysis "
            "syndrome; allopurinol can be prescribed during the first week.",
            value=Quantity(burden),
        )
    myelosuppressed = [
        a
        for a, (limit, _) in myelosuppression_limits(ctx.rules).items()
        if (view := ctx.latest(a)) is not None and view.value < limit
    ]
    if case.conditions.superscan or myelosuppressed:
        yield finding(
            "followup.close_blood_counts",
            "Superscan or myelosuppression: if treated, close blood-count monitoring is "
            "mandatory (Table 1, footnote a).",
            value=Quantity(myelosuppressed or ["superscan"]),
        )
    radiopharmaceutical = course.radiopharmaceutical if course is not None else "177Lu-PSMA-617"
    yield from scope(radiopharmaceutical)


def scope(radiopharmaceutical: str) -> Iterator[Finding]:
    """scope.radiopharmaceutical and scope.off_label for the course's ligand."""
    name = radiopharmaceutical.replace(" ", "").lower()
    if name in ("177lu-psma-617", "[177lu]lu-psma-617", "lu-177-psma-617"):
        return
    if name in ("177lu-psma-i&t", "[177lu]lu-psma-i&t", "lu-177-psma-i&t"):
        yield finding(
            "scope.off_label",
            "[177Lu]Lu-PSMA-I&T: considered broadly equivalent, but not an approved drug and "
            "its level of evidence is often inferior to [177Lu]Lu-PSMA-617 (off-label use).",
            value=Quantity(radiopharmaceutical),
        )
        return
    yield finding(
        "scope.radiopharmaceutical",
        f"{radiopharmaceutical} is outside this guideline, which covers [177Lu]Lu-PSMA-617 and "
        "[177Lu]Lu-PSMA-I&T only.",
        value=Quantity(radiopharmaceutical),
    )


# --- The assessment --------------------------------------------------------------------------

KIND_ORDER = (
    "disease_status", "relative_contraindication", "imaging", "missing_data", "procedure",
    "precaution", "followup", "scope", "prognostic",
)  # fmt: skip


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of ``assess``: one indication, its findings, the recommendation."""

    recommendation: Recommendation
    indication: Indication
    findings: tuple[Finding, ...]
    reference_date: date
    #: The profile of thresholds the rules ran under.
    ruleset: Ruleset = field(default_factory=lambda: EANM_SNMMI_2023)


def recommend(indication: Finding, findings: tuple[Finding, ...]) -> Recommendation:
    """not_recommended > insufficient_data > consider > recommended, by effect."""
    effects = {f.effect for f in findings} | {indication.effect}
    if "excludes" in effects:
        return "not_recommended"
    if "insufficient" in effects:
        return "insufficient_data"
    if "consider" in effects or indication.strength in ("moderate", "weak"):
        return "consider"
    return "recommended"


def assess(case: Case, settings: Settings | None = None) -> SelectionResult:
    """Run every selection rule over ``case``."""
    ctx = Context(case, settings)
    findings: list[Finding] = []
    for rule in SELECTION_RULES:
        findings.extend(rule(ctx))
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    findings.sort(key=lambda f: order.get(f.kind, len(order)))
    indication = place_indication(ctx)
    result = tuple(findings)
    return SelectionResult(
        recommendation=recommend(indication.finding, result),
        indication=indication,
        findings=result,
        reference_date=ctx.reference_date,
        ruleset=ctx.rules,
    )


def selection_codes() -> tuple[str, ...]:
    """Every code in the catalogue evaluated at selection."""
    return tuple(code for code, rule in RULES.items() if rule.stage == "selection")
