"""The ruleset: every threshold, the regimen and the follow-up windows the rules use, as one
object with its provenance.

The predicates of :mod:`lutetia.guideline.selection`, :mod:`lutetia.guideline.course`
and the plan of :mod:`lutetia.guideline.schedule` read their numbers from the
:class:`Ruleset` they are given (through :class:`lutetia.guideline.context.Settings`),
never from module globals, and the ``Threshold`` each finding reports is built from
the same field, so the number a clinician reads is the number the rule used.

:data:`EANM_SNMMI_2023` is the guideline as published (every default below, with the
passage it comes from). A site that runs another profile (a national consent lead
time, a different restaging interval) writes a ``lutetia.ruleset/1`` file naming the
fields it changes and why; :func:`load_ruleset` validates it, and every document made
under it names the profile and its changes.

Where the guideline writes a comparator ("< 75/nl", "> 25 %"), the field name says
which side is the finding: ``*_below`` fires strictly below, ``*_above`` strictly
above, ``*_at_least`` at or above.

Changing a default here changes a clinical rule: bump
:data:`lutetia.guideline.catalogue.CATALOGUE_VERSION` and say why in the change.
``tests/test_thresholds.py`` pins every default and tests each rule at, just below
and just above it; ``tests/test_ruleset.py`` shows that the rules follow a profile.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from lutetia import GUIDELINE
from lutetia.errors import BadInputError
from lutetia.guideline.catalogue import CATALOGUE_VERSION, CUTOFFS, Cutoff

RULESET_SCHEMA: Final[str] = "lutetia.ruleset/1"

#: Fields that are not thresholds: who the profile is, not what it decides.
IDENTITY: Final[frozenset[str]] = frozenset(
    {"name", "version", "guideline", "catalogue_version", "based_on", "reason", "changes"}
)
#: Fields that are fractions of something (a rise, a loss, a share of lesions): in (0, 1].
FRACTIONS: Final[frozenset[str]] = frozenset(
    {
        "crpc_rise_over_nadir_above",
        "uptake_majority_above",
        "reduction_factor",
        "egfr_loss_above",
        "psa_progression_above",
    }
)
#: CTCAE grades: 1–5.
GRADES: Final[frozenset[str]] = frozenset(
    {
        "hematologic_interim_grade_at_least",
        "hematologic_scheduled_grade_at_least",
        "hematologic_scheduled_postpone_grade_at_least",
        "nonhematologic_grade_at_least",
        "life_threatening_grade_at_least",
    }
)
#: (low, high) pairs that must stay ordered.
ORDERED: Final[tuple[tuple[str, str], ...]] = (
    ("reduced_renal_low_ml_min", "reduced_renal_high_ml_min"),
    ("practice_interval_low", "practice_interval_high"),
    ("practice_activity_low_gbq", "practice_activity_high_gbq"),
    ("interim_labs_from", "interim_labs_until"),
    ("end_follow_up_from", "end_follow_up_until"),
    ("spect_from", "spect_until"),
    ("hematologic_scheduled_grade_at_least", "hematologic_scheduled_postpone_grade_at_least"),
    ("ecog_prognostic_at_least", "ecog_contraindication_at_least"),
)
_DURATION = re.compile(r"^P(?P<n>[0-9]{1,4})(?P<unit>[DW])$")


@dataclass(frozen=True, kw_only=True)
class Ruleset:
    """The numbers of one profile of the guideline; the defaults are the 2023 text."""

    # --- Identity ---------------------------------------------------------------------------
    #: Short name of the profile (``eanm-snmmi-2023`` for the guideline as published).
    name: str = "eanm-snmmi-2023"
    #: The profile's own version (a site bumps it when it changes a value).
    version: str = "1"
    #: The guideline the profile implements.
    guideline: str = GUIDELINE
    #: The rule catalogue (codes, sections, strengths) the profile's values apply to.
    catalogue_version: str = CATALOGUE_VERSION
    #: The profile this one changes, and why; None for a published guideline.
    based_on: str | None = None
    reason: str | None = None
    #: field → value changed from ``based_on``, as written in the profile file.
    changes: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    # --- Definitions -----------------------------------------------------------------------
    #: Definitions 3: castrate testosterone < 50 ng/dL (1.7 nmol/L); at or above is not.
    testosterone_not_castrate_at_least_ng_dl: float = 50.0
    #: Definitions 4: a PSA rise to more than 25 % over the nadir …
    crpc_rise_over_nadir_above: float = 0.25
    #: … twice, at least 2 weeks apart.
    crpc_rise_gap_days_at_least: int = 14

    # --- Contra-indications, Table 1 ----------------------------------------------------
    #: Life expectancy < 3 months (unless the intent is palliative).
    life_expectancy_below_months: float = 3.0
    #: ECOG performance status ≥ 3.
    ecog_contraindication_at_least: int = 3
    #: GFR < 30 mL/min (organ failure; also "Management of side effects" 6: discontinue).
    gfr_failure_below_ml_min: float = 30.0
    #: Creatinine > 2 × ULN.
    creatinine_failure_above_x_uln: float = 2.0
    #: AST or ALT > 5 × ULN (also "Management of side effects" 6).
    liver_failure_above_x_uln: float = 5.0
    #: Myelosuppression: WBC < 2.5/nL, ANC < 1.5/nL, platelets < 75/nL.
    wbc_below_per_nl: float = 2.5
    anc_below_per_nl: float = 1.5
    platelets_below_per_nl: float = 75.0

    # --- Contra-indications, C (precautions) --------------------------------------------
    #: C1: large-field EBRT, chemotherapy, bone-seeking radiopharmaceutical stopped ≥ 4 weeks.
    washout: timedelta = timedelta(weeks=4)
    #: C3: GFR 30–50 mL/min, inclusive as written (spec: "GFR bands are inclusive").
    reduced_renal_low_ml_min: float = 30.0
    reduced_renal_high_ml_min: float = 50.0
    #: C2: "extensive previous chemotherapy": Lutetia reads it as ≥ 2 chemotherapy lines.
    marrow_chemotherapy_lines_at_least: int = 2

    # --- Patient selection (imaging) ----------------------------------------------------
    #: A PSMA-negative lesion counts when ≥ 10 mm (short axis for nodes, soft-tissue part).
    psma_negative_size_at_least_mm: float = 10.0
    #: … with SUVmax below 0.5 × parotid SUVmean …
    psma_negative_below_x_parotid: float = 0.5
    #: … or, without a parotid value, below 1.0 × liver SUVmean.
    psma_negative_below_x_liver: float = 1.0
    #: Uptake above the parotid gland ≈ SUVmax > 10 where no parotid SUVmean is given.
    high_uptake_suvmax_without_parotid: float = 10.0
    #: "Most lesions": more than half.
    uptake_majority_above: float = 0.5

    # --- Factors associated with survival -----------------------------------------------
    #: Age < 65 years.
    age_prognostic_below_years: float = 65.0
    #: ECOG ≥ 2.
    ecog_prognostic_at_least: int = 2
    #: Gleason score ≥ 8.
    gleason_high_at_least: int = 8
    #: Cut-offs for the factors the guideline names without a value, with their sources.
    cutoffs: Mapping[str, Cutoff] = field(default_factory=lambda: CUTOFFS)

    # --- Process of treatment procedure -------------------------------------------------
    #: Item 2: labs no older than 5 days before the cycle.
    stale_after_days: int = 5
    #: Item 1: written consent 24 h before the first cycle ("depending on national
    #: legislation"; ``--consent-lead-h`` overrides it for one run).
    consent_lead_h: float = 24.0
    #: Item 7, Lutetia's operational reading of "high tumour burden".
    tumor_lysis_lesions_at_least: int = 20
    tumor_lysis_size_at_least_mm: float = 50.0
    #: Item 11: the approved regimen.
    approved_activity_gbq: float = 7.4
    max_cycles: int = 6
    interval: timedelta = timedelta(weeks=6)
    interval_tolerance: timedelta = timedelta(weeks=1)
    #: Item 11: ranges reported in clinical practice.
    practice_interval_low: timedelta = timedelta(weeks=4)
    practice_interval_high: timedelta = timedelta(weeks=10)
    practice_activity_low_gbq: float = 6.0
    practice_activity_high_gbq: float = 9.3

    # --- Management of side effects -----------------------------------------------------
    #: Item 1: hematological grade 3–4 at an interim test postpones.
    hematologic_interim_grade_at_least: int = 3
    #: Item 2: grade ≥ 2 on the scheduled date reduces (grade 3–4 there postpones).
    hematologic_scheduled_grade_at_least: int = 2
    hematologic_scheduled_postpone_grade_at_least: int = 3
    #: Items 1–2: reduce by 20 % (the activity is multiplied by 0.8).
    reduction_factor: float = 0.8
    #: Items 1–2: postpone by 2 weeks.
    postponement: timedelta = timedelta(weeks=2)
    #: Item 1: at least 2 weeks between G-CSF and the injection.
    gcsf_gap: timedelta = timedelta(weeks=2)
    #: Item 3: acute eGFR loss > 40 % (fraction of the reference value).
    egfr_loss_above: float = 0.40
    #: Item 4: non-hematological grade 3–4 holds.
    nonhematologic_grade_at_least: int = 3
    #: Item 6: "life-threatening" is CTCAE grade 4 …
    life_threatening_grade_at_least: int = 4
    #: … that does not resolve within 4 weeks.
    unresolved_limit: timedelta = timedelta(weeks=4)

    # --- Follow-up ----------------------------------------------------------------------
    #: Item 1: blood counts and creatinine 2–3 weeks after each cycle …
    interim_labs_from: timedelta = timedelta(weeks=2)
    interim_labs_until: timedelta = timedelta(weeks=3)
    #: Items 1–2: … and, with PSA, 4–6 weeks after the last cycle.
    end_follow_up_from: timedelta = timedelta(weeks=4)
    end_follow_up_until: timedelta = timedelta(weeks=6)
    #: Item 3: optional 177Lu SPECT 1–2 days after the infusion.
    spect_from: timedelta = timedelta(days=1)
    spect_until: timedelta = timedelta(days=2)
    #: Item 4: restaging every 12 weeks.
    restaging_every: timedelta = timedelta(weeks=12)
    #: Item 2: PSA is reliable from 2 weeks after the 2nd cycle …
    psa_reliable_after: timedelta = timedelta(weeks=2)
    #: … then a rise of more than 25 % over the nadir triggers restaging. (The PCWG3
    #: response itself is a published criterion, not a profile's setting:
    #: :mod:`lutetia.clinical.psa`.)
    psa_progression_above: float = 0.25

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            if spec.name not in IDENTITY and spec.name != "cutoffs":
                _check_value(spec.name, getattr(self, spec.name))
        for low, high in ORDERED:
            if getattr(self, low) > getattr(self, high):
                raise BadInputError(
                    f"ruleset.{low}",
                    f"{_shown(getattr(self, low))} is above ruleset.{high} "
                    f"({_shown(getattr(self, high))})",
                )
        if not self.name.strip():
            raise BadInputError("ruleset.name", "a profile needs a name")

    def thresholds(self) -> dict[str, object]:
        """Every threshold of the profile, JSON-ready (durations as ISO 8601, ``P28D``)."""
        return {
            spec.name: _shown(getattr(self, spec.name))
            for spec in dataclasses.fields(self)
            if spec.name not in IDENTITY and spec.name != "cutoffs"
        }

    def provenance(self) -> dict[str, object]:
        """What an assessment made under this profile says of it."""
        return {
            "name": self.name,
            "version": self.version,
            "guideline": self.guideline,
            "based_on": self.based_on,
            "reason": self.reason,
            "changes": dict(self.changes),
        }


def threshold_fields() -> tuple[str, ...]:
    """The names of the fields that hold a number or a duration the rules use."""
    return tuple(
        spec.name
        for spec in dataclasses.fields(Ruleset)
        if spec.name not in IDENTITY and spec.name != "cutoffs"
    )


def _shown(value: object) -> object:
    if isinstance(value, timedelta):
        days = value.days
        return f"P{days // 7}W" if days % 7 == 0 else f"P{days}D"
    return value


def _check_value(name: str, value: object) -> None:
    where = f"ruleset.{name}"
    expected = type(_DEFAULTS[name])
    if expected is timedelta:
        if not isinstance(value, timedelta):
            raise BadInputError(where, f"expected a duration, got {value!r}")
        if value <= timedelta(0) or value.seconds or value.microseconds:
            raise BadInputError(where, f"{value!r} must be a positive whole number of days")
        return
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInputError(where, f"expected a whole number, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInputError(where, f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise BadInputError(where, f"{value!r} must be a positive, finite number")
    if name in FRACTIONS and number > 1:
        raise BadInputError(where, f"{value!r} is a fraction: it must lie in (0, 1]")
    if name in GRADES and not 1 <= number <= 5:
        raise BadInputError(where, f"{value!r} is a CTCAE grade: 1 to 5")


#: Each threshold field's default (its type decides what a profile may write for it).
_DEFAULTS: Final[dict[str, object]] = {
    spec.name: spec.default
    for spec in dataclasses.fields(Ruleset)
    if spec.default is not dataclasses.MISSING
}

#: The guideline as published: the profile every command uses unless told otherwise.
EANM_SNMMI_2023: Final[Ruleset] = Ruleset()

#: The profiles shipped with Lutetia, by name.
BUILTIN: Final[Mapping[str, Ruleset]] = MappingProxyType({EANM_SNMMI_2023.name: EANM_SNMMI_2023})


def _parse(name: str, raw: object) -> object:
    """A profile file's value for field ``name``, in the field's type."""
    expected = type(_DEFAULTS[name])
    if expected is timedelta:
        match = _DURATION.match(raw) if isinstance(raw, str) else None
        if match is None:
            raise BadInputError(
                f"changes.{name}",
                f"{raw!r}: a duration is written in ISO 8601 days or weeks ('P28D', 'P4W')",
            )
        count = int(match["n"])
        return timedelta(weeks=count) if match["unit"] == "W" else timedelta(days=count)
    if expected is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def ruleset_from_mapping(document: object, *, source: str = "ruleset") -> Ruleset:
    """The profile a ``lutetia.ruleset/1`` document describes.

    ``{"schema": "lutetia.ruleset/1", "name": …, "version": …, "based_on":
    "eanm-snmmi-2023", "reason": …, "changes": {field: value}}``: only the fields
    named in ``changes`` differ from the base profile; an unknown field, a value of
    the wrong type or out of range is refused with the field's name.
    """
    if not isinstance(document, dict):
        raise BadInputError(source, "a ruleset file holds one JSON object")
    allowed = {"schema", "name", "version", "based_on", "reason", "changes"}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise BadInputError(unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")
    if document.get("schema") != RULESET_SCHEMA:
        raise BadInputError(
            "schema", f"expected {RULESET_SCHEMA!r}, got {document.get('schema')!r}"
        )
    texts: dict[str, str] = {}
    for key in ("name", "version", "based_on", "reason"):
        value = document.get(key)
        if not isinstance(value, str) or not value.strip():
            raise BadInputError(key, "required, a non-empty string")
        texts[key] = value.strip()
    if texts["name"] in BUILTIN:
        raise BadInputError("name", f"{texts['name']!r} is a built-in profile's name")
    base = BUILTIN.get(texts["based_on"])
    if base is None:
        raise BadInputError(
            "based_on", f"{texts['based_on']!r} is not a profile (known: {', '.join(BUILTIN)})"
        )
    changes = document.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise BadInputError("changes", "required: an object of field → value")
    known = set(threshold_fields())
    parsed: dict[str, object] = {}
    for key, raw in changes.items():
        if key not in known:
            raise BadInputError(f"changes.{key}", "not a threshold of the ruleset")
        parsed[key] = _parse(key, raw)
    try:
        return dataclasses.replace(
            base,
            name=texts["name"],
            version=texts["version"],
            based_on=base.name,
            reason=texts["reason"],
            changes=MappingProxyType(dict(changes)),
            **parsed,  # type: ignore[arg-type]
        )
    except BadInputError as error:
        raise BadInputError(error.field.replace("ruleset.", "changes.", 1), error.reason) from None


def load_ruleset(choice: str) -> Ruleset:
    """A built-in profile by name, or a ``lutetia.ruleset/1`` JSON file by path."""
    if choice in BUILTIN:
        return BUILTIN[choice]
    path = Path(choice)
    if not path.is_file():
        raise BadInputError(
            "--ruleset",
            f"{choice!r} is neither a built-in profile ({', '.join(BUILTIN)}) nor a file",
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInputError(str(path), f"cannot read the ruleset: {error}") from None
    return ruleset_from_mapping(document, source=str(path))


def ruleset_from_provenance(provenance: Mapping[str, Any]) -> Ruleset:
    """The profile an assessment document names (its ``ruleset`` block), rebuilt so that a
    stored decision can be reproduced even after the site's file has changed."""
    name = provenance.get("name")
    based_on = provenance.get("based_on")
    if based_on is None:
        builtin = BUILTIN.get(str(name))
        if builtin is None or builtin.version != provenance.get("version"):
            raise BadInputError(
                "ruleset", f"{name!r} version {provenance.get('version')!r} is not built in"
            )
        return builtin
    return ruleset_from_mapping(
        {
            "schema": RULESET_SCHEMA,
            **{key: provenance.get(key) for key in ("name", "version", "based_on", "reason")},
            "changes": dict(provenance.get("changes") or {}),
        },
        source="ruleset",
    )


def span_in_words(start: timedelta, end: timedelta) -> str:
    """A window of the ruleset as a message states it: "2–3 weeks", "10–21 days"."""
    if start.days % 7 == 0 and end.days % 7 == 0:
        return f"{start.days // 7}–{end.days // 7} weeks"
    return f"{start.days}–{end.days} days"


def in_words(duration: timedelta) -> str:
    """A duration of the ruleset as a message states it: "4 weeks", "1 week", "10 days"."""
    days = duration.days
    if days % 7 == 0:
        count = days // 7
        return f"{count} week{'s' if count != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"
