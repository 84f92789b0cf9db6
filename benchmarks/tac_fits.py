"""Fitting organ time–activity curves with automatic model selection: one at a time and batched.

Run: ``uv run python benchmarks/tac_fits.py [N] [--one-uptake]`` (N default 10,000). Each TAC
has 6 time points (4, 24, 48, 72, 96, 168 h) drawn from uptake–washout, mono- and bi-exponential
kinetics with 5 % multiplicative noise, weighted by its SDs, and a fixed seed; ``auto`` fits
every model with enough points (mono, uptake–washout, bi) and selects by AICc.

1. One organ TAC at a time, as ``lutetia dose tac`` fits it (``kinetics.fit_tac``: the
   engine's algorithm in Python floats, :mod:`lutetia.dosimetry.small_batch`).
2. All N at once (``batch.fit_batch``: numpy).

Printed: time per TAC (wall, and the process's CPU time, which another job on the
machine inflates less), models chosen, how closely the two agree (determined fits: the
largest relative parameter SD below 1), and the 95th percentile of |TIA/true TIA − 1|
over the mono- and bi-exponential TACs, whose true TIA is exact (the uptake rate of an
uptake–washout TAC is drawn anew at each time point, so those have no single truth);
with ``--one-uptake`` a second set from the same generator, one uptake rate per TAC,
every TAC with its exact TIA, the percentile over all of them.
"""

from __future__ import annotations

import math
import platform
import random
import sys
import time

from lutetia.dosimetry.kinetics import TimeActivity, fit_tac

TIMES = (4.0, 24.0, 48.0, 72.0, 96.0, 168.0)
LAMBDA_PHYS = math.log(2) / (6.647 * 24)


def generate_with_truth(
    rng: random.Random, *, one_uptake: bool = False
) -> tuple[TimeActivity, str, float]:
    """One noisy TAC from a random model, its kind and its true TIA (NaN where the uptake
    rate changes between points). ``one_uptake``: one uptake rate per TAC."""
    kind = rng.choice(["mono", "uptake_washout", "bi"])
    a = rng.uniform(20, 200)
    washout = LAMBDA_PHYS + rng.uniform(0.002, 0.03)
    uptake = rng.uniform(0.3, 1.0) if one_uptake and kind == "uptake_washout" else math.nan
    values = []
    for t in TIMES:
        if kind == "mono":
            value = a * math.exp(-washout * t)
        elif kind == "uptake_washout":
            rate = uptake if one_uptake else rng.uniform(0.3, 1.0)
            value = a * (math.exp(-washout * t) - math.exp(-rate * t))
        else:
            value = a * (0.4 * math.exp(-0.2 * t) + 0.6 * math.exp(-washout * t))
        values.append(max(value * rng.gauss(1.0, 0.05), 1e-3))
    if kind == "mono":
        truth = a / washout
    elif kind == "bi":
        truth = a * (0.4 / 0.2 + 0.6 / washout)
    else:
        truth = a * (1 / washout - 1 / uptake)
    curve = TimeActivity(TIMES, tuple(values), tuple(0.05 * v for v in values))
    return curve, kind, truth


def generate(rng: random.Random) -> TimeActivity:
    """One noisy TAC from a random model."""
    return generate_with_truth(rng)[0]


def p95(errors: list[float]) -> str:
    """The 95th percentile of ``errors`` (numpy's, as ``batch_fits.py``), in %."""
    import numpy as np

    finite = [e for e in errors if math.isfinite(e)]
    return f"{100 * np.percentile(finite, 95):.2f} %" if finite else "n/a"


def main() -> None:
    """Time both paths; print models, agreement and the p95 TIA error."""
    import numpy as np

    from lutetia.dosimetry import batch

    arguments = [a for a in sys.argv[1:] if a != "--one-uptake"]
    one_uptake = "--one-uptake" in sys.argv[1:]
    count = int(arguments[0]) if arguments else 10_000
    rng = random.Random(20261126)
    generated = [generate_with_truth(rng, one_uptake=one_uptake) for _ in range(count)]
    curves = [g[0] for g in generated]
    fit_tac(curves[0])  # warm caches
    start, cpu = time.perf_counter(), time.process_time()
    fits = [fit_tac(curve) for curve in curves]
    single_s, single_cpu = time.perf_counter() - start, time.process_time() - cpu
    y = np.array([c.activity_mbq for c in curves])
    sd = np.array([c.sd_mbq for c in curves])
    batch.fit_batch(TIMES, y[:50], sd_mbq=sd[:50])  # warm
    start, cpu = time.perf_counter(), time.process_time()
    batched = batch.fit_batch(TIMES, y, sd_mbq=sd)
    batch_s, batch_cpu = time.perf_counter() - start, time.process_time() - cpu

    chosen: dict[str, int] = {}
    for fit in fits:
        chosen[fit.model] = chosen.get(fit.model, 0) + 1
    same = sum(fit.model == batched.model_of(i) for i, fit in enumerate(fits))
    determined = [i for i in range(count) if batched.max_relative_sd[i] < 1]
    largest = max(
        (abs(fits[i].tia_mbq_h / batched.tia_mbq_h[i] - 1) for i in determined), default=0.0
    )
    exact = [i for i, g in enumerate(generated) if one_uptake or g[1] != "uptake_washout"]
    single_error = [abs(fits[i].tia_mbq_h / generated[i][2] - 1) for i in exact]
    batch_error = [abs(batched.tia_mbq_h[i] / generated[i][2] - 1) for i in exact]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    kinds = "one uptake rate per TAC" if one_uptake else "tac_fits.py's TACs"
    print(f"{kinds}: {count}, 6 points, 5 % noise, weighted; models chosen: {chosen}")
    print(
        f"one TAC at a time (fit_tac): {1e3 * single_s / count:.3f} ms per TAC "
        f"({count / single_s:,.0f} TACs/s, {single_s:.1f} s; CPU {1e3 * single_cpu / count:.3f} ms)"
    )
    print(
        f"all at once (batch.fit_batch): {1e3 * batch_s / count:.4f} ms per TAC "
        f"({batch_s:.2f} s; CPU of all threads {1e3 * batch_cpu / count:.4f} ms); "
        f"{batched.model_counts()}"
    )
    print(
        f"same model: {same}/{count}; determined fits {len(determined)}, largest "
        f"|ΔTIA|/TIA {largest:.1e}"
    )
    print(
        f"p95 |TIA/truth − 1|, {'all' if one_uptake else 'mono and bi'} kinds ({len(exact)}): "
        "one at a time "
        f"{p95(single_error)}, batched {p95(batch_error)}"
    )


if __name__ == "__main__":
    main()
