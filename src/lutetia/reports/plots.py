"""Plots: a fitted time–activity curve with its points (matplotlib, no display).

The caller chooses where the figure goes; the command line writes it to a
temporary file beside the target and renames it (``lutetia.cli.output.atomic_output``),
so the format is given explicitly rather than read from the temporary name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lutetia.errors import BadInputError


def plot_format(path: str | Path) -> str:
    """``png`` or ``svg`` from the file name; anything else is refused (option ``--plot``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise BadInputError("--plot", f"{Path(path).name}: the plot must be .png or .svg")
    return suffix[1:]


def plot_tac(points: Any, fit: Any, path: str | Path, *, image_format: str | None = None) -> None:
    """Draw the points (with SD bars when given) and the fitted curve to PNG or SVG.

    ``image_format`` (``png`` or ``svg``) defaults to the suffix of ``path``.
    """
    target = Path(path)
    chosen = plot_format(target) if image_format is None else image_format
    if chosen not in ("png", "svg"):
        raise BadInputError("--plot", f"{chosen!r}: the plot must be png or svg")
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
        figure.savefig(target, format=chosen)
    except OSError as error:
        raise BadInputError("--plot", f"cannot write {path}: {error.strerror}") from None
    finally:
        plt.close(figure)
