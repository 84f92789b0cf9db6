"""Batched time–activity fits: one engine for one organ TAC or millions of voxel TACs.

The models, bounds, model selection and uncertainty of
:mod:`lutetia.dosimetry.kinetics` (theory: docs/dosimetry.md), fitted to arrays of
TACs shaped (n_tacs, n_times) at once with numpy. Up to :data:`_ONE_BY_ONE` TACs (the
organ path, :func:`lutetia.dosimetry.kinetics.fit_model`, ``select_model``, hence
``lutetia dose tac``, and a study's regions) are fitted one at a time in Python floats
by the same algorithm (:mod:`lutetia.dosimetry.small_batch`), where numpy's cost per
call would be nearly all of the time. The scipy ``curve_fit`` fitter the engine
replaced is kept in the tests (tests/kinetics_reference.py) as an independent
reference, which the engine matches within 10⁻⁶ in TIA where both converge
(tests/test_dosimetry_batch.py says where and why they may differ).

* Models: ``mono`` A₁e^{−λ₁t}; ``uptake_washout`` A₀(e^{−λ_w t} − e^{−λ_u t}),
  fitted as (A₀, λ_w, λ_u − λ_w); ``bi`` and ``tri`` Σ Aᵢe^{−λᵢt}. Bounds as in
  the former scalar fitter: Aᵢ ≥ 0, λ_phys ≤ λ ≤ 50 h⁻¹ (λ_phys = ln 2/T½ of 177Lu,
  ICRP-107 via :mod:`lutetia.nuclides`), 10⁻⁶ ≤ λ_u − λ_w ≤ 50 h⁻¹.
* Optimiser: Levenberg–Marquardt (Marquardt D, J Soc Ind Appl Math
  1963;11:431-441) with Marquardt's diagonal scaling (the running maximum of
  diag JᵀJ, as MINPACK), Nielsen's damping update (Nielsen HB, IMM-REP-1999-05,
  DTU 1999, eq. 2.5), and the box constraints by projection: a parameter on
  a bound whose gradient points out of the box is held on it for that step
  (active set), every step is clipped to the box. The least-squares objective
  is the former scalar fitter's, Σ((A(tᵢ) − yᵢ)/σᵢ)² (σᵢ = 1 without SDs), so a fit
  converges to the same bounded minimum. The mono-exponential, the only model
  of 4-point voxel TACs, is fitted on its profile in λ (the amplitude
  projected out: variable projection, Golub GH & Pereyra V, SIAM J Numer Anal
  1973;10:413-432) by a safeguarded Newton iteration: the same minimum for a
  tenth of the work.
* Starts: the former scalar fitter's two starting values (curve peeling, then a fixed
  alternative); the second start is tried only where the first fit is not good
  enough by the former scalar fitter's rule (reduced χ² ≤ 3 weighted, residual RMS
  ≤ 5 % of the mean activity unweighted), and the lower SSR wins.
* TIA: Σ Aᵢ/λᵢ (MIRD Pamphlet 21, Bolch WE et al., J Nucl Med 2009;50:477-484,
  eq. 6); uptake–washout A₀(1/λ_w − 1/λ_u). Its SD: σ²(Ã) = ∇Ãᵀ Σ ∇Ã (JCGM
  100:2008, GUM, eq. 13), Σ = (JᵀJ)⁻¹ at the optimum (weighted J; the
  pseudo-inverse with scipy's threshold when JᵀJ is near-singular), scaled by
  SSR/(n − k) when no SDs are given (scipy ``curve_fit``'s ``absolute_sigma``
  convention), none when n ≤ k.
* Selection (``model="auto"``): AICc = n ln(SSR/n) + 2k + 2k(k+1)/(n−k−1)
  (Burnham & Anderson 2002, eq. 2.2) over the models with n ≥ k + 2 points;
  the simplest model within ΔAICc < 2 of the best. With 2–3 points only the
  mono-exponential is fitted (no AICc), as in the former scalar fitter.

Rows that cannot be fitted are reported, never raised: each row has a
:class:`Status` (NaN, negative, all-zero or implausible activities, bad SDs,
bad per-row times, or no fit converged). Problems of the whole batch (no time
points, shared times that do not increase, arrays of the wrong shape) raise
:class:`~lutetia.errors.BadInputError` naming the field.

Memory: the work is done in chunks of :data:`CHUNK_TACS` TACs; one chunk of
6-point TACs with three candidate models needs about 100 MB at most.
"""

from __future__ import annotations

import enum
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from lutetia.dosimetry.kinetics import (
    AICC_PREFERENCE,
    MAX_LAMBDA_PER_H,
    MAX_POINTS,
    MIN_SD_MBQ,
    MODELS,
    PARAMETER_COUNT,
    ModelName,
)
from lutetia.dosimetry.plausibility import MAX_ACTIVITY_MBQ, max_time_h
from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    FloatArray = NDArray[np.float64]
    IntArray = NDArray[np.int8]
    BoolArray = NDArray[np.bool_]

#: TACs fitted together: bounds the working memory (about 60 MB for 6-point TACs and three
#: models; 20 MB for 4-point voxel TACs).
CHUNK_TACS: Final[int] = 32_768
#: Most iterations per start (the former scalar fitter allows 2000 function evaluations).
MAX_ITERATIONS: Final[int] = 400
#: Lower bound of λ_u − λ_w in the uptake–washout model (as in the former scalar fitter).
MIN_UPTAKE_EXCESS_PER_H: Final[float] = 1e-6
#: Every model's parameters, padded to the largest (tri-exponential) model.
MAX_PARAMETERS: Final[int] = max(PARAMETER_COUNT.values())
#: Convergence (see :func:`_levenberg_marquardt`): relative step, relative SSR decrease,
#: gradient cosine; a flat valley is a relative SSR decrease below _VALLEY in _WINDOW
#: iterations; a start whose damping exceeds _MAX_DAMPING has stalled. _FTOL holds at every
#: iteration: relaxing it to MINPACK's 1.49e-8 (scipy's default) after a few iterations
#: stopped flat bi-exponential fits as short as the former scalar fitter (TIA 1.2e-6 from the
#: optimum with the SSR 5e-10 above it; tests/test_dosimetry_batch.py).
_XTOL: Final[float] = 1e-10
_FTOL: Final[float] = 1e-10
_GTOL: Final[float] = 1e-11
_WINDOW: Final[int] = 20
_VALLEY: Final[float] = 1e-7
_MAX_DAMPING: Final[float] = 1e30
#: Up to this many TACs a step is solved by LAPACK per TAC, above by vectorised Cholesky.
_SMALL_BATCH: Final[int] = 256
#: Up to this many TACs are fitted one at a time in Python floats (:mod:`small_batch`):
#: about 1.4 ms CPU per 6-point TAC (every model with its uncertainty; 1.6–1.8 ms before
#: the unrolled fits), against 9 ms (2 TACs), 2.9 ms (16), 1.7 ms (32) and 0.6 ms (128) per
#: TAC with numpy (measured 2026-12-02).
_ONE_BY_ONE: Final[int] = 32


class Status(enum.IntEnum):
    """Why a row has (or has no) fit; :data:`REASONS` says it in words."""

    OUTSIDE = -1
    OK = 0
    NOT_FINITE = 1
    NEGATIVE = 2
    ALL_ZERO = 3
    IMPLAUSIBLE = 4
    BAD_SD = 5
    BAD_TIME = 6
    FIT_FAILED = 7
    EXTRAPOLATED = 8


REASONS: Final[dict[Status, str]] = {
    Status.OUTSIDE: "outside the mask: not fitted",
    Status.OK: "fitted",
    Status.NOT_FINITE: "an activity is not a finite number (NaN or infinite)",
    Status.NEGATIVE: "an activity is negative",
    Status.ALL_ZERO: "all activities are zero",
    Status.IMPLAUSIBLE: (
        f"an activity is above {MAX_ACTIVITY_MBQ:g} MBq, more than any administered activity "
        "(is it in kBq or Bq?)"
    ),
    Status.BAD_SD: f"an SD is not a finite value from {MIN_SD_MBQ:g} to {MAX_ACTIVITY_MBQ:g} MBq",
    Status.BAD_TIME: "the times are not finite, increasing, from 0 h to 20 physical half-lives",
    Status.FIT_FAILED: "no fit converged from either starting value (or its TIA is not finite)",
    Status.EXTRAPOLATED: (
        "the fitted TIA is more than 10 times the trapezoid of the points (activity gone "
        "after the first scan: the fit extrapolates a clearance the sampling cannot show); "
        "the trapezoid's TIA is used instead"
    ),
}


def lambda_phys_per_h() -> float:
    """λ_phys = ln 2/T½ of 177Lu (ICRP-107 via :mod:`lutetia.nuclides`), the lower bound of λ."""
    return decay_constant_per_h(nuclide("Lu-177").half_life_h)


def parameter_names(model: ModelName) -> tuple[str, ...]:
    """Names of the reported parameters, as in :class:`lutetia.dosimetry.kinetics.Fit`."""
    if model == "uptake_washout":
        return ("a0_mbq", "lambda_washout_per_h", "lambda_uptake_per_h")
    names: list[str] = []
    for i in range(1, PARAMETER_COUNT[model] // 2 + 1):
        names += [f"a{i}_mbq", f"lambda{i}_per_h"]
    return tuple(names)


def candidate_models(n_points: int) -> tuple[ModelName, ...]:
    """Models compared by AICc for ``n_points`` points: those with n ≥ k + 2."""
    return tuple(m for m in MODELS if n_points >= PARAMETER_COUNT[m] + 2)


def aicc_array(ssr: FloatArray, n: int, k: int) -> FloatArray:
    """AICc of least-squares fits (Burnham & Anderson 2002, eq. 2.2), NaN when n − k − 1 ≤ 0.

    The SSR floor of the former scalar fitter (10⁻²⁴ · max(1, n)) keeps exact fits finite.
    """
    import numpy as np

    if n - k - 1 <= 0:
        return np.full(ssr.shape, np.nan)
    floor = 1e-24 * max(1.0, n)
    with np.errstate(invalid="ignore"):
        return n * np.log(np.maximum(ssr, floor) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def choose_by_aicc(aicc: FloatArray) -> IntArray:
    """Per row of ``aicc`` (columns: models in order of increasing k; NaN: no fit), the
    column of the simplest model within ΔAICc < 2 of the best, or −1 where no model fits.

    >>> import numpy as np
    >>> choose_by_aicc(np.array([[10.0, 8.01], [10.0, 8.0], [np.nan, 3.0], [np.nan, np.nan]]))
    array([ 0,  1,  1, -1], dtype=int8)
    """
    import numpy as np

    fitted = np.isfinite(aicc)
    values = np.where(fitted, aicc, np.inf)
    best = values.min(axis=1, initial=np.inf)
    with np.errstate(invalid="ignore"):  # ∞ − ∞ in rows without any fit
        close = fitted & (values - best[:, None] < AICC_PREFERENCE)
    return np.where(fitted.any(axis=1), np.argmax(close, axis=1), -1).astype(np.int8)


@dataclass(frozen=True)
class ModelFits:
    """One model fitted to every row; NaN (and a :class:`Status`) where a row has no fit.

    ``parameters`` are in the order of ``parameter_names`` (uptake–washout as
    A₀, λ_w, λ_u). ``tail_mbq_h`` is the part of the TIA after each row's last
    point (≥ 0), ``slowest_lambda_per_h`` the slowest λ with a positive
    amplitude: the inputs of :func:`lutetia.dosimetry.kinetics.reliability_warnings`.
    ``max_relative_sd`` is the largest relative standard uncertainty of a
    parameter, √Σᵢᵢ/|pᵢ| (NaN without residual degrees of freedom): above 1
    when the data do not determine a parameter (an uptake or a fast phase
    over before the first point, a component with zero amplitude); such a
    parameter, and a TIA that depends on it, is arbitrary within a flat valley
    of the SSR; ∞ when JᵀJ is numerically singular (a direction the data do not
    determine at all: seen for a fast phase seen at the first point only, whose
    TIA moved by 0.9 % with the SSR 5·10⁻¹¹ lower). ``start`` is the start that
    won (0 peeled, 1 alternative).
    """

    model: ModelName
    n_points: int
    parameter_names: tuple[str, ...]
    parameters: FloatArray
    ssr: FloatArray
    aicc: FloatArray
    tia_mbq_h: FloatArray
    tia_sd_mbq_h: FloatArray
    effective_half_life_h: FloatArray
    tail_mbq_h: FloatArray
    slowest_lambda_per_h: FloatArray
    max_relative_sd: FloatArray
    status: IntArray
    start: IntArray

    def __len__(self) -> int:
        return int(self.status.shape[0])


@dataclass(frozen=True)
class BatchFit:
    """Per row: the chosen model (index into ``models``, −1 where none), its fit and status.

    ``aicc_table`` holds every candidate's AICc (columns in ``models`` order, NaN
    where a model has no fit); ``selected_by_aicc`` is False when the models were
    not compared (a model was forced, or 2–3 points allowed the mono-exponential
    only). ``parameters`` are padded with NaN to :data:`MAX_PARAMETERS` columns;
    the other arrays are those of :class:`ModelFits` for the chosen model.
    """

    models: tuple[ModelName, ...]
    selected_by_aicc: bool
    model_index: IntArray
    parameters: FloatArray
    ssr: FloatArray
    aicc: FloatArray
    tia_mbq_h: FloatArray
    tia_sd_mbq_h: FloatArray
    effective_half_life_h: FloatArray
    tail_mbq_h: FloatArray
    slowest_lambda_per_h: FloatArray
    max_relative_sd: FloatArray
    aicc_table: FloatArray
    status: IntArray
    fits: tuple[ModelFits, ...]

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def model_of(self, row: int) -> ModelName | None:
        """The model chosen for ``row`` (None where the row has no fit)."""
        index = int(self.model_index[row])
        return self.models[index] if index >= 0 else None

    def parameters_of(self, row: int) -> dict[str, float]:
        """The chosen model's parameters of ``row`` by name (empty where the row has no fit)."""
        model = self.model_of(row)
        if model is None:
            return {}
        values = self.parameters[row, : PARAMETER_COUNT[model]]
        return dict(zip(parameter_names(model), (float(v) for v in values), strict=True))

    def model_counts(self) -> dict[str, int]:
        """How many rows took each model."""
        return _model_counts(self.models, self.model_index)

    def failure_counts(self) -> dict[str, int]:
        """How many rows have no fit, by reason (:data:`REASONS`)."""
        return _failure_counts(self.status)


@dataclass(frozen=True)
class VoxelFits:
    """Voxel-wise fits: maps with the images' spatial shape, and what each model took.

    ``model_map`` holds the index into ``models`` (−1 where a voxel has no fit
    or lies outside the mask); ``status_map`` a :class:`Status` (``OUTSIDE``
    outside the mask): the map of where fits failed is ``status_map > 0``.
    """

    models: tuple[ModelName, ...]
    tia_mbq_h: FloatArray
    tia_sd_mbq_h: FloatArray
    model_map: IntArray
    status_map: IntArray
    n_fitted: int
    model_counts: dict[str, int]
    failure_counts: dict[str, int]


def _model_counts(models: tuple[ModelName, ...], index: IntArray) -> dict[str, int]:
    import numpy as np

    counts = np.bincount(index[index >= 0], minlength=len(models))
    return {m: int(c) for m, c in zip(models, counts, strict=True)}


def _failure_counts(status: IntArray) -> dict[str, int]:
    import numpy as np

    codes, counts = np.unique(status[status > 0], return_counts=True)
    return {REASONS[Status(int(c))]: int(n) for c, n in zip(codes, counts, strict=True)}


# --- input checks (arrays are time-major inside: (n_times, n_tacs)) --------------------------


def _as_times(time_h: ArrayLike, n_rows: int, n_points: int) -> tuple[FloatArray, BoolArray]:
    """Times as (n, 1) (shared: checked, raises) or (n, N) (per row: bad rows flagged)."""
    import numpy as np

    times = np.asarray(time_h, dtype=float)
    ok = np.ones(n_rows, dtype=bool)
    if times.ndim == 1:
        if times.shape[0] != n_points:
            raise BadInputError("time_h", f"{times.shape[0]} times for {n_points} activities")
        for i, t in enumerate(times.tolist()):
            if not (math.isfinite(t) and 0 <= t <= max_time_h()):
                raise BadInputError(
                    f"time_h[{i}]",
                    f"{t!r} must be a finite time from 0 to {max_time_h():.0f} h (20 half-lives)",
                )
            if i > 0 and t <= times[i - 1]:
                raise BadInputError(
                    f"time_h[{i}]", f"times must increase ({t:g} h after {times[i - 1]:g} h)"
                )
        return times[:, None], ok
    if times.shape != (n_rows, n_points):
        raise BadInputError(
            "time_h", f"shape {times.shape}: give ({n_points},) or ({n_rows}, {n_points})"
        )
    with np.errstate(invalid="ignore"):
        ok = np.all(np.isfinite(times) & (times >= 0) & (times <= max_time_h()), axis=1)
        ok &= np.all(np.diff(times, axis=1) > 0, axis=1)
    safe = np.where(ok[:, None], times, np.arange(n_points, dtype=float)[None, :])
    return np.ascontiguousarray(safe.T), ok


def _row_status(activity: FloatArray, sd: FloatArray | None, times_ok: BoolArray) -> IntArray:
    """The first reason each TAC (a column) cannot be fitted (``Status.OK`` when it can)."""
    import numpy as np

    status = np.zeros(activity.shape[1], dtype=np.int8)

    def mark(bad: BoolArray, code: Status) -> None:
        status[(status == Status.OK) & bad] = code

    with np.errstate(invalid="ignore"):
        mark(~np.all(np.isfinite(activity), axis=0), Status.NOT_FINITE)
        mark(np.any(activity < 0, axis=0), Status.NEGATIVE)
        mark(np.any(activity > MAX_ACTIVITY_MBQ, axis=0), Status.IMPLAUSIBLE)
        mark(np.all(activity == 0, axis=0), Status.ALL_ZERO)
        if sd is not None:
            good_sd = np.isfinite(sd) & (sd >= MIN_SD_MBQ) & (sd <= MAX_ACTIVITY_MBQ)
            mark(~np.all(good_sd, axis=0), Status.BAD_SD)
    mark(~times_ok, Status.BAD_TIME)
    return status


def _prepare(
    time_h: ArrayLike, activity_mbq: ArrayLike, sd_mbq: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray | None, IntArray]:
    """Row-major inputs checked and turned time-major: times, activities, SDs, status."""
    import numpy as np

    activity = np.asarray(activity_mbq, dtype=float)
    if activity.ndim == 1:
        activity = activity[None, :]
    if activity.ndim != 2:
        raise BadInputError("activity_mbq", f"shape {activity.shape}: give (n_tacs, n_times)")
    n_rows, n_points = activity.shape
    if n_points == 0:
        raise BadInputError("time_h", "no points")
    if n_points > MAX_POINTS:
        raise BadInputError(
            "time_h", f"{n_points} points: more than {MAX_POINTS}, not a time–activity curve"
        )
    times, times_ok = _as_times(time_h, n_rows, n_points)
    sd: FloatArray | None = None
    if sd_mbq is not None:
        sd = np.asarray(sd_mbq, dtype=float)
        if sd.ndim == 1:
            sd = sd[None, :]
        if sd.shape != activity.shape:
            raise BadInputError(
                "activity_sd_mbq", f"shape {sd.shape}: one SD per activity {activity.shape}"
            )
        sd = np.ascontiguousarray(sd.T)
    activity = np.ascontiguousarray(activity.T)
    return times, activity, sd, _row_status(activity, sd, times_ok)


# --- models ---------------------------------------------------------------------------------


def _bounds(model: ModelName, lambda_phys: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bounds, shaped (k, 1), as in the former scalar fitter."""
    import numpy as np

    if model == "uptake_washout":
        lower = [0.0, lambda_phys, MIN_UPTAKE_EXCESS_PER_H]
        upper = [np.inf, MAX_LAMBDA_PER_H, MAX_LAMBDA_PER_H]
    else:
        lower = [0.0, lambda_phys] * (PARAMETER_COUNT[model] // 2)
        upper = [np.inf, MAX_LAMBDA_PER_H] * (PARAMETER_COUNT[model] // 2)
    return np.array(lower)[:, None], np.array(upper)[:, None]


def _evaluate(
    model: ModelName, p: FloatArray, t: FloatArray, *, jacobian: bool
) -> tuple[FloatArray, FloatArray | None]:
    """A(t) (n, N) for parameters ``p`` (k, N) at times ``t`` (n, 1 or N), and ∂A/∂p (k, n, N)."""
    import numpy as np

    k, n_rows = p.shape
    jac = np.empty((k, t.shape[0], n_rows)) if jacobian else None
    if model == "uptake_washout":
        a0, lw, extra = p
        slow = np.exp(-t * lw)
        fast = np.exp(-t * (lw + extra))
        diff = slow - fast
        if jac is not None:
            a0t = t * a0
            jac[0] = diff
            np.multiply(a0t, fast, out=jac[2])
            np.multiply(a0t, -diff, out=jac[1])
        return a0 * diff, jac
    value = np.zeros((t.shape[0], n_rows))
    for j in range(0, k, 2):
        e = np.exp(-t * p[j + 1])
        term = p[j] * e
        value += term
        if jac is not None:
            jac[j] = e
            np.multiply(-t, term, out=jac[j + 1])
    return value, jac


def _cholesky_solve(
    matrix: list[list[FloatArray]], rhs: list[FloatArray]
) -> tuple[list[FloatArray], BoolArray, FloatArray]:
    """Solve M x = b for many small symmetric positive-definite M at once.

    ``matrix[i][j]`` (i ≥ j is read) and ``rhs[i]`` are arrays over the TACs.
    Returns x, whether M was positive definite, and the smallest squared
    Cholesky pivot relative to the largest diagonal element (≈ 1/condition).
    """
    import numpy as np

    k = len(rhs)
    low: list[list[FloatArray]] = [[] for _ in range(k)]
    ok = np.ones(rhs[0].shape, dtype=bool)
    smallest = np.full(rhs[0].shape, np.inf)
    biggest = np.maximum.reduce([matrix[i][i] for i in range(k)])
    for j in range(k):
        s = matrix[j][j].copy()
        for m in range(j):
            s -= low[j][m] ** 2
        positive = s > 0
        ok &= positive
        np.minimum(smallest, np.where(positive, s, 0.0), out=smallest)
        d = np.sqrt(np.where(positive, s, 1.0))
        for i in range(j + 1, k):
            acc = matrix[i][j].copy()
            for m in range(j):
                acc -= low[i][m] * low[j][m]
            low[i].append(acc / d)
        low[j].append(d)
    z: list[FloatArray] = []
    for i in range(k):
        acc = rhs[i].copy()
        for m in range(i):
            acc -= low[i][m] * z[m]
        z.append(acc / low[i][i])
    x: list[FloatArray] = list(z)
    for i in reversed(range(k)):
        acc = z[i].copy()
        for m in range(i + 1, k):
            acc -= low[m][i] * x[m]
        x[i] = acc / low[i][i]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(biggest > 0, smallest / biggest, 0.0)
    return x, ok, ratio


def _normal_equations(jac: FloatArray, residual: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gradient Jᵀr (k, N) and JᵀJ (k, k, N) of each TAC."""
    import numpy as np

    gradient = np.einsum("anN,nN->aN", jac, residual)
    return gradient, np.einsum("anN,bnN->abN", jac, jac)


def _solve(matrix: FloatArray, rhs: FloatArray) -> tuple[FloatArray, BoolArray]:
    """x with M x = b for symmetric positive-definite M (k, k, N), b (k, N); and whether it
    was solved. LAPACK per TAC up to _SMALL_BATCH TACs (fewer numpy calls), then Cholesky
    vectorised over the TACs (:func:`_cholesky_solve`, fewer operations per TAC)."""
    import numpy as np

    k, _, n_rows = matrix.shape
    if n_rows <= _SMALL_BATCH:
        try:
            solved = np.linalg.solve(matrix.transpose(2, 0, 1), rhs.T[:, :, None])
        except np.linalg.LinAlgError:  # one singular M: the Cholesky path flags its TAC
            pass
        else:
            x = np.asarray(solved[:, :, 0].T, dtype=np.float64)
            return x, np.all(np.isfinite(x), axis=0)
    lists = [[matrix[i, j] for j in range(k)] for i in range(k)]
    solution, ok, _ = _cholesky_solve(lists, list(rhs))
    return np.array(solution), ok


def _weighted(
    model: ModelName, p: FloatArray, t: FloatArray, y: FloatArray, w: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Weighted residuals (A(t) − y)/σ (n, N) and Jacobian (k, n, N) at ``p``."""
    value, jac = _evaluate(model, p, t, jacobian=True)
    assert jac is not None
    value -= y
    if w is not None:
        value *= w
        jac *= w
    return value, jac


def _levenberg_marquardt(
    model: ModelName,
    *,
    t: FloatArray,
    y: FloatArray,
    w: FloatArray | None,
    p0: FloatArray,
    bounds: tuple[FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Bounded Levenberg–Marquardt from ``p0`` (k, N): parameters, SSR, converged.

    ``w`` holds 1/σ (None: unweighted). Converged means one of MINPACK's tests
    (Moré JJ, Garbow BS, Hillstrom KE, User Guide for MINPACK-1, ANL-80-74,
    1980), tighter than scipy's defaults: an accepted step that lowers the
    SSR, actually and as predicted, by at most _FTOL of it; a rejected step
    that changes no parameter by more than _XTOL of it; a projected gradient
    whose cosine with each column of J is at most _GTOL (columns scaled by the
    largest norm seen, so that a direction that has become invisible in the
    data, an uptake or a fast phase over before the first point, does not
    block it); an exact fit; or a valley too flat to follow (the SSR falls by
    less than _VALLEY of it in _WINDOW iterations, about MINPACK's ftol per
    step). TACs leave the working set as they converge.
    """
    import numpy as np

    lower, upper = bounds
    k, n_rows = p0.shape
    out_p = np.full((k, n_rows), np.nan)
    out_ssr = np.full(n_rows, np.nan)
    out_ok = np.zeros(n_rows, dtype=bool)
    if n_rows == 0:
        return out_p, out_ssr, out_ok
    shared_t = t.shape[1] == 1
    rows = np.arange(n_rows)
    p = p0.copy()
    r, jac = _weighted(model, p, t, y, w)
    ssr = (r * r).sum(axis=0)
    gradient, normal = _normal_equations(jac, r)
    diagonal = np.arange(k)
    scale = normal[diagonal, diagonal].copy()
    scale[~(scale > 0)] = 1.0
    damping = np.full(n_rows, 1e-3)
    growth = np.full(n_rows, 2.0)
    weighted_y = y if w is None else y * w
    floor = 1e-28 * (weighted_y * weighted_y).sum(axis=0)
    converged = np.zeros(n_rows, dtype=bool)
    finished = np.zeros(n_rows, dtype=bool)
    reference = ssr.copy()
    for iteration in range(1, MAX_ITERATIONS + 1):
        # Active set: a parameter on a bound whose gradient points out of the box.
        free = ~(((p <= lower) & (gradient > 0)) | ((p >= upper) & (gradient < 0)))
        matrix = normal * (free[:, None] & free[None, :])
        matrix[diagonal, diagonal] = np.where(
            free, normal[diagonal, diagonal] + damping * scale, 1.0
        )
        solution, solved = _solve(matrix, -gradient * free)
        trial = np.clip(p + solution, lower, upper)
        step = trial - p
        r_new, jac_new = _weighted(model, trial, t, y, w)
        ssr_new = (r_new * r_new).sum(axis=0)
        accept = solved & (ssr_new < ssr) & ~finished
        h_step = np.einsum("abN,bN->aN", normal, step)
        predicted = -2 * np.sum(gradient * step, axis=0) - np.sum(step * h_step, axis=0)
        drop = ssr - ssr_new
        rho = np.where(predicted > 0, drop / predicted, 0.0)
        small_step = np.all(np.abs(step) <= _XTOL * np.abs(p), axis=0)
        slow = (drop <= _FTOL * ssr) & (predicted <= _FTOL * ssr)
        done = (accept & slow) | (~accept & solved & small_step)
        # Nielsen's damping update.
        damping = np.where(
            accept, damping * np.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), damping * growth
        )
        growth = np.where(accept, 2.0, growth * 2)
        if np.any(accept):
            p = np.where(accept, trial, p)
            ssr = np.where(accept, ssr_new, ssr)
            g_new, n_new = _normal_equations(jac_new, r_new)
            gradient = np.where(accept, g_new, gradient)
            normal = np.where(accept, n_new, normal)
            scale = np.maximum(scale, np.where(accept, n_new[diagonal, diagonal], 0.0))
        if model != "uptake_washout":
            moved = _revive_components(
                model, p, t=t, y=y, w=w, finished=finished, lambda_phys=lower[1, 0]
            )
            if moved.size:
                r_m, jac_m = _weighted(
                    model, p[:, moved], t if shared_t else t[:, moved], y[:, moved],
                    None if w is None else w[:, moved],
                )  # fmt: skip
                g_m, n_m = _normal_equations(jac_m, r_m)
                gradient[:, moved] = g_m
                normal[:, :, moved] = n_m
                scale[:, moved] = np.maximum(scale[:, moved], n_m[diagonal, diagonal])
                done[moved] = False
        free = ~(((p <= lower) & (gradient > 0)) | ((p >= upper) & (gradient < 0)))
        cosine = np.abs(gradient * free) / np.sqrt(scale * ssr)
        done |= np.all(cosine <= _GTOL, axis=0) | (ssr <= floor)
        if iteration % _WINDOW == 0:
            done |= reference - ssr <= _VALLEY * ssr
            reference = ssr.copy()
        done &= np.isfinite(ssr)
        converged |= done & ~finished
        finished |= done | (damping > _MAX_DAMPING) | ~np.all(np.isfinite(p), axis=0)
        if np.count_nonzero(finished) >= max(1, rows.size // 8):
            out_p[:, rows[finished]] = p[:, finished]
            out_ssr[rows[finished]] = ssr[finished]
            out_ok[rows[finished]] = converged[finished]
            keep = ~finished
            if not np.any(keep):
                return out_p, out_ssr, out_ok
            rows, p, ssr, gradient = rows[keep], p[:, keep], ssr[keep], gradient[:, keep]
            normal = normal[:, :, keep]
            scale, damping, growth = scale[:, keep], damping[keep], growth[keep]
            floor, y, converged = floor[keep], y[:, keep], converged[keep]
            reference, finished = reference[keep], finished[keep]
            t = t if shared_t else t[:, keep]
            w = None if w is None else w[:, keep]
    out_p[:, rows] = p
    out_ssr[rows] = ssr
    out_ok[rows] = converged
    return out_p, out_ssr, out_ok


def _revive_components(
    model: ModelName,
    p: FloatArray,
    *,
    t: FloatArray,
    y: FloatArray,
    w: FloatArray | None,
    finished: BoolArray,
    lambda_phys: float,
) -> NDArray[np.intp]:
    """Move the rate of each component whose amplitude sits on 0 to where adding the
    component would lower the SSR most; returns the TACs changed (``p`` is updated).

    With Aⱼ = 0 the rate λⱼ has no effect on the SSR and no gradient, so
    Levenberg–Marquardt cannot move it, and the fit can stall on the face
    Aⱼ = 0 although a component with another rate would fit better (the
    optimum the former scalar fitter, unbounded in A during its path, can reach).
    For these TACs the derivative ∂SSR/∂Aⱼ = 2 Σ rᵢ wᵢ² e^{−λtᵢ} is evaluated
    over 40 rates from λ_phys to 50 h⁻¹, and λⱼ is set to the most negative;
    where none is negative the component stays off. The SSR is unchanged.
    """
    import numpy as np

    changed: list[NDArray[np.intp]] = []
    for j in range(0, p.shape[0], 2):
        idle = np.flatnonzero((p[j] <= 0) & ~finished)
        if idle.size == 0:
            continue
        sub_t = t if t.shape[1] == 1 else t[:, idle]
        sub_w = None if w is None else w[:, idle]
        residual, _ = _weighted(model, p[:, idle], sub_t, y[:, idle], sub_w)
        if sub_w is not None:
            residual = residual * sub_w
        rates = np.geomspace(lambda_phys, MAX_LAMBDA_PER_H, 40)
        derivative = np.einsum("ni,gni->gi", residual, np.exp(-sub_t[None] * rates[:, None, None]))
        best = np.argmin(derivative, axis=0)
        helps = derivative[best, np.arange(idle.size)] < 0
        if np.any(helps):
            p[j + 1, idle[helps]] = rates[best[helps]]
            changed.append(idle[helps])
    return np.unique(np.concatenate(changed)) if changed else np.zeros(0, dtype=np.intp)


def _mono_profile(
    lam: FloatArray, t: FloatArray, yw: FloatArray, log_w: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The mono-exponential with its amplitude profiled out (variable projection).

    With ẽᵢ = wᵢe^{−λtᵢ} (wᵢ = 1/σᵢ) and ỹᵢ = wᵢyᵢ, the best amplitude is
    A = S₁/S₂ (S₁ = Σỹẽ > 0 for non-negative, not all-zero data; S₂ = Σẽ²) and
    SSR = Σỹ² − S₁²/S₂, so the fit maximises L(λ) = 2 ln S₁ − ln S₂, with
    L' = 2(μ₂ − μ₁) = −2 Σ tẽ(ỹ − Aẽ)/S₁ and L'' = 2(V₁ − 2V₂), μ and V being the mean and
    variance of t under the weights ỹẽ (1) and ẽ² (2) (Golub GH, Pereyra V,
    SIAM J Numer Anal 1973;10:413-432). Returns L, L', L''.
    """
    import numpy as np

    exponent = -t * lam
    if log_w is not None:
        exponent += log_w
    e = np.exp(exponent)
    ye = yw * e
    e2 = e * e
    yet, e2t = ye * t, e2 * t
    s1, s1t, s1tt = ye.sum(axis=0), yet.sum(axis=0), (yet * t).sum(axis=0)
    s2, s2t, s2tt = e2.sum(axis=0), e2t.sum(axis=0), (e2t * t).sum(axis=0)
    mean1, mean2 = s1t / s1, s2t / s2
    value = 2 * np.log(s1) - np.log(s2)
    # L' = 2(μ₂ − μ₁) = −2 Σ tẽ(ỹ − Aẽ)/S₁: from the residuals, which does not cancel
    # when one heavily weighted point dominates both means.
    residual = yw - (s1 / s2) * e
    slope = -2 * (residual * e * t).sum(axis=0) / s1
    curvature = 2 * ((s1tt / s1 - mean1**2) - 2 * (s2tt / s2 - mean2**2))
    return value, slope, curvature


def _fit_mono(
    t: FloatArray, y: FloatArray, w: FloatArray | None, lam0: FloatArray, lower: float
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Mono-exponential fit: safeguarded Newton on the profile L(λ) of :func:`_mono_profile`.

    λ stays in [``lower`` = λ_phys, 50 h⁻¹]; each step is Newton's (where
    L'' < 0, else towards higher L) within a trust radius relative to λ, and
    is accepted only if L does not fall. Converged: a step below 10⁻¹³ λ, or λ
    on a bound with L' pointing out of the box. The least-squares minimum is
    the one Levenberg–Marquardt reaches in (A, λ), with a tenth of the work:
    what makes voxel-wise fits fast. Returns (A, λ) as (2, N), SSR, converged.
    """
    import numpy as np

    upper = MAX_LAMBDA_PER_H
    n_rows = y.shape[1]
    out_p = np.full((2, n_rows), np.nan)
    out_ssr = np.full(n_rows, np.nan)
    out_ok = np.zeros(n_rows, dtype=bool)
    if n_rows == 0:
        return out_p, out_ssr, out_ok
    shared_t = t.shape[1] == 1
    t_all, y_all, w_all = t, y, w
    yw = y if w is None else y * w
    log_w = None if w is None else np.log(w)
    rows = np.arange(n_rows)
    lam = np.clip(lam0, lower, upper)
    value, slope, curvature = _mono_profile(lam, t, yw, log_w)
    radius = np.ones(n_rows)
    converged = np.zeros(n_rows, dtype=bool)
    finished = np.zeros(n_rows, dtype=bool)
    for _ in range(MAX_ITERATIONS):
        newton = np.where(curvature < 0, -slope / curvature, np.sign(slope) * np.inf)
        # Newton converges quadratically: after a predicted step below 10⁻⁶ λ, taken
        # without a further check, λ is within ~10⁻¹¹ λ of the optimum.
        on_bound = ((lam <= lower) & (slope <= 0)) | ((lam >= upper) & (slope >= 0))
        last = (np.abs(newton) <= 1e-6 * lam) & ~on_bound & ~finished & np.isfinite(value)
        lam = np.where(last, np.clip(lam + np.where(last, newton, 0.0), lower, upper), lam)
        finished |= (on_bound | last) & np.isfinite(value)
        converged |= finished
        trial = np.clip(lam + np.clip(newton, -radius * lam, radius * lam), lower, upper)
        t_value, t_slope, t_curvature = _mono_profile(trial, t, yw, log_w)
        moved = np.abs(trial - lam)
        accept = (t_value >= value) & ~finished
        lam = np.where(accept, trial, lam)
        value = np.where(accept, t_value, value)
        slope = np.where(accept, t_slope, slope)
        curvature = np.where(accept, t_curvature, curvature)
        radius = np.where(accept, np.minimum(2 * radius, 1.0), moved / lam / 4)
        stop = ((moved <= 1e-13 * lam) | (radius <= 1e-15)) & np.isfinite(value) & ~finished
        converged |= stop
        finished |= stop | ~np.isfinite(value) | ~np.isfinite(lam)
        if np.count_nonzero(finished) >= max(1, rows.size // 8):
            done = finished
            out_p[1, rows[done]] = lam[done]
            out_ok[rows[done]] = converged[done]
            keep = ~done
            if not np.any(keep):
                break
            rows, lam, value, slope = rows[keep], lam[keep], value[keep], slope[keep]
            curvature, radius, finished = curvature[keep], radius[keep], finished[keep]
            converged, yw = converged[keep], yw[:, keep]
            t = t if shared_t else t[:, keep]
            log_w = None if log_w is None else log_w[:, keep]
    else:
        out_p[1, rows] = lam
        out_ok[rows] = converged
    # The amplitude at the final λ, A = S₁/S₂, and the SSR from the residuals
    # (Σỹ² − S₁²/S₂ would cancel for a good fit).
    e = np.exp(-t_all * out_p[1])
    if w_all is None:
        out_p[0] = (y_all * e).sum(axis=0) / (e * e).sum(axis=0)
        residual = out_p[0] * e - y_all
    else:
        ew = e * w_all
        out_p[0] = (y_all * w_all * ew).sum(axis=0) / (ew * ew).sum(axis=0)
        residual = out_p[0] * ew - y_all * w_all
    out_ssr[:] = (residual * residual).sum(axis=0)
    out_ok &= np.isfinite(out_ssr) & np.all(np.isfinite(out_p), axis=0)
    return out_p, out_ssr, out_ok


# --- starting values ------------------------------------------------------------------------


def _log_linear(
    t: FloatArray, y: FloatArray, fallback_a: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(A₀, λ) of the least-squares line through ln y over each TAC's positive values.

    TACs with fewer than two positive values get (``fallback_a``, 0.01 h⁻¹), as in the
    scalar fitter.
    """
    import numpy as np

    use = y > 0
    count = use.sum(axis=0)
    tt = np.broadcast_to(t, y.shape)
    log_y = np.log(np.where(use, y, 1.0))
    c = np.maximum(count, 1)
    mx = np.sum(tt * use, axis=0) / c
    my = np.sum(log_y * use, axis=0) / c
    dx = (tt - mx) * use
    sxx = np.sum(dx * dx, axis=0)
    sxx = np.where(sxx == 0, 1.0, sxx)
    slope = np.sum(dx * (log_y - my), axis=0) / sxx
    enough = count >= 2
    a0 = np.where(enough, np.exp(my - slope * mx), fallback_a)
    return a0, np.where(enough, -slope, 0.01)


def _start_values(
    model: ModelName, t: FloatArray, y: FloatArray, lambda_phys: float
) -> tuple[FloatArray, FloatArray]:
    """The former scalar fitter's two starts, each (k, N): curve peeling, then a fixed
    alternative."""
    import numpy as np

    n = y.shape[0]
    peak = y.max(axis=0)
    lp = np.full_like(peak, lambda_phys)
    if model == "mono":
        a0, lam = _log_linear(t, y, peak)
        return np.array([a0, np.maximum(lam, lp * 1.01)]), np.array([peak, lp * 1.01])
    tail = max(2, n // 2)
    a_late, l_late = _log_linear(t[-tail:], y[-tail:], y[-tail:].max(axis=0))
    l_late = np.maximum(l_late, lp * 1.01)
    head = max(2, n - tail)
    t_early = np.broadcast_to(t[:head], (head, y.shape[1]))
    early = y[:head] - a_late * np.exp(-l_late * t_early)
    enough = np.count_nonzero(early > 0, axis=0) >= 2
    a_fit, l_fit = _log_linear(t_early, early, peak)
    a_early = np.where(enough, a_fit, peak * 0.3)
    l_early = np.where(enough, np.maximum(l_fit, l_late * 2), np.maximum(0.5, l_late * 10))
    ones = np.ones_like(peak)
    if model == "uptake_washout":
        return (
            np.array([a_late, l_late, ones]),
            np.array([peak * 1.5, l_late, 0.2 * ones]),
        )
    if model == "bi":
        return (
            np.array([a_early, l_early, a_late, l_late]),
            np.array([peak * 0.3, 2.0 * ones, peak, lp * 1.2]),
        )
    return (
        np.array([a_early * 0.5, l_early * 3, a_early * 0.5, l_early, a_late, l_late]),
        np.array([peak * 0.2, 5.0 * ones, peak * 0.4, 0.1 * ones, peak * 0.6, lp * 1.2]),
    )


def _inside(
    start: FloatArray, fallback: FloatArray, bounds: tuple[FloatArray, FloatArray]
) -> FloatArray:
    """A start moved 1e-9 inside the box, as in the former scalar fitter; non-finite values (an
    overflowing peeled start) are replaced by the alternative start."""
    import numpy as np

    lower, upper = bounds
    start = np.where(np.isfinite(start), start, fallback)
    return np.minimum(np.maximum(start, lower + 1e-9), upper - 1e-9)


# --- one model ------------------------------------------------------------------------------


def _good_enough(ssr: FloatArray, y: FloatArray, k: int, weighted: bool) -> BoolArray:
    """The former scalar fitter's rule for skipping the second start.

    Weighted: reduced χ² ≤ 3; unweighted: residual RMS ≤ 5 % of the mean activity.
    """
    import numpy as np

    n = y.shape[0]
    if weighted:
        good: BoolArray = ssr / max(n - k, 1) <= 3.0
    else:
        good = np.sqrt(ssr / n) <= 0.05 * y.mean(axis=0)
    return good


def _tia_terms(
    model: ModelName, p: FloatArray, last_t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """TIA, its gradient (k, N), the effective half-life, the tail after ``last_t`` (≥ 0)
    and the slowest λ with a positive amplitude (NaN if none).

    TIA = Σ Aᵢ/λᵢ (MIRD Pamphlet 21, eq. 6); uptake–washout A₀(1/λ_w − 1/λ_u).
    The effective half-life is ln 2/λ₁ (mono, uptake–washout: λ_w) or, for
    bi and tri, that of the mono-exponential with the same A(0) and TIA,
    ln 2 · TIA/A(0), as in the former scalar fitter.
    """
    import numpy as np

    ln2 = math.log(2)
    if model == "uptake_washout":
        a0, lw, extra = p
        lu = lw + extra
        tia = a0 * (1 / lw - 1 / lu)
        gradient = np.array([1 / lw - 1 / lu, a0 * (-1 / lw**2 + 1 / lu**2), a0 / lu**2])
        tail = a0 * np.exp(-lw * last_t) / lw - a0 * np.exp(-lu * last_t) / lu
        slowest = np.where(a0 > 0, lw, np.nan)
        return tia, gradient, ln2 / lw, np.maximum(tail, 0.0), slowest
    amplitudes, lambdas = p[0::2], p[1::2]
    tia = np.sum(amplitudes / lambdas, axis=0)
    gradient = np.empty_like(p)
    gradient[0::2] = 1 / lambdas
    gradient[1::2] = -amplitudes / lambdas**2
    tail = np.sum(amplitudes * np.exp(-lambdas * last_t) / lambdas, axis=0)
    slowest = np.min(np.where(amplitudes > 0, lambdas, np.inf), axis=0)
    slowest = np.where(np.isfinite(slowest), slowest, np.nan)
    if model == "mono":
        effective = ln2 / p[1]
    else:
        effective = ln2 * tia / np.maximum(np.sum(amplitudes, axis=0), 1e-300)
    return tia, gradient, effective, np.maximum(tail, 0.0), slowest


def _covariance_terms(
    model: ModelName,
    p: FloatArray,
    t: FloatArray,
    w: FloatArray | None,
    gradient: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """∇Ãᵀ (JᵀJ)⁻¹ ∇Ã (GUM eq. 13) and diag (JᵀJ)⁻¹ (k, N) at the optimum, weighted J.

    JᵀJ is scaled to a unit diagonal and solved by Cholesky; where it is
    near-singular (smallest squared pivot ≤ 10⁻¹², or a column of J vanishes)
    the pseudo-inverse with scipy ``curve_fit``'s threshold (s > ε·max(n, k)·s₁)
    is used instead, as ``curve_fit`` does after a bounded fit. Where that
    threshold drops a singular value, diag (JᵀJ)⁻¹ is ∞ (the data do not
    determine that direction), so ``max_relative_sd`` flags the fit.
    """
    import numpy as np

    k, n_rows = p.shape
    _, jac = _evaluate(model, p, t, jacobian=True)
    assert jac is not None
    if w is not None:
        jac *= w
    _, normal = _normal_equations(jac, np.zeros((t.shape[0], n_rows)))
    norms = np.sqrt(normal[np.arange(k), np.arange(k)])
    inv = 1 / np.where(norms > 0, norms, 1.0)
    scaled = [[normal[i, j] * inv[i] * inv[j] for j in range(k)] for i in range(k)]
    x, ok, pivot = _cholesky_solve(scaled, list(gradient * inv))
    variance = np.sum(gradient * inv * np.array(x), axis=0)
    diagonal = np.empty((k, n_rows))
    for i in range(k):
        unit = [np.full(n_rows, float(i == j)) for j in range(k)]
        diagonal[i] = _cholesky_solve(scaled, unit)[0][i] * inv[i] ** 2
    poor = ~(ok & (pivot > 1e-12) & np.all(norms > 0, axis=0)) | ~np.isfinite(variance)
    if np.any(poor):
        sub = np.transpose(jac[:, :, poor], (2, 1, 0))  # (m, n, k)
        finite = np.all(np.isfinite(sub), axis=(1, 2))
        values = np.full(int(np.count_nonzero(poor)), np.nan)
        diagonals = np.full((k, values.size), np.nan)
        if np.any(finite):
            _, sv, vt = np.linalg.svd(sub[finite], full_matrices=False)
            threshold = np.finfo(float).eps * max(sub.shape[1], k) * sv[:, :1]
            # Activities near the smallest float (1e-173 MBq) leave singular values whose
            # square underflows: 1/s² is then infinite, as exact arithmetic gives within the
            # float range; numpy's warning about it is not an error of the fit.
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                inverse = np.where(sv > threshold, 1 / np.where(sv > 0, sv, 1.0) ** 2, 0.0)
                projected = np.einsum("mij,jm->mi", vt, gradient[:, poor][:, finite])
                values[finite] = np.sum(projected**2 * inverse, axis=1)
                # A dropped direction is one the data do not determine: its parameters'
                # variance is unbounded (the TIA variance keeps curve_fit's pseudo-inverse
                # convention).
                dropped = np.any(sv <= threshold, axis=1)
                diagonals[:, finite] = np.where(
                    dropped, np.inf, np.einsum("mij,mi->jm", vt**2, inverse)
                )
        variance[poor] = values
        diagonal[:, poor] = diagonals
    return variance, diagonal


def _fit_rows(
    model: ModelName, t: FloatArray, y: FloatArray, sd: FloatArray | None
) -> dict[str, FloatArray]:
    """Fit ``model`` to time-major TACs (n, N) that passed the input checks.

    Up to :data:`_ONE_BY_ONE` TACs are fitted one at a time in Python floats
    (:mod:`lutetia.dosimetry.small_batch`: the same algorithm without numpy's cost per
    call, which dominates on a few TACs); more with numpy, all at once.
    """
    if y.shape[1] <= _ONE_BY_ONE:
        return _fit_rows_one_by_one(model, t, y, sd)
    return _fit_rows_numpy(model, t, y, sd)


def _fit_rows_numpy(
    model: ModelName, t: FloatArray, y: FloatArray, sd: FloatArray | None
) -> dict[str, FloatArray]:
    """:func:`_fit_rows` with numpy, all TACs at once."""
    import numpy as np

    k = PARAMETER_COUNT[model]
    n, n_rows = y.shape
    lambda_phys = lambda_phys_per_h()
    bounds = _bounds(model, lambda_phys)
    w = None if sd is None else 1 / sd
    first, second = _start_values(model, t, y, lambda_phys)
    first, second = _inside(first, second, bounds), _inside(second, second, bounds)
    if model == "mono":
        p, ssr, ok = _fit_mono(t, y, w, first[1], lambda_phys)
    else:
        p, ssr, ok = _levenberg_marquardt(model, t=t, y=y, w=w, p0=first, bounds=bounds)
    start = np.where(ok, 0, -1).astype(np.int8)
    again = ~(ok & _good_enough(ssr, y, k, sd is not None))
    if np.any(again):
        rows = np.flatnonzero(again)
        sub_t = t if t.shape[1] == 1 else t[:, rows]
        sub_w = None if w is None else w[:, rows]
        if model == "mono":
            p2, ssr2, ok2 = _fit_mono(sub_t, y[:, rows], sub_w, second[1, rows], lambda_phys)
        else:
            p2, ssr2, ok2 = _levenberg_marquardt(
                model, t=sub_t, y=y[:, rows], w=sub_w, p0=second[:, rows], bounds=bounds
            )
        better = ok2 & (~ok[rows] | (ssr2 < ssr[rows]))
        won = rows[better]
        p[:, won], ssr[won], ok[won], start[won] = p2[:, better], ssr2[better], True, 1
    tia, gradient, effective, tail, slowest = _tia_terms(model, p, t[-1])
    ok &= np.isfinite(tia)
    variance = np.full(n_rows, np.nan)
    parameter_variance = np.full((k, n_rows), np.nan)
    if n > k and np.any(ok):
        sub_t = t if t.shape[1] == 1 else t[:, ok]
        variance[ok], parameter_variance[:, ok] = _covariance_terms(
            model, p[:, ok], sub_t, None if w is None else w[:, ok], gradient[:, ok]
        )
        if sd is None:  # curve_fit without absolute_sigma: Σ scaled by SSR/(n − k)
            variance *= ssr / (n - k)
            parameter_variance *= ssr / (n - k)
    tia_sd = np.where((variance >= 0) & np.isfinite(variance), np.sqrt(variance), np.nan)
    # The largest relative standard uncertainty of a parameter (inf for a zero one).
    relative = np.sqrt(np.abs(parameter_variance)) / np.abs(p)
    relative_sd = np.where(np.isnan(relative), np.inf, relative).max(axis=0)
    relative_sd[np.all(np.isnan(parameter_variance), axis=0)] = np.nan
    shown = p.copy()
    if model == "uptake_washout":
        shown[2] = p[1] + p[2]
    bad = ~ok
    for array in (tia, tia_sd, effective, tail, slowest, ssr, relative_sd):
        array[bad] = np.nan
    shown[:, bad] = np.nan
    start[bad] = -1
    return {
        "parameters": shown.T, "ssr": ssr, "aicc": aicc_array(ssr, n, k), "tia_mbq_h": tia,
        "tia_sd_mbq_h": tia_sd, "effective_half_life_h": effective, "tail_mbq_h": tail,
        "slowest_lambda_per_h": slowest, "max_relative_sd": relative_sd, "ok": ok,
        "start": start,
    }  # fmt: skip


def _fit_rows_one_by_one(
    model: ModelName, t: FloatArray, y: FloatArray, sd: FloatArray | None
) -> dict[str, FloatArray]:
    """:func:`_fit_rows` one TAC at a time (:func:`lutetia.dosimetry.small_batch.fit_row`);
    a TAC that needs numpy's inf and NaN arithmetic goes to the numpy path alone."""
    import numpy as np

    from lutetia.dosimetry.small_batch import Unsupported, fit_row

    lambda_phys = lambda_phys_per_h()
    shared = t.shape[1] == 1
    times = t[:, 0].tolist() if shared else None
    rows: list[dict[str, float | list[float]]] = []
    for i in range(y.shape[1]):
        row_t = times if times is not None else t[:, i].tolist()
        row_sd = None if sd is None else sd[:, i].tolist()
        try:
            rows.append(fit_row(model, row_t, y[:, i].tolist(), row_sd, lambda_phys))
        except Unsupported:
            column = slice(i, i + 1)
            alone = _fit_rows_numpy(
                model, t if shared else t[:, column], y[:, column],
                None if sd is None else sd[:, column],
            )  # fmt: skip
            rows.append({name: values[0].tolist() for name, values in alone.items()})
    result = {name: np.array([row[name] for row in rows], dtype=float) for name in _PER_ROW}
    result["parameters"] = np.array([row["parameters"] for row in rows], dtype=float).reshape(
        len(rows), PARAMETER_COUNT[model]
    )
    result["ok"] = np.array([bool(row["ok"]) for row in rows], dtype=bool)
    result["start"] = np.array([row["start"] for row in rows], dtype=np.int8)
    return result


_PER_ROW: Final[tuple[str, ...]] = (
    "ssr", "aicc", "tia_mbq_h", "tia_sd_mbq_h", "effective_half_life_h", "tail_mbq_h",
    "slowest_lambda_per_h", "max_relative_sd",
)  # fmt: skip


def _fit_all(
    models: tuple[ModelName, ...],
    times: FloatArray,
    activity: FloatArray,
    sd: FloatArray | None,
    status: IntArray,
) -> tuple[ModelFits, ...]:
    """Fit each model to every valid TAC (time-major inputs), :data:`CHUNK_TACS` at a time."""
    import numpy as np

    n, n_rows = activity.shape
    results = []
    with np.errstate(all="ignore"):
        for model in models:
            k = PARAMETER_COUNT[model]
            out = {name: np.full(n_rows, np.nan) for name in _PER_ROW}
            parameters = np.full((n_rows, k), np.nan)
            start = np.full(n_rows, -1, dtype=np.int8)
            model_status = status.copy()
            for begin in range(0, n_rows, CHUNK_TACS):
                chunk = np.arange(begin, min(begin + CHUNK_TACS, n_rows))
                rows = chunk[status[chunk] == Status.OK]
                if rows.size == 0:
                    continue
                result = _fit_rows(
                    model, times if times.shape[1] == 1 else times[:, rows], activity[:, rows],
                    None if sd is None else sd[:, rows],
                )  # fmt: skip
                for name, values in out.items():
                    values[rows] = result[name]
                parameters[rows] = result["parameters"]
                start[rows] = result["start"]
                model_status[rows[~result["ok"].astype(bool)]] = Status.FIT_FAILED
            fitted = ModelFits(
                model=model, n_points=n, parameter_names=parameter_names(model),
                parameters=parameters, ssr=out["ssr"], aicc=out["aicc"],
                tia_mbq_h=out["tia_mbq_h"], tia_sd_mbq_h=out["tia_sd_mbq_h"],
                effective_half_life_h=out["effective_half_life_h"],
                tail_mbq_h=out["tail_mbq_h"], slowest_lambda_per_h=out["slowest_lambda_per_h"],
                max_relative_sd=out["max_relative_sd"], status=model_status, start=start,
            )  # fmt: skip
            results.append(fitted)
    return tuple(results)


def _models_for(model: str, n: int) -> tuple[tuple[ModelName, ...], bool]:
    """The models to fit for ``model`` ("auto" or one name) and ``n`` points, and whether
    they are compared by AICc (the rules of :func:`lutetia.dosimetry.kinetics.select_model`)."""
    if model == "auto":
        candidates = candidate_models(n)
        if candidates:
            return candidates, True
        if n < 2:
            raise BadInputError(
                "points", "one point: use a single-time-point method (lutetia dose stp)"
            )
        return ("mono",), False
    if model not in PARAMETER_COUNT:
        raise BadInputError("--model", f"{model!r} is not one of auto, {', '.join(MODELS)}")
    name: ModelName = model
    k = PARAMETER_COUNT[name]
    if n < k:
        raise BadInputError(
            "--model", f"{name} has {k} parameters but the table has only {n} points"
        )
    return (name,), False


def _select(fits: tuple[ModelFits, ...], selected: bool) -> BatchFit:
    """The chosen model per row (AICc rule, or the only model) and its results."""
    import numpy as np

    n_rows = len(fits[0])
    table = np.stack([f.aicc if selected else f.ssr for f in fits], axis=1)
    table[np.stack([f.status != Status.OK for f in fits], axis=1)] = np.nan
    index = choose_by_aicc(table)
    status = fits[0].status.copy()
    status[(status == Status.OK) & (index < 0)] = Status.FIT_FAILED
    picked = np.maximum(index, 0)
    rows = np.arange(n_rows)
    none = index < 0

    def pick(name: str) -> FloatArray:
        values = np.stack([getattr(f, name) for f in fits], axis=1)[rows, picked]
        values[none] = np.nan
        return values

    parameters = np.full((n_rows, MAX_PARAMETERS), np.nan)
    for i, f in enumerate(fits):
        mine = index == i
        parameters[mine, : f.parameters.shape[1]] = f.parameters[mine]
    aicc_table = np.stack([f.aicc for f in fits], axis=1)
    if not selected:
        aicc_table[:] = np.nan
    return BatchFit(
        tuple(f.model for f in fits), selected, index, parameters, pick("ssr"),
        pick("aicc") if selected else np.full(n_rows, np.nan), pick("tia_mbq_h"),
        pick("tia_sd_mbq_h"), pick("effective_half_life_h"), pick("tail_mbq_h"),
        pick("slowest_lambda_per_h"), pick("max_relative_sd"), aicc_table, status, fits,
    )  # fmt: skip


def fit_models(
    time_h: ArrayLike,
    activity_mbq: ArrayLike,
    model: ModelName,
    *,
    sd_mbq: ArrayLike | None = None,
) -> ModelFits:
    """Fit one model to every TAC (rows of ``activity_mbq``, MBq, at ``time_h``, h).

    ``time_h`` is shared (n_times,) or per row (n_tacs, n_times); ``sd_mbq``
    (shaped like the activities) weights the fit by 1/SD². The batch
    counterpart of :func:`lutetia.dosimetry.kinetics.fit_model`.
    """
    times, activity, sd, status = _prepare(time_h, activity_mbq, sd_mbq)
    models, _ = _models_for(model, activity.shape[0])
    return _fit_all(models, times, activity, sd, status)[0]


def fit_batch(
    time_h: ArrayLike,
    activity_mbq: ArrayLike,
    model: ModelName | Literal["auto"] = "auto",
    *,
    sd_mbq: ArrayLike | None = None,
) -> BatchFit:
    """Fit ``model``, or choose one per TAC by AICc with ``"auto"``, and integrate.

    The batch counterpart of :func:`lutetia.dosimetry.kinetics.select_model`
    (``"auto"``) and :func:`~lutetia.dosimetry.kinetics.fit_model`: the same
    candidates (n ≥ k + 2), the same rule (the simplest model within ΔAICc < 2
    of the best), the mono-exponential alone for 2–3 points. One point raises,
    as the scalar path does: use a single-time-point method.
    """
    times, activity, sd, status = _prepare(time_h, activity_mbq, sd_mbq)
    models, selected = _models_for(model, activity.shape[0])
    return _select(_fit_all(models, times, activity, sd, status), selected)


#: A voxel fit whose TIA exceeds this many times the trapezoid of its points is not used
#: (:data:`Status.EXTRAPOLATED`): a well-sampled curve integrates to about the trapezoid
#: with a physical-decay tail (which bounds the tail from above).
MAX_FIT_OVER_TRAPEZOID: Final[float] = 10.0


def trapezoid_tia_mbq_h(time_h: FloatArray, activity_mbq: FloatArray) -> FloatArray:
    """TIA of each column of ``activity_mbq`` (n_times, N) by the trapezoidal rule: a linear
    head from (0, 0) to the first point and a physical-decay tail from the last,
    A_last/λ_phys (the organ path's conservative trapezoid,
    :func:`lutetia.dosimetry.kinetics.trapezoid`)."""
    import numpy as np

    t = np.concatenate([[0.0], np.asarray(time_h, dtype=float)])
    a = np.concatenate([np.zeros((1, activity_mbq.shape[1])), activity_mbq], axis=0)
    body = (np.diff(t)[:, None] * (a[1:] + a[:-1]) / 2).sum(axis=0)
    result: FloatArray = body + activity_mbq[-1] / lambda_phys_per_h()
    return result


def fit_voxels(
    time_h: ArrayLike,
    images_mbq: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    sd_mbq: ArrayLike | None = None,
    model: ModelName | Literal["auto"] = "auto",
    chunk_tacs: int = CHUNK_TACS,
    workers: int | None = None,
) -> VoxelFits:
    """Fit every voxel inside ``mask`` (all voxels without one) of a series of activity images.

    ``images_mbq`` is shaped (n_times, *spatial), in MBq per voxel (float32 or
    float64); ``mask`` is a boolean array of the spatial shape (the body or a
    VOI); ``sd_mbq``, if given, is shaped like the images. The models and the
    choice among them are those of :func:`fit_batch` (with 4 time points only
    the mono-exponential has n ≥ k + 2).

    Returns a :class:`VoxelFits`: the TIA and TIA SD maps (MBq·h per voxel, NaN
    where a voxel has no fit), the model map (index into ``models``, −1 where
    none), the status map (:class:`Status` per voxel: ``OUTSIDE`` outside the
    mask, ``OK``, or why the fit failed: ``status_map > 0`` is the map of
    failures), how many voxels were fitted, how many took each model, and how
    many failed for each reason (:data:`REASONS`).

    Memory: the images are not copied; voxels are converted to float64 and
    fitted ``chunk_tacs`` at a time, so beyond the maps the work needs one
    chunk per worker thread (``workers``, default: one per CPU; the maps do not
    depend on it), never a float64 copy of the whole series.
    """
    import numpy as np

    images = np.asarray(images_mbq)
    if images.ndim < 2:
        raise BadInputError("images_mbq", f"shape {images.shape}: give (n_times, *spatial)")
    if chunk_tacs < 1:
        raise BadInputError("chunk_tacs", f"{chunk_tacs} must be at least 1")
    if workers is not None and workers < 1:
        raise BadInputError("workers", f"{workers} must be at least 1")
    n, spatial = images.shape[0], images.shape[1:]
    times = np.asarray(time_h, dtype=float)
    if times.ndim != 1:
        raise BadInputError("time_h", "voxel-wise fits need one time per image")
    times_tm, _ = _as_times(times, 0, n)
    models, selected = _models_for(model, n)
    flat = images.reshape(n, -1)
    sd_flat = None
    if sd_mbq is not None:
        sd_images = np.asarray(sd_mbq)
        if sd_images.shape != images.shape:
            raise BadInputError("activity_sd_mbq", "one SD image per activity image is needed")
        sd_flat = sd_images.reshape(n, -1)
    if mask is None:
        inside = np.arange(flat.shape[1])
    else:
        mask_array = np.asarray(mask, dtype=bool)
        if mask_array.shape != spatial:
            raise BadInputError("mask", f"shape {mask_array.shape} is not the images' {spatial}")
        inside = np.flatnonzero(mask_array)
    size = flat.shape[1]
    tia = np.full(size, np.nan)
    tia_sd = np.full(size, np.nan)
    model_map = np.full(size, -1, dtype=np.int8)
    status_map = np.full(size, Status.OUTSIDE, dtype=np.int8)

    def fit_chunk(begin: int) -> None:
        voxels = inside[begin : begin + chunk_tacs]
        activity = flat[:, voxels].astype(float)
        sd = None if sd_flat is None else sd_flat[:, voxels].astype(float)
        status = _row_status(activity, sd, np.ones(voxels.size, dtype=bool))
        fit = _select(_fit_all(models, times_tm, activity, sd, status), selected)
        chunk_tia, chunk_sd = fit.tia_mbq_h.copy(), fit.tia_sd_mbq_h.copy()
        chunk_model, chunk_status = fit.model_index.copy(), fit.status.copy()
        # A voxel whose activity is gone after the first scan (the edge of an organ that
        # moved) gets a clearance as fast as the bounds allow, extrapolated back to t = 0
        # (10¹¹ Gy seen): such a fit is not used, the voxel keeps its trapezoid.
        trapezoid = trapezoid_tia_mbq_h(times, activity)
        with np.errstate(invalid="ignore"):
            runaway = (chunk_status == Status.OK) & (chunk_tia > MAX_FIT_OVER_TRAPEZOID * trapezoid)
        chunk_tia[runaway] = trapezoid[runaway]
        chunk_sd[runaway] = np.nan
        chunk_model[runaway] = -1
        chunk_status[runaway] = Status.EXTRAPOLATED
        tia[voxels] = chunk_tia
        tia_sd[voxels] = chunk_sd
        model_map[voxels] = chunk_model
        status_map[voxels] = chunk_status

    starts = range(0, inside.size, chunk_tacs)
    threads = min(workers if workers is not None else os.cpu_count() or 1, len(starts))
    if threads <= 1:
        for begin in starts:
            fit_chunk(begin)
    else:
        # numpy releases the GIL inside its loops: chunks run in parallel, each
        # writing its own voxels.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(fit_chunk, begin) for begin in starts]:
                future.result()
    return VoxelFits(
        models, tia.reshape(spatial), tia_sd.reshape(spatial), model_map.reshape(spatial),
        status_map.reshape(spatial), int(inside.size), _model_counts(models, model_map),
        _failure_counts(status_map),
    )  # fmt: skip
