"""Time–activity curves: fits, model selection and time-integrated activity (TIA).

Models (t in h after the end of injection, A in MBq; theory: docs/dosimetry.md):

* ``mono``: A(t) = A₁ e^{−λ₁t}
* ``bi``: A(t) = A₁ e^{−λ₁t} + A₂ e^{−λ₂t}
* ``tri``: A(t) = Σ₁³ Aᵢ e^{−λᵢt}
* ``uptake_washout``: A(t) = A₀ (e^{−λ_w t} − e^{−λ_u t}), λ_u > λ_w

Every effective decay constant is bounded below by the physical one
(λ ≥ λ_phys = ln 2 / T½, ICRP-107): activity in a region cannot disappear
more slowly than 177Lu decays. The TIA of a sum of exponentials is
Σ Aᵢ/λᵢ (MIRD Pamphlet 21, Bolch et al., J Nucl Med 2009;50:477-484, eq. 6);
for uptake–washout it is A₀ (1/λ_w − 1/λ_u).

Automatic selection compares the corrected Akaike information criterion,
AICc = n ln(SSR/n) + 2k + 2k(k+1)/(n−k−1) (Burnham & Anderson, Model
Selection and Multimodel Inference, 2nd ed. 2002, eq. 2.2; used for TAC
selection by Glatting G et al., Med Phys 2007;34:4285-4292), over the models
with n ≥ k + 2 points, and prefers the simplest model within ΔAICc < 2 of the
best.

The trapezoid alternative integrates the points with the trapezoidal rule,
a head from (0, 0) to the first point, and a tail from the last point: by
physical decay only (A_last/λ_phys, the conservative default) or by the
mono-exponential through the last two points (never slower than physical).
It needs at least two points.

Fits are done by the batched engine, :mod:`lutetia.dosimetry.batch` (bounded
Levenberg–Marquardt): the same engine fits one organ TAC here and millions of
voxel TACs in :func:`lutetia.dosimetry.batch.fit_voxels`. A TAC fitted alone (or
one of a study's few regions) runs the engine's algorithm in Python floats
(:mod:`lutetia.dosimetry.small_batch`: numpy's cost per call dominates on six
numbers), and only the chosen model's uncertainty is computed.

No fit is returned silently when the data cannot support it: every
:class:`Fit` carries ``warnings`` when no washout was observed (the last point
is the highest), when the slowest fitted clearance sits on the physical-decay
bound (no biological washout resolved), when more than half of the TIA
lies after the last measurement (extrapolated, not measured), when the fitted
curve misses a measured point by more than 20 % (and 2 SDs where SDs are given:
the model does not describe the kinetics), or when the activity rises between
the first two points (by more than 5 %, or 2 combined SDs) and the model has no
uptake phase (the curve before the first point is extrapolated
back to the administration above what was measured).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Literal, cast

from lutetia.dosimetry.plausibility import (
    MAX_ACTIVITY_MBQ,
    check_activity_mbq,
    check_time,
    require_finite,
)
from lutetia.errors import BadInputError
from lutetia.nuclides import decay_constant_per_h, nuclide

if TYPE_CHECKING:
    from lutetia.dosimetry.batch import ModelFits

ModelName = Literal["mono", "bi", "tri", "uptake_washout"]
MODELS: Final[tuple[ModelName, ...]] = ("mono", "uptake_washout", "bi", "tri")
PARAMETER_COUNT: Final[dict[ModelName, int]] = {"mono": 2, "uptake_washout": 3, "bi": 4, "tri": 6}
AICC_PREFERENCE: Final[float] = 2.0
MAX_LAMBDA_PER_H: Final[float] = 50.0
#: More points than any imaging protocol acquires (a dynamic acquisition has tens of frames).
MAX_POINTS: Final[int] = 1000
#: Smallest SD accepted (1 Bq): 1/SD² weights stay finite and no measurement is that precise.
MIN_SD_MBQ: Final[float] = 1e-6
#: Above this share of the TIA after the last point, the TIA is mostly extrapolated.
MAX_TAIL_FRACTION: Final[float] = 0.5
#: A fitted curve farther than this fraction from a measured point (and, where SDs are
#: given, farther than MISFIT_SDS of its SD) does not describe it.
MAX_POINT_MISFIT: Final[float] = 0.20
MISFIT_SDS: Final[float] = 2.0
#: Without SDs, a rise between the first two points by more than this fraction of the first
#: is an uptake phase (with SDs: more than MISFIT_SDS combined SDs).
MIN_RISE_FRACTION: Final[float] = 0.05


@dataclass(frozen=True)
class TimeActivity:
    """Validated TAC points: times (h), activities (MBq), optional SDs (MBq)."""

    time_h: tuple[float, ...]
    activity_mbq: tuple[float, ...]
    sd_mbq: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.time_h)
        if n == 0:
            raise BadInputError("time_h", "no points")
        if n > MAX_POINTS:
            raise BadInputError(
                "time_h", f"{n} points: more than {MAX_POINTS}, not a time–activity curve"
            )
        if len(self.activity_mbq) != n or (self.sd_mbq is not None and len(self.sd_mbq) != n):
            raise BadInputError("activity_mbq", "one value per time point is needed")
        for i, (t, a) in enumerate(zip(self.time_h, self.activity_mbq, strict=True)):
            check_time(t, f"time_h[{i}]", allow_zero=True)
            check_activity_mbq(a, f"activity_mbq[{i}]")
        for i in range(1, n):
            if self.time_h[i] == self.time_h[i - 1]:
                raise BadInputError(f"time_h[{i}]", f"duplicate time {self.time_h[i]:g} h")
            if self.time_h[i] < self.time_h[i - 1]:
                raise BadInputError(
                    f"time_h[{i}]",
                    f"times must increase ({self.time_h[i]:g} h after {self.time_h[i - 1]:g} h)",
                )
        if self.sd_mbq is not None:
            for i, s in enumerate(self.sd_mbq):
                if not (math.isfinite(s) and MIN_SD_MBQ <= s <= MAX_ACTIVITY_MBQ):
                    raise BadInputError(
                        f"activity_sd_mbq[{i}]",
                        f"{s!r} must be a positive SD from {MIN_SD_MBQ:g} to "
                        f"{MAX_ACTIVITY_MBQ:g} MBq",
                    )
        if all(a == 0 for a in self.activity_mbq):
            raise BadInputError("activity_mbq", "all activities are zero")

    def __len__(self) -> int:
        return len(self.time_h)


@dataclass(frozen=True)
class Fit:
    """A fitted TAC: model, parameters, TIA and its standard uncertainty."""

    model: ModelName | Literal["trapezoid"]
    parameters: dict[str, float]
    tia_mbq_h: float
    tia_sd_mbq_h: float | None
    ssr: float
    aicc: float | None
    effective_half_life_h: float | None
    curve: Callable[[float], float] = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def activity_mbq(self, time_h: float) -> float:
        """The fitted (or interpolated) activity at ``time_h``."""
        return self.curve(time_h)


def _lambda_phys() -> float:
    return decay_constant_per_h(nuclide("Lu-177").half_life_h)


def reliability_warnings(
    points: TimeActivity, tia_mbq_h: float, tail_mbq_h: float, slowest_lambda_per_h: float | None
) -> tuple[str, ...]:
    """Why a TIA from these points may be unreliable (see the module docstring).

    ``tail_mbq_h`` is the part of the TIA after the last point; ``slowest_lambda_per_h`` the
    slowest fitted clearance (None for the trapezoid, whose tail is chosen, not fitted).
    """
    warnings: list[str] = []
    values = points.activity_mbq
    last_t, last_a = points.time_h[-1], values[-1]
    if len(points) >= 2 and last_a > 0 and last_a >= max(values[:-1]):
        warnings.append(
            f"no washout observed: the activity is highest at the last point ({last_a:g} MBq "
            f"at {last_t:g} h); after it the curve is extrapolated, not measured (at least "
            "physical decay), so the TIA is unreliable: add a later time point"
        )
    lambda_phys = _lambda_phys()
    if slowest_lambda_per_h is not None and slowest_lambda_per_h <= lambda_phys * (1 + 1e-6):
        half_life = math.log(2) / lambda_phys
        warnings.append(
            "the slowest fitted clearance is physical decay alone (the fit's bound λ ≥ λ_phys, "
            f"T_eff = {half_life:.4g} h, is active): no biological washout was resolved"
        )
    if tia_mbq_h > 0 and tail_mbq_h / tia_mbq_h > MAX_TAIL_FRACTION:
        warnings.append(
            f"{100 * tail_mbq_h / tia_mbq_h:.0f} % of the TIA lies after the last measurement "
            f"at {last_t:g} h and is extrapolated, not measured"
        )
    return tuple(warnings)


def fit_quality_warnings(
    points: TimeActivity, model: ModelName, curve: Callable[[float], float]
) -> tuple[str, ...]:
    """Why the fitted ``curve`` of ``model`` may not describe ``points``: a point it misses
    by more than :data:`MAX_POINT_MISFIT` (and by more than :data:`MISFIT_SDS` of the
    point's SD, where SDs are given), and a rise between the first two points (more than
    :data:`MIN_RISE_FRACTION` of the first, or than MISFIT_SDS combined SDs where SDs are
    given) that a model without an uptake phase cannot follow, so that it is extrapolated
    back to t = 0 above the measurements; and a fit of more than a mono-exponential with as
    many parameters as points."""
    warnings: list[str] = []
    # The mono-exponential through two points is the two-time-point method, its tail
    # bounded by physical decay; a model with more components is not bounded so.
    k = PARAMETER_COUNT.get(model)
    if k is not None and k > PARAMETER_COUNT["mono"] and len(points) <= k:
        warnings.append(
            f"{len(points)} points and {k} parameters: the {model} fit has no degree of "
            "freedom left, so nothing checks that the model describes the points, its "
            "uncertainty is unknown, and the curve before the first and after the last point "
            "is not constrained by the measurements (the TIA may be far off): use a model with "
            "fewer parameters (auto) or more time points"
        )
    misses = []
    sds = points.sd_mbq or (0.0,) * len(points)
    for t, measured, sd in zip(points.time_h, points.activity_mbq, sds, strict=True):
        fitted = curve(t)
        miss = abs(fitted - measured)
        if measured > 0 and miss > MAX_POINT_MISFIT * measured and miss > MISFIT_SDS * sd:
            misses.append(
                f"{t:g} h: measured {measured:.4g} MBq, fitted {fitted:.4g} MBq "
                f"({100 * (fitted / measured - 1):+.0f} %)"
            )
    if misses:
        warnings.append(
            f"the fitted {model} curve misses {len(misses)} of the {len(points)} points by more "
            f"than {100 * MAX_POINT_MISFIT:.0f} % ({'; '.join(misses)}): the model does not "
            "describe these points (other kinetics, or a point off by motion, partial volume "
            "or a wrong time), so the TIA is unreliable"
        )
    values = points.activity_mbq
    if model != "uptake_washout" and len(values) >= 2:
        margin = MIN_RISE_FRACTION * values[0]
        if points.sd_mbq is not None:
            margin = MISFIT_SDS * math.hypot(points.sd_mbq[0], points.sd_mbq[1])
        if values[1] - values[0] > margin:
            t0, t1 = points.time_h[0], points.time_h[1]
            warnings.append(
                f"the activity rises from {t0:g} h to {t1:g} h ({values[0]:.4g} → "
                f"{values[1]:.4g} MBq) but the {model} model has no uptake phase: before "
                f"{t0:g} h the curve is extrapolated back to {curve(0.0):.4g} MBq at the "
                "administration, so that part of the TIA is overestimated (the uptake–washout "
                "model follows a rise; chosen automatically it needs at least 5 points)"
            )
    return tuple(warnings)


def aicc(ssr: float, n: int, k: int) -> float:
    """AICc for a least-squares fit (Burnham & Anderson 2002, eq. 2.2)."""
    if n - k - 1 <= 0:
        raise BadInputError("points", f"AICc needs more than {k + 1} points for {k} parameters")
    # A perfect fit has SSR = 0; a floor keeps AICc finite and equal for all exact models.
    floor = 1e-24 * max(1.0, n)
    return n * math.log(max(ssr, floor) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def components(model: ModelName, p: list[float]) -> tuple[list[float], list[float]]:
    """Amplitudes and decay constants of a model from its reported parameters (uptake–washout
    as A₀, λ_w, λ_u: A₀e^{−λ_w t} − A₀e^{−λ_u t})."""
    if model == "uptake_washout":
        a0, lw, lu = p
        return [a0, -a0], [lw, lu]
    return p[0::2], p[1::2]


def _optional(value: float) -> float | None:
    return value if math.isfinite(value) else None


_ROW_VALUES: Final[tuple[str, ...]] = (
    "tia_mbq_h", "tia_sd_mbq_h", "ssr", "aicc", "effective_half_life_h", "tail_mbq_h",
    "slowest_lambda_per_h",
)  # fmt: skip


def _as_fit(points: TimeActivity, fits: ModelFits, row: int = 0) -> Fit:
    """The :class:`Fit` of row ``row`` of a batch fit (``points``: that row's TAC)."""
    from lutetia.dosimetry.batch import Status

    values = {name: float(getattr(fits, name)[row]) for name in _ROW_VALUES}
    parameters = [float(v) for v in fits.parameters[row]]
    return _fit_of(points, fits.model, fits.status[row] == Status.OK, parameters, values)


def _fit_of(
    points: TimeActivity,
    model: ModelName,
    ok: bool,
    parameters: list[float],
    values: Mapping[str, object],
) -> Fit:
    """The :class:`Fit` of one fitted row: its parameters as reported and the values named
    in :data:`_ROW_VALUES` (``ok``: the fit converged with a finite TIA)."""
    from lutetia.dosimetry.batch import parameter_names

    if not ok:
        # TimeActivity has checked the points, so only the fit itself can have failed.
        raise BadInputError("--model", f"the {model} model could not be fitted to these points")
    number = {name: float(cast(float, values[name])) for name in _ROW_VALUES}
    tia = require_finite(number["tia_mbq_h"], "tia_mbq_h")
    amplitudes, lambdas = components(model, parameters)

    def curve(t: float) -> float:
        return math.fsum(a * math.exp(-lam * t) for a, lam in zip(amplitudes, lambdas, strict=True))

    cautions = reliability_warnings(
        points, tia, number["tail_mbq_h"], _optional(number["slowest_lambda_per_h"])
    ) + fit_quality_warnings(points, model, curve)
    return Fit(
        model, dict(zip(parameter_names(model), parameters, strict=True)), tia,
        _optional(number["tia_sd_mbq_h"]), number["ssr"], _optional(number["aicc"]),
        number["effective_half_life_h"], curve, warnings=cautions,
    )  # fmt: skip


def _alone(points: TimeActivity, model: ModelName | None) -> Fit | BadInputError | None:
    """``model`` (None: the AICc choice among the candidates) fitted to one TAC by the
    engine's algorithm in Python floats (:mod:`lutetia.dosimetry.small_batch`, as
    :func:`lutetia.dosimetry.batch.fit_batch` fits a few TACs), the uncertainty computed
    for the chosen model only. None where that path hands the TAC to numpy."""
    from lutetia.dosimetry.batch import candidate_models, lambda_phys_per_h
    from lutetia.dosimetry.small_batch import Unsupported, choose, fit_core, report

    t = [float(v) for v in points.time_h]
    y = [float(v) for v in points.activity_mbq]
    sd = None if points.sd_mbq is None else [float(v) for v in points.sd_mbq]
    lambda_phys = lambda_phys_per_h()
    models = candidate_models(len(t)) if model is None else (model,)
    try:
        fits = [fit_core(m, t, y, sd, lambda_phys) for m in models]
        index = choose(fits) if model is None else 0
        if index < 0:
            return BadInputError("points", "no model could be fitted")
        row = report(fits[index])
    except Unsupported:
        return None
    parameters = cast(list[float], row["parameters"])
    try:
        fit = _fit_of(points, fits[index].model, bool(row["ok"]), parameters, row)
    except BadInputError as error:
        return error
    if model is not None:
        return fit
    return replace(fit, notes=tuple(f"{f.model}: AICc {f.aicc:.2f}" for f in fits if f.ok))


def fit_model(points: TimeActivity, model: ModelName) -> Fit:
    """Least-squares fit of one model (weighted by 1/SD² when SDs are given).

    The batched engine's algorithm for one TAC (:mod:`lutetia.dosimetry.small_batch`;
    :func:`lutetia.dosimetry.batch.fit_models` with numpy where that hands over):
    bounded Levenberg–Marquardt from the peeled start, then from the alternative one
    when the first fit is not good enough; TIA SD by the GUM's first-order propagation.
    """
    from lutetia.dosimetry.batch import _models_for, fit_models

    if model in PARAMETER_COUNT:
        _models_for(model, len(points))  # the engine's checks of the model and the points
        result = _alone(points, model)
        if isinstance(result, BadInputError):
            raise result
        if result is not None:
            return result
    return _as_fit(
        points, fit_models(points.time_h, points.activity_mbq, model, sd_mbq=points.sd_mbq)
    )


def select_model(points: TimeActivity) -> Fit:
    """Fit every model with enough points; the simplest within ΔAICc < 2 of the best.

    The batched engine's ``"auto"`` (:func:`lutetia.dosimetry.batch.fit_batch`) for one
    TAC, in Python floats (:mod:`lutetia.dosimetry.small_batch`); ``notes`` give every
    fitted model's AICc.
    """
    result = select_models([points])[0]
    if isinstance(result, BadInputError):
        raise result
    return result


def select_models(series: Sequence[TimeActivity]) -> list[Fit | BadInputError]:
    """:func:`select_model` for several TACs (one study's regions) in one batch.

    The TACs with the same number of points, AICc selection and the same use of SDs
    (all given or none) are fitted together by one call of the batched engine (up to
    :data:`lutetia.dosimetry.batch._ONE_BY_ONE` of them one at a time in Python floats,
    as the engine fits so few); each TAC gets its :class:`Fit`, or the
    :class:`~lutetia.errors.BadInputError` that says why it has none, in the order given.
    """
    from lutetia.dosimetry.batch import _ONE_BY_ONE, Status, candidate_models, fit_batch

    results: list[Fit | BadInputError | None] = [None] * len(series)
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, points in enumerate(series):
        n = len(points)
        if candidate_models(n):
            groups.setdefault((n, points.sd_mbq is not None), []).append(i)
            continue
        if n >= 2:
            try:
                fit = fit_model(points, "mono")
            except BadInputError as error:
                results[i] = error
            else:
                results[i] = replace(
                    fit, aicc=None,
                    notes=(f"{n} points: too few for AICc selection; mono-exponential fitted",),
                )  # fmt: skip
        else:
            results[i] = BadInputError(
                "points", "one point: use a single-time-point method (lutetia dose stp)"
            )
    for (_, with_sd), group in groups.items():
        rows = group
        if len(group) <= _ONE_BY_ONE:
            alone = [_alone(series[i], None) for i in group]
            for i, result in zip(group, alone, strict=True):
                results[i] = result
            rows = [i for i, result in zip(group, alone, strict=True) if result is None]
            if not rows:
                continue
        times = [series[i].time_h for i in rows]
        batch = fit_batch(
            times[0] if all(t == times[0] for t in times) else times,
            [series[i].activity_mbq for i in rows],
            "auto",
            sd_mbq=[series[i].sd_mbq or () for i in rows] if with_sd else None,
        )
        for row, i in enumerate(rows):
            index = int(batch.model_index[row])
            if index < 0:
                results[i] = BadInputError("points", "no model could be fitted")
                continue
            notes = tuple(
                f"{f.model}: AICc {float(f.aicc[row]):.2f}"
                for f in batch.fits
                if f.status[row] == Status.OK
            )
            try:
                fit = _as_fit(series[i], batch.fits[index], row)
            except BadInputError as error:
                results[i] = error
            else:
                results[i] = replace(fit, notes=notes)
    return [result for result in results if result is not None]


def trapezoid(points: TimeActivity, *, tail: Literal["physical", "fitted"] = "physical") -> Fit:
    """Trapezoidal TIA with a head from (0, 0) and a tail from the last point (≥ 2 points)."""
    if len(points) < 2:
        raise BadInputError(
            "--model",
            "trapezoid needs at least two points; for one point use a single-time-point "
            "method (lutetia dose stp)",
        )
    if tail not in ("physical", "fitted"):
        raise BadInputError("--tail", f"{tail!r} is not physical or fitted")
    lambda_phys = _lambda_phys()
    ts = [0.0, *points.time_h] if points.time_h[0] > 0 else list(points.time_h)
    activities = [0.0, *points.activity_mbq] if points.time_h[0] > 0 else list(points.activity_mbq)
    body = sum(
        (t2 - t1) * (a1 + a2) / 2
        for t1, t2, a1, a2 in zip(ts, ts[1:], activities, activities[1:], strict=False)
    )
    tail_lambda = lambda_phys
    notes = ["head: linear from (0, 0) to the first point"]
    if tail == "fitted" and points.activity_mbq[-1] > 0 and points.activity_mbq[-2] > 0:
        t1, t2 = points.time_h[-2:]
        a1, a2 = points.activity_mbq[-2:]
        tail_lambda = max(math.log(a1 / a2) / (t2 - t1), lambda_phys)
        notes.append("tail: mono-exponential through the last two points (≥ physical decay)")
        if tail_lambda == lambda_phys:
            notes.append("tail: the last two points fall no faster than physical decay")
    else:
        notes.append("tail: physical decay from the last point")
    tail_tia = points.activity_mbq[-1] / tail_lambda
    tia = require_finite(body + tail_tia, "tia_mbq_h")

    def curve(t: float) -> float:
        if t >= ts[-1]:
            return float(activities[-1] * math.exp(-tail_lambda * (t - ts[-1])))
        for i in range(len(ts) - 1):
            if ts[i] <= t <= ts[i + 1]:
                share = (t - ts[i]) / (ts[i + 1] - ts[i])
                return float(activities[i] + (activities[i + 1] - activities[i]) * share)
        return 0.0

    return Fit(
        "trapezoid", {"tail_lambda_per_h": tail_lambda, "tail_mbq_h": tail_tia}, tia, None, 0.0,
        None, None, curve, tuple(notes), reliability_warnings(points, tia, tail_tia, None),
    )  # fmt: skip


def fit_tac(
    points: TimeActivity,
    model: ModelName | Literal["auto", "trapezoid"] = "auto",
    *,
    tail: Literal["physical", "fitted"] | None = None,
) -> Fit:
    """Fit ``model`` (or choose one with ``auto``) and integrate.

    ``tail`` chooses the trapezoid's tail and is refused with any other model
    (it would be ignored).
    """
    if tail is not None and model != "trapezoid":
        raise BadInputError("--tail", "applies to --model trapezoid only")
    if model == "auto":
        return select_model(points)
    if model == "trapezoid":
        return trapezoid(points, tail=tail or "physical")
    if model not in PARAMETER_COUNT:
        raise BadInputError("--model", f"{model!r} is not one of auto, mono, bi, tri, trapezoid")
    return fit_model(points, model)
