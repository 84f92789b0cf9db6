"""Voxel dosimetry: 177Lu kernel computation and the convolution of a 128³ TIA map.

Run: ``uv run python benchmarks/voxel_dose.py [SIZE]`` (default 128). Times the
electron and the scattered-photon Monte Carlo (each once per process), a 4.8 mm
kernel of 11³ and of 21³ voxels, and the FFT convolution of a SIZE³ TIA map
(random, fixed seed) with the 21³ kernel; peak resident memory from
``resource.getrusage`` (the whole process, so it includes Python, numpy and scipy).
"""

from __future__ import annotations

import platform
import resource
import sys
import time


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main(size: int = 128) -> None:
    import numpy as np

    from lutetia.dosimetry.voxel import (
        convolve_dose_gy,
        dose_voxel_kernel,
        electron_tracks,
        scattered_photon_tally,
    )

    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    start = time.perf_counter()
    electron_tracks()
    print(f"electron Monte Carlo (once per process): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    scattered_photon_tally()
    print(f"scattered-photon Monte Carlo (once per process): {time.perf_counter() - start:.2f} s")
    for half_width in (5, 10):
        start = time.perf_counter()
        kernel = dose_voxel_kernel(4.8, half_width_voxels=half_width)
        print(f"kernel 4.8 mm, {2 * half_width + 1}^3: {time.perf_counter() - start:.2f} s")
    rng = np.random.default_rng(1)
    tia = rng.uniform(0.0, 10.0, size=(size, size, size))
    before = _peak_mib()
    start = time.perf_counter()
    dose = convolve_dose_gy(tia, kernel)
    elapsed = time.perf_counter() - start
    print(
        f"convolution {size}^3 with 21^3 kernel: {elapsed:.2f} s; peak RSS {_peak_mib():.0f} MiB "
        f"(before {before:.0f} MiB); max dose {dose.max():.3g} Gy"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 128)
