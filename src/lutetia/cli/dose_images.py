"""``lutetia dose images``: organ, lesion and voxel dosimetry from serial SPECT/CT."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

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

#: With --voxelwise --out: where voxel fits failed or were replaced (Status codes).
FIT_STATUS_FILE = "fit_status.nii.gz"


def register_images(which: Any) -> None:
    """Add ``dose images`` to the ``dose`` subcommands."""
    images = which.add_parser(
        "images",
        help="organ, lesion and voxel doses from serial quantitative SPECT/CT",
        description="Organ and lesion doses from serial 177Lu SPECT (DICOM NM/PT), a CT and "
        "regions (NIfTI label map, DICOM SEG or RTSTRUCT); voxel-wise kinetics and dose maps "
        "with --voxelwise. One study (--spect ... --masks ...) or a cohort (--cohort DIR) "
        "on Dask.",
    )
    images.add_argument(
        "--spect", action="append", metavar="DIR",
        help="a SPECT series (folder or file); repeat for each time point",
    )  # fmt: skip
    images.add_argument("--ct", metavar="DIR", help="the CT series (masses from HU)")
    images.add_argument("--masks", metavar="FILE", help="NIfTI label map, DICOM SEG or RTSTRUCT")
    images.add_argument("--labels", metavar="FILE", help="label names (JSON or CSV label,name)")
    images.add_argument(
        "--calibration-cps-per-mbq", type=finite, metavar="X",
        help="SPECT sensitivity (counts per second per MBq) for series without a Bq/mL scale",
    )  # fmt: skip
    images.add_argument(
        "--timezone", metavar="±HH:MM",
        help="UTC offset of the scanner clock, for files without TimezoneOffsetFromUTC",
    )  # fmt: skip
    images.add_argument(
        "--register", action="store_true", help="register later time points to the first"
    )
    images.add_argument(
        "--kidney-already-gy", type=finite, metavar="GY",
        help="kidney absorbed dose of the cycles already given (cumulative check)",
    )  # fmt: skip
    images.add_argument(
        "--kidney-already-bed-gy", type=finite, metavar="GY",
        help="kidney BED of the cycles already given (cumulative check)",
    )  # fmt: skip
    images.add_argument(
        "--risk-factors", action="store_true",
        help="kidney risk factors: BED limit 28 Gy instead of 40 Gy",
    )  # fmt: skip
    images.add_argument(
        "--voxelwise", action="store_true", help="fit every voxel; dose map and DVH per region"
    )
    images.add_argument(
        "--kernel", action="store_true",
        help="with --voxelwise: convolve with the 177Lu dose-voxel kernel (else local deposition)",
    )  # fmt: skip
    images.add_argument("--rtdose", metavar="FILE", help="with --voxelwise: write the dose map")
    images.add_argument(
        "--out",
        metavar="DIR",
        help="write dosimetry.json (and, with --voxelwise, dose.dcm and fit_status.nii.gz) here",
    )
    images.add_argument(
        "--cohort", metavar="DIR", help="a folder of study folders, each run as a Dask task"
    )
    images.add_argument(
        "--scheduler", metavar="ADDRESS", help="with --cohort: an existing Dask scheduler"
    )
    images.add_argument(
        "--workers", type=int, metavar="N", help="with --cohort: local worker processes"
    )
    images.add_argument(
        "--table", metavar="FILE", help="with --cohort: the results table (.csv or .parquet)"
    )
    images.add_argument("--json", action="store_true", help="print one JSON object")
    images.set_defaults(handler=run_images)


def _progress_bar(total: int | None, what: str) -> Any:
    """A tqdm bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="step" if total is None else "study", leave=False)


def _options(args: argparse.Namespace) -> Any:
    from lutetia.services.image_dosimetry import Options

    if args.kernel and not args.voxelwise:
        raise BadInputError("--kernel", "needs --voxelwise (the kernel convolves the dose map)")
    if args.rtdose and not args.voxelwise:
        raise BadInputError("--rtdose", "needs --voxelwise (there is no dose map without it)")
    if args.calibration_cps_per_mbq is not None and args.calibration_cps_per_mbq <= 0:
        raise BadInputError("--calibration-cps-per-mbq", "must be positive")
    if args.calibration_cps_per_mbq is not None:
        from lutetia.imaging.dicom import CALIBRATION_RANGE_CPS_PER_MBQ

        low, high = CALIBRATION_RANGE_CPS_PER_MBQ
        if not low <= args.calibration_cps_per_mbq <= high:
            raise BadInputError(
                "--calibration-cps-per-mbq",
                f"{args.calibration_cps_per_mbq:g} is outside {low:g}–{high:g} cps/MBq "
                "(a unit slip?)",
            )
    course = {
        "--kidney-already-gy": args.kidney_already_gy,
        "--kidney-already-bed-gy": args.kidney_already_bed_gy,
        "--risk-factors": args.risk_factors or None,
    }
    for option, value in course.items():
        if value is not None and args.cohort:
            raise BadInputError(option, "is one patient's: it does not apply with --cohort")
    from lutetia.dosimetry.bed import check_already_given

    check_already_given(args.kidney_already_gy or 0.0, args.kidney_already_bed_gy)
    return Options(
        calibration_cps_per_mbq=args.calibration_cps_per_mbq,
        register=args.register,
        voxelwise=args.voxelwise,
        kernel=args.kernel,
        timezone=None if args.timezone is None else parse_offset(args.timezone),
        kidney_already_gy=args.kidney_already_gy or 0.0,
        kidney_already_bed_gy=args.kidney_already_bed_gy,
        risk_factors=args.risk_factors,
    )


@named_as_options
def run_images(args: argparse.Namespace) -> int:
    """One study, or a cohort on Dask."""
    options = _options(args)
    if args.cohort:
        return _run_cohort(args, options)
    for option in ("scheduler", "workers", "table"):
        if getattr(args, option) is not None:
            raise BadInputError(f"--{option}", "applies only with --cohort")
    if not args.spect:
        raise BadInputError("--spect", "give a SPECT series per time point (or --cohort DIR)")
    if not args.masks:
        raise BadInputError("--masks", "the regions are needed (label map, SEG or RTSTRUCT)")
    from lutetia.services.image_dosimetry import StudyInputs, run_study

    inputs = StudyInputs(
        spect=tuple(Path(p) for p in args.spect),
        masks=Path(args.masks),
        ct=None if args.ct is None else Path(args.ct),
        labels=None if args.labels is None else Path(args.labels),
    )
    read = [*args.spect, args.masks, *([args.ct] if args.ct else [])]
    read += [args.labels] if args.labels else []
    outputs: list[tuple[str, str]] = []
    if args.rtdose:
        outputs.append((args.rtdose, "--rtdose"))
    if args.out:
        out = Path(args.out)
        if not out.is_dir():
            raise BadInputError("--out", f"{out} is not an existing folder")
        outputs.append((str(out / "dosimetry.json"), "--out"))
        if args.voxelwise and not args.rtdose:
            outputs.append((str(out / "dose.dcm"), "--out"))
        if args.voxelwise:
            outputs.append((str(out / FIT_STATUS_FILE), "--out"))
    _refuse_one_file_twice(outputs)
    folders = [*args.spect, *([args.ct] if args.ct else [])]
    for target, option in outputs:
        check_output_path(target, option=option, inputs=read)
        refuse_inside(target, option=option, folders=folders)
    rtdose_target = next((t for t, o in outputs if t.endswith(".dcm") or o == "--rtdose"), None)
    dose_map: dict[str, Any] = {}

    def keep_dose(dose: Any, grid: Any) -> None:
        dose_map["dose"], dose_map["grid"] = dose, grid

    def keep_status(status: Any, grid: Any) -> None:
        dose_map["status"], dose_map["grid"] = status, grid

    bar = _progress_bar(None, "dose images")

    def step(what: str) -> None:
        if bar is not None:
            bar.set_postfix_str(what)
            bar.update(1)

    try:
        document = run_study(
            inputs,
            options,
            progress=step,
            rtdose_writer=keep_dose if rtdose_target else None,
            fit_status_writer=keep_status if args.out and args.voxelwise else None,
        )
    finally:
        if bar is not None:
            bar.close()
    _write_outputs(args, document, dose_map, rtdose_target, inputs)
    if args.json:
        emit_json(document)
    else:
        print(_report(document))
    return 0


def _refuse_one_file_twice(outputs: list[tuple[str, str]]) -> None:
    """Refuse two outputs that are one file (``--rtdose`` naming a file ``--out`` writes):
    the second would replace the first, and a half-empty result would be left."""
    import os

    seen: dict[str, tuple[str, str]] = {}
    for target, option in outputs:
        key = os.path.realpath(target)
        if key in seen:
            other_target, other = seen[key]
            if "--rtdose" in (option, other):
                rtdose = target if option == "--rtdose" else other_target
                raise BadInputError(
                    "--rtdose",
                    f"{rtdose} is a file that --out also writes: give another file",
                )
            raise BadInputError(option, f"{target} would be written twice: give another file")
        seen[key] = (target, option)


def _write_outputs(
    args: argparse.Namespace,
    document: dict[str, Any],
    dose_map: dict[str, Any],
    rtdose_target: str | None,
    inputs: Any,
) -> None:
    """Write dosimetry.json and the RTDOSE file: all or none."""
    from lutetia.cli.output import json_text

    read = [str(p) for p in (*inputs.spect, inputs.masks)]
    targets: list[tuple[str, str]] = []
    if rtdose_target and "dose" in dose_map:
        targets.append((rtdose_target, "--rtdose" if args.rtdose else "--out"))
    status_target = str(Path(args.out) / FIT_STATUS_FILE) if args.out else None
    if status_target and "status" in dose_map:
        targets.append((status_target, "--out"))
        document["voxelwise"]["fit_status_map"] = status_target
    if args.out:
        targets.append((str(Path(args.out) / "dosimetry.json"), "--out"))
    if not targets:
        return
    from contextlib import ExitStack

    reference = _rtdose_reference(document) if rtdose_target and "dose" in dose_map else None
    with ExitStack() as stack:
        temporary = {
            target: stack.enter_context(atomic_output(target, option=option, inputs=read))
            for target, option in targets
        }
        for target, path in temporary.items():
            if target.endswith("dosimetry.json"):
                if rtdose_target:
                    document["rtdose"] = rtdose_target
                path.write_text(json_text(document), encoding="utf-8")
            elif target == status_target:
                from lutetia.imaging.nifti import label_map_gz_bytes

                path.write_bytes(label_map_gz_bytes(dose_map["grid"], dose_map["status"]))
            else:
                from lutetia.imaging.rtdose import write_rtdose

                label = _rtdose_label(args, inputs)
                write_rtdose(
                    path, dose_map["dose"], dose_map["grid"], reference_dataset=reference,
                    description=f"Lutetia 177Lu dose, {label}", comment=label,
                )  # fmt: skip
    if rtdose_target and "dose" in dose_map:
        document["rtdose"] = rtdose_target


def _rtdose_label(args: argparse.Namespace, inputs: Any) -> str:
    """How the dose map was computed, short enough for DoseComment (64 characters)."""
    how = "kernel convolution" if args.kernel else "local deposition"
    density = "CT density" if inputs.ct is not None else "unit density (no CT)"
    return f"{how}, {density}"


def _rtdose_reference(document: dict[str, Any]) -> Any:
    """The header whose patient and study the RT Dose takes: that of the first time point
    in time order, on whose grid the dose lies (``series[0]``, whatever the order of
    ``--spect``); :func:`lutetia.imaging.rtdose.write_rtdose` checks its frame of reference
    against the grid's."""
    from lutetia.imaging.dicom import read_header

    return read_header(document["series"][0]["path"])


def _number(value: Any, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _report(document: dict[str, Any]) -> str:
    """The result for a terminal."""
    from lutetia.reports.text import escape_controls

    injection = document["injection"]
    lines = [
        f"Administration: {injection['activity_mbq']:.5g} MBq {injection['nuclide']} at "
        f"{injection['datetime']}",
        "Time points (h): " + ", ".join(f"{t:.1f}" for t in document["timepoints_h"]),
        f"{'region':<24} {'mass g':>9} {'model':>15} {'TIA MBq·h':>12} {'dose Gy':>9}"
        f" {'Gy/GBq':>7}"
        + (f" {'mean voxel Gy':>14} {'D98 Gy':>8} {'D2 Gy':>8}" if "voxelwise" in document else ""),
    ]
    for name, region in document["regions"].items():
        line = (
            f"{escape_controls(name):<24} {_number(region['mass_g'], '9.1f')} "
            f"{region.get('model') or '—'!s:>15} {_number(region.get('tia_mbq_h'), '12.5g')} "
            f"{_number(region.get('absorbed_dose_gy'), '9.3g')} "
            f"{_number(region.get('absorbed_dose_gy_per_gbq'), '7.3g')}"
        )
        if "voxelwise" in document:
            dvh = region.get("dvh") or {}
            line += (
                f" {_number(region.get('mean_voxel_dose_gy'), '14.3g')}"
                f" {_number(dvh.get('d98_gy'), '8.3g')} {_number(dvh.get('d2_gy'), '8.3g')}"
            )
        lines.append(line)
    for name, region in document["regions"].items():
        course = region.get("course")
        if course:
            further = course["further_cycles_within_limits"]
            earlier = (
                "with the cycles already given"
                if course["already_gy"] or course["already_bed_gy"]
                else "no earlier cycle entered (--kidney-already-gy): in all"
            )
            lines.append(
                f"Kidney course, {escape_controls(name)}: this cycle "
                f"{region['absorbed_dose_gy']:.3g} Gy, BED {region['bed_gy']:.3g} Gy; {earlier} "
                f"{course['absorbed_total_gy']:.3g} Gy of {course['absorbed_limit_gy']:g} Gy and "
                f"BED {course['bed_total_gy']:.3g} Gy of {course['bed_limit_gy']:g} Gy; "
                f"{further} further {'cycle' if further == 1 else 'cycles'} like this one "
                f"{'stays' if further == 1 else 'stay'} within both"
            )
    methods = sorted({str(r.get("mass_method")) for r in document["regions"].values()})
    lines.extend(f"Masses: {escape_controls(m)}" for m in methods)
    for entry in document["registration"][1:]:
        if entry.get("registered"):
            shift = ", ".join(f"{t:.1f}" for t in entry["translation_mm"])
            turn = ", ".join(f"{r:.1f}" for r in entry.get("rotation_deg") or [])
            lines.append(
                f"Registration of time point {entry['time_point']} onto time point 0: "
                f"translation ({shift}) mm, rotation ({turn})°; NCC "
                f"{entry['ncc_before']:.3f} → {entry['ncc_after']:.3f}"
            )
            lines.extend(f"  {escape_controls(w)}" for w in entry.get("warnings") or [])
    if "voxelwise" in document:
        voxelwise = document["voxelwise"]
        models = ", ".join(f"{m} {n}" for m, n in voxelwise["models"].items()) or "none"
        lines.append(f"Voxel-wise: {voxelwise['voxels_fitted']} voxels; models: {models}")
        failures = voxelwise["failures"]
        lines.extend(f"  {n} voxels: {reason}" for reason, n in failures.items())
        if not failures:
            lines.append("  every voxel fitted")
        lines.append(
            f"  dose: {voxelwise['dose_method']}; highest {voxelwise['max_dose_gy']:.3g} Gy"
        )
    for assumption in document["assumptions"]:
        lines.append(f"Assumption: {assumption}")
    lines.extend(f"Warning: {escape_controls(w)}" for w in document["warnings"])
    if "rtdose" in document:
        lines.append(f"Dose map written to {document['rtdose']}")
    return "\n".join(lines)


def _run_cohort(args: argparse.Namespace, options: Any) -> int:
    for option in ("spect", "masks", "ct", "labels", "rtdose", "out"):
        if getattr(args, option):
            raise BadInputError(
                f"--{option}", "does not apply with --cohort (each study folder holds its files)"
            )
    if not args.table:
        raise BadInputError("--table", "with --cohort, give the results table (.csv or .parquet)")
    suffix = Path(args.table).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise BadInputError("--table", f"{args.table}: the name must end in .csv or .parquet")
    check_output_path(args.table, option="--table")
    from lutetia.reports.text import escape_controls
    from lutetia.services.cohort import COLUMNS, find_studies, run_cohort

    studies = find_studies(args.cohort)
    # The table is no study's file: written into a study folder it could replace an input
    # (its labels.csv) or be read with a series next time.
    refuse_inside(args.table, option="--table", folders=[str(study) for study in studies])
    bar = _progress_bar(len(studies), "studies")

    def advance(done: int, total: int) -> None:
        if bar is not None:
            bar.update(1)

    try:
        result = run_cohort(
            studies, options, scheduler=args.scheduler, workers=args.workers, progress=advance
        )
    finally:
        if bar is not None:
            bar.close()
    with atomic_output(args.table, option="--table") as temporary:
        if suffix == ".csv":
            with temporary.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(result.rows)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({column: [row[column] for row in result.rows] for column in COLUMNS})
            pq.write_table(table, temporary)
    study_warnings: dict[str, list[str]] = {}
    for row in result.rows:
        if row["study_warnings"] and row["study"] not in study_warnings:
            study_warnings[row["study"]] = row["study_warning_texts"].split(" | ")
    document = {
        "studies": result.studies,
        "succeeded": result.studies - len(result.failures),
        "failures": [{"study": f.study, "reason": f.reason} for f in result.failures],
        "study_warnings": study_warnings,
        "rows": len(result.rows),
        "table": args.table,
        "ran_on": result.scheduler,
    }
    if args.json:
        emit_json(document)
    else:
        print(
            f"{document['succeeded']} of {result.studies} studies done on {result.scheduler}; "
            f"{len(result.rows)} rows written to {args.table}"
        )
        for failure in result.failures:
            print(f"Failed: {escape_controls(failure.study)}: {escape_controls(failure.reason)}")
        for study, texts in study_warnings.items():
            name = escape_controls(study)
            print("\n".join(f"Warning: {name}: {escape_controls(w)}" for w in texts))
    return 0 if not result.failures else 3
