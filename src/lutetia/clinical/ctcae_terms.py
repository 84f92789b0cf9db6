"""CTCAE v5.0 adverse-event terms as the course rules need them, with common synonyms.

The guideline's "Management of side effects" treats three families
differently: acute hematological toxicity (items 1–2: anemia, leukopenia or
neutropenia, thrombocytopenia), skeletal adverse events (item 5) and every
other, non-hematological, toxicity (item 4). A recorded term is matched
case-insensitively, ignoring surrounding blanks, hyphens and repeated spaces,
against the CTCAE v5.0 term names (NCI, Common Terminology Criteria for
Adverse Events v5.0, 27 November 2017) and the synonyms clinicians write
(British spellings, "-penia" words). A term that is not in the table is
reported as unknown, never silently taken for the harmless family.

Only the terms that matter for 177Lu-PSMA RLT are listed: the "Blood and
lymphatic system disorders" and "Investigations" terms of the blood count,
the skeletal terms, and the non-hematological terms the guideline names or
that RLT is known to cause (xerostomia, fatigue, nausea, renal and hepatic
terms). Extending the table is a change to the rule catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Family = Literal["hematologic", "skeletal", "non_hematologic"]
#: The blood-count analyte a hematological term grades (items 1–2 name the first four).
BloodAnalyte = Literal["hemoglobin", "wbc", "anc", "platelets", "lymphocytes"]


@dataclass(frozen=True)
class Term:
    """A CTCAE v5.0 term (or Lutetia's grouping, marked) and the family it belongs to."""

    name: str
    family: Family
    analyte: BloodAnalyte | None = None
    synonyms: tuple[str, ...] = ()


TERMS: Final[tuple[Term, ...]] = (
    # Blood and lymphatic system disorders / Investigations (CTCAE v5.0).
    Term("Anemia", "hematologic", "hemoglobin", ("anaemia", "hemoglobin decreased")),
    Term(
        "White blood cell decreased",
        "hematologic",
        "wbc",
        ("leukopenia", "leucopenia", "leukocytopenia", "wbc decreased"),
    ),
    Term(
        "Neutrophil count decreased",
        "hematologic",
        "anc",
        ("neutropenia", "granulocytopenia", "anc decreased"),
    ),
    Term("Febrile neutropenia", "hematologic", "anc"),
    Term(
        "Platelet count decreased",
        "hematologic",
        "platelets",
        ("thrombocytopenia", "thrombopenia", "platelets decreased"),
    ),
    Term(
        "Lymphocyte count decreased",
        "hematologic",
        "lymphocytes",
        ("lymphopenia", "lymphocytopenia", "lymphocytes decreased"),
    ),
    # Skeletal adverse events (item 5). "Skeletal-related event" is the trials' grouping,
    # not a CTCAE term.
    Term("Fracture", "skeletal", None, ("pathological fracture", "pathologic fracture")),
    Term("Spinal cord compression", "skeletal", None, ("cord compression",)),
    Term(
        "Skeletal-related event",
        "skeletal",
        None,
        ("skeletal related event", "sre", "skeletal event"),
    ),
    # Non-hematological (item 4) — the guideline's examples and RLT's known toxicities.
    Term("Dry mouth", "non_hematologic", None, ("xerostomia",)),
    Term("Dry eye", "non_hematologic", None, ("xerophthalmia",)),
    Term("Fatigue", "non_hematologic", None, ("tiredness",)),
    Term("Nausea", "non_hematologic"),
    Term("Vomiting", "non_hematologic", None, ("emesis",)),
    Term("Diarrhea", "non_hematologic", None, ("diarrhoea",)),
    Term("Constipation", "non_hematologic"),
    Term("Anorexia", "non_hematologic", None, ("loss of appetite",)),
    Term("Dysgeusia", "non_hematologic", None, ("taste alteration",)),
    Term("Weight loss", "non_hematologic"),
    Term("Salivary duct inflammation", "non_hematologic", None, ("sialadenitis",)),
    Term("Acute kidney injury", "non_hematologic", None, ("acute renal failure",)),
    Term("Chronic kidney disease", "non_hematologic"),
    Term("Creatinine increased", "non_hematologic"),
    Term(
        "Aspartate aminotransferase increased",
        "non_hematologic",
        None,
        ("ast increased",),
    ),
    Term("Alanine aminotransferase increased", "non_hematologic", None, ("alt increased",)),
    Term("Blood bilirubin increased", "non_hematologic", None, ("hyperbilirubinemia",)),
    Term("Hypokalemia", "non_hematologic"),
    Term("Hyperkalemia", "non_hematologic"),
    Term("Hyponatremia", "non_hematologic"),
    Term("Hypercalcemia", "non_hematologic"),
    Term("Hypocalcemia", "non_hematologic"),
    Term("Tumor lysis syndrome", "non_hematologic"),
    Term("Bone pain", "non_hematologic"),
    Term("Back pain", "non_hematologic"),
    Term("Tumor pain", "non_hematologic", None, ("pain flare", "flare pain")),
    Term("Pain", "non_hematologic"),
    Term("Edema limbs", "non_hematologic", None, ("peripheral edema", "oedema limbs")),
    Term("Urinary retention", "non_hematologic"),
    Term("Hematuria", "non_hematologic", None, ("haematuria",)),
    Term("Urinary tract infection", "non_hematologic"),
    Term("Sepsis", "non_hematologic"),
    Term("Fever", "non_hematologic", None, ("pyrexia",)),
    Term("Thromboembolic event", "non_hematologic"),
)


def _key(text: str) -> str:
    return re.sub(r"[\s\-_]+", " ", text.strip().lower())


_INDEX: Final[dict[str, Term]] = {
    _key(alias): term for term in TERMS for alias in (term.name, *term.synonyms)
}


def lookup(text: str) -> Term | None:
    """The CTCAE v5.0 term ``text`` names (case-insensitive, synonyms included), or None.

    >>> lookup("  ANAEMIA ").name
    'Anemia'
    >>> lookup("lymphopenia").family
    'hematologic'
    >>> lookup("flux capacitor failure") is None
    True
    """
    return _INDEX.get(_key(text))
