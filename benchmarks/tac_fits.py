"""Fitting 10,000 organ time–activity curves with automatic model selection.

Run: ``uv run python benchmarks/tac_fits.py [N]``. Each TAC has 6 time points
(4, 24, 48, 72, 96, 168 h) drawn from uptake–washout, mono- and bi-exponential
kinetics with 5 % multiplicative noise and a fixed seed; ``auto`` fits every
model with enough points and selects by AICc. This is the organ path one TAC at
a time (``kinetics.fit_tac``: the batched engine with a batch of one);
``batch_fits.py`` compares it with the former scipy fitter and with whole batches.
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


def generate(rng: random.Random) -> TimeActivity:
    """One noisy TAC from a random model."""
    kind = rng.choice(["mono", "uptake_washout", "bi"])
    a = rng.uniform(20, 200)
    washout = LAMBDA_PHYS + rng.uniform(0.002, 0.03)
    values = []
    for t in TIMES:
        if kind == "mono":
            value = a * math.exp(-washout * t)
        elif kind == "uptake_washout":
            value = a * (math.exp(-washout * t) - math.exp(-rng.uniform(0.3, 1.0) * t))
        else:
            value = a * (0.4 * math.exp(-0.2 * t) + 0.6 * math.exp(-washout * t))
        values.append(max(value * rng.gauss(1.0, 0.05), 1e-3))
    return TimeActivity(TIMES, tuple(values), tuple(0.05 * v for v in values))


def main() -> None:
    """Time the fits and print fits per second."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = random.Random(20261126)
    curves = [generate(rng) for _ in range(count)]
    fit_tac(curves[0])  # import scipy and warm caches
    start = time.perf_counter()
    chosen: dict[str, int] = {}
    for curve in curves:
        model = fit_tac(curve).model
        chosen[model] = chosen.get(model, 0) + 1
    elapsed = time.perf_counter() - start
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"TACs: {count}; models chosen: {chosen}")
    print(
        f"auto (AICc over mono, uptake-washout, bi): {count / elapsed:,.0f} TACs/s, {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
