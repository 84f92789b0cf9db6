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

Each term carries the grades CTCAE v5.0 defines for it (a grade shown as "-" does not
exist: Fatigue has grades 1–3, Febrile neutropenia 3–5, Acute kidney injury 3–5 since
v5.0 deleted grades 1–2); a case that records another grade for the term is refused.
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
    #: The lowest and highest grade CTCAE v5.0 defines for the term (a "-" cell is no grade).
    grades: tuple[int, int] = (1, 5)

    def defines(self, grade: int) -> bool:
        """Whether CTCAE v5.0 has grade ``grade`` for this term."""
        low, high = self.grades
        return low <= grade <= high


TERMS: Final[tuple[Term, ...]] = (
    # Blood and lymphatic system disorders / Investigations (CTCAE v5.0).
    Term("Anemia", "hematologic", "hemoglobin", ("anaemia", "hemoglobin decreased")),
    Term(
        "White blood cell decreased",
        "hematologic",
        "wbc",
        ("leukopenia", "leucopenia", "leukocytopenia", "wbc decreased"),
        grades=(1, 4),
    ),
    Term(
        "Neutrophil count decreased",
        "hematologic",
        "anc",
        ("neutropenia", "granulocytopenia", "anc decreased"),
        grades=(1, 4),
    ),
    Term("Febrile neutropenia", "hematologic", "anc", grades=(3, 5)),
    Term(
        "Platelet count decreased",
        "hematologic",
        "platelets",
        ("thrombocytopenia", "thrombopenia", "platelets decreased"),
        grades=(1, 4),
    ),
    Term(
        "Lymphocyte count decreased",
        "hematologic",
        "lymphocytes",
        ("lymphopenia", "lymphocytopenia", "lymphocytes decreased"),
        grades=(1, 4),
    ),
    # Skeletal adverse events (item 5). "Skeletal-related event" is the trials' grouping,
    # not a CTCAE term.
    Term("Fracture", "skeletal", None, ("pathological fracture", "pathologic fracture")),
    Term("Spinal cord compression", "skeletal", None, ("cord compression",), grades=(3, 5)),
    Term(
        "Skeletal-related event",
        "skeletal",
        None,
        ("skeletal related event", "sre", "skeletal event"),
    ),
    # Non-hematological (item 4) — the guideline's examples and RLT's known toxicities.
    Term("Dry mouth", "non_hematologic", None, ("xerostomia",), grades=(1, 3)),
    Term("Dry eye", "non_hematologic", None, ("xerophthalmia",), grades=(1, 3)),
    Term("Fatigue", "non_hematologic", None, ("tiredness",), grades=(1, 3)),
    Term("Nausea", "non_hematologic", grades=(1, 3)),
    Term("Vomiting", "non_hematologic", None, ("emesis",)),
    Term("Diarrhea", "non_hematologic", None, ("diarrhoea",)),
    Term("Constipation", "non_hematologic"),
    Term("Anorexia", "non_hematologic", None, ("loss of appetite",)),
    Term("Dysgeusia", "non_hematologic", None, ("taste alteration",), grades=(1, 2)),
    Term("Weight loss", "non_hematologic", grades=(1, 3)),
    Term("Salivary duct inflammation", "non_hematologic", None, ("sialadenitis",)),
    Term("Acute kidney injury", "non_hematologic", None, ("acute renal failure",), grades=(3, 5)),
    Term("Chronic kidney disease", "non_hematologic"),
    Term("Creatinine increased", "non_hematologic", grades=(1, 4)),
    Term(
        "Aspartate aminotransferase increased",
        "non_hematologic",
        None,
        ("ast increased",),
        grades=(1, 4),
    ),
    Term(
        "Alanine aminotransferase increased",
        "non_hematologic",
        None,
        ("alt increased",),
        grades=(1, 4),
    ),
    Term(
        "Blood bilirubin increased", "non_hematologic", None, ("hyperbilirubinemia",), grades=(1, 4)
    ),
    Term("Hypokalemia", "non_hematologic"),
    Term("Hyperkalemia", "non_hematologic"),
    Term("Hyponatremia", "non_hematologic"),
    Term("Hypercalcemia", "non_hematologic"),
    Term("Hypocalcemia", "non_hematologic"),
    Term("Tumor lysis syndrome", "non_hematologic", grades=(3, 5)),
    Term("Bone pain", "non_hematologic", grades=(1, 3)),
    Term("Back pain", "non_hematologic", grades=(1, 3)),
    Term("Tumor pain", "non_hematologic", None, ("pain flare", "flare pain"), grades=(1, 3)),
    Term("Pain", "non_hematologic", grades=(1, 3)),
    Term(
        "Edema limbs", "non_hematologic", None, ("peripheral edema", "oedema limbs"), grades=(1, 3)
    ),
    Term("Urinary retention", "non_hematologic"),
    Term("Hematuria", "non_hematologic", None, ("haematuria",)),
    Term("Urinary tract infection", "non_hematologic", grades=(2, 5)),
    Term("Sepsis", "non_hematologic", grades=(3, 5)),
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
