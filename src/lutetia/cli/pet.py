"""``lutetia pet``: the case file's ``psma_pet`` block measured on a PSMA PET and its regions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from lutetia.cli.output import (
    atomic_output,
    check_output_path,
    emit_json,
    finite,
    named_as_options,
    parse_offset,
    refuse_inside,
)
from lutetia.errors import BadInputError

#: Largest case file read for ``--case`` (a case is a few kB).
MAX_CASE_BYTES: Final[int] = 5_000_000


def register(commands: Any) -> None:
    """Add ``lutetia pet``."""
    pet = commands.add_parser(
        "pet",
        help="PSMA PET SUVs (liver, parotids, lesions) for the case file's psma_pet block",
        description="SUVbw from a PSMA PET series (DICOM PT in Bq/mL with the "
        "radiopharmaceutical and the patient's weight) and its regions (NIfTI label map, "
        "DICOM SEG or RTSTRUCT): liver and parotid SUVmean, and per lesion SUVmax, SUVmean "
        "and size, as the psma_pet block of a case file. With --case and --out, writes the "
        "case with that block, ready for 'lutetia assess'.",
    )
    pet.add_argument("--pet", required=True, metavar="DIR", help="the PET series (folder)")
    pet.add_argument("--masks", required=True, metavar="FILE", help="label map, SEG or RTSTRUCT")
    pet.add_argument("--labels", metavar="FILE", help="label names (JSON or CSV label,name)")
    pet.add_argument(
        "--weight-kg", type=finite, metavar="W",
        help="the patient's weight; replaces Patient Weight (0010,1030), and the output says so "
        "when the two differ",
    )  # fmt: skip
    pet.add_argument(
        "--tracer",
        metavar="NAME",
        help="the tracer, e.g. 68Ga-PSMA-11 (psma_pet.tracer); default: the PET's "
        "Radiopharmaceutical (0018,0031)",
    )
    pet.add_argument(
        "--timezone", metavar="±HH:MM",
        help="UTC offset of the scanner clock, for files without TimezoneOffsetFromUTC",
    )  # fmt: skip
    pet.add_argument("--case", metavar="FILE", help="a case file to put the block into")
    pet.add_argument("--out", metavar="FILE", help="with --case: where to write the new case")
    pet.add_argument("--json", action="store_true", help="print one JSON object")
    pet.set_defaults(handler=run_pet)


def _label_map(masks: Any) -> tuple[Any, dict[int, str]]:
    """One integer label per region (combined regions such as ``kidneys`` left out)."""
    import numpy as np

    from lutetia.imaging.masks import map_region_name

    groups = {group for name in masks.names() for group in map_region_name(name).groups}
    names = [name for name in masks.names() if name not in groups]
    array = np.zeros(masks.grid.shape, dtype=np.int32)
    labels: dict[int, str] = {}
    for label, name in enumerate(names, start=1):
        overlap = masks[name] & (array > 0)
        if np.any(overlap):
            raise BadInputError(
                "--masks", f"{name} overlaps {labels[int(array[overlap].flat[0])]}: regions "
                "must not overlap to be measured on the PET",
            )  # fmt: skip
        array[masks[name]] = label
        labels[label] = name
    return array, labels


#: What :func:`~lutetia.imaging.pet.suv_bw` names by the value it was given, and the tag of
#: the Radiopharmaceutical Information Sequence the value came from.
_INJECTION_TAGS: dict[str, str] = {
    "injection.at": "RadiopharmaceuticalStartDateTime",
    "injection.activity_bq": "RadionuclideTotalDose",
    "RadionuclideCodeSequence": "RadionuclideCodeSequence",
    "RadionuclideHalfLife": "RadionuclideHalfLife",
}


def _in_the_file(error: BadInputError, pet: str) -> BadInputError:
    """``error`` of the administration, named by the PET file's tag it came from."""
    tag = _INJECTION_TAGS.get(error.field)
    if tag is None:
        return error
    return BadInputError(f"{pet}: RadiopharmaceuticalInformationSequence[0].{tag}", error.reason)


def _read_case(path: str) -> dict[str, Any]:
    from lutetia.cases.io import load_case

    source = Path(path)
    if source.suffix.lower() != ".json":
        raise BadInputError("--case", f"{path}: only a JSON case file can be rewritten")
    try:
        load_case(path)  # validated as a whole first: the same errors as 'lutetia assess'
    except BadInputError as error:
        if path in error.field or path in error.reason:
            raise
        raise BadInputError(f"--case {path}: {error.field}", error.reason) from None
    if source.stat().st_size > MAX_CASE_BYTES:
        raise BadInputError("--case", f"{path} is larger than {MAX_CASE_BYTES} bytes")
    data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return data


@named_as_options
def run_pet(args: argparse.Namespace) -> int:
    """Measure the PET; print the block, or write the case with it."""
    if (args.case is None) != (args.out is None):
        raise BadInputError("--out" if args.case else "--case", "--case and --out go together")
    inputs = [args.pet, args.masks, *([args.labels] if args.labels else [])]
    if args.out:
        check_output_path(args.out, option="--out", inputs=[*inputs, args.case])
        refuse_inside(args.out, option="--out", folders=[args.pet])
    from lutetia.imaging.pet import check_weight_kg

    if args.weight_kg is not None:
        check_weight_kg(args.weight_kg, "--weight-kg")
    case = _read_case(args.case) if args.case else None
    from lutetia.imaging.dicom import (
        half_life_note,
        read_injection,
        read_patient_weight_kg,
        read_radiopharmaceutical,
        read_series,
    )
    from lutetia.imaging.masks import read_masks
    from lutetia.imaging.pet import check_suv_plausible, measure_psma_pet, suv_bw

    timezone = None if args.timezone is None else parse_offset(args.timezone)
    weight_notes: list[str] = []
    try:
        volume = read_series(args.pet, timezone=timezone)
    except BadInputError as error:
        if error.field != "calibration_cps_per_mbq":
            raise
        raise BadInputError(
            "--pet", f"counts without a Bq/mL scale, not a quantitative PET ({error.reason})"
        ) from None
    if volume.quantity not in ("activity_concentration", "suv_bw"):
        raise BadInputError("--pet", f"is {volume.quantity} ({volume.unit}), not a PET")
    if volume.quantity == "suv_bw":
        suv = volume
        if args.weight_kg is not None:
            weight_notes.append(
                f"--weight-kg {args.weight_kg:g} kg not used: the PET holds SUVbw computed by "
                "the scanner with its own Patient Weight"
            )
    else:
        injection = read_injection(args.pet, timezone=timezone)
        weight = args.weight_kg
        if weight is None:
            weight = read_patient_weight_kg(args.pet)
            check_weight_kg(weight, f"{args.pet}: PatientWeight")
        else:
            try:
                in_file: float | None = read_patient_weight_kg(args.pet)
            except BadInputError:
                in_file = None
            if in_file is not None and abs(in_file - weight) > 0.01 * weight:
                weight_notes.append(
                    f"SUVbw with --weight-kg {weight:g} kg, not the PET's Patient Weight "
                    f"{in_file:g} kg"
                )
        try:
            suv = suv_bw(volume, weight, injection)
        except BadInputError as error:
            raise _in_the_file(error, args.pet) from None
        note = half_life_note(injection)
        if note is not None:
            weight_notes.append(f"{args.pet}: {note}")
        weight_notes.extend(f"{args.pet}: {said}" for said in injection.notes)
    masks = read_masks(args.masks, labels_file=args.labels, reference=suv.grid)
    array, names = _label_map(masks)
    scanner_suv = volume.quantity == "suv_bw"
    hot = check_suv_plausible(
        suv, f"{args.pet}: Units" if scanner_suv else "--pet", array > 0, scanner_suv=scanner_suv
    )
    if hot is not None:
        weight_notes.append(f"{args.pet}: {hot}")
    tracer = args.tracer
    stated = read_radiopharmaceutical(args.pet)
    if tracer is not None:
        tracer = tracer.strip()
        if not tracer or not tracer.isprintable():
            raise BadInputError("--tracer", f"{args.tracer!r} names no tracer")
        if (
            stated is not None
            and stated.replace(" ", "").lower() != tracer.replace(" ", "").lower()
        ):
            weight_notes.append(
                f"--tracer {tracer!r} differs from the PET's Radiopharmaceutical (0018,0031) "
                f"{stated!r}: --tracer is used; check that it is this scan's tracer"
            )
    else:
        tracer = stated
        if tracer is not None:
            weight_notes.append(
                f"tracer {tracer!r} from the PET's Radiopharmaceutical (0018,0031); "
                "--tracer overrides it"
            )
    outside = {name: masks.outside_fraction(name) for name in [*masks.left_out, *names.values()]}
    measured = measure_psma_pet(
        suv, (suv.grid, array), names, tracer=tracer, outside_fraction=outside
    )
    document: dict[str, Any] = {
        "psma_pet": measured.block,
        "missing": list(measured.missing),
        "regions": [
            {
                "name": r.name,
                "voxels": r.voxels,
                "volume_ml": r.volume_ml,
                "suvmax": r.suvmax,
                "suvmean": r.suvmean,
            }
            for r in measured.regions
        ],
        "notes": [*weight_notes, *measured.notes, *masks.warnings],
    }
    if case is not None:
        from lutetia.cases.io import case_from_mapping
        from lutetia.cli.output import json_text

        replaced = "psma_pet" in case
        case["psma_pet"] = measured.block
        case_from_mapping(case, source=args.case)  # the new case must be valid as a whole
        with atomic_output(args.out, option="--out", inputs=[*inputs, args.case]) as temporary:
            temporary.write_text(json_text(case), encoding="utf-8")
        document["case"] = args.out
        document["replaced_psma_pet"] = replaced
    if args.json:
        emit_json(document)
    else:
        print(_report(document))
    return 0


def _report(document: dict[str, Any]) -> str:
    from lutetia.reports.text import escape_controls

    block = document["psma_pet"]
    lines = [f"PSMA PET of {block['date']} ({block.get('tracer') or 'tracer not stated'})"]
    for key in ("liver_suvmean", "parotid_suvmean"):
        if key in block:
            lines.append(f"{key}: {block[key]:g}")
    for lesion in block["lesions"]:
        lines.append(
            f"lesion ({lesion['site']}): SUVmax {lesion['suvmax']:g}, SUVmean "
            f"{lesion['suvmean']:g}, size {lesion['size_mm']:g} mm"
        )
    lines.extend(f"Missing: {escape_controls(m)}" for m in document["missing"])
    lines.extend(f"Note: {escape_controls(n)}" for n in document["notes"])
    if "case" in document:
        lines.append(f"Case with this psma_pet block written to {document['case']}")
    return "\n".join(lines)
