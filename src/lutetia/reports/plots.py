"""Plots: a fitted time–activity curve with its points (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lutetia.errors import BadInputError


def plot_tac(points: Any, fit: Any, path: str | Path) -> None:
    """Draw the points (with SD bars when given) and the fitted curve to PNG or SVG."""
    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg"):
        raise BadInputError("--plot", f"{target.name}: the plot must be .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    last = max(points.time_h) * 1.6
    grid = np.linspace(0.0, last, 300)
    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    axis.plot(grid, [fit.activity_mbq(float(t)) for t in grid], label=f"{fit.model} fit")
    axis.errorbar(
        points.time_h, points.activity_mbq, yerr=points.sd_mbq, fmt="o", color="black",
        label="measured",
    )  # fmt: skip
    sd = f" ± {fit.tia_sd_mbq_h:.3g}" if fit.tia_sd_mbq_h else ""
    axis.set_title(f"TIA {fit.tia_mbq_h:.4g}{sd} MBq·h")
    axis.set_xlabel("time after injection (h)")
    axis.set_ylabel("activity (MBq)")
    axis.set_xlim(0, last)
    axis.set_ylim(bottom=0)
    axis.legend()
    figure.tight_layout()
    try:
        figure.savefig(target)
    except OSError as error:
        raise BadInputError("--plot", f"cannot write {path}: {error.strerror}") from None
    finally:
        plt.close(figure)
