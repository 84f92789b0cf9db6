"""The batched kinetics fitter: organ TACs against the scalar fitter, and voxel-wise fits.

Run: ``uv run python benchmarks/batch_fits.py [N] [SIZE]`` (``--voxels SIZE``: the voxel
part alone, which the script runs in a fresh process so that its peak RSS is its own).

1. Organ TACs: the N (default 10,000) noisy 6-point TACs of ``tac_fits.py``
   (same generator, same seed, same TACs), fitted with automatic model
   choice by the former scalar fitter (scipy ``curve_fit``, one TAC at a time;
   kept as the independent reference in ``tests/kinetics_reference.py``) and by
   ``batch.fit_batch`` (all at once with numpy, and as batches of one, fitted in Python
   floats with every model's uncertainty; the organ path ``kinetics.select_model``
   computes the chosen model's only, ``tac_fits.py`` times it): time per TAC, models
   chosen, agreement, and the 95th percentile of |TIA/true TIA − 1| for both.
   ``tac_fits.py`` draws the uptake rate of an uptake–washout TAC anew at each time
   point, so those TACs have no single true TIA; the percentile is given over the mono-
   and bi-exponential TACs (exact truth), and over a second set from the same generator
   with one uptake rate per TAC (all kinds).
2. Voxels: 4 time points (4, 24, 72, 168 h) of a SIZE³ (default 128³)
   synthetic SPECT series, 4.8 mm voxels, float32: a body (elliptic
   cylinder) with background, liver, spleen, kidneys, parotid glands and four
   tumours, mono-exponential kinetics (effective half-lives of
   docs/dosimetry.md), 10 % Gaussian noise per voxel. Every body voxel is
   fitted (``batch.fit_voxels``, model "auto": with 4 points only the
   mono-exponential has n ≥ k + 2) and its absorbed dose computed by local
   deposition, D = Ã·Δₑ/m (``lutetia.dosimetry.voxel.local_deposition_dose_gy``;
   unit density): wall time, CPU time, peak RSS of the process, the memory
   allocated during the fit (tracemalloc, in a further run), TIA errors.
"""

from __future__ import annotations

import math
import os
import platform
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING

import numpy as np

from lutetia.dosimetry import batch
from lutetia.dosimetry.kinetics import TimeActivity

# This directory (tac_fits) and the repository root (tests.kinetics_reference).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tac_fits  # the organ benchmark's generator, from this directory
from tests.kinetics_reference import reference_select  # the former scalar fitter (scipy)

if TYPE_CHECKING:
    from numpy.typing import NDArray

TIMES = tac_fits.TIMES
LAMBDA_PHYS = tac_fits.LAMBDA_PHYS


def generate_with_truth(
    rng: random.Random, *, one_uptake: bool = False
) -> tuple[TimeActivity, str, float]:
    """``tac_fits.generate_with_truth``: the TAC, its kind and its true TIA."""
    return tac_fits.generate_with_truth(rng, one_uptake=one_uptake)


def p95(errors: NDArray[np.float64]) -> str:
    finite = errors[np.isfinite(errors)]
    return f"{100 * np.percentile(finite, 95):.2f} %" if finite.size else "n/a"


def organ(count: int, *, one_uptake: bool) -> None:
    """Scalar and batch fits of the same ``count`` TACs: time, models, agreement, p95 error."""
    rng = random.Random(20261126)
    generated = [generate_with_truth(rng, one_uptake=one_uptake) for _ in range(count)]
    if not one_uptake:  # the very TACs of tac_fits.py
        check = random.Random(20261126)
        for curve, _, _ in generated[:100]:
            assert tac_fits.generate(check) == curve
    curves = [g[0] for g in generated]
    kinds = np.array([g[1] for g in generated])
    truth = np.array([g[2] for g in generated])
    y = np.array([c.activity_mbq for c in curves])
    sd = np.array([c.sd_mbq for c in curves])

    reference_select(curves[0])  # import scipy, warm caches
    start = time.perf_counter()
    scalar = [reference_select(c) for c in curves]
    scalar_s = time.perf_counter() - start
    batch.fit_batch(TIMES, y[:10], sd_mbq=sd[:10])  # warm
    start = time.perf_counter()
    fits = batch.fit_batch(TIMES, y, sd_mbq=sd)
    batch_s = time.perf_counter() - start
    singles = min(count, 300)
    start = time.perf_counter()
    for i in range(singles):
        batch.fit_batch(TIMES, y[i], sd_mbq=sd[i])
    single_s = time.perf_counter() - start

    scalar_tia = np.array([f.tia_mbq_h for f in scalar])
    scalar_models = [f.model for f in scalar]
    same_model = sum(fits.model_of(i) == m for i, m in enumerate(scalar_models))
    relative = np.abs(fits.tia_mbq_h / scalar_tia - 1)
    determined = fits.max_relative_sd < 1
    scalar_error = np.abs(scalar_tia / truth - 1)
    batch_error = np.abs(fits.tia_mbq_h / truth - 1)
    exact = kinds != "uptake_washout"
    label = "one uptake rate per TAC" if one_uptake else "tac_fits.py's TACs"
    print(f"\n{label}: {count} TACs, 6 points, 5 % noise, weighted, automatic model choice")
    chosen: dict[str, int] = {}
    for m in scalar_models:
        chosen[m] = chosen.get(m, 0) + 1
    print(
        f"  former scalar fitter: {1e3 * scalar_s / count:.3f} ms/TAC ({scalar_s:.1f} s); {chosen}"
    )
    print(
        f"  batch fit_batch:     {1e3 * batch_s / count:.4f} ms/TAC ({batch_s:.2f} s); "
        f"{fits.model_counts()}; failures {fits.failure_counts()}"
    )
    print(f"  batch of one:        {1e3 * single_s / singles:.2f} ms/TAC ({singles} TACs)")
    print(
        f"  same model: {same_model}/{count}; |ΔTIA| ≤ 1e-6: {np.sum(relative <= 1e-6)}, "
        f"max {np.nanmax(relative):.1e} (determined fits, max relative parameter SD < 1: "
        f"{np.sum(determined)}, max {np.nanmax(relative[determined]):.1e})"
    )
    if one_uptake:
        print(f"  p95 |TIA/truth − 1|, all: scalar {p95(scalar_error)}, batch {p95(batch_error)}")
    print(
        f"  p95 |TIA/truth − 1|, mono and bi kinds ({np.sum(exact)}): "
        f"scalar {p95(scalar_error[exact])}, batch {p95(batch_error[exact])}"
    )


def phantom(size: int) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.float64]]:
    """Activity images (4, size³) in MBq per voxel, the body mask, and the true TIA map."""
    rng = np.random.default_rng(20261127)
    t = np.array([4.0, 24.0, 72.0, 168.0])
    c = (size - 1) / 2
    z, y, x = np.ogrid[:size, :size, :size]
    s = size / 128  # geometry in 4.8 mm voxels of a 128³ grid

    def ellipsoid(centre: tuple[float, float, float], radii: tuple[float, float, float]) -> NDArray[
        np.bool_
    ]:  # fmt: skip
        (cx, cy, cz), (rx, ry, rz) = centre, radii
        return np.asarray(
            ((x - cx * s) / (rx * s)) ** 2 + ((y - cy * s) / (ry * s)) ** 2
            + ((z - cz * s) / (rz * s)) ** 2 <= 1
        )  # fmt: skip

    body = np.broadcast_to(((x - c) / (40 * s)) ** 2 + ((y - c) / (25 * s)) ** 2 <= 1, (size,) * 3)
    # (initial activity per voxel in MBq, effective half-life in h), painted in order.
    regions = [
        (body, 0.002, 20.0),
        (ellipsoid((50, 60, 60), (18, 14, 16)), 0.010, 22.9),  # liver
        (ellipsoid((85, 62, 62), (7, 6, 8)), 0.012, 16.8),  # spleen
        (ellipsoid((47, 72, 70), (5, 4, 8)), 0.030, 35.5),  # kidneys
        (ellipsoid((80, 72, 70), (5, 4, 8)), 0.030, 35.5),
        (ellipsoid((52, 58, 115), (3, 3, 4)), 0.020, 42.2),  # parotid glands
        (ellipsoid((76, 58, 115), (3, 3, 4)), 0.020, 42.2),
        (ellipsoid((64, 50, 40), (4, 4, 4)), 0.060, 60.0),  # tumours
        (ellipsoid((70, 75, 30), (3, 3, 3)), 0.060, 60.0),
        (ellipsoid((40, 64, 90), (5, 5, 5)), 0.060, 60.0),
        (ellipsoid((90, 55, 20), (2, 2, 2)), 0.060, 60.0),
    ]
    a0 = np.zeros((size,) * 3)
    lam = np.full((size,) * 3, math.log(2) / 20.0)
    for region, activity, half_life in regions:
        inside = region & body
        a0[inside] = activity
        lam[inside] = math.log(2) / half_life
    images = np.empty((4, *a0.shape), dtype=np.float32)
    for i, ti in enumerate(t):
        images[i] = a0 * np.exp(-lam * ti) * rng.normal(1.0, 0.10, a0.shape)
    images[:, ~body] = 0.0
    return images, np.ascontiguousarray(body), a0 / lam


def local_dose_gy(tia_mbq_h: NDArray[np.float64], voxel_mass_g: float) -> NDArray[np.float64]:
    """Local deposition D = Ã·Δₑ/m of every voxel with a TIA (NaN elsewhere)."""
    from lutetia.dosimetry.voxel import local_deposition_dose_gy

    fitted = np.isfinite(tia_mbq_h)
    dose = np.full(tia_mbq_h.shape, np.nan)
    dose[fitted] = local_deposition_dose_gy(tia_mbq_h[fitted], voxel_mass_g)
    return dose


def voxels(size: int) -> None:
    """Voxel-wise fit and dose of a size³ series: time, memory, TIA errors."""
    t = np.array([4.0, 24.0, 72.0, 168.0])
    voxel_cm = 0.48 * 128 / size
    mass_g = voxel_cm**3  # unit density
    images, body, truth = phantom(size)
    local_dose_gy(np.ones((2, 2, 2)), mass_g)  # import the dose module and nuclide data
    print(
        f"\nvoxels: 4 × {size}³ float32 ({images.nbytes / 2**20:.0f} MiB), body "
        f"{int(body.sum()):,} of {body.size:,} voxels, {10 * voxel_cm:.1f} mm voxels "
        f"({mass_g:.3f} g), {os.cpu_count()} CPUs"
    )
    for workers in (1, None):
        cpu = time.process_time()
        start = time.perf_counter()
        fits = batch.fit_voxels(t, images, mask=body, workers=workers)
        dose_gy = local_dose_gy(fits.tia_mbq_h, mass_g)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        threads = workers or os.cpu_count()
        print(
            f"  fit + dose, {threads} thread(s): {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"({1e6 * wall / body.sum():.2f} µs/voxel); peak RSS of the process so far "
            f"{rss / 1024:.0f} MiB"
        )
    print(f"  models: {fits.model_counts}; failed voxels: {fits.failure_counts}")
    error = np.abs(fits.tia_mbq_h[body] / truth[body] - 1)
    print(
        f"  |TIA/truth − 1| over the body: median {100 * np.nanmedian(error):.2f} %, "
        f"p95 {p95(error)}; max dose {np.nanmax(dose_gy):.2f} Gy"
    )
    tracemalloc.start()
    batch.fit_voxels(t, images, mask=body)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  peak memory allocated during the fit (tracemalloc): {peak / 2**20:.0f} MiB "
        f"(chunks of {batch.CHUNK_TACS:,} voxels per thread; the images themselves: "
        f"{images.nbytes / 2**20:.0f} MiB)"
    )


def main() -> None:
    """Print the organ figures, then the voxel figures from a fresh process."""
    if len(sys.argv) > 1 and sys.argv[1] == "--voxels":
        voxels(int(sys.argv[2]) if len(sys.argv) > 2 else 128)
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}"
    )
    organ(count, one_uptake=False)
    organ(count, one_uptake=True)
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "--voxels", str(size)], check=True)


if __name__ == "__main__":
    main()
