"""``lutetia dose tac|stp|bed|population|plan``."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

from lutetia.cli.output import atomic_output, check_output_path, emit_json, finite
from lutetia.errors import BadInputError

REGIONS = ("kidneys", "lungs", "liver", "spleen", "parotid_glands", "bone_marrow", "tumor")
#: A time–activity table larger than this is not one (MAX_POINTS rows are a few kB).
MAX_TAC_BYTES = 1_000_000


def register(commands: Any) -> None:
    """Add the dosimetry subcommands."""
    dose = commands.add_parser(
        "dose", help="dosimetry: tac, stp, bed, population, plan, kernel, images"
    )
    which = dose.add_subparsers(dest="dose_command", metavar="WHAT", required=True)

    tac = which.add_parser("tac", help="organ TIA and absorbed dose from a time-activity table")
    tac.add_argument("file", metavar="FILE", help="CSV: time_h,activity_mbq[,activity_sd_mbq]")
    tac.add_argument("--mass-g", type=finite, required=True)
    tac.add_argument(
        "--region", choices=REGIONS,
        help="the organ or tumour measured: checks that --mass-g is plausible for it",
    )  # fmt: skip
    tac.add_argument(
        "--model", choices=("auto", "mono", "bi", "tri", "uptake_washout", "trapezoid"),
        default="auto",
    )  # fmt: skip
    tac.add_argument(
        "--tail", choices=("physical", "fitted"), default=None,
        help="trapezoid tail: physical decay (default) or fitted (last two points)",
    )  # fmt: skip
    tac.add_argument("--plot", metavar="FILE", help="draw the fitted curve (PNG or SVG)")
    tac.add_argument("--json", action="store_true", help="print one JSON object")
    tac.set_defaults(handler=run_tac)

    stp = which.add_parser("stp", help="single-time-point TIA and absorbed dose")
    stp.add_argument("--activity-mbq", type=finite, required=True)
    stp.add_argument("--time-h", type=finite, required=True)
    stp.add_argument("--mass-g", type=finite, required=True)
    stp.add_argument("--method", choices=("haenscheid", "madsen"), required=True)
    stp.add_argument("--teff-h", type=finite)
    stp.add_argument(
        "--region", choices=REGIONS,
        help="population effective half-life, reliability warnings and mass range for this region",
    )  # fmt: skip
    stp.add_argument("--json", action="store_true", help="print one JSON object")
    stp.set_defaults(handler=run_stp)

    bed = which.add_parser(
        "bed", help="biologically effective dose (mono-exponential kinetics); cycles add up"
    )
    bed.add_argument(
        "--dose-gy", type=finite, required=True, action="append",
        help="absorbed dose of a cycle (repeat for each cycle)",
    )  # fmt: skip
    bed.add_argument("--teff-h", type=finite, required=True)
    bed.add_argument("--alpha-beta-gy", type=finite, help="α/β (Gy); default kidneys 2.6")
    bed.add_argument("--repair-h", type=finite, help="repair half-time (h); default kidneys 2.8")
    bed.add_argument(
        "--organ", choices=("kidneys", "red_marrow"), help="compare the totals with its limits"
    )
    bed.add_argument("--risk-factors", action="store_true", help="kidney BED limit 28 Gy")
    bed.add_argument("--json", action="store_true", help="print one JSON object")
    bed.set_defaults(handler=run_bed)

    population = which.add_parser(
        "population", help="VISION population organ doses for a planned or given course"
    )
    population.add_argument("--activity-gbq", type=finite, action="append", required=True,
                            help="activity per cycle (repeat), or one with --cycles")  # fmt: skip
    population.add_argument("--cycles", type=int, default=None)
    population.add_argument("--json", action="store_true", help="print one JSON object")
    population.set_defaults(handler=run_population)

    plan = which.add_parser("plan", help="cycles within organ limits; activity for a target dose")
    plan.add_argument("--organ", choices=("kidneys", "red_marrow"), default="kidneys")
    plan.add_argument("--gy-per-gbq", type=finite, required=True)
    plan.add_argument("--activity-gbq", type=finite, default=7.4)
    plan.add_argument("--teff-h", type=finite, help="organ effective half-life, for BED")
    plan.add_argument("--risk-factors", action="store_true", help="kidney BED limit 28 Gy")
    plan.add_argument("--target-gy", type=finite)
    plan.add_argument("--already-gy", type=finite, default=0.0,
                      help="absorbed dose already received by the organ (Gy)")  # fmt: skip
    plan.add_argument("--already-bed-gy", type=finite,
                      help="kidney BED already received (Gy); needs --teff-h")  # fmt: skip
    plan.add_argument("--alpha-beta-gy", type=finite, help="kidney α/β (Gy); default 2.6")
    plan.add_argument("--repair-h", type=finite, help="kidney repair half-time (h); default 2.8")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.set_defaults(handler=run_plan)

    register_kernel(which)

    from lutetia.cli.dose_images import register_images

    register_images(which)


def _checked(document: dict[str, Any]) -> dict[str, Any]:
    """Refuse a document with a non-finite number (JSON would print it as null)."""

    def walk(value: Any, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInputError(where, "the result is out of the floating-point range")
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, where)

    walk(document, "result")
    return document


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"  WARNING: {warning}")


def read_tac(path: str) -> Any:
    """Read a time-activity CSV (spec/cli.md) into validated points.

    UTF-8 with or without a byte-order mark; header ``time_h,activity_mbq`` or
    ``time_h,activity_mbq,activity_sd_mbq``; blank lines ignored.
    """
    from lutetia.dosimetry.kinetics import TimeActivity

    try:
        with Path(path).open("rb") as stream:  # at most one byte more than accepted
            data = stream.read(MAX_TAC_BYTES + 1)
        if len(data) > MAX_TAC_BYTES:
            raise BadInputError(
                path, f"larger than {MAX_TAC_BYTES} bytes: not a time–activity table"
            )
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(path, f"cannot be read: {error}") from None
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if not rows:
        raise BadInputError(path, "empty file")
    header = [h.strip() for h in rows[0]]
    if header not in (["time_h", "activity_mbq"], ["time_h", "activity_mbq", "activity_sd_mbq"]):
        raise BadInputError(
            f"{path}: header",
            f"{','.join(header)!r}: expected time_h,activity_mbq[,activity_sd_mbq]",
        )
    if len(rows) == 1:
        raise BadInputError(path, "no data rows after the header")
    times: list[float] = []
    activities: list[float] = []
    sds: list[float] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise BadInputError(
                f"{path}: line {number}", f"{len(row)} values, expected {len(header)}"
            )
        try:
            values = [float(v) for v in row]
        except ValueError:
            raise BadInputError(f"{path}: line {number}", f"{row!r} is not numeric") from None
        times.append(values[0])
        activities.append(values[1])
        if len(values) == 3:
            sds.append(values[2])
    try:
        return TimeActivity(tuple(times), tuple(activities), tuple(sds) if sds else None)
    except BadInputError as error:
        index = error.field.split("[")[-1].rstrip("]") if "[" in error.field else None
        column = error.field.split("[")[0]
        where = f"line {int(index) + 2}, {column}" if index and index.isdigit() else error.field
        raise BadInputError(f"{path}: {where}", error.reason) from None


def run_tac(args: argparse.Namespace) -> int:
    """Fit, integrate and convert to absorbed dose."""
    from lutetia.dosimetry.absorbed import absorbed_dose
    from lutetia.dosimetry.kinetics import fit_tac
    from lutetia.dosimetry.plausibility import check_mass

    check_mass(args.mass_g, args.region)
    if args.plot:
        from lutetia.reports.plots import plot_format

        plot_format(args.plot)
        check_output_path(args.plot, option="--plot", inputs=[args.file])
    points = read_tac(args.file)
    fit = fit_tac(points, args.model, tail=args.tail)
    dose = absorbed_dose(fit.tia_mbq_h, args.mass_g, args.region)
    relative = fit.tia_sd_mbq_h / fit.tia_mbq_h if fit.tia_sd_mbq_h and fit.tia_mbq_h else None
    warnings = [*fit.warnings, *dose.warnings]
    document = _checked(
        {
            "model": fit.model,
            "parameters": fit.parameters,
            "tia_mbq_h": fit.tia_mbq_h,
            "tia_sd_mbq_h": fit.tia_sd_mbq_h,
            "absorbed_dose_gy": dose.absorbed_dose_gy,
            "absorbed_dose_sd_gy": dose.absorbed_dose_gy * relative if relative else None,
            "electron_dose_gy": dose.electron_gy,
            "photon_dose_gy": dose.photon_gy,
            "s_value_gy_per_mbq_h": dose.s_value_gy_per_mbq_h,
            "effective_half_life_h": fit.effective_half_life_h,
            "aicc": fit.aicc,
            "mass_g": args.mass_g,
            "region": args.region,
            "dose_model": dose.model,
            "notes": list(fit.notes),
            "warnings": warnings,
        }
    )
    if args.plot:
        from lutetia.reports.plots import plot_tac

        with atomic_output(args.plot, option="--plot", inputs=[args.file]) as temporary:
            plot_tac(points, fit, temporary, image_format=plot_format(args.plot))
        document["plot"] = args.plot
    if args.json:
        emit_json(document)
        return 0
    sd = f" ± {fit.tia_sd_mbq_h:.4g}" if fit.tia_sd_mbq_h else ""
    print(f"Model: {fit.model}; TIA {fit.tia_mbq_h:.5g}{sd} MBq·h")
    if fit.effective_half_life_h:
        print(f"Effective half-life {fit.effective_half_life_h:.3g} h")
    print(
        f"Absorbed dose {dose.absorbed_dose_gy:.4g} Gy in {args.mass_g:g} g "
        f"(electrons {dose.electron_gy:.4g} Gy, photons {dose.photon_gy:.3g} Gy)"
    )
    print(f"  {dose.model}")
    for note in fit.notes:
        print(f"  {note}")
    _print_warnings(warnings)
    if args.plot:
        print(f"Plot written to {args.plot}")
    return 0


def run_stp(args: argparse.Namespace) -> int:
    """Single-time-point estimate."""
    from lutetia.dosimetry.absorbed import absorbed_dose
    from lutetia.dosimetry.stp import estimate

    result = estimate(
        activity_mbq=args.activity_mbq, time_h=args.time_h, method=args.method,
        teff_h=args.teff_h, region=args.region,
    )  # fmt: skip
    dose = absorbed_dose(result.tia_mbq_h, args.mass_g, args.region)
    document = _checked(
        {
            "tia_mbq_h": result.tia_mbq_h,
            "absorbed_dose_gy": dose.absorbed_dose_gy,
            "method": result.method,
            "teff_h": result.teff_h,
            "mass_g": args.mass_g,
            "region": args.region,
            "warnings": [*result.warnings, *dose.warnings],
            "dose_model": dose.model,
        }
    )
    if args.json:
        emit_json(document)
        return 0
    print(
        f"{args.method.capitalize()}: TIA {result.tia_mbq_h:.5g} MBq·h, absorbed dose "
        f"{dose.absorbed_dose_gy:.4g} Gy in {args.mass_g:g} g"
    )
    _print_warnings(document["warnings"])
    return 0


def run_bed(args: argparse.Namespace) -> int:
    """BED for mono-exponential kinetics, summed over cycles and compared with limits."""
    from lutetia.dosimetry.bed import (
        KIDNEY_ALPHA_BETA_GY,
        KIDNEY_REPAIR_HALF_TIME_H,
        LIMITS,
        bed_mono,
    )
    from lutetia.dosimetry.plausibility import check_dose

    warnings: list[str] = []
    if args.organ != "kidneys" and (args.alpha_beta_gy is None or args.repair_h is None):
        warnings.append(
            f"α/β {KIDNEY_ALPHA_BETA_GY:g} Gy and T_rep {KIDNEY_REPAIR_HALF_TIME_H:g} h are the "
            "kidney values (Barone et al. 2005); give --alpha-beta-gy and --repair-h for "
            "another tissue"
        )
    if args.risk_factors and args.organ != "kidneys":
        raise BadInputError("--risk-factors", "selects the kidney BED limit: needs --organ kidneys")
    alpha_beta = KIDNEY_ALPHA_BETA_GY if args.alpha_beta_gy is None else args.alpha_beta_gy
    repair = KIDNEY_REPAIR_HALF_TIME_H if args.repair_h is None else args.repair_h
    per_cycle = []
    for cycle, dose_gy in enumerate(args.dose_gy, start=1):
        try:
            per_cycle.append(bed_mono(dose_gy, args.teff_h, alpha_beta_gy=alpha_beta,
                                      repair_h=repair))  # fmt: skip
        except BadInputError as error:
            if error.field != "--dose-gy" or len(args.dose_gy) == 1:
                raise
            raise BadInputError(f"--dose-gy (cycle {cycle})", error.reason) from None
    total_dose = check_dose(sum(args.dose_gy), "--dose-gy (total)")
    total_bed = sum(per_cycle)
    limits = []
    if args.organ == "kidneys":
        keys = ["kidneys_absorbed", "kidneys_bed_risk" if args.risk_factors else "kidneys_bed"]
    elif args.organ == "red_marrow":
        keys = ["red_marrow_absorbed"]
    else:
        keys = []
    for key in keys:
        limit = LIMITS[key]
        value = total_bed if limit.quantity == "BED" else total_dose
        limits.append(
            {
                "quantity": limit.quantity,
                "limit_gy": limit.limit_gy,
                "value_gy": value,
                "within": value <= limit.limit_gy,
                "source": limit.source,
            }
        )
    document = _checked(
        {
            "bed_gy": total_bed,
            "per_cycle_bed_gy": per_cycle,
            "dose_gy": total_dose,
            "teff_h": args.teff_h,
            "alpha_beta_gy": alpha_beta,
            "repair_h": repair,
            "limits": limits,
            "warnings": warnings,
        }
    )
    if args.json:
        emit_json(document)
        return 0
    print(
        f"BED {total_bed:.4g} Gy from {len(per_cycle)} cycle(s), absorbed dose {total_dose:.4g} Gy "
        f"(T_eff {args.teff_h:g} h, α/β {alpha_beta:g} Gy, T_rep {repair:g} h)"
    )
    for item in limits:
        verdict = "within" if item["within"] else "EXCEEDS"
        print(
            f"  {item['quantity']} {item['value_gy']:.3g} Gy {verdict} {item['limit_gy']:g} Gy "
            f"({item['source']})"
        )
    _print_warnings(warnings)
    return 0


def run_population(args: argparse.Namespace) -> int:
    """Population organ doses for a course."""
    from lutetia.dosimetry.population import course_estimates, course_warnings

    activities = list(args.activity_gbq)
    if args.cycles is not None:
        if len(activities) != 1 or not 1 <= args.cycles <= 12:
            raise BadInputError("--cycles", "give one --activity-gbq and 1-12 cycles")
        activities = activities * args.cycles
    estimates = course_estimates(activities)
    warnings = course_warnings(activities)
    document = {
        "activities_gbq": activities,
        "warnings": warnings,
        "organs": [
            {
                "organ": e.organ,
                "per_cycle_gy": list(e.per_cycle_gy),
                "cumulative_gy": e.cumulative_gy,
                "cumulative_sd_gy": e.cumulative_sd_gy,
                "source": e.source,
            }
            for e in estimates
        ],
    }
    if args.json:
        emit_json(document)
        return 0
    print(f"Population estimates for {len(activities)} cycle(s), {sum(activities):g} GBq in total")
    for e in estimates:
        print(
            f"  {e.organ:<16} {e.per_cycle_gy[0]:.3g} Gy per cycle; cumulative "
            f"{e.cumulative_gy:.3g} ± {e.cumulative_sd_gy:.2g} Gy"
        )
    print(f"  source: {estimates[0].source}")
    _print_warnings(warnings)
    return 0


def run_plan(args: argparse.Namespace) -> int:
    """Cycles within limits."""
    from lutetia.dosimetry.population import plan_cycles

    result = plan_cycles(
        organ=args.organ, gy_per_gbq=args.gy_per_gbq, activity_gbq=args.activity_gbq,
        teff_h=args.teff_h, risk_factors=args.risk_factors, target_gy=args.target_gy,
        alpha_beta_gy=args.alpha_beta_gy, repair_h=args.repair_h,
        already_absorbed_gy=args.already_gy, already_bed_gy=args.already_bed_gy,
    )  # fmt: skip
    document = {
        "organ": result.organ,
        "dose_per_cycle_gy": result.dose_per_cycle_gy,
        "bed_per_cycle_gy": result.bed_per_cycle_gy,
        "cycles_within_absorbed_limit": result.cycles_within_absorbed_limit,
        "cycles_within_bed_limit": result.cycles_within_bed_limit,
        "absorbed_limit_gy": result.absorbed_limit.limit_gy,
        "absorbed_limit_source": result.absorbed_limit.source,
        "bed_limit_gy": result.bed_limit.limit_gy if result.bed_limit else None,
        "bed_limit_source": result.bed_limit.source if result.bed_limit else None,
        "activity_for_target_gbq": result.activity_for_target_gbq,
        "warnings": list(result.warnings),
    }
    _checked(document)
    if args.json:
        emit_json(document)
        return 0
    print(
        f"{result.organ}: {result.dose_per_cycle_gy:.3g} Gy per cycle of {args.activity_gbq:g} "
        "GBq; "
        f"{result.cycles_within_absorbed_limit} further cycle(s) within "
        f"{result.absorbed_limit.limit_gy:g} Gy ({result.absorbed_limit.source})"
    )
    if result.bed_limit is not None and result.bed_per_cycle_gy is not None:
        print(
            f"  BED {result.bed_per_cycle_gy:.3g} Gy per cycle; {result.cycles_within_bed_limit} "
            f"cycle(s) within {result.bed_limit.limit_gy:g} Gy ({result.bed_limit.source})"
        )
    if result.activity_for_target_gbq is not None:
        print(f"  activity for {args.target_gy:g} Gy: {result.activity_for_target_gbq:.3g} GBq")
    _print_warnings(list(result.warnings))
    return 0


#: Largest --size of ``dose kernel``: (2N + 1)³ values in the JSON (41³ ≈ 69 000).
MAX_KERNEL_SIZE = 20


def register_kernel(which: Any) -> None:
    """Add ``lutetia dose kernel``."""
    kernel = which.add_parser(
        "kernel", help="177Lu voxel S-value kernel (dose-voxel kernel) in soft tissue"
    )
    kernel.add_argument(
        "--voxel-mm", type=finite, nargs="+", required=True, metavar="MM",
        help="voxel size: one value (cubic) or three (i j k, as the image spacing)",
    )  # fmt: skip
    kernel.add_argument(
        "--size", "--half-width", dest="size", type=int, default=5, metavar="N",
        help=f"half-width N: kernel of (2N+1)^3 voxels, centre at index N (1-{MAX_KERNEL_SIZE})",
    )  # fmt: skip
    kernel.add_argument(
        "--electrons", choices=("all", "beta"), default="all",
        help="electron emissions: all (beta, conversion and Auger; default) or beta (the beta "
        "spectrum alone, as the published voxel S-value tables)",
    )  # fmt: skip
    kernel.add_argument("--out", metavar="FILE.npy", help="save the kernel (mGy/(MBq s)) as .npy")
    kernel.add_argument("--json", action="store_true", help="print one JSON object")
    kernel.set_defaults(handler=run_kernel)


def run_kernel(args: argparse.Namespace) -> int:
    """Compute the 177Lu dose-voxel kernel; print the centre and first neighbours."""
    from lutetia.dosimetry.voxel import (
        ELECTRON_KINDS,
        GY_PER_MBQ_H_PER_MGY_PER_MBQ_S,
        dose_voxel_kernel,
    )

    sizes = list(args.voxel_mm)
    if len(sizes) not in (1, 3):
        raise BadInputError("--voxel-mm", f"give one value or three, not {len(sizes)}")
    if not 1 <= args.size <= MAX_KERNEL_SIZE:
        raise BadInputError("--size", f"{args.size} is outside 1–{MAX_KERNEL_SIZE}")
    out = check_output_path(args.out, option="--out") if args.out else None
    voxel: float | tuple[float, float, float] = (
        sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1], sizes[2])
    )
    try:
        kinds = ("beta-",) if args.electrons == "beta" else ELECTRON_KINDS
        kernel = dose_voxel_kernel(voxel, half_width_voxels=args.size, electron_kinds=kinds)
    except BadInputError as error:
        raise BadInputError("--voxel-mm", error.reason) from None
    neighbours = {
        "centre": (0, 0, 0), "face": (1, 0, 0), "edge": (1, 1, 0), "corner": (1, 1, 1),
        "second_face": (2, 0, 0),
    }  # fmt: skip
    if len(set(kernel.voxel_mm)) > 1:  # anisotropic: each axis has its own face neighbour
        neighbours.update({"face_j": (0, 1, 0), "face_k": (0, 0, 1)})
    values = {
        name: kernel.at(*offset) for name, offset in neighbours.items()
        if max(offset) <= kernel.half_width_voxels
    }  # fmt: skip
    if out is not None:
        import numpy as np

        with atomic_output(str(out), option="--out") as temporary, temporary.open("wb") as stream:
            np.save(stream, kernel.values_mgy_per_mbq_s)
    if args.json:
        emit_json(_checked({
            "voxel_mm": list(kernel.voxel_mm),
            "size": kernel.half_width_voxels,
            "density_g_per_cm3": kernel.density_g_per_cm3,
            "voxel_mass_g": kernel.voxel_mass_g,
            "centre_index": kernel.half_width_voxels,
            "s_values_mgy_per_mbq_s": values,
            "energy_in_kernel_mev": kernel.energy_in_kernel_mev,
            "electron_emissions": list(kernel.electron_kinds),
            "kernel_mgy_per_mbq_s": kernel.values_mgy_per_mbq_s.tolist(),
            "kernel_axes": "[k][j][i] (slice, row, column); centre at [N][N][N]",
            "method": kernel.method,
            "out": str(out) if out else None,
        }))  # fmt: skip
        return 0
    size = " x ".join(f"{v:g}" for v in kernel.voxel_mm)
    print(f"177Lu dose-voxel kernel, voxel {size} mm, {2 * args.size + 1}^3 voxels")
    print(f"  density {kernel.density_g_per_cm3:g} g/cm3, voxel mass {kernel.voxel_mass_g:.4g} g")
    print(f"  electron emissions: {', '.join(kernel.electron_kinds)} (ICRP-107)")
    for name, value in values.items():
        offset = neighbours[name]
        print(
            f"  {name:<12} {offset!s:<10} {value:.4e} mGy/(MBq s)  "
            f"= {value * GY_PER_MBQ_H_PER_MGY_PER_MBQ_S:.4e} Gy/(MBq h)"
        )
    print(f"  energy absorbed in the kernel: {kernel.energy_in_kernel_mev:.5f} MeV per decay")
    print(f"  method: {kernel.method}")
    if out is not None:
        print(f"  kernel saved to {out} (mGy/(MBq s), axes [k][j][i])")
    return 0
