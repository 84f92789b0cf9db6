"""The rule catalogue: every guideline rule Lutetia evaluates, with its provenance.

Each :class:`Rule` has the stable code of ``spec/finding-codes.md``, the
guideline section a finding must cite, the strength of recommendation where the
guideline grades it, a one-line paraphrase, the threshold in words and, where
the guideline names a factor without a cut-off, the published cut-off Lutetia
uses and its source. ``lutetia rules`` prints this table so that a clinician
can audit what exists and where it comes from.

The catalogue is versioned (:data:`CATALOGUE_VERSION`); every assessment
reports the version it was made with. Change the version whenever a rule, a
threshold or a cut-off changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from lutetia.guideline.findings import (
    Decision,
    Effect,
    Finding,
    Kind,
    Quantity,
    Strength,
    Threshold,
)

CATALOGUE_VERSION: Final[str] = "2026.12.0"

Stage = Literal["selection", "course"]


@dataclass(frozen=True)
class Cutoff:
    """A cut-off the guideline does not give, with the publication it comes from."""

    value: float
    unit: str | None
    comparator: Literal["<", "<=", ">", ">="]
    source: str


@dataclass(frozen=True)
class Rule:
    """One rule of the guideline."""

    code: str
    kind: Kind
    section: str
    strength: Strength | None
    text: str
    threshold: str | None = None
    effect: Effect = "informs"
    decision: Decision | None = None
    cutoff: Cutoff | None = None
    stage: Stage = "selection"


_T1 = "Contra-indications, Table 1"
_C = "Contra-indications, C (precautions for use)"
_SEL = "Patient selection"
_SURV = "Factors associated with survival"
_PROC = "Process of treatment procedure"
_MSE = "Management of side effects"
_FU = "Follow-up"
_PROC11 = "Process of treatment procedure, 11"

#: Cut-offs for factors the guideline names without a value.
CUTOFFS: Final[dict[str, Cutoff]] = {
    "prognostic.high_ldh": Cutoff(
        276.5,
        "U/L",
        ">",
        "ROC-derived threshold for overall survival in 92 mCRPC patients treated with "
        "[177Lu]Lu-PSMA I&T (PubMed Central PMC9525362)",
    ),
    "prognostic.high_crp": Cutoff(
        9.8,
        "mg/L",
        ">",
        "ROC-derived threshold (0.98 mg/dL) for overall survival in 92 mCRPC patients "
        "treated with [177Lu]Lu-PSMA I&T (PubMed Central PMC9525362)",
    ),
    "prognostic.high_psa": Cutoff(
        650.0,
        "ng/mL",
        ">",
        "baseline PSA > 650 µg/L associated with shorter survival in a retrospective "
        "cohort of 61 patients given 7.4 GBq [177Lu]Lu-PSMA-617 every 4 weeks (Eur J Nucl "
        "Med Mol Imaging 2020; follow-up cohort in doi:10.1007/s00259-020-05082-5)",
    ),
    "prognostic.short_psa_doubling_time": Cutoff(
        3.0,
        "mo",
        "<",
        "PSA doubling time < 3 months, the high-risk band associated with prostate-cancer "
        "death (D'Amico AV et al., J Natl Cancer Inst 2003;95:1376-1383)",
    ),
    "prognostic.high_alp": Cutoff(
        1.0,
        "ULN",
        ">",
        "above the reporting laboratory's upper reference limit: elevated ALP is "
        "prognostic after [177Lu]Lu-PSMA-617 (Ferdinandus J et al., Eur J Nucl Med Mol "
        "Imaging 2020;47:2322-2327, doi:10.1007/s00259-020-04723-z)",
    ),
    "prognostic.low_hemoglobin": Cutoff(
        1.0,
        "LLN",
        "<",
        "below the reporting laboratory's lower reference limit: normal vs reduced "
        "baseline Hb separated survival in the same 61-patient cohort as the PSA cut-off; "
        "low Hb is also prognostic in Ahmadzadehfar H et al., Oncotarget 2017;8:103108-103116 "
        "(doi:10.18632/oncotarget.21600)",
    ),
}

_RULES: tuple[Rule, ...] = (
    # Indications: exactly one per assessment.
    Rule(
        "indication.post_taxane",
        "indication",
        "Indications, 1",
        "strong",
        "PSMA-positive mCRPC progressed on ≥ 1 NAAD and ≥ 1 taxane, unfit for or refusing "
        "a further taxane (VISION)",
    ),
    Rule(
        "indication.cabazitaxel_candidate",
        "indication",
        "Indications, 2",
        "strong",
        "Progressed on ≥ 1 NAAD and docetaxel, still a cabazitaxel candidate (TheraP)",
    ),
    Rule(
        "indication.taxane_naive_docetaxel_unsuitable",
        "indication",
        "Indications, 3",
        "moderate",
        "Taxane-naive, progressed on ≥ 1 NAAD, docetaxel contra-indicated, unfit or refused",
        effect="consider",
    ),
    Rule(
        "indication.taxane_naive_docetaxel_fit",
        "indication",
        "Indications, 3",
        None,
        "Taxane-naive, progressed on ≥ 1 NAAD, fit for docetaxel: RLT cannot be "
        "recommended outside a trial",
        effect="excludes",
    ),
    Rule(
        "indication.undetermined",
        "indication",
        "Indications",
        None,
        "The treatment history does not say enough to place the indication",
        effect="insufficient",
    ),
    Rule(
        "indication.other",
        "indication",
        "Indications, 4",
        None,
        "Any other situation: refer to a trial; individual or compassionate use only when "
        "alternatives are exhausted or contra-indicated",
        effect="consider",
    ),
    # Disease status.
    Rule(
        "crpc.not_established",
        "disease_status",
        "Definitions, 4",
        None,
        "Castration resistance not shown (two PSA rises ≥ 2 weeks apart to > 25 % over "
        "nadir, or new lesions)",
        ">25 % over nadir, twice, ≥ 2 weeks apart",
        effect="excludes",
    ),
    Rule(
        "crpc.testosterone_not_castrate",
        "disease_status",
        "Definitions, 4",
        None,
        "Testosterone not at castrate level: the CRPC definition requires < 50 ng/dL",
        ">= 50 ng/dL",
        effect="consider",
    ),
    Rule(
        "disease.not_metastatic",
        "disease_status",
        "Definitions, 4",
        None,
        "No metastases documented: the indications are for metastatic CRPC",
    ),
    Rule(
        "disease.neuroendocrine",
        "disease_status",
        "Definitions, 2",
        None,
        "Neuroendocrine features: PSMA expression may be heterogeneous",
    ),
    # Relative contra-indications (Table 1).
    Rule(
        "contraindication.life_expectancy",
        "relative_contraindication",
        _T1,
        None,
        "Life expectancy < 3 months, unless the main purpose is palliative",
        "< 3 months",
        effect="consider",
    ),
    Rule(
        "contraindication.ecog",
        "relative_contraindication",
        _T1,
        None,
        "ECOG performance status ≥ 3",
        ">= 3",
        effect="consider",
    ),
    Rule(
        "contraindication.urinary_incontinence",
        "relative_contraindication",
        _T1,
        None,
        "Unmanageable urinary incontinence (a catheter alone is no contra-indication)",
        effect="consider",
    ),
    Rule(
        "contraindication.urinary_obstruction",
        "relative_contraindication",
        _T1,
        None,
        "Acute urinary tract obstruction or hydronephrosis: consider baseline MAG3/DTPA "
        "renal scintigraphy",
        effect="consider",
    ),
    Rule(
        "contraindication.psychiatric",
        "relative_contraindication",
        _T1,
        None,
        "Unmanageable psychiatric comorbidity (isolation may be impossible)",
        effect="consider",
    ),
    Rule(
        "contraindication.severe_comorbidity",
        "relative_contraindication",
        _T1,
        None,
        "Other severe (e.g. cardiovascular) comorbidity: must tolerate increased hydration",
        effect="consider",
    ),
    Rule(
        "contraindication.organ_failure.gfr",
        "relative_contraindication",
        _T1,
        None,
        "Risk of organ failure: GFR < 30 mL/min",
        "< 30 mL/min",
        effect="consider",
    ),
    Rule(
        "contraindication.organ_failure.creatinine",
        "relative_contraindication",
        _T1,
        None,
        "Risk of organ failure: creatinine > 2 × ULN",
        "> 2 x ULN",
        effect="consider",
    ),
    Rule(
        "contraindication.organ_failure.liver",
        "relative_contraindication",
        _T1,
        None,
        "Risk of organ failure: AST or ALT > 5 × ULN",
        "> 5 x ULN",
        effect="consider",
    ),
    Rule(
        "contraindication.acute_infection",
        "relative_contraindication",
        _T1,
        None,
        "Acute infection",
        effect="consider",
    ),
    Rule(
        "contraindication.myelosuppression.wbc",
        "relative_contraindication",
        _T1,
        None,
        "Myelosuppression: WBC < 2.5/nL",
        "< 2.5 10*9/L",
        effect="consider",
    ),
    Rule(
        "contraindication.myelosuppression.anc",
        "relative_contraindication",
        _T1,
        None,
        "Myelosuppression: ANC < 1.5/nL",
        "< 1.5 10*9/L",
        effect="consider",
    ),
    Rule(
        "contraindication.myelosuppression.platelets",
        "relative_contraindication",
        _T1,
        None,
        "Myelosuppression: platelets < 75/nL",
        "< 75 10*9/L",
        effect="consider",
    ),
    # Precautions (C).
    Rule(
        "precaution.washout",
        "precaution",
        "Contra-indications, C2",
        None,
        "Large-field EBRT, chemotherapy or a bone-seeking radiopharmaceutical must have "
        "ended ≥ 4 weeks before",
        "< 4 weeks",
    ),
    Rule(
        "precaution.reduced_renal_function",
        "precaution",
        "Contra-indications, C3",
        None,
        "GFR 30–50 mL/min: limited experience; monitor GFR each cycle",
        "30-50 mL/min",
    ),
    Rule(
        "precaution.marrow_reserve",
        "precaution",
        "Contra-indications, C4",
        None,
        "Reduced kidney function, extensive previous chemotherapy or prolonged "
        "hematotoxicity: reduced red-marrow reserve",
        "GFR <= 50 mL/min, >= 2 chemotherapy lines, or history",
    ),
    Rule(
        "precaution.contraception",
        "precaution",
        "Contra-indications, C5",
        None,
        "Contraception during and for 3 months after therapy",
    ),
    # Imaging selection.
    Rule(
        "imaging.psma_pet_missing",
        "imaging",
        _SEL,
        "strong",
        "PSMA PET (or SPECT) is required to select patients",
        effect="insufficient",
    ),
    Rule(
        "imaging.comparator_missing",
        "imaging",
        _SEL,
        "strong",
        "A conventional comparator (CT, MRI, bone scan or FDG PET/CT) is required",
        effect="insufficient",
    ),
    Rule(
        "imaging.psma_negative_lesion",
        "imaging",
        _SEL,
        None,
        "A lesion ≥ 1 cm with uptake < 0.5 × parotid (≈ < 1.0 × liver for "
        "[68Ga]Ga-PSMA-11): exclude",
        "size >= 10 mm and SUVmax < 0.5 x parotid SUVmean (or < 1.0 x liver SUVmean)",
        effect="excludes",
    ),
    Rule(
        "imaging.reference_uptake_missing",
        "imaging",
        _SEL,
        None,
        "Neither parotid nor liver SUVmean is recorded: the PSMA-negative criterion cannot "
        "be applied to lesions ≥ 1 cm",
        effect="insufficient",
    ),
    Rule(
        "imaging.lesions_missing",
        "imaging",
        _SEL,
        None,
        "The PSMA PET records no lesions: PSMA-positive disease is not shown",
        effect="insufficient",
    ),
    Rule(
        "imaging.fdg_discordant",
        "imaging",
        f"{_SEL}; {_SURV}, predictive factor 2",
        None,
        "An FDG-positive lesion that is PSMA-negative: predicts sub-standard response",
    ),
    Rule(
        "imaging.liver_metastases_fdg",
        "imaging",
        _SEL,
        "weak",
        "Liver metastases without FDG PET: a complementary FDG PET is advised",
    ),
    Rule(
        "imaging.high_uptake",
        "imaging",
        _SEL,
        None,
        "Most lesions above 1 × parotid uptake (≈ SUVmax > 10): actively encourage RLT",
        "> 1 x parotid SUVmean in most lesions",
    ),
    Rule(
        "imaging.low_uptake",
        "imaging",
        f"{_SEL}; {_SURV}, predictive factor 1",
        None,
        "Most lesions at or below parotid uptake: prioritise alternatives",
        "<= 1 x parotid SUVmean in most lesions",
        effect="consider",
    ),
    # Prognostic factors.
    Rule("prognostic.age_under_65", "prognostic", _SURV, None, "Age < 65 years", "< 65 y"),
    Rule("prognostic.ecog_2_or_more", "prognostic", _SURV, None, "ECOG ≥ 2", ">= 2"),
    Rule("prognostic.symptomatic", "prognostic", _SURV, None, "Symptomatic disease"),
    Rule("prognostic.high_gleason", "prognostic", _SURV, None, "Gleason score ≥ 8", ">= 8"),
    Rule(
        "prognostic.visceral_metastases",
        "prognostic",
        _SURV,
        None,
        "Visceral metastases (liver, lung, other viscera)",
    ),
    Rule(
        "prognostic.high_psa",
        "prognostic",
        _SURV,
        None,
        "High PSA",
        cutoff=CUTOFFS["prognostic.high_psa"],
    ),
    Rule(
        "prognostic.short_psa_doubling_time",
        "prognostic",
        _SURV,
        None,
        "Short PSA doubling time",
        cutoff=CUTOFFS["prognostic.short_psa_doubling_time"],
    ),
    Rule(
        "prognostic.high_ldh",
        "prognostic",
        _SURV,
        None,
        "High LDH",
        cutoff=CUTOFFS["prognostic.high_ldh"],
    ),
    Rule(
        "prognostic.high_crp",
        "prognostic",
        _SURV,
        None,
        "High CRP",
        cutoff=CUTOFFS["prognostic.high_crp"],
    ),
    Rule(
        "prognostic.high_alp",
        "prognostic",
        _SURV,
        None,
        "High ALP",
        cutoff=CUTOFFS["prognostic.high_alp"],
    ),
    Rule(
        "prognostic.low_hemoglobin",
        "prognostic",
        _SURV,
        None,
        "Low hemoglobin",
        cutoff=CUTOFFS["prognostic.low_hemoglobin"],
    ),
    # Procedure.
    Rule(
        "labs.stale",
        "procedure",
        f"{_PROC}, 2",
        None,
        "Lab tests must not be older than 5 days before the treatment cycle",
        "> 5 days",
    ),
    Rule(
        "labs.reference_missing",
        "missing_data",
        f"{_PROC}, 2",
        None,
        "A × ULN / × LLN rule needs a limit of normal that the lab record lacks",
    ),
    Rule(
        "labs.missing",
        "missing_data",
        f"{_PROC}, 2",
        None,
        "Required before each cycle: blood count, creatinine, eGFR, AST, ALT, bilirubin, "
        "albumin, ALP, LDH, PSA, CRP",
    ),
    Rule(
        "labs.egfr_computed",
        "procedure",
        f"{_PROC}, 2",
        None,
        "No eGFR reported: computed from creatinine by CKD-EPI 2021 (race-free), from age and sex",
    ),
    Rule(
        "consent.missing",
        "procedure",
        f"{_PROC}, 1",
        None,
        "Written informed consent, 24 h before the first cycle (national legislation)",
        "< 24 h",
    ),
    Rule(
        "procedure.adt_not_continued",
        "procedure",
        f"{_PROC}, 1",
        None,
        "Androgen deprivation should be continued during RLT",
    ),
    Rule(
        "procedure.steroids_required",
        "procedure",
        f"{_PROC}, 5",
        None,
        "Cerebral, spinal or other metastases at risk of painful or obstructive swelling: "
        "corticosteroids are mandatory",
    ),
    Rule(
        "procedure.tumor_lysis_risk",
        "procedure",
        f"{_PROC}, 7",
        None,
        "High tumour burden: consider allopurinol during the first week",
        ">= 20 lesions, a lesion >= 50 mm, or a superscan",
    ),
    Rule(
        "followup.close_blood_counts",
        "followup",
        f"{_T1}, footnote a",
        "weak",
        "Superscan or myelosuppressed patient treated anyway: close blood-count monitoring",
    ),
    Rule(
        "scope.radiopharmaceutical",
        "scope",
        "Introduction",
        None,
        "A radiopharmaceutical other than [177Lu]Lu-PSMA-617 or [177Lu]Lu-PSMA-I&T is "
        "outside this guideline",
        effect="consider",
    ),
    Rule(
        "scope.off_label",
        "scope",
        "Introduction; Radiopharmaceuticals",
        None,
        "[177Lu]Lu-PSMA-I&T is not an approved drug and its evidence is often inferior: "
        "off-label use",
        effect="consider",
    ),
    # Between cycles ("Management of side effects", "Follow-up", treatment regimen).
    Rule(
        "toxicity.hematologic_grade3_interim",
        "toxicity",
        f"{_MSE}, 1",
        None,
        "Grade 3–4 anemia, leukopenia, neutropenia or thrombocytopenia at an interim test: "
        "postpone the next cycle by 2 weeks; cancel if no recovery",
        "CTCAE grade >= 3",
        decision="postpone",
        stage="course",
    ),
    Rule(
        "toxicity.hematologic_grade2_scheduled",
        "toxicity",
        f"{_MSE}, 2",
        None,
        "Grade ≥ 2 hematological toxicity on the scheduled date: reduce by 20 % (grade 2) "
        "or postpone 2 weeks (grade 3–4)",
        "CTCAE grade >= 2",
        decision="reduce",
        stage="course",
    ),
    Rule(
        "toxicity.egfr_loss",
        "toxicity",
        f"{_MSE}, 3",
        None,
        "Acute eGFR loss > 40 % (from baseline or since before the last cycle), still "
        "> 30 mL/min: reduce activity by 20 %",
        "> 40 % loss",
        decision="reduce",
        stage="course",
    ),
    Rule(
        "toxicity.nonhematologic_grade3",
        "toxicity",
        f"{_MSE}, 4",
        None,
        "Grade 3–4 non-hematological toxicity: hold until grade ≤ 2 or baseline",
        "CTCAE grade >= 3",
        decision="hold",
        stage="course",
    ),
    Rule(
        "toxicity.skeletal_event",
        "toxicity",
        f"{_MSE}, 5",
        None,
        "Skeletal adverse event not yet adequately treated: hold",
        decision="hold",
        stage="course",
    ),
    Rule(
        "toxicity.gcsf_interval",
        "toxicity",
        f"{_MSE}, 1",
        None,
        "G-CSF less than 2 weeks before the injection: postpone",
        "< 14 days",
        decision="postpone",
        stage="course",
    ),
    Rule(
        "toxicity.hematologic_other",
        "toxicity",
        f"{_MSE}, 1–2",
        None,
        "Hematological adverse event outside items 1–2's list (e.g. lymphocyte count "
        "decreased): reported for physician review, not a non-hematological hold",
        stage="course",
    ),
    Rule(
        "toxicity.term_unknown",
        "toxicity",
        _MSE,
        None,
        "Adverse-event term not in Lutetia's CTCAE v5.0 table: treated as non-hematological "
        "(skeletal when it names a fracture or skeletal event); record the CTCAE term",
        stage="course",
    ),
    Rule(
        "discontinue.gfr",
        "toxicity",
        f"{_MSE}, 6; Contra-indications, C3",
        None,
        "GFR loss to < 30 mL/min: discontinue",
        "< 30 mL/min",
        decision="discontinue",
        stage="course",
    ),
    Rule(
        "discontinue.liver",
        "toxicity",
        f"{_MSE}, 6",
        None,
        "Unexpected liver toxicity (AST or ALT > 5 × ULN without liver metastases): discontinue",
        "> 5 x ULN",
        decision="discontinue",
        stage="course",
    ),
    Rule(
        "toxicity.liver_with_metastases",
        "toxicity",
        f"{_MSE}, 6",
        None,
        "AST or ALT > 5 × ULN with known liver metastases (not unexpected): hold, physician review",
        "> 5 x ULN",
        decision="hold",
        stage="course",
    ),
    Rule(
        "discontinue.unresolved_toxicity",
        "toxicity",
        f"{_MSE}, 6",
        None,
        "Life-threatening toxicity not resolved within 4 weeks: discontinue",
        "> 28 days",
        decision="discontinue",
        stage="course",
    ),
    Rule(
        "discontinue.unacceptable_toxicity",
        "toxicity",
        f"{_MSE}, 6",
        None,
        "Toxicity the patient considers unacceptable: discontinue",
        decision="discontinue",
        stage="course",
    ),
    Rule(
        "regimen.max_cycles",
        "regimen",
        _PROC11,
        None,
        "6 cycles given: the course is complete (more only under individual dosimetry)",
        ">= 6 cycles",
        decision="complete",
        stage="course",
    ),
    Rule(
        "regimen.interval",
        "regimen",
        _PROC11,
        None,
        "Planned date outside 6 ± 1 weeks after the last cycle (4–10 weeks reported in practice)",
        "35-49 days",
        stage="course",
    ),
    Rule(
        "regimen.activity_range",
        "regimen",
        _PROC11,
        None,
        "Planned activity above 9.3 GBq, or below 6.0 GBq without a 20 % reduction that "
        "explains it (approved: 7.4 GBq)",
        "6.0-9.3 GBq",
        stage="course",
    ),
    Rule(
        "followup.wellbeing_worse",
        "followup",
        f"{_FU}, 5",
        None,
        "Patient-reported well-being worse at the last visit: the key parameter for "
        "continuing (physician review)",
        stage="course",
    ),
    Rule(
        "response.psa_progression",
        "response",
        f"{_FU}, 2",
        None,
        "From 2 weeks after the 2nd cycle, PSA > 25 % over nadir: restage with imaging",
        "> 25 % over nadir",
        stage="course",
    ),
    Rule(
        "response.psa_flare_window",
        "response",
        f"{_FU}, 2",
        None,
        "PSA values before 2–3 weeks after the 2nd cycle may reflect flare or delayed response",
        stage="course",
    ),
    Rule(
        "response.pcwg3",
        "response",
        f"{_FU}, 2",
        None,
        "PCWG3 PSA response (≥ 50 % decline, confirmed ≥ 3 weeks later) and nadir",
        ">= 50 % decline",
        stage="course",
    ),
)


# Runs at import only (mutmut cannot activate its mutants); the catalogue is checked whole by
# tests/test_rule_engine.py.
def _catalogue(rules: tuple[Rule, ...]) -> Mapping[str, Rule]:  # pragma: no mutate block
    """The read-only catalogue, by code; a code defined twice is a programming error."""
    table: dict[str, Rule] = {}
    for rule in rules:
        if rule.code in table:
            raise ValueError(f"rule {rule.code} defined twice")
        table[rule.code] = rule
    return MappingProxyType(table)


#: Every rule, selection and course alike, complete as soon as this module is imported
#: (``lutetia rules`` lists it without importing the engines).
RULES: Final[Mapping[str, Rule]] = _catalogue(_RULES)


class _Unset:
    """Marker: the caller did not choose a decision, so the rule's default applies."""


_DEFAULT = _Unset()


def finding(
    code: str,
    message: str,
    *,
    value: Quantity | None = None,
    threshold: Threshold | None = None,
    effect: Effect | None = None,
    decision: Decision | _Unset | None = _DEFAULT,
    details: dict[str, object] | None = None,
) -> Finding:
    """Build a finding of rule ``code``: section, kind and strength come from the catalogue.

    ``effect`` overrides the rule's default effect where the same rule can bear
    differently on a recommendation (``crpc.not_established`` when the data are
    missing rather than contrary). ``decision`` overrides the rule's default
    decision; ``decision=None`` says explicitly that this finding decides nothing
    (a warning), which the rule's default must not turn back into a decision.
    """
    rule = RULES[code]
    return Finding(
        code=code,
        kind=rule.kind,
        section=rule.section,
        strength=rule.strength,
        message=message,
        value=value,
        threshold=threshold,
        effect=effect or rule.effect,
        decision=rule.decision if isinstance(decision, _Unset) else decision,
        details=dict(details or {}),
    )
