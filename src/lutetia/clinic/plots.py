"""Server-side SVG plots for the patient page (matplotlib, Agg).

Blood counts are drawn over their CTCAE v5.0 grade bands (the absolute bounds of
:data:`lutetia.clinical.ctcae.TERMS`); PSA over the PCWG3 lines of the latest
next-cycle assessment: 50 % below baseline (response) and 25 % above the nadir
(progression, with ≥ 2 ng/mL).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

from lutetia.cases.model import Case
from lutetia.units import CANONICAL_UNITS

_GRADE_COLOURS = {2: "#fff3c4", 3: "#ffd8a8", 4: "#ffb3b3"}


def _series(case: Case, analyte: str) -> list[tuple[date, float]]:
    from lutetia.guideline.context import Context

    views = Context(case).labs.get(analyte, [])  # type: ignore[call-overload]
    return [(view.day, view.value) for view in views]


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.6), layout="constrained")
    return figure, figure.subplots()


def _svg(figure: Any, axes: Any, case: Case, days: list[date]) -> bytes:
    """The figure as SVG: cycles dotted, the time axis from the first to the last date ± 2 weeks."""
    from datetime import timedelta

    from lutetia.cases.model import day_of

    cycles = [day_of(c.date) for c in (case.course.cycles if case.course else [])]
    for cycle in cycles:
        axes.axvline(cycle, color="#5c7cfa", linewidth=0.8, linestyle=":")
    shown = days + cycles
    if shown:
        axes.set_xlim(min(shown) - timedelta(days=14), max(shown) + timedelta(days=14))
    figure.autofmt_xdate()
    axes.grid(True, linewidth=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def blood_counts(case: Case) -> bytes:
    """Haemoglobin and platelets with CTCAE v5.0 grade 2–4 bands; cycles dotted."""
    from lutetia.clinical.ctcae import TERMS

    figure, axes = _figure()
    right = axes.twinx()
    for analyte, target, colour in (
        ("platelets", axes, "#1c7ed6"),
        ("hemoglobin", right, "#c92a2a"),
    ):
        series = _series(case, analyte)
        term = TERMS[analyte]  # type: ignore[index]
        bounds = sorted(
            ((c.grade, c.bound) for c in term.criteria if c.reference == "absolute"),
            key=lambda item: item[0],
        )
        if analyte == "platelets":
            # grade g spans from the next grade's bound up to its own (grade 4 down to zero)
            for i, (grade, bound) in enumerate(bounds):
                lower = bounds[i + 1][1] if i + 1 < len(bounds) else 0.0
                target.axhspan(
                    lower,
                    bound,
                    color=_GRADE_COLOURS.get(grade, "#eee"),
                    zorder=0,
                    label=f"grade {grade}",
                )
        if series:
            days, values = zip(*series, strict=True)
            target.plot(
                days,
                values,
                marker="o",
                color=colour,
                label=f"{term.name.split(' ')[0]} ({CANONICAL_UNITS[analyte]})",  # type: ignore[index]
            )
        target.set_ylabel(f"{analyte} ({CANONICAL_UNITS[analyte]})")  # type: ignore[index]
        if series:
            # separate scales (platelets up to 450, haemoglobin up to 20 at least), so that
            # the two series do not fall on one another
            floor = 450.0 if analyte == "platelets" else 20.0
            target.set_ylim(0, max(max(v for _, v in series) * 1.15, floor))
    lines = axes.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    axes.legend(lines[0] + more[0], lines[1] + more[1], loc="best", fontsize=7)
    axes.set_title("Blood counts with CTCAE v5.0 grade bands (platelets)", fontsize=9)
    plotted = [day for analyte in ("platelets", "hemoglobin") for day, _ in _series(case, analyte)]
    return _svg(figure, axes, case, plotted)


def psa(case: Case) -> bytes:
    """PSA with the PCWG3 response (−50 % of baseline) and progression (+25 % of nadir) lines."""
    figure, axes = _figure()
    series = _series(case, "psa")
    if series:
        days, values = zip(*series, strict=True)
        axes.plot(days, values, marker="o", color="#2b8a3e", label="PSA (ng/mL)")
        baseline = values[0]
        nadir = min(values)
        axes.axhline(
            baseline * 0.5,
            color="#2b8a3e",
            linestyle="--",
            linewidth=0.8,
            label="PCWG3 response: −50 % of first value",
        )
        axes.axhline(
            max(nadir * 1.25, nadir + 2.0),
            color="#e8590c",
            linestyle="--",
            linewidth=0.8,
            label="PCWG3 progression: +25 % and ≥ 2 ng/mL over nadir",
        )
        axes.legend(loc="best", fontsize=7)
        axes.set_ylim(0, max(*values, nadir * 1.25, nadir + 2.0) * 1.15)
    else:
        axes.text(0.5, 0.5, "no PSA recorded", ha="center", transform=axes.transAxes)
    axes.set_ylabel("PSA (ng/mL)")
    axes.set_title("PSA", fontsize=9)
    return _svg(figure, axes, case, [day for day, _ in series])


PLOTS: dict[str, Callable[[Case], bytes]] = {"counts": blood_counts, "psa": psa}
