"""The batched engine's algorithm for one TAC at a time, in Python floats.

:mod:`lutetia.dosimetry.batch` fits arrays of TACs with numpy. For a few TACs
(one organ TAC, a study's regions) numpy's cost per call, a few microseconds on
arrays of six numbers, is nearly all of the time: a batch of one took 12–20 ms,
about 90 Levenberg–Marquardt iterations of some 50 numpy calls each. This module
runs the same algorithm for one TAC with Python floats and :mod:`math`, many times
faster (benchmarks/README.md): the same starts, the same Levenberg–Marquardt steps (damping, active
set, clipping, revival of idle components, every stopping test and constant of
:func:`lutetia.dosimetry.batch._levenberg_marquardt`, imported from there), the same
profiled Newton iteration for the mono-exponential
(:func:`~lutetia.dosimetry.batch._fit_mono`), the same second-start rule, TIA terms
and GUM uncertainty. Only the rounding differs: a step's damped normal equations
(symmetric positive definite) are solved by Cholesky here, by LAPACK's LU there
(here too where rounding makes Cholesky fail), and sums run point by point. So the
two agree to rounding where a fit is determined, and within the flat valley of the
SSR where it is not: both stop at some point of it (tests/test_dosimetry_batch.py).
The bi-exponential and uptake–washout, which take nearly all of the iterations, run
Levenberg–Marquardt unrolled into local floats (:func:`_levenberg_marquardt_bi`,
:func:`_levenberg_marquardt_uptake`): the operations of the loop for any model
(:func:`_levenberg_marquardt_any`, which fits the tri-exponential) on the same numbers in
the same order, so the same results to the last bit, with less interpreter work.

Where Python raises for what numpy turns into inf or NaN (a division by zero, an
overflowing exponential) the model's fit of that TAC is handed to the numpy engine
(:class:`Unsupported`). A near-singular covariance (a component with no amplitude, a
phase over before the first point) takes the engine's own pseudo-inverse (an SVD).
"""

from __future__ import annotations

import math
from functools import lru_cache
from math import isnan
from operator import add, mul
from typing import TYPE_CHECKING, Final

from lutetia.dosimetry.batch import (
    _FTOL,
    _GTOL,
    _MAX_DAMPING,
    _VALLEY,
    _WINDOW,
    _XTOL,
    MAX_ITERATIONS,
)
from lutetia.dosimetry.kinetics import (
    AICC_PREFERENCE,
    MAX_LAMBDA_PER_H,
    PARAMETER_COUNT,
    ModelName,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

Vector = list[float]
Matrix = list[list[float]]
#: (−tᵢ, yᵢ, wᵢ) for each point.
Points = list[tuple[float, float, float]]

_INF: Final[float] = math.inf
_NAN: Final[float] = math.nan
_LN2: Final[float] = math.log(2)


class Unsupported(Exception):  # noqa: N818 (a signal to the caller, not an error)
    """This TAC needs the numpy engine (inf/NaN arithmetic, or the pseudo-inverse)."""


def _finite(x: float) -> bool:
    return x - x == 0.0


def _max(a: float, b: float) -> float:
    """np.maximum: NaN if either is NaN."""
    if isnan(a) or isnan(b):
        return _NAN
    return a if a >= b else b


def _min(a: float, b: float) -> float:
    """np.minimum: NaN if either is NaN."""
    if isnan(a) or isnan(b):
        return _NAN
    return a if a <= b else b


def _clip(x: float, lower: float, upper: float) -> float:
    """np.clip (minimum(maximum(x, lower), upper)), NaN kept."""
    return _min(_max(x, lower), upper)


def _exp(x: float) -> float:
    """np.exp: inf on overflow instead of an exception."""
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


# --- models -----------------------------------------------------------------------------------


def _residuals(p: Vector, t: Vector, y: Vector, w: Vector | None) -> Vector:
    """Weighted residuals (Σ Aⱼe^{−λⱼtᵢ} − yᵢ)wᵢ of a sum of exponentials."""
    exp = math.exp
    value = [0.0] * len(t)
    for j in range(0, len(p), 2):
        a, lam = p[j], p[j + 1]
        value = [v + a * exp(-ti * lam) for v, ti in zip(value, t, strict=True)]
    if w is None:
        return [v - yi for v, yi in zip(value, y, strict=True)]
    return [(v - yi) * wi for v, yi, wi in zip(value, y, w, strict=True)]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    """Σ aᵢbᵢ."""
    return float(sum(map(mul, a, b)))


def _evaluate_mono(p: Vector, t: Vector, y: Vector, w: Vector) -> tuple[float, Vector, Matrix]:
    """:func:`_evaluate` of the mono-exponential (its covariance; the fit itself is
    :func:`fit_mono`), rounded as :func:`_evaluate_bi`."""
    exp = math.exp
    a, lam = p
    ssr = g0 = g1 = n00 = n10 = n11 = 0.0
    for ti, yi, wi in zip(t, y, w, strict=True):
        u = exp(-ti * lam)
        r = (a * u - yi) * wi
        j0 = u * wi
        j1 = -ti * (a * u) * wi
        ssr += r * r
        g0 += j0 * r
        g1 += j1 * r
        n00 += j0 * j0
        n10 += j1 * j0
        n11 += j1 * j1
    return ssr, [g0, g1], [[n00, n10], [n10, n11]]


def _points(t: Vector, y: Vector, w: Vector) -> Points:
    """(−tᵢ, yᵢ, wᵢ) for each point, the form :func:`_bi_terms` and :func:`_uptake_terms`
    read fastest."""
    return [(-ti, yi, wi) for ti, yi, wi in zip(t, y, w, strict=True)]


def _bi_terms(a1: float, l1: float, a2: float, l2: float, points: Points) -> tuple[float, ...]:
    """SSR, Jᵀr (4) and JᵀJ's lower triangle by rows (n₀₀, n₁₀, n₁₁, n₂₀, …, n₃₃: 10) of
    the bi-exponential at (A₁, λ₁, A₂, λ₂) in one pass over the points (:func:`_points`),
    every element rounded as numpy's: r = (A₁e₁ + A₂e₂ − y)·w, ∂/∂Aⱼ = eⱼ·w,
    ∂/∂λⱼ = (−t·(Aⱼeⱼ))·w (eⱼ = e^{−λⱼt})."""
    exp = math.exp
    ssr = g0 = g1 = g2 = g3 = 0.0
    n00 = n10 = n11 = n20 = n21 = n22 = n30 = n31 = n32 = n33 = 0.0
    for nti, yi, wi in points:
        u = exp(nti * l1)
        v = exp(nti * l2)
        au = a1 * u
        av = a2 * v
        r = (au + av - yi) * wi
        j0 = u * wi
        j1 = nti * au * wi
        j2 = v * wi
        j3 = nti * av * wi
        ssr += r * r
        g0 += j0 * r
        g1 += j1 * r
        g2 += j2 * r
        g3 += j3 * r
        n00 += j0 * j0
        n10 += j1 * j0
        n11 += j1 * j1
        n20 += j2 * j0
        n21 += j2 * j1
        n22 += j2 * j2
        n30 += j3 * j0
        n31 += j3 * j1
        n32 += j3 * j2
        n33 += j3 * j3
    return ssr, g0, g1, g2, g3, n00, n10, n11, n20, n21, n22, n30, n31, n32, n33


def _evaluate_bi(p: Vector, t: Vector, y: Vector, w: Vector) -> tuple[float, Vector, Matrix]:
    """:func:`_evaluate` of the bi-exponential (:func:`_bi_terms`)."""
    a1, l1, a2, l2 = p
    terms = _bi_terms(a1, l1, a2, l2, _points(t, y, w))
    ssr, g0, g1, g2, g3, n00, n10, n11, n20, n21, n22, n30, n31, n32, n33 = terms
    normal = [
        [n00, n10, n20, n30],
        [n10, n11, n21, n31],
        [n20, n21, n22, n32],
        [n30, n31, n32, n33],
    ]
    return ssr, [g0, g1, g2, g3], normal


def _uptake_terms(a0: float, lw: float, extra: float, points: Points) -> tuple[float, ...]:
    """SSR, Jᵀr (3) and JᵀJ's lower triangle by rows (n₀₀, n₁₀, n₁₁, n₂₀, n₂₁, n₂₂) of
    uptake–washout at (A₀, λ_w, Δ = λ_u − λ_w) in one pass over the points,
    every element rounded as numpy's: d = e_w − e_u, r = (A₀d − y)·w, ∂/∂A₀ = d·w,
    ∂/∂λ_w = (tA₀·(−d))·w, ∂/∂Δ = (tA₀·e_u)·w; here (−tA₀)·d and (−(−tA₀))·e_u, the same
    numbers (negation is exact)."""
    exp = math.exp
    lu = lw + extra
    ssr = g0 = g1 = g2 = 0.0
    n00 = n10 = n11 = n20 = n21 = n22 = 0.0
    for nti, yi, wi in points:
        f = exp(nti * lu)
        d = exp(nti * lw) - f
        r = (a0 * d - yi) * wi
        nat = nti * a0
        j0 = d * wi
        j1 = nat * d * wi
        j2 = -nat * f * wi
        ssr += r * r
        g0 += j0 * r
        g1 += j1 * r
        g2 += j2 * r
        n00 += j0 * j0
        n10 += j1 * j0
        n11 += j1 * j1
        n20 += j2 * j0
        n21 += j2 * j1
        n22 += j2 * j2
    return ssr, g0, g1, g2, n00, n10, n11, n20, n21, n22


def _evaluate_uptake(p: Vector, t: Vector, y: Vector, w: Vector) -> tuple[float, Vector, Matrix]:
    """:func:`_evaluate` of uptake–washout (:func:`_uptake_terms`)."""
    a0, lw, extra = p
    ssr, g0, g1, g2, n00, n10, n11, n20, n21, n22 = _uptake_terms(a0, lw, extra, _points(t, y, w))
    return ssr, [g0, g1, g2], [[n00, n10, n20], [n10, n11, n21], [n20, n21, n22]]


def _evaluate_tri(p: Vector, t: Vector, y: Vector, w: Vector) -> tuple[float, Vector, Matrix]:
    """:func:`_evaluate` of the tri-exponential in one pass over the points, rounded as
    :func:`_evaluate_bi`."""
    exp = math.exp
    a1, l1, a2, l2, a3, l3 = p
    ssr = g0 = g1 = g2 = g3 = g4 = g5 = 0.0
    n00 = n10 = n11 = n20 = n21 = n22 = n30 = n31 = n32 = n33 = 0.0
    n40 = n41 = n42 = n43 = n44 = n50 = n51 = n52 = n53 = n54 = n55 = 0.0
    for ti, yi, wi in zip(t, y, w, strict=True):
        u = exp(-ti * l1)
        v = exp(-ti * l2)
        z = exp(-ti * l3)
        r = (a1 * u + a2 * v + a3 * z - yi) * wi
        j0 = u * wi
        j1 = -ti * (a1 * u) * wi
        j2 = v * wi
        j3 = -ti * (a2 * v) * wi
        j4 = z * wi
        j5 = -ti * (a3 * z) * wi
        ssr += r * r
        g0 += j0 * r
        g1 += j1 * r
        g2 += j2 * r
        g3 += j3 * r
        g4 += j4 * r
        g5 += j5 * r
        n00 += j0 * j0
        n10 += j1 * j0
        n11 += j1 * j1
        n20 += j2 * j0
        n21 += j2 * j1
        n22 += j2 * j2
        n30 += j3 * j0
        n31 += j3 * j1
        n32 += j3 * j2
        n33 += j3 * j3
        n40 += j4 * j0
        n41 += j4 * j1
        n42 += j4 * j2
        n43 += j4 * j3
        n44 += j4 * j4
        n50 += j5 * j0
        n51 += j5 * j1
        n52 += j5 * j2
        n53 += j5 * j3
        n54 += j5 * j4
        n55 += j5 * j5
    normal = [
        [n00, n10, n20, n30, n40, n50],
        [n10, n11, n21, n31, n41, n51],
        [n20, n21, n22, n32, n42, n52],
        [n30, n31, n32, n33, n43, n53],
        [n40, n41, n42, n43, n44, n54],
        [n50, n51, n52, n53, n54, n55],
    ]
    return ssr, [g0, g1, g2, g3, g4, g5], normal


@lru_cache(maxsize=8)
def _ones(n: int) -> Vector:
    return [1.0] * n


def _evaluate(
    model: ModelName, p: Vector, t: Vector, y: Vector, w: Vector | None
) -> tuple[float, Vector, Matrix]:
    """SSR, Jᵀr and JᵀJ at ``p`` (weighted residuals r and Jacobian J, as
    :func:`lutetia.dosimetry.batch._weighted`)."""
    weights = _ones(len(t)) if w is None else w
    if model == "uptake_washout":
        return _evaluate_uptake(p, t, y, weights)
    if len(p) == 2:
        return _evaluate_mono(p, t, y, weights)
    if len(p) == 4:
        return _evaluate_bi(p, t, y, weights)
    return _evaluate_tri(p, t, y, weights)


# --- linear algebra -------------------------------------------------------------------------


def _cholesky(matrix: Matrix) -> tuple[Matrix, bool, float]:
    """:func:`lutetia.dosimetry.batch._cholesky_solve`'s factor: L (rows), whether M was
    positive definite, the smallest squared pivot over the largest diagonal element."""
    k = len(matrix)
    low: Matrix = [[] for _ in range(k)]
    ok = True
    smallest = _INF
    biggest = matrix[0][0]
    for i in range(1, k):
        biggest = _max(biggest, matrix[i][i])
    for j in range(k):
        s = matrix[j][j]
        for m in range(j):
            s -= low[j][m] * low[j][m]
        positive = s > 0
        ok = ok and positive
        smallest = _min(smallest, s if positive else 0.0)
        d = math.sqrt(s if positive else 1.0)
        for i in range(j + 1, k):
            acc = matrix[i][j]
            for m in range(j):
                acc -= low[i][m] * low[j][m]
            low[i].append(acc / d)
        low[j].append(d)
    if biggest > 0:
        ratio = smallest / biggest
    elif isnan(biggest):
        ratio = _NAN
    else:
        ratio = 0.0
    return low, ok, ratio


def _cholesky_apply(low: Matrix, rhs: Vector) -> Vector:
    k = len(rhs)
    z: Vector = []
    for i in range(k):
        acc = rhs[i]
        for m in range(i):
            acc -= low[i][m] * z[m]
        z.append(acc / low[i][i])
    x = list(z)
    for i in reversed(range(k)):
        acc = z[i]
        for m in range(i + 1, k):
            acc -= low[m][i] * x[m]
        x[i] = acc / low[i][i]
    return x


def _solve_lu(a: Matrix, x: Vector) -> tuple[Vector, bool]:
    """x with M x = b (``a`` = M and ``x`` = b are overwritten), and whether it was solved
    (every xᵢ finite): Gaussian elimination with partial pivoting, as LAPACK's gesv; on an
    exact zero pivot (LAPACK's singular matrix) Cholesky, solved where M is positive
    definite, as the engine does then."""
    k = len(x)
    matrix = [list(row) for row in a]
    rhs = list(x)
    for j in range(k):
        pivot, big = j, abs(a[j][j])
        for i in range(j + 1, k):
            v = abs(a[i][j])
            if v > big:
                pivot, big = i, v
        if big == 0.0:
            low, ok, _ = _cholesky(matrix)
            return _cholesky_apply(low, rhs), ok
        if pivot != j:
            a[j], a[pivot] = a[pivot], a[j]
            x[j], x[pivot] = x[pivot], x[j]
        row = a[j]
        head = row[j]
        xj = x[j]
        for i in range(j + 1, k):
            other = a[i]
            factor = other[j] / head
            for c in range(j + 1, k):
                other[c] -= factor * row[c]
            x[i] -= factor * xj
    for i in range(k - 1, -1, -1):
        row = a[i]
        acc = x[i]
        for c in range(i + 1, k):
            acc -= row[c] * x[c]
        x[i] = acc / row[i]
    finite = True
    for v in x:
        if v - v != 0.0:
            finite = False
    return x, finite


def _cholesky3(  # noqa: PLR0917 - unrolled: the elements themselves, no container per step
    a10: float, a20: float, a21: float, a00: float, a11: float, a22: float,
    b0: float, b1: float, b2: float,
) -> tuple[float, float, float] | None:  # fmt: skip
    """x with M x = b by Cholesky (M = LLᵀ, then Lz = b, Lᵀx = z) for a 3 × 3 M given by
    its lower triangle below the diagonal (aᵢⱼ, i > j) and its diagonal; None unless every
    pivot is positive."""
    if not a00 > 0:
        return None
    sqrt = math.sqrt
    l00 = sqrt(a00)
    l10, l20 = a10 / l00, a20 / l00
    s = a11 - l10 * l10
    if not s > 0:
        return None
    l11 = sqrt(s)
    l21 = (a21 - l20 * l10) / l11
    s = a22 - l20 * l20 - l21 * l21
    if not s > 0:
        return None
    l22 = sqrt(s)
    z0 = b0 / l00
    z1 = (b1 - l10 * z0) / l11
    z2 = (b2 - l20 * z0 - l21 * z1) / l22
    x2 = z2 / l22
    x1 = (z1 - l21 * x2) / l11
    return (z0 - l10 * x1 - l20 * x2) / l00, x1, x2


def _cholesky4(  # noqa: PLR0917 - unrolled: the elements themselves, no container per step
    a10: float, a20: float, a21: float, a30: float, a31: float, a32: float,
    a00: float, a11: float, a22: float, a33: float,
    b0: float, b1: float, b2: float, b3: float,
) -> tuple[float, float, float, float] | None:  # fmt: skip
    """:func:`_cholesky3` for a 4 × 4 M."""
    if not a00 > 0:
        return None
    sqrt = math.sqrt
    l00 = sqrt(a00)
    l10, l20, l30 = a10 / l00, a20 / l00, a30 / l00
    s = a11 - l10 * l10
    if not s > 0:
        return None
    l11 = sqrt(s)
    l21 = (a21 - l20 * l10) / l11
    l31 = (a31 - l30 * l10) / l11
    s = a22 - l20 * l20 - l21 * l21
    if not s > 0:
        return None
    l22 = sqrt(s)
    l32 = (a32 - l30 * l20 - l31 * l21) / l22
    s = a33 - l30 * l30 - l31 * l31 - l32 * l32
    if not s > 0:
        return None
    l33 = sqrt(s)
    z0 = b0 / l00
    z1 = (b1 - l10 * z0) / l11
    z2 = (b2 - l20 * z0 - l21 * z1) / l22
    z3 = (b3 - l30 * z0 - l31 * z1 - l32 * z2) / l33
    x3 = z3 / l33
    x2 = (z2 - l32 * x3) / l22
    x1 = (z1 - l21 * x2 - l31 * x3) / l11
    return (z0 - l10 * x1 - l20 * x2 - l30 * x3) / l00, x1, x2, x3


def _spd(m: Matrix, diagonal: Vector, b: Vector) -> Vector | None:
    """:func:`_cholesky3` for any size (M below its diagonal from ``m``, on it from
    ``diagonal``)."""
    k = len(b)
    low: Matrix = []
    for i in range(k):
        row = m[i]
        current: Vector = []
        for j in range(i):
            other = low[j]
            acc = row[j]
            for c in range(j):
                acc -= current[c] * other[c]
            current.append(acc / other[j])
        acc = diagonal[i]
        for c in range(i):
            acc -= current[c] * current[c]
        if not acc > 0:
            return None
        current.append(math.sqrt(acc))
        low.append(current)
    z: Vector = []
    for i in range(k):
        row = low[i]
        acc = b[i]
        for c in range(i):
            acc -= row[c] * z[c]
        z.append(acc / row[i])
    for i in range(k - 1, -1, -1):
        acc = z[i]
        for c in range(i + 1, k):
            acc -= low[c][i] * z[c]
        z[i] = acc / low[i][i]
    return z


def _solve(normal: Matrix, diagonal: Vector, rhs: Vector) -> tuple[Vector, bool]:
    """x with M x = b for the damped normal matrix of a step (``normal`` off its diagonal,
    ``diagonal`` on it: symmetric, positive definite but for rounding), and whether it was
    solved (every xᵢ finite). Cholesky where it succeeds, else Gaussian elimination with
    partial pivoting (:func:`_solve_lu`), which, like LAPACK's gesv that the engine uses,
    returns a solution wherever no pivot is exactly zero."""
    k = len(rhs)
    solution: Sequence[float] | None
    if k == 4:
        (_, r1, r2, r3) = normal
        solution = _cholesky4(r1[0], r2[0], r2[1], r3[0], r3[1], r3[2], *diagonal, *rhs)
    elif k == 3:
        (_, r1, r2) = normal
        solution = _cholesky3(r1[0], r2[0], r2[1], *diagonal, *rhs)
    else:
        solution = _spd(normal, diagonal, rhs)
    if solution is None:
        return _solve_lu(_with_diagonal(normal, diagonal), list(rhs))
    return list(solution), all(v - v == 0.0 for v in solution)


def _with_diagonal(normal: Matrix, diagonal: Sequence[float]) -> Matrix:
    """A copy of ``normal`` with ``diagonal`` on its diagonal."""
    matrix = [list(row) for row in normal]
    for i, d in enumerate(diagonal):
        matrix[i][i] = d
    return matrix


# --- Levenberg–Marquardt --------------------------------------------------------------------


@lru_cache(maxsize=64)
def _revival_exponentials(t: tuple[float, ...], lambda_phys: float) -> tuple[Vector, list[Vector]]:
    """The 40 trial rates of :func:`lutetia.dosimetry.batch._revive_components` and their
    exponentials at ``t``."""
    import numpy as np

    rates = np.geomspace(lambda_phys, MAX_LAMBDA_PER_H, 40)
    table = np.exp(-np.asarray(t)[None, :] * rates[:, None])
    return [float(r) for r in rates], [[float(v) for v in row] for row in table]


def _revive(p: Vector, *, t: Vector, y: Vector, w: Vector | None, lambda_phys: float) -> bool:
    """:func:`lutetia.dosimetry.batch._revive_components` for one TAC (``p`` updated): for
    each component with Aⱼ ≤ 0, ∂SSR/∂Aⱼ ∝ Σ rᵢwᵢ·wᵢe^{−λtᵢ} over the 40 trial rates λ, and
    λⱼ set to the rate of the most negative (np.argmin: the first smallest, a NaN first)."""
    moved = False
    for j in range(0, len(p), 2):
        if not p[j] <= 0:
            continue
        residual = _residuals(p, t, y, w)
        if w is not None:
            residual = [r * wi for r, wi in zip(residual, w, strict=True)]
        rates, table = _revival_exponentials(tuple(t), lambda_phys)
        derivatives = [sum(map(mul, residual, row)) for row in table]
        if any(map(isnan, derivatives)):
            continue  # np.argmin's NaN: not negative, the component stays off
        lowest = min(derivatives)
        if lowest < 0:
            p[j + 1] = rates[derivatives.index(lowest)]
            moved = True
    return moved


def _masked_solve(
    normal: Matrix, gradient: Vector, scale: Vector, free: list[bool], damping: float
) -> tuple[Vector, bool]:
    """The step with a parameter held (``free`` false): its row and column of the damped
    normal equations replaced by the identity's, its Jᵀr entry by 0, as the engine's
    ``normal * (free ⊗ free)`` and ``-gradient * free`` (:func:`_solve`)."""
    diagonal = [
        row[i] + damping * s if f else 1.0
        for i, (row, s, f) in enumerate(zip(normal, scale, free, strict=True))
    ]
    matrix = [
        [v * (1.0 if fi and fj else 0.0) for v, fj in zip(row, free, strict=True)]
        for row, fi in zip(normal, free, strict=True)
    ]
    rhs = [-g * (1.0 if f else 0.0) for g, f in zip(gradient, free, strict=True)]
    return _solve(matrix, diagonal, rhs)


def _held(pi: float, g: float, lower: float, upper: float) -> bool:
    """The active set: a parameter on a bound whose gradient points out of the box."""
    return (pi <= lower and g > 0) or (pi >= upper and g < 0)


def _cosine(pi: float, g: float, lower: float, upper: float, scaled_ssr: float) -> float:
    """|projected gradient| / √(scale·SSR) (``scaled_ssr``: scale·SSR), the engine's cosine
    of MINPACK's gradient test (NaN where the denominator is not positive: the test fails)."""
    denominator = math.sqrt(scaled_ssr)
    if not denominator > 0:
        return _NAN
    return abs(0.0 * g if _held(pi, g, lower, upper) else g) / denominator


def _larger(s: float, d: float) -> float:
    """np.maximum(s, d): NaN if either is NaN (MINPACK's scale, the largest diagonal
    element of JᵀJ seen)."""
    return d if d > s or isnan(d) else s


def _dense4(n: Sequence[float]) -> Matrix:
    """The symmetric 4 × 4 matrix of a lower triangle by rows (n₀₀, n₁₀, n₁₁, n₂₀, …)."""
    n00, n10, n11, n20, n21, n22, n30, n31, n32, n33 = n
    return [[n00, n10, n20, n30], [n10, n11, n21, n31], [n20, n21, n22, n32], [n30, n31, n32, n33]]


def _dense3(n: Sequence[float]) -> Matrix:
    """:func:`_dense4` for 3 × 3."""
    n00, n10, n11, n20, n21, n22 = n
    return [[n00, n10, n20], [n10, n11, n21], [n20, n21, n22]]


def levenberg_marquardt(
    model: ModelName,
    p0: Vector,
    *,
    t: Vector,
    y: Vector,
    w: Vector | None,
    lower: Vector,
    upper: Vector,
) -> tuple[Vector, float, bool]:
    """:func:`lutetia.dosimetry.batch._levenberg_marquardt` for one TAC: parameters, SSR,
    converged. The bi-exponential and uptake–washout, fitted to every TAC with enough
    points, by the same algorithm unrolled (:func:`_levenberg_marquardt_bi`,
    :func:`_levenberg_marquardt_uptake`)."""
    weighted_y = y if w is None else [yi * wi for yi, wi in zip(y, w, strict=True)]
    floor = 1e-28 * _dot(weighted_y, weighted_y)
    if model == "bi":
        return _levenberg_marquardt_bi(p0, t=t, y=y, w=w, bounds=(lower, upper), floor=floor)
    if model == "uptake_washout":
        return _levenberg_marquardt_uptake(p0, t=t, y=y, w=w, bounds=(lower, upper), floor=floor)
    return _levenberg_marquardt_any(model, p0, t=t, y=y, w=w, bounds=(lower, upper), floor=floor)


def _levenberg_marquardt_any(
    model: ModelName,
    p0: Vector,
    *,
    t: Vector,
    y: Vector,
    w: Vector | None,
    bounds: tuple[Vector, Vector],
    floor: float,
) -> tuple[Vector, float, bool]:
    """:func:`levenberg_marquardt` for any model (``floor``: 10⁻²⁸ Σ(wy)², an exact fit)."""
    k = len(p0)
    indices = range(k)
    lower, upper = bounds
    box = list(zip(lower, upper, strict=True))
    p = list(p0)
    ssr, gradient, normal = _evaluate(model, p, t, y, w)
    scale = [normal[i][i] if normal[i][i] > 0 else 1.0 for i in indices]
    damping, growth = 1e-3, 2.0
    reference = ssr
    amplitudes = range(0, k, 2) if model != "uptake_washout" else range(0)
    lambda_phys = lower[1]
    if not all(v - v == 0.0 for v in p):  # the engine stops such a start at once, failed
        return p, ssr, False
    # From here on p stays finite: a step is taken only when solved (finite) and clipped to
    # the box, and a revived rate is one of a fixed set; so the engine's test of a finite p
    # at every iteration is not repeated.
    for iteration in range(1, MAX_ITERATIONS + 1):
        free = [not _held(pi, g, lo, up) for pi, g, (lo, up) in zip(p, gradient, box, strict=True)]
        if all(free):
            diagonal = [
                row[i] + damping * s for i, (row, s) in enumerate(zip(normal, scale, strict=True))
            ]
            solution, solved = _solve(normal, diagonal, [-g for g in gradient])
        else:
            solution, solved = _masked_solve(normal, gradient, scale, free, damping)
        if solved:  # else the step is rejected, as the engine does, without evaluating it
            trial = [
                lo if v < lo else up if v > up else v
                for v, (lo, up) in zip(map(add, p, solution), box, strict=True)
            ]
            step = [a - b for a, b in zip(trial, p, strict=True)]
            ssr_new, gradient_new, normal_new = _evaluate(model, trial, t, y, w)
        if solved and ssr_new < ssr:
            predicted = -2 * _dot(gradient, step) - _dot(
                step, [sum(map(mul, row, step)) for row in normal]
            )
            drop = ssr - ssr_new
            done = drop <= _FTOL * ssr and predicted <= _FTOL * ssr
            damping *= _damping_factor(drop, predicted)
            growth = 2.0
            p, ssr, gradient, normal = trial, ssr_new, gradient_new, normal_new
            scale = _running_max(scale, normal)
        else:
            done = solved and all(
                abs(si) <= _XTOL * abs(pi) for si, pi in zip(step, p, strict=True)
            )
            damping *= growth
            growth *= 2
        for j in amplitudes:
            if p[j] <= 0:
                if _revive(p, t=t, y=y, w=w, lambda_phys=lambda_phys):
                    _, gradient, normal = _evaluate(model, p, t, y, w)
                    scale = _running_max(scale, normal)
                    done = False
                break
        if not done:
            done = ssr <= floor or all(
                _cosine(pi, g, lo, up, s * ssr) <= _GTOL
                for pi, g, (lo, up), s in zip(p, gradient, box, scale, strict=True)
            )
        if iteration % _WINDOW == 0:
            done = done or reference - ssr <= _VALLEY * ssr
            reference = ssr
        done = done and ssr - ssr == 0.0
        if done or damping > _MAX_DAMPING:
            return p, ssr, done
    return p, ssr, False


def _damping_factor(drop: float, predicted: float) -> float:
    """Nielsen's update of the damping after an accepted step: max(1/3, 1 − (2ρ − 1)³),
    ρ = actual / predicted decrease of the SSR (0 where none is predicted)."""
    rho = drop / predicted if predicted > 0 else 0.0
    try:
        cube = (2 * rho - 1) ** 3
    except OverflowError:
        cube = _INF
    return _max(1 / 3, 1 - cube)


def _levenberg_marquardt_bi(
    start: Vector,
    *,
    t: Vector,
    y: Vector,
    w: Vector | None,
    bounds: tuple[Vector, Vector],
    floor: float,
) -> tuple[Vector, float, bool]:
    """:func:`_levenberg_marquardt_any` for the bi-exponential, every vector and matrix
    unrolled into local floats: parameter i (0…3: A₁, λ₁, A₂, λ₂) pᵢ, Jᵀr gᵢ, JᵀJ nᵢⱼ
    (i ≥ j), scale sᵢ, step stᵢ. The same operations on the same numbers in the same order
    (Σᵢ aᵢbᵢ as a₀b₀ + a₁b₁ + …, as :func:`sum` adds but for its start 0, which turns a
    first −0.0 into 0.0: a zero's sign, which only comparisons read), so the same result
    to the last bit, with a fraction of the interpreter's work per iteration."""
    lower, upper = bounds
    lo0, lo1, lo2, lo3 = lower
    up0, up1, up2, up3 = upper
    points = _points(t, y, _ones(len(t)) if w is None else w)
    p0, p1, p2, p3 = start
    terms = _bi_terms(p0, p1, p2, p3, points)
    ssr, g0, g1, g2, g3, n00, n10, n11, n20, n21, n22, n30, n31, n32, n33 = terms
    s0, s1 = (n00 if n00 > 0 else 1.0), (n11 if n11 > 0 else 1.0)
    s2, s3 = (n22 if n22 > 0 else 1.0), (n33 if n33 > 0 else 1.0)
    damping, growth = 1e-3, 2.0
    reference = ssr
    idle: tuple[float, ...] = ()  # parameters that _revive left as they were
    revived = False  # its answer there
    if not (p0 - p0 == 0.0 and p1 - p1 == 0.0 and p2 - p2 == 0.0 and p3 - p3 == 0.0):
        return [p0, p1, p2, p3], ssr, False
    for iteration in range(1, MAX_ITERATIONS + 1):
        if (lo0 < p0 < up0 and lo1 < p1 < up1 and lo2 < p2 < up2 and lo3 < p3 < up3) or not (
            _held(p0, g0, lo0, up0)
            or _held(p1, g1, lo1, up1)
            or _held(p2, g2, lo2, up2)
            or _held(p3, g3, lo3, up3)
        ):  # no parameter held (the first test, inside the box, is the quick one)
            d0, d1 = n00 + damping * s0, n11 + damping * s1
            d2, d3 = n22 + damping * s2, n33 + damping * s3
            x = _cholesky4(n10, n20, n21, n30, n31, n32, d0, d1, d2, d3, -g0, -g1, -g2, -g3)
            if x is None:
                solution, solved = _solve(
                    _dense4(terms[5:]), [d0, d1, d2, d3], [-g0, -g1, -g2, -g3]
                )
                x0, x1, x2, x3 = solution
            else:
                x0, x1, x2, x3 = x
                solved = x0 - x0 == 0.0 and x1 - x1 == 0.0 and x2 - x2 == 0.0 and x3 - x3 == 0.0
        else:
            free = [
                not _held(*v)
                for v in (
                    (p0, g0, lo0, up0),
                    (p1, g1, lo1, up1),
                    (p2, g2, lo2, up2),
                    (p3, g3, lo3, up3),
                )
            ]
            gradient, scale = [g0, g1, g2, g3], [s0, s1, s2, s3]
            solution, solved = _masked_solve(_dense4(terms[5:]), gradient, scale, free, damping)
            x0, x1, x2, x3 = solution
        if solved:  # else the step is rejected, as the engine does, without evaluating it
            v = p0 + x0
            q0 = lo0 if v < lo0 else up0 if v > up0 else v
            v = p1 + x1
            q1 = lo1 if v < lo1 else up1 if v > up1 else v
            v = p2 + x2
            q2 = lo2 if v < lo2 else up2 if v > up2 else v
            v = p3 + x3
            q3 = lo3 if v < lo3 else up3 if v > up3 else v
            st0, st1, st2, st3 = q0 - p0, q1 - p1, q2 - p2, q3 - p3
            trial = _bi_terms(q0, q1, q2, q3, points)
        if solved and trial[0] < ssr:
            h0 = n00 * st0 + n10 * st1 + n20 * st2 + n30 * st3  # (JᵀJ step)ᵢ
            h1 = n10 * st0 + n11 * st1 + n21 * st2 + n31 * st3
            h2 = n20 * st0 + n21 * st1 + n22 * st2 + n32 * st3
            h3 = n30 * st0 + n31 * st1 + n32 * st2 + n33 * st3
            predicted = -2 * (g0 * st0 + g1 * st1 + g2 * st2 + g3 * st3) - (
                st0 * h0 + st1 * h1 + st2 * h2 + st3 * h3
            )
            drop = ssr - trial[0]
            done = drop <= _FTOL * ssr and predicted <= _FTOL * ssr
            damping *= _damping_factor(drop, predicted)
            growth = 2.0
            p0, p1, p2, p3 = q0, q1, q2, q3
            terms = trial
            ssr, g0, g1, g2, g3, n00, n10, n11, n20, n21, n22, n30, n31, n32, n33 = terms
            s0, s1, s2, s3 = _larger(s0, n00), _larger(s1, n11), _larger(s2, n22), _larger(s3, n33)
        else:
            done = (
                solved
                and abs(st0) <= _XTOL * abs(p0)
                and abs(st1) <= _XTOL * abs(p1)
                and abs(st2) <= _XTOL * abs(p2)
                and abs(st3) <= _XTOL * abs(p3)
            )
            damping *= growth
            growth *= 2
        if p0 <= 0 or p2 <= 0:
            # _revive depends on p alone, and Jᵀr and JᵀJ are always those of p: where it
            # leaves p as it was (finding no better rate, or the rate it has) they are not
            # evaluated again, nor is it asked again while p stays there.
            if (p0, p1, p2, p3) != idle:
                p = [p0, p1, p2, p3]
                revived = _revive(p, t=t, y=y, w=w, lambda_phys=lo1)
                if p == [p0, p1, p2, p3]:
                    idle = (p0, p1, p2, p3)
                else:
                    p0, p1, p2, p3 = p
                    terms = (ssr, *_bi_terms(p0, p1, p2, p3, points)[1:])
                    _, g0, g1, g2, g3, n00, n10, n11, n20, n21, n22, n30, n31, n32, n33 = terms
                    s0, s1 = _larger(s0, n00), _larger(s1, n11)
                    s2, s3 = _larger(s2, n22), _larger(s3, n33)
            if revived:
                done = False
        if not done:
            done = ssr <= floor or (
                _cosine(p0, g0, lo0, up0, s0 * ssr) <= _GTOL
                and _cosine(p1, g1, lo1, up1, s1 * ssr) <= _GTOL
                and _cosine(p2, g2, lo2, up2, s2 * ssr) <= _GTOL
                and _cosine(p3, g3, lo3, up3, s3 * ssr) <= _GTOL
            )
        if iteration % _WINDOW == 0:
            done = done or reference - ssr <= _VALLEY * ssr
            reference = ssr
        done = done and ssr - ssr == 0.0
        if done or damping > _MAX_DAMPING:
            return [p0, p1, p2, p3], ssr, done
    return [p0, p1, p2, p3], ssr, False


def _levenberg_marquardt_uptake(
    start: Vector,
    *,
    t: Vector,
    y: Vector,
    w: Vector | None,
    bounds: tuple[Vector, Vector],
    floor: float,
) -> tuple[Vector, float, bool]:
    """:func:`_levenberg_marquardt_bi` for uptake–washout (parameters A₀, λ_w, Δ; no
    component to revive)."""
    lower, upper = bounds
    lo0, lo1, lo2 = lower
    up0, up1, up2 = upper
    points = _points(t, y, _ones(len(t)) if w is None else w)
    p0, p1, p2 = start
    terms = _uptake_terms(p0, p1, p2, points)
    ssr, g0, g1, g2, n00, n10, n11, n20, n21, n22 = terms
    s0, s1, s2 = (n00 if n00 > 0 else 1.0), (n11 if n11 > 0 else 1.0), (n22 if n22 > 0 else 1.0)
    damping, growth = 1e-3, 2.0
    reference = ssr
    if not (p0 - p0 == 0.0 and p1 - p1 == 0.0 and p2 - p2 == 0.0):
        return [p0, p1, p2], ssr, False
    for iteration in range(1, MAX_ITERATIONS + 1):
        if (lo0 < p0 < up0 and lo1 < p1 < up1 and lo2 < p2 < up2) or not (
            _held(p0, g0, lo0, up0) or _held(p1, g1, lo1, up1) or _held(p2, g2, lo2, up2)
        ):
            d0, d1, d2 = n00 + damping * s0, n11 + damping * s1, n22 + damping * s2
            x = _cholesky3(n10, n20, n21, d0, d1, d2, -g0, -g1, -g2)
            if x is None:
                solution, solved = _solve(_dense3(terms[4:]), [d0, d1, d2], [-g0, -g1, -g2])
                x0, x1, x2 = solution
            else:
                x0, x1, x2 = x
                solved = x0 - x0 == 0.0 and x1 - x1 == 0.0 and x2 - x2 == 0.0
        else:
            free = [
                not _held(*v) for v in ((p0, g0, lo0, up0), (p1, g1, lo1, up1), (p2, g2, lo2, up2))
            ]
            gradient, scale = [g0, g1, g2], [s0, s1, s2]
            solution, solved = _masked_solve(_dense3(terms[4:]), gradient, scale, free, damping)
            x0, x1, x2 = solution
        if solved:  # else the step is rejected, as the engine does, without evaluating it
            v = p0 + x0
            q0 = lo0 if v < lo0 else up0 if v > up0 else v
            v = p1 + x1
            q1 = lo1 if v < lo1 else up1 if v > up1 else v
            v = p2 + x2
            q2 = lo2 if v < lo2 else up2 if v > up2 else v
            st0, st1, st2 = q0 - p0, q1 - p1, q2 - p2
            trial = _uptake_terms(q0, q1, q2, points)
        if solved and trial[0] < ssr:
            h0 = n00 * st0 + n10 * st1 + n20 * st2  # (JᵀJ step)ᵢ
            h1 = n10 * st0 + n11 * st1 + n21 * st2
            h2 = n20 * st0 + n21 * st1 + n22 * st2
            predicted = -2 * (g0 * st0 + g1 * st1 + g2 * st2) - (st0 * h0 + st1 * h1 + st2 * h2)
            drop = ssr - trial[0]
            done = drop <= _FTOL * ssr and predicted <= _FTOL * ssr
            damping *= _damping_factor(drop, predicted)
            growth = 2.0
            p0, p1, p2 = q0, q1, q2
            terms = trial
            ssr, g0, g1, g2, n00, n10, n11, n20, n21, n22 = terms
            s0, s1, s2 = _larger(s0, n00), _larger(s1, n11), _larger(s2, n22)
        else:
            done = (
                solved
                and abs(st0) <= _XTOL * abs(p0)
                and abs(st1) <= _XTOL * abs(p1)
                and abs(st2) <= _XTOL * abs(p2)
            )
            damping *= growth
            growth *= 2
        if not done:
            done = ssr <= floor or (
                _cosine(p0, g0, lo0, up0, s0 * ssr) <= _GTOL
                and _cosine(p1, g1, lo1, up1, s1 * ssr) <= _GTOL
                and _cosine(p2, g2, lo2, up2, s2 * ssr) <= _GTOL
            )
        if iteration % _WINDOW == 0:
            done = done or reference - ssr <= _VALLEY * ssr
            reference = ssr
        done = done and ssr - ssr == 0.0
        if done or damping > _MAX_DAMPING:
            return [p0, p1, p2], ssr, done
    return [p0, p1, p2], ssr, False


def _running_max(scale: Vector, normal: Matrix) -> Vector:
    """np.maximum(scale, diag JᵀJ) (:func:`_larger`)."""
    return [_larger(s, normal[i][i]) for i, s in enumerate(scale)]


# --- the mono-exponential -------------------------------------------------------------------


def _mono_profile(lam: float, points: Points) -> tuple[float, float, float]:
    """:func:`lutetia.dosimetry.batch._mono_profile` for one TAC: L, L', L''. ``points``:
    (tᵢ, ỹᵢ = wᵢyᵢ, ln wᵢ) (ln wᵢ = 0 unweighted: ẽᵢ = e^{−λtᵢ + 0}, the same number)."""
    exp = math.exp
    e: Vector = []
    append = e.append
    s1 = s1t = s1tt = s2 = s2t = s2tt = 0.0
    for ti, yi, lw in points:
        ei = exp(-ti * lam + lw)
        append(ei)
        ye = yi * ei
        e2 = ei * ei
        yet = ye * ti
        e2t = e2 * ti
        s1 += ye
        s1t += yet
        s1tt += yet * ti
        s2 += e2
        s2t += e2t
        s2tt += e2t * ti
    mean1, mean2 = s1t / s1, s2t / s2
    value = 2 * math.log(s1) - math.log(s2)
    amplitude = s1 / s2
    slope = 0.0
    for (ti, yi, _), ei in zip(points, e, strict=True):
        slope += (yi - amplitude * ei) * ei * ti
    slope = -2 * slope / s1
    curvature = 2 * ((s1tt / s1 - mean1 * mean1) - 2 * (s2tt / s2 - mean2 * mean2))
    return value, slope, curvature


def fit_mono(
    t: Vector, y: Vector, w: Vector | None, lam0: float, lower: float
) -> tuple[Vector, float, bool]:
    """:func:`lutetia.dosimetry.batch._fit_mono` for one TAC: (A, λ), SSR, converged."""
    upper = MAX_LAMBDA_PER_H
    if w is None:
        yw = y
        points = [(ti, yi, 0.0) for ti, yi in zip(t, y, strict=True)]
    else:
        yw = [yi * wi for yi, wi in zip(y, w, strict=True)]
        points = [(ti, ywi, math.log(wi)) for ti, ywi, wi in zip(t, yw, w, strict=True)]
    lam = _clip(lam0, lower, upper)
    value, slope, curvature = _mono_profile(lam, points)
    radius = 1.0
    converged = False
    for _ in range(MAX_ITERATIONS):
        if curvature < 0:
            newton = -slope / curvature
        elif slope > 0:
            newton = _INF
        elif slope < 0:
            newton = -_INF
        else:
            newton = _NAN
        on_bound = (lam <= lower and slope <= 0) or (lam >= upper and slope >= 0)
        finite_value = _finite(value)
        last = abs(newton) <= 1e-6 * lam and not on_bound and finite_value
        if last:
            lam = _clip(lam + newton, lower, upper)
        if (on_bound or last) and finite_value:
            converged = True
            break
        trial = _clip(lam + _clip(newton, -radius * lam, radius * lam), lower, upper)
        if isnan(trial):
            raise Unsupported
        t_value, t_slope, t_curvature = _mono_profile(trial, points)
        moved = abs(trial - lam)
        if t_value >= value:
            lam, value, slope, curvature = trial, t_value, t_slope, t_curvature
            radius = _min(2 * radius, 1.0)
        else:
            radius = moved / lam / 4
        finite_value = _finite(value)
        if ((moved <= 1e-13 * lam) or (radius <= 1e-15)) and finite_value:
            converged = True
            break
        if not finite_value or not _finite(lam):
            break
    e = [math.exp(-ti * lam) for ti in t]
    if w is None:
        amplitude = _dot(y, e) / _dot(e, e)
        residual = [amplitude * ei - yi for ei, yi in zip(e, y, strict=True)]
    else:
        ew = [ei * wi for ei, wi in zip(e, w, strict=True)]
        amplitude = _dot(yw, ew) / _dot(ew, ew)
        residual = [amplitude * a - b for a, b in zip(ew, yw, strict=True)]
    ssr = _dot(residual, residual)
    ok = converged and _finite(ssr) and _finite(amplitude) and _finite(lam)
    return [amplitude, lam], ssr, ok


# --- starting values ------------------------------------------------------------------------


def _log_linear(t: Vector, y: Vector, fallback_a: float) -> tuple[float, float]:
    """:func:`lutetia.dosimetry.batch._log_linear` for one TAC."""
    use = [yi > 0 for yi in y]
    count = sum(use)
    if count < 2:
        return fallback_a, 0.01
    log_y = [math.log(yi) if u else 0.0 for yi, u in zip(y, use, strict=True)]
    mx = my = 0.0
    for ti, ly, u in zip(t, log_y, use, strict=True):
        if u:
            mx += ti
            my += ly
    mx /= count
    my /= count
    sxx = sxy = 0.0
    for ti, ly, u in zip(t, log_y, use, strict=True):
        if u:
            dx = ti - mx
            sxx += dx * dx
            sxy += dx * (ly - my)
    slope = sxy / (sxx if sxx != 0 else 1.0)
    return _exp(my - slope * mx), -slope


def _start_values(
    model: ModelName, t: Vector, y: Vector, lambda_phys: float
) -> tuple[Vector, Vector]:
    """:func:`lutetia.dosimetry.batch._start_values` for one TAC."""
    n = len(y)
    peak = max(y)
    lp = lambda_phys
    if model == "mono":
        a0, lam = _log_linear(t, y, peak)
        return [a0, _max(lam, lp * 1.01)], [peak, lp * 1.01]
    tail = max(2, n // 2)
    a_late, l_late = _log_linear(t[-tail:], y[-tail:], max(y[-tail:]))
    l_late = _max(l_late, lp * 1.01)
    head = max(2, n - tail)
    early = [
        yi - a_late * math.exp(-l_late * ti) for yi, ti in zip(y[:head], t[:head], strict=True)
    ]
    if sum(1 for v in early if v > 0) >= 2:
        a_early, l_fit = _log_linear(t[:head], early, peak)
        l_early = _max(l_fit, l_late * 2)
    else:
        a_early, l_early = peak * 0.3, _max(0.5, l_late * 10)
    if model == "uptake_washout":
        return [a_late, l_late, 1.0], [peak * 1.5, l_late, 0.2]
    if model == "bi":
        return [a_early, l_early, a_late, l_late], [peak * 0.3, 2.0, peak, lp * 1.2]
    return (
        [a_early * 0.5, l_early * 3, a_early * 0.5, l_early, a_late, l_late],
        [peak * 0.2, 5.0, peak * 0.4, 0.1, peak * 0.6, lp * 1.2],
    )


def _inside(start: Vector, fallback: Vector, lower: Vector, upper: Vector) -> Vector:
    """:func:`lutetia.dosimetry.batch._inside` for one TAC."""
    return [
        _min(_max(s if _finite(s) else f, lo + 1e-9), up - 1e-9)
        for s, f, lo, up in zip(start, fallback, lower, upper, strict=True)
    ]


# --- TIA and its uncertainty ----------------------------------------------------------------


def _tia_terms(
    model: ModelName, p: Vector, last_t: float
) -> tuple[float, Vector, float, float, float]:
    """:func:`lutetia.dosimetry.batch._tia_terms` for one TAC."""
    if model == "uptake_washout":
        a0, lw, extra = p
        lu = lw + extra
        tia = a0 * (1 / lw - 1 / lu)
        derivatives = [1 / lw - 1 / lu, a0 * (-1 / (lw * lw) + 1 / (lu * lu)), a0 / (lu * lu)]
        tail = a0 * _exp(-lw * last_t) / lw - a0 * _exp(-lu * last_t) / lu
        slowest = lw if a0 > 0 else _NAN
        return tia, derivatives, _LN2 / lw, _max(tail, 0.0), slowest
    tia = tail = total = 0.0
    slowest = _INF
    gradient: Vector = []
    for j in range(0, len(p), 2):
        a, lam = p[j], p[j + 1]
        tia += a / lam
        tail += a * _exp(-lam * last_t) / lam
        total += a
        gradient += [1 / lam, -a / (lam * lam)]
        candidate = lam if a > 0 else _INF
        slowest = _min(slowest, candidate)
    if not _finite(slowest):
        slowest = _NAN
    effective = _LN2 / p[1] if model == "mono" else _LN2 * tia / _max(total, 1e-300)
    return tia, gradient, effective, _max(tail, 0.0), slowest


def _covariance_terms(
    model: ModelName, p: Vector, gradient: Vector, *, t: Vector, y: Vector, w: Vector | None
) -> tuple[float, Vector]:
    """:func:`lutetia.dosimetry.batch._covariance_terms` for one TAC: Cholesky of the
    scaled JᵀJ where it is well conditioned, else the engine's pseudo-inverse (numpy)."""
    k = len(p)
    _, _, normal = _evaluate(model, p, t, y, w)
    norms = [math.sqrt(normal[i][i]) for i in range(k)]
    if all(v > 0 for v in norms):
        inv = [1 / v for v in norms]
        scaled = [[normal[i][j] * inv[i] * inv[j] for j in range(k)] for i in range(k)]
        low, ok, pivot = _cholesky(scaled)
        if ok and pivot > 1e-12:
            scaled_gradient = [g * v for g, v in zip(gradient, inv, strict=True)]
            variance = _dot(scaled_gradient, _cholesky_apply(low, scaled_gradient))
            if _finite(variance):
                diagonal = []
                for i in range(k):
                    unit = [float(i == j) for j in range(k)]
                    diagonal.append(_cholesky_apply(low, unit)[i] * (inv[i] * inv[i]))
                return variance, diagonal
    import numpy as np

    from lutetia.dosimetry.batch import _covariance_terms as engine

    values, diagonals = engine(
        model, np.array(p)[:, None], np.array(t)[:, None],
        None if w is None else np.array(w)[:, None], np.array(gradient)[:, None],
    )  # fmt: skip
    return float(values[0]), [float(v) for v in diagonals[:, 0]]


# --- one model ------------------------------------------------------------------------------


def _aicc(ssr: float, n: int, k: int) -> float:
    """:func:`lutetia.dosimetry.batch.aicc_array` for one SSR."""
    if n - k - 1 <= 0:
        return _NAN
    floor = 1e-24 * max(1.0, n)
    return n * math.log(_max(ssr, floor) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _good_enough(ssr: float, y: Vector, k: int, weighted: bool) -> bool:
    """:func:`lutetia.dosimetry.batch._good_enough` for one TAC."""
    n = len(y)
    if weighted:
        return ssr / max(n - k, 1) <= 3.0
    return math.sqrt(ssr / n) <= 0.05 * (sum(y) / n)


@lru_cache(maxsize=16)
def _bounds(model: ModelName, lambda_phys: float) -> tuple[Vector, Vector]:
    """:func:`lutetia.dosimetry.batch._bounds` as lists."""
    from lutetia.dosimetry.batch import _bounds as engine

    lower, upper = engine(model, lambda_phys)
    return [float(v) for v in lower[:, 0]], [float(v) for v in upper[:, 0]]


class RowFit:
    """One model fitted to one TAC, before its uncertainty (:func:`fit_core`): the
    parameters (uptake–washout as A₀, λ_w, λ_u − λ_w), SSR, AICc, whether it is usable
    (converged, finite TIA), the start that won, and the TIA terms."""

    __slots__ = (
        "aicc", "effective", "gradient", "model", "ok", "p", "sd", "slowest", "ssr", "start",
        "t", "tail", "tia", "w", "y",
    )  # fmt: skip

    def __init__(
        self,
        model: ModelName,
        data: tuple[Vector, Vector, Vector | None, Vector | None],
        fitted: tuple[Vector, float, bool, int],
        terms: tuple[float, Vector, float, float, float] | None,
    ) -> None:
        self.model = model
        self.t, self.y, self.sd, self.w = data
        self.p, self.ssr, self.ok, self.start = fitted
        nan_k = [_NAN] * len(self.p)
        self.tia, self.gradient, self.effective, self.tail, self.slowest = terms or (
            _NAN, nan_k, _NAN, _NAN, _NAN,
        )  # fmt: skip
        if not self.ok:
            self.ssr, self.start = _NAN, -1
        self.aicc = _aicc(self.ssr, len(self.y), PARAMETER_COUNT[model])


def _fit(
    model: ModelName,
    p0: Vector,
    data: tuple[Vector, Vector, Vector | None],
    bounds: tuple[Vector, Vector],
) -> tuple[Vector, float, bool]:
    t, y, w = data
    if model == "mono":
        return fit_mono(t, y, w, p0[1], bounds[0][1])
    return levenberg_marquardt(model, p0, t=t, y=y, w=w, lower=bounds[0], upper=bounds[1])


def _fit_core(
    model: ModelName, t: Vector, y: Vector, sd: Vector | None, lambda_phys: float
) -> RowFit:
    k = PARAMETER_COUNT[model]
    bounds = _bounds(model, lambda_phys)
    lower, upper = bounds
    w = None if sd is None else [1 / s for s in sd]
    first, second = _start_values(model, t, y, lambda_phys)
    first, second = _inside(first, second, lower, upper), _inside(second, second, lower, upper)
    p, ssr, ok = _fit(model, first, (t, y, w), bounds)
    start = 0 if ok else -1
    if not (ok and _good_enough(ssr, y, k, sd is not None)):
        p2, ssr2, ok2 = _fit(model, second, (t, y, w), bounds)
        if ok2 and (not ok or ssr2 < ssr):
            p, ssr, ok, start = p2, ssr2, True, 1
    terms = None
    if ok:
        terms = _tia_terms(model, p, t[-1])
        ok = _finite(terms[0])
    return RowFit(model, (t, y, sd, w), (p, ssr, ok, start), terms if ok else None)


def fit_core(
    model: ModelName, t: Vector, y: Vector, sd: Vector | None, lambda_phys: float
) -> RowFit:
    """Fit ``model`` to one TAC that passed the input checks (times ``t``, activities ``y``,
    SDs ``sd`` or None), as :func:`lutetia.dosimetry.batch._fit_rows` does, all but the
    uncertainty (:func:`report`). Raises :class:`Unsupported` where numpy must take over."""
    try:
        return _fit_core(model, t, y, sd, lambda_phys)
    except (ZeroDivisionError, OverflowError, ValueError) as error:
        raise Unsupported from error


def _report(fit: RowFit) -> dict[str, float | Vector]:
    k = PARAMETER_COUNT[fit.model]
    if not fit.ok:
        return {
            "parameters": [_NAN] * k, "ssr": _NAN, "aicc": _NAN, "tia_mbq_h": _NAN,
            "tia_sd_mbq_h": _NAN, "effective_half_life_h": _NAN, "tail_mbq_h": _NAN,
            "slowest_lambda_per_h": _NAN, "max_relative_sd": _NAN, "ok": 0.0, "start": -1.0,
        }  # fmt: skip
    p, ssr, n = fit.p, fit.ssr, len(fit.y)
    variance, parameter_variance = _NAN, [_NAN] * k
    if n > k:
        variance, parameter_variance = _covariance_terms(
            fit.model, p, fit.gradient, t=fit.t, y=fit.y, w=fit.w
        )
        if fit.sd is None:  # curve_fit without absolute_sigma: Σ scaled by SSR/(n − k)
            factor = ssr / (n - k)
            variance *= factor
            parameter_variance = [v * factor for v in parameter_variance]
    tia_sd = math.sqrt(variance) if variance >= 0 and _finite(variance) else _NAN
    if all(isnan(v) for v in parameter_variance):
        relative_sd = _NAN
    else:
        relative_sd = -_INF
        for v, pi in zip(parameter_variance, p, strict=True):
            numerator = math.sqrt(abs(v))
            denominator = abs(pi)
            if denominator > 0:
                relative = numerator / denominator
            else:
                relative = _INF if numerator > 0 else _NAN
            relative_sd = _max(relative_sd, _INF if isnan(relative) else relative)
    shown = list(p)
    if fit.model == "uptake_washout":
        shown[2] = p[1] + p[2]
    return {
        "parameters": shown, "ssr": ssr, "aicc": fit.aicc, "tia_mbq_h": fit.tia,
        "tia_sd_mbq_h": tia_sd, "effective_half_life_h": fit.effective,
        "tail_mbq_h": fit.tail, "slowest_lambda_per_h": fit.slowest,
        "max_relative_sd": relative_sd, "ok": 1.0, "start": float(fit.start),
    }  # fmt: skip


def report(fit: RowFit) -> dict[str, float | Vector]:
    """The row of :func:`lutetia.dosimetry.batch._fit_rows` for a :class:`RowFit`: its
    keys, floats (``parameters`` as reported, uptake–washout as A₀, λ_w, λ_u; ``ok`` 1.0
    or 0.0), with the TIA SD and the largest relative parameter SD (GUM)."""
    try:
        return _report(fit)
    except (ZeroDivisionError, OverflowError, ValueError) as error:
        raise Unsupported from error


def fit_row(
    model: ModelName, t: Vector, y: Vector, sd: Vector | None, lambda_phys: float
) -> dict[str, float | Vector]:
    """:func:`lutetia.dosimetry.batch._fit_rows` for one TAC: :func:`fit_core`, then
    :func:`report`."""
    return report(fit_core(model, t, y, sd, lambda_phys))


def choose(fits: Sequence[RowFit]) -> int:
    """:func:`lutetia.dosimetry.batch.choose_by_aicc` for one TAC: the index of the simplest
    model within ΔAICc < 2 of the best (``fits`` in order of increasing k), −1 if none."""
    values = [f.aicc for f in fits if f.ok and _finite(f.aicc)]
    if not values:
        return -1
    best = min(values)
    for i, f in enumerate(fits):
        if f.ok and _finite(f.aicc) and f.aicc - best < AICC_PREFERENCE:
            return i
    return -1
