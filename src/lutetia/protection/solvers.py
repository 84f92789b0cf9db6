"""Numerical solvers of the release path, numpy only (``scipy.optimize`` costs 0.4 s to import).

* :func:`falling_crossing`: where a decreasing function falls to a level, by bisection to
  the last representable bit (in place of ``scipy.optimize.brentq``, whose ``xtol`` was
  1e-9 h).
* :func:`box_least_squares`: bounded non-linear least squares from several starting
  points at once (in place of ``scipy.optimize.curve_fit`` with bounds, which runs a
  trust-region reflective method). Levenberg–Marquardt (Marquardt D, J Soc Ind Appl Math
  1963;11:431-441) with Marquardt's diagonal scaling (the running maximum of diag JᵀJ, as
  MINPACK: Moré JJ, Lecture Notes in Mathematics 630, 1978, pp. 105-116), Nielsen's
  damping update (Nielsen HB, IMM-REP-1999-05, DTU 1999, eq. 2.5), and the box by
  projection: a parameter on a bound whose gradient points out of the box is held there
  for the step (active set), and every step is clipped to the box — the scheme of
  :func:`lutetia.dosimetry.batch._levenberg_marquardt`, written here for a handful of
  starts of one small problem. Its tolerances are tighter than scipy's defaults
  (1e-8), so it ends at the same minimum or lower (tests/test_solvers.py compares).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]
    BoolArray = NDArray[np.bool_]

#: Iterations per start at most (the fits of the release path need fewer than 100).
MAX_ITERATIONS: Final[int] = 500
#: Convergence: relative SSR decrease of an accepted step, relative step of a rejected
#: one, cosine between the projected gradient and the Jacobian's columns.
FTOL: Final[float] = 1e-14
XTOL: Final[float] = 1e-14
GTOL: Final[float] = 1e-12
#: A valley too flat to follow: the SSR falls by less than VALLEY of itself in WINDOW
#: iterations.
WINDOW: Final[int] = 25
VALLEY: Final[float] = 1e-10
#: An SSR at which the fit is exact (the release path's residuals are logarithms, of order 1).
EXACT_SSR: Final[float] = 1e-30
#: Damping beyond which a start has stalled.
MAX_DAMPING: Final[float] = 1e30

#: residuals r (n, S) and Jacobian ∂r/∂p (k, n, S) at parameters p (k, S).
ResidualFunction = Callable[["FloatArray"], tuple["FloatArray", "FloatArray"]]


def falling_crossing(value: Callable[[float], float], level: float, high: float) -> float:
    """The time in [0, ``high``] where the decreasing ``value`` falls to ``level``.

    Requires value(0) > level ≥ value(high). Bisection until the bracket cannot be
    split; returns its upper end, the first representable time at which the value
    is at or below the level.
    """
    low = 0.0
    while True:
        middle = 0.5 * (low + high)
        if not low < middle < high:
            return high
        if value(middle) > level:
            low = middle
        else:
            high = middle


def _solve(matrix: FloatArray, rhs: FloatArray) -> tuple[FloatArray, BoolArray]:
    """x with M x = b for each start (M (k, k, S), b (k, S)), and whether it was solved."""
    import numpy as np

    stacked = matrix.transpose(2, 0, 1)
    try:
        solved = np.linalg.solve(stacked, rhs.T[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # one singular M: solve the starts one by one
        solved = np.zeros(rhs.T.shape)
        for s in range(stacked.shape[0]):
            try:
                solved[s] = np.linalg.solve(stacked[s], rhs[:, s])
            except np.linalg.LinAlgError:
                solved[s] = np.nan
    x = np.asarray(solved.T, dtype=np.float64)
    ok = np.all(np.isfinite(x), axis=0)
    return np.where(ok, x, 0.0), ok


def box_least_squares(
    residuals: ResidualFunction,
    starts: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    *,
    ftol: float = FTOL,
    xtol: float = XTOL,
    gtol: float = GTOL,
    max_iterations: int = MAX_ITERATIONS,
    valley: float = VALLEY,
    exact_ssr: float = EXACT_SSR,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Minimise Σ r(p)² within lower ≤ p ≤ upper from each start (columns of ``starts``).

    ``lower`` and ``upper`` are shaped (k,). Returns the parameters (k, S), their SSR
    (S,) and whether each start converged (a MINPACK-style test: an accepted step that
    lowers the SSR by at most FTOL of it; a rejected step that moves no parameter by
    more than XTOL of it; a projected gradient at most GTOL in cosine with every
    column of J; a residual at the rounding level; or a valley too flat to follow).
    Starts that stall keep their best point, with converged False.
    """
    import numpy as np

    low, high = lower[:, None], upper[:, None]
    p = np.clip(starts.astype(np.float64), low, high)
    k, n_starts = p.shape
    diagonal = np.arange(k)
    tiny = np.finfo(np.float64).tiny
    with np.errstate(all="ignore"):  # a far trial step may overflow: its SSR is then not finite
        r, jac = residuals(p)
        ssr = (r * r).sum(axis=0)
        gradient = np.einsum("knS,nS->kS", jac, r)
        normal = np.einsum("knS,lnS->klS", jac, jac)
        scale = normal[diagonal, diagonal].copy()
        scale[~(scale > 0)] = 1.0
        damping = np.full(n_starts, 1e-3)
        growth = np.full(n_starts, 2.0)
        converged = np.zeros(n_starts, dtype=bool)
        finished = ~np.isfinite(ssr)
        reference = ssr.copy()
        for iteration in range(1, max_iterations + 1):
            free = ~(((p <= low) & (gradient > 0)) | ((p >= high) & (gradient < 0)))
            matrix = normal * (free[:, None] & free[None, :])
            matrix[diagonal, diagonal] = np.where(
                free, normal[diagonal, diagonal] + damping * scale, 1.0
            )
            solution, solved = _solve(matrix, -gradient * free)
            trial = np.clip(p + solution, low, high)
            step = trial - p
            r_new, jac_new = residuals(trial)
            ssr_new = (r_new * r_new).sum(axis=0)
            accept = solved & np.isfinite(ssr_new) & (ssr_new < ssr) & ~finished
            # SSR decrease predicted by the linear model: −2 gᵀs − sᵀ(JᵀJ)s.
            predicted = -2 * (gradient * step).sum(axis=0) - (
                step * (normal * step[None, :, :]).sum(axis=1)
            ).sum(axis=0)
            drop = ssr - ssr_new
            rho = np.where(predicted > 0, drop / predicted, 0.0)
            small_step = (np.abs(step) <= xtol * (np.abs(p) + xtol)).all(axis=0)
            done = (accept & (drop <= ftol * ssr)) | (~accept & solved & small_step)
            damping = np.where(
                accept, damping * np.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), damping * growth
            )
            growth = np.where(accept, 2.0, growth * 2)
            if accept.any():
                p = np.where(accept, trial, p)
                ssr = np.where(accept, ssr_new, ssr)
                gradient = np.where(accept, np.einsum("knS,nS->kS", jac_new, r_new), gradient)
                normal = np.where(accept, np.einsum("knS,lnS->klS", jac_new, jac_new), normal)
                scale = np.maximum(scale, np.where(accept, normal[diagonal, diagonal], 0.0))
            free = ~(((p <= low) & (gradient > 0)) | ((p >= high) & (gradient < 0)))
            cosine = np.abs(gradient * free) / np.sqrt(scale * np.maximum(ssr, tiny))
            done |= (cosine <= gtol).all(axis=0) | (ssr <= exact_ssr)
            if iteration % WINDOW == 0:
                done |= reference - ssr <= valley * ssr
                reference = ssr.copy()
            converged |= done & ~finished
            finished |= done | (damping > MAX_DAMPING)
            if finished.all():
                break
    return p, ssr, converged
