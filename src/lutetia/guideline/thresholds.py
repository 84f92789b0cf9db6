"""Every threshold of the rule catalogue, once, with the guideline passage it comes from.

The predicates of :mod:`lutetia.guideline.selection` and
:mod:`lutetia.guideline.course` compare against these constants, and the
``Threshold`` each finding reports is built from the same constant, so the
number a clinician reads is the number the rule used. Where the guideline
writes a comparator ("< 75/nl", "> 25 %"), the name says which side is the
finding: ``*_BELOW`` fires strictly below, ``*_ABOVE`` strictly above,
``*_AT_LEAST`` at or above.

Changing a value here changes a clinical rule: bump
:data:`lutetia.guideline.catalogue.CATALOGUE_VERSION` and say why in the
change. ``tests/test_thresholds.py`` pins every value and tests each rule at,
just below and just above it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# --- Definitions ---------------------------------------------------------------------------

#: Definitions 3: castrate testosterone < 50 ng/dL (1.7 nmol/L); a value at or above is
#: not castrate.
TESTOSTERONE_NOT_CASTRATE_AT_LEAST_NG_DL: Final[float] = 50.0
#: Definitions 4: a PSA rise to more than 25 % over the nadir …
CRPC_RISE_OVER_NADIR_ABOVE: Final[float] = 0.25
#: … twice, at least 2 weeks apart.
CRPC_RISE_GAP_DAYS_AT_LEAST: Final[int] = 14

# --- Contra-indications, Table 1 --------------------------------------------------------

#: Life expectancy < 3 months (unless the intent is palliative).
LIFE_EXPECTANCY_BELOW_MONTHS: Final[float] = 3.0
#: ECOG performance status ≥ 3.
ECOG_CONTRAINDICATION_AT_LEAST: Final[int] = 3
#: GFR < 30 mL/min (organ failure; also "Management of side effects" 6: discontinue).
GFR_FAILURE_BELOW_ML_MIN: Final[float] = 30.0
#: Creatinine > 2 × ULN.
CREATININE_FAILURE_ABOVE_X_ULN: Final[float] = 2.0
#: AST or ALT > 5 × ULN (also "Management of side effects" 6).
LIVER_FAILURE_ABOVE_X_ULN: Final[float] = 5.0
#: Myelosuppression: WBC < 2.5/nL.
WBC_BELOW_PER_NL: Final[float] = 2.5
#: Myelosuppression: ANC < 1.5/nL.
ANC_BELOW_PER_NL: Final[float] = 1.5
#: Myelosuppression: platelets < 75/nL.
PLATELETS_BELOW_PER_NL: Final[float] = 75.0

# --- Contra-indications, C (precautions) ------------------------------------------------

#: C1: large-field EBRT, chemotherapy, bone-seeking radiopharmaceutical stopped ≥ 4 weeks.
WASHOUT: Final[timedelta] = timedelta(weeks=4)
#: C3: GFR 30–50 mL/min, inclusive as written (spec: "GFR bands are inclusive").
REDUCED_RENAL_LOW_ML_MIN: Final[float] = 30.0
REDUCED_RENAL_HIGH_ML_MIN: Final[float] = 50.0
#: C2: "extensive previous chemotherapy": Lutetia reads it as ≥ 2 chemotherapy lines.
MARROW_CHEMOTHERAPY_LINES_AT_LEAST: Final[int] = 2

# --- Patient selection (imaging) --------------------------------------------------------

#: A PSMA-negative lesion counts when ≥ 10 mm (short axis for nodes, soft-tissue part of bone).
PSMA_NEGATIVE_SIZE_AT_LEAST_MM: Final[float] = 10.0
#: … with SUVmax below 0.5 × parotid SUVmean …
PSMA_NEGATIVE_BELOW_X_PAROTID: Final[float] = 0.5
#: … or, without a parotid value, below 1.0 × liver SUVmean.
PSMA_NEGATIVE_BELOW_X_LIVER: Final[float] = 1.0
#: Uptake above the parotid gland ≈ SUVmax > 10 where no parotid SUVmean is given.
HIGH_UPTAKE_SUVMAX_WITHOUT_PAROTID: Final[float] = 10.0
#: "Most lesions": more than half.
UPTAKE_MAJORITY_ABOVE: Final[float] = 0.5

# --- Factors associated with survival ---------------------------------------------------

#: Age < 65 years.
AGE_PROGNOSTIC_BELOW_YEARS: Final[float] = 65.0
#: ECOG ≥ 2.
ECOG_PROGNOSTIC_AT_LEAST: Final[int] = 2
#: Gleason score ≥ 8.
GLEASON_HIGH_AT_LEAST: Final[int] = 8

# --- Process of treatment procedure -----------------------------------------------------

#: Item 2: labs no older than 5 days before the cycle.
STALE_AFTER_DAYS: Final[int] = 5
#: Item 1: written consent 24 h before the first cycle (site setting; this is the default).
CONSENT_LEAD_H_DEFAULT: Final[float] = 24.0
#: Item 7, Lutetia's operational reading of "high tumour burden".
TUMOR_LYSIS_LESIONS_AT_LEAST: Final[int] = 20
TUMOR_LYSIS_SIZE_AT_LEAST_MM: Final[float] = 50.0
#: Item 11: the approved regimen.
APPROVED_ACTIVITY_GBQ: Final[float] = 7.4
MAX_CYCLES: Final[int] = 6
INTERVAL: Final[timedelta] = timedelta(weeks=6)
INTERVAL_TOLERANCE: Final[timedelta] = timedelta(weeks=1)
#: Item 11: ranges reported in clinical practice.
PRACTICE_INTERVAL_LOW: Final[timedelta] = timedelta(weeks=4)
PRACTICE_INTERVAL_HIGH: Final[timedelta] = timedelta(weeks=10)
PRACTICE_ACTIVITY_LOW_GBQ: Final[float] = 6.0
PRACTICE_ACTIVITY_HIGH_GBQ: Final[float] = 9.3

# --- Management of side effects ---------------------------------------------------------

#: Items 1: hematological grade 3–4 at an interim test postpones.
HEMATOLOGIC_INTERIM_GRADE_AT_LEAST: Final[int] = 3
#: Item 2: grade ≥ 2 on the scheduled date reduces (grade 3–4 there postpones).
HEMATOLOGIC_SCHEDULED_GRADE_AT_LEAST: Final[int] = 2
HEMATOLOGIC_SCHEDULED_POSTPONE_GRADE_AT_LEAST: Final[int] = 3
#: Items 1–2: reduce by 20 % (the activity is multiplied by 0.8).
REDUCTION_FACTOR: Final[float] = 0.8
#: Items 1–2: postpone by 2 weeks.
POSTPONEMENT: Final[timedelta] = timedelta(weeks=2)
#: Item 1: at least 2 weeks between G-CSF and the injection.
GCSF_GAP: Final[timedelta] = timedelta(weeks=2)
#: Item 3: acute eGFR loss > 40 % (fraction of the reference value) …
EGFR_LOSS_ABOVE: Final[float] = 0.40
#: Item 4: non-hematological grade 3–4 holds.
NONHEMATOLOGIC_GRADE_AT_LEAST: Final[int] = 3
#: Item 6: "life-threatening" is CTCAE grade 4 …
LIFE_THREATENING_GRADE_AT_LEAST: Final[int] = 4
#: … that does not resolve within 4 weeks.
UNRESOLVED_LIMIT: Final[timedelta] = timedelta(weeks=4)

# --- Follow-up ---------------------------------------------------------------------------

#: Item 2: PSA is reliable from 2 weeks after the 2nd cycle …
PSA_RELIABLE_AFTER: Final[timedelta] = timedelta(weeks=2)
#: … then a rise of more than 25 % over the nadir triggers restaging.
PSA_PROGRESSION_ABOVE: Final[float] = 0.25
#: PCWG3: a PSA decline of at least 50 % is a response.
PSA_RESPONSE_DECLINE_AT_LEAST: Final[float] = 0.50
