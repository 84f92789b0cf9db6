"""Throughput of ``lutetia assess``: 10,000 generated cases on one core.

Run: ``make benchmark`` (or ``uv run python benchmarks/assess_throughput.py [N]``).
Cases are generated from a fixed seed so that runs are comparable. Two
figures are printed: the rule engine alone on validated cases, and the whole
path from a parsed JSON document (validation, unit conversion, rules, output
document).
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from typing import Any

from lutetia.cases.io import case_from_mapping
from lutetia.guideline.assessment import assessment_document
from lutetia.guideline.selection import assess

UNITS = {
    "hemoglobin": [("g/dL", 1.0), ("g/L", 10.0), ("mmol/L", 0.6206)],
    "wbc": [("10*9/L", 1.0), ("/nL", 1.0), ("/uL", 1000.0)],
    "anc": [("10*9/L", 1.0), ("/nL", 1.0)],
    "platelets": [("10*9/L", 1.0), ("10*3/uL", 1.0)],
    "creatinine": [("mg/dL", 1.0), ("umol/L", 88.4)],
    "ast": [("U/L", 1.0)],
    "alt": [("U/L", 1.0)],
    "bilirubin": [("mg/dL", 1.0), ("umol/L", 17.1)],
    "albumin": [("g/dL", 1.0), ("g/L", 10.0)],
    "alp": [("U/L", 1.0)],
    "ldh": [("U/L", 1.0)],
    "psa": [("ng/mL", 1.0), ("ug/L", 1.0)],
    "crp": [("mg/L", 1.0), ("mg/dL", 0.1)],
}
MEANS = {
    "hemoglobin": 12.0, "wbc": 5.5, "anc": 3.5, "platelets": 200.0, "creatinine": 1.0,
    "ast": 30.0, "alt": 25.0, "bilirubin": 0.7, "albumin": 3.9, "alp": 150.0, "ldh": 240.0,
    "psa": 80.0, "crp": 8.0,
}  # fmt: skip
ULN = {"creatinine": 1.2, "ast": 50.0, "alt": 50.0, "bilirubin": 1.2, "alp": 130.0}


def generate(rng: random.Random, index: int) -> dict[str, Any]:
    """One plausible random case."""
    day = "2026-10-14"
    labs = []
    for analyte, choices in UNITS.items():
        if rng.random() < 0.05:
            continue
        unit, factor = rng.choice(choices)
        value = MEANS[analyte] * rng.uniform(0.3, 1.6)
        lab: dict[str, Any] = {
            "analyte": analyte,
            "value": value * factor,
            "unit": unit,
            "date": day,
        }
        if analyte in ULN:
            lab["uln"] = ULN[analyte] * factor
        labs.append(lab)
    lesions = [
        {
            "site": rng.choice(["bone", "lymph_node", "liver", "lung", "prostate"]),
            "size_mm": rng.uniform(5, 40),
            "suvmax": rng.uniform(2, 40),
            "fdg": rng.choice(["positive", "negative", "not_done"]),
        }
        for _ in range(rng.randint(1, 8))
    ]
    return {
        "schema": "lutetia.case/1",
        "as_of": day,
        "patient": {"id": f"bench-{index}", "birth_date": "1952-04-11", "sex": "male"},
        "diagnosis": {
            "castration_resistant": True,
            "metastatic": True,
            "gleason_score": rng.randint(6, 10),
        },
        "performance": {"ecog": rng.randint(0, 4), "life_expectancy_months": rng.uniform(1, 36)},
        "treatments": [
            {"name": "abiraterone", "class": "naad", "end": "2024-01-01", "progressed": True},
            {"name": "docetaxel", "class": "taxane", "end": "2025-01-01", "progressed": True},
        ][: rng.randint(1, 2)],
        "taxane_options": {
            "docetaxel": rng.choice(["received", "fit", "unfit", "refused"]),
            "cabazitaxel": rng.choice(["candidate", "unfit", "refused"]),
        },
        "labs": labs,
        "psma_pet": {
            "date": "2026-10-01",
            "parotid_suvmean": 12.0,
            "liver_suvmean": 5.0,
            "lesions": lesions,
        },
        "conventional_imaging": [{"modality": "ct", "date": "2026-10-01"}],
        "consent": {"signed_at": "2026-10-10T09:00:00+02:00"},
    }


def main() -> None:
    """Time the engine and the full path; print cases per second."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = random.Random(20261126)
    documents = [json.loads(json.dumps(generate(rng, i))) for i in range(count)]
    case_from_mapping(documents[0])  # warm the unit registry and caches

    start = time.perf_counter()
    cases = [case_from_mapping(d) for d in documents]
    validated = time.perf_counter()
    results = [assess(c) for c in cases]
    assessed = time.perf_counter()
    outputs = [assessment_document(c, r) for c, r in zip(cases, results, strict=True)]
    done = time.perf_counter()

    recommendations: dict[str, int] = {}
    for o in outputs:
        recommendations[o["recommendation"]] = recommendations.get(o["recommendation"], 0) + 1
    engine = count / (assessed - validated)
    full = count / (done - start)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"cases: {count}; recommendations: {recommendations}")
    print(f"rule engine alone:        {engine:,.0f} cases/s")
    print(f"validate + assess + JSON: {full:,.0f} cases/s")


if __name__ == "__main__":
    main()
