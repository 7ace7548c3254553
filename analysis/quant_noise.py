"""Quantization noise of fxsim's fixed-point rounding: SQNR, bias and clipping.

Three measurements, each beside its theory:

* **SQNR against bits** (b = 2..16) for four inputs and all fourteen
  rounding modes of :class:`fxsim.Rounding`.  The quantizer is the signed
  b-bit format ``s{b}.{b-1}`` (two's complement, values ``n * D`` with
  ``D = 2**(1-b)``, ``n`` from ``-2**(b-1)`` to ``2**(b-1) - 1``, so the
  range is ``[-1, 1 - D]``), ``overflow="saturate"``.  Inputs:

  - ``uniform``: uniform on ``[-1, 1)``, the full scale (the ``2**b``
    cells ``[n D, (n+1) D)`` of the grid);
  - ``sine``: ``A sin(2 pi u)`` with ``u`` uniform and ``A = 1 - D``, the
    largest value of the format (a full-scale sinusoid that never saturates);
  - ``gaussian``: normal with ``sigma = 1/4``, i.e. clipped at +-4 sigma;
  - ``laplace``: Laplace with ``sigma = 1/8`` (scale ``1/(8 sqrt 2)``),
    clipped at +-8 sigma: its heavier tail needs twice the range (in sigma)
    for a clipping-noise floor about as low as the Gaussian's.

  SQNR = (the input's exact mean square) / (the estimated mean square of
  the error ``e = q - x``).  The Gaussian and Laplace inputs are drawn by
  stratified sampling (inside and beyond ``|x| = 1 - D``, the tail stratum
  with 1/8 of the draws, each weighted by its exact probability), so the
  clipping noise, which comes from rare draws, is measured precisely.
  Theory: the additive-noise model, where the fractional part
  ``f = x/D - floor(x/D)`` is uniform on [0, 1) and each mode's error has
  mean ``m D`` and mean square ``c D**2`` (:data:`MODE_MOMENTS`): nearest
  modes ``c = 1/12`` (the D**2/12 model), stochastic rounding ``1/6``, every
  other mode ``1/3``.  A full-scale uniform input then has
  SQNR ``6.02 b - 10 log10(12 c)`` dB; a full-scale sinusoid
  ``6.02 b + 1.76 + 20 log10(A) - 10 log10(12 c)`` dB (the textbook line is
  for the sinusoid only); the Gaussian and Laplace inputs get the granular
  ``c D**2`` over the range plus the clipping noise beyond the format's ends
  (:func:`model_error_moments`, closed forms via scipy).  For the uniform
  input the theory is also exact: :func:`uniform_cells_theory` averages the
  exact per-cell error moments, including the top cell, where every mode
  saturates.
* **Bias and variance per mode** at b = 8 on a uniform input that covers
  ``[-1 + D, 1 - D)``: whole cells, symmetric, as many odd as even ``n``,
  and no mode ever saturates, so the per-cell theory is exact.  Mean error,
  mean error over ``x > 0`` (the sign-dependent modes' bias), variance and
  mean square, in units of D, with 95 % confidence intervals (normal
  approximation: +-1.96 standard errors of the sample mean; for the
  variance the standard error ``sqrt((m4 - s**4) / N)``).
* **The clipping trade-off for Gaussian inputs**, b in {2, 3, 4, 8}: the MSE
  (in sigma**2) of a symmetric b-bit quantizer with clipping threshold
  ``alpha`` (in sigma) and step ``D = 2 alpha / 2**b``.  ACIQ's analytic
  model (Banner, Nahshan, Soudry, "Post training 4-bit quantization of
  convolutional networks for rapid-deployment", arXiv 1810.05723):
  ``D**2/12 + 2 * integral_alpha^inf (x - alpha)**2 phi(x) dx``
  (:func:`aciq_mse`), the exact MSE of the b-bit mid-rise quantizer
  (levels ``(k + 1/2) D``, ``k = -2**(b-1) .. 2**(b-1) - 1``;
  :func:`midrise_mse`), fxsim Monte Carlo of that quantizer, and fxsim Monte
  Carlo of the quantizer the ACIQ authors simulate (clip to +-alpha, round
  to the nearest multiple of D: ``2**b + 1`` levels).

What is exact and what is rounded where: ``fxsim.quantize`` rounds each
float64 input once onto the grid (exactly, by the mode's rule) and
saturates; its float64 output is exact.  Everything else is float64:
drawing the inputs, the error ``q - x`` and the mid-rise offset (relative
rounding at most 2**-53, far below the Monte Carlo noise), and the
statistics.  Random draws come from ``numpy.random.default_rng`` seeded from
each task's arguments; the stochastic modes get their random bits
(``random_bits = 32``, fxsim's default) from
``default_rng([seed, mode index, stratum])`` (bias table: ``[seed, 1]``).
With R random bits, fxsim rounds up with probability ``floor(f 2**R) / 2**R``,
so stochastic rounding's exact mean error is ``-D / 2**(R+1)`` on average
over f (about -1e-10 D): zero at any sample size used here.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize, special, stats

import fxsim

from . import report
from .sweep import Task

TITLE = "Quantization noise: SQNR against bits, rounding-mode bias, and the clipping trade-off"

#: Seeds: SEED_BASE + 1000 * part + 100 * index + bits (parts: SQNR, bias, clipping).
SEED_BASE = 6_200_000
#: Every rounding mode, in fxsim's order.
MODES = tuple(m.value for m in fxsim.Rounding)
NEAREST_MODES = tuple(m for m in MODES if m.startswith("nearest"))
INPUTS = ("uniform", "sine", "gaussian", "laplace")
#: Clipping range of the Gaussian and Laplace inputs, in their standard deviations.
CLIP_SIGMAS = {"gaussian": 4.0, "laplace": 8.0}
#: Stratified sampling: the Gaussian and Laplace SQNR inputs are drawn separately
#: inside and beyond |x| = 1 - D (the top of the range), the clipping study's
#: N(0, 1) inside and beyond CLIP_TAIL_AT; the tail stratum gets 1 / TAIL_SPLIT
#: of the draws.
CLIP_TAIL_AT = 2.5
TAIL_SPLIT = 8
#: z of the two-sided 95 % normal confidence interval.
Z95 = 1.959963984540054
#: b of the bias/variance table.
TABLE_BITS = 8
#: Bits of the clipping study.
CLIP_BITS = (2, 3, 4, 8)
#: Optimal alpha/sigma for Gaussian inputs as published in the ACIQ authors' code
#: (github.com/submission2019/cnn-quantization, pytorch_quantizer/quantization/
#: qtypes/int_quantizer.py: "Alpha coeficients for for gaussian clipping").
BANNER_ALPHA_GAUSS = {2: 1.71063519, 3: 2.15159277, 4: 2.55913646, 5: 2.93620062,
                      6: 3.28691474, 7: 3.6151146, 8: 3.92403714}

# Error moments in units of D of a cell [n D, (n+1) D) with f uniform on [0, 1):
# rounding down gives e = -f, rounding up e = 1 - f.
_DOWN = (-0.5, 1.0 / 3.0)
_UP = (0.5, 1.0 / 3.0)

#: (mean / D, mean square / D**2) of each mode's error for a smooth symmetric
#: input (uniform fractional part, as many positive as negative values, as
#: many odd as even cells); the additive-noise model.
MODE_MOMENTS = {m: (0.0, 1.0 / 12.0) for m in NEAREST_MODES}
MODE_MOMENTS.update({"down": _DOWN, "up": _UP, "toward_zero": (0.0, 1 / 3), "away": (0.0, 1 / 3),
                     "odd": (0.0, 1 / 3), "jam": (0.0, 1 / 3), "stochastic": (0.0, 1 / 6),
                     "stochastic_equal": (0.0, 1 / 3)})


# ---------------------------------------------------------------- formats and inputs
def fixed_format(bits: int) -> fxsim.FixedFormat:
    """The b-bit signed format ``s{b}.{b-1}``: step ``2**(1-b)``, range ``[-1, 1 - step]``."""
    return fxsim.FixedFormat(bits, bits - 1)


def step(bits: int) -> float:
    """The grid step D = 2**(1-b) of :func:`fixed_format` (exact in float64)."""
    return 2.0 ** (1 - bits)


def input_sigma(kind: str) -> float:
    """Standard deviation of a Gaussian/Laplace input: the range end 1 over CLIP_SIGMAS."""
    return 1.0 / CLIP_SIGMAS[kind]


def draw_input(kind: str, bits: int, n: int, rng) -> list:
    """Draws of input ``kind`` for the b-bit format, as strata ``[(weight, x), ...]``.

    The uniform input and the sinusoid are one stratum of ``n`` plain draws.
    The Gaussian and Laplace inputs are sampled in two strata (stratified
    sampling, so the rare clipped values are measured, not guessed from a
    handful of draws): ``|x| <= 1 - D`` (inside the range) with
    ``n - n // TAIL_SPLIT`` draws and ``|x| > 1 - D`` (clipped, up to a sliver
    below -1 + D) with ``n // TAIL_SPLIT``, weighted by their exact
    probabilities (:func:`draw_stratum`)."""
    if kind == "uniform":
        return [(1.0, rng.uniform(-1.0, 1.0, n))]
    if kind == "sine":
        return [(1.0, (1.0 - step(bits)) * np.sin(2.0 * np.pi * rng.random(n)))]
    if kind in CLIP_SIGMAS:
        return stratified_draws(kind, input_sigma(kind), 1.0 - step(bits), n, rng)
    raise ValueError(f"unknown input {kind!r}; choose one of {INPUTS}")


def tail_probability(kind: str, sigma: float, tau: float) -> float:
    """P(|x| > tau) for the zero-mean Gaussian/Laplace of standard deviation sigma."""
    if kind == "gaussian":
        return float(2.0 * stats.norm.sf(tau / sigma))
    return math.exp(-tau * math.sqrt(2.0) / sigma)


def draw_stratum(kind: str, sigma: float, tau: float, tail: bool, n: int, rng) -> np.ndarray:
    """``n`` draws of the zero-mean Gaussian/Laplace of standard deviation sigma
    conditioned on ``|x| > tau`` (``tail``) or ``|x| <= tau``.

    Inverse-CDF sampling of ``|x|`` in float64 (Gaussian: ``norm.isf`` in the
    tail, ``norm.ppf`` inside; Laplace of scale ``s = sigma / sqrt 2``:
    ``tau + s * Exp(1)`` in the tail, by memorylessness, and the truncated
    exponential inside), then a random sign."""
    u = 1.0 - rng.random(n) if tail else rng.random(n)       # (0, 1] in the tail, [0, 1) inside
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if kind == "gaussian":
        t = tau / sigma
        if tail:
            mag = stats.norm.isf(u * stats.norm.sf(t))
        else:
            mag = stats.norm.ppf(0.5 + u * (stats.norm.cdf(t) - 0.5))
        return sign * sigma * mag
    s = sigma / math.sqrt(2.0)
    if tail:
        return sign * (tau - s * np.log(u))
    return sign * (-s * np.log1p(u * math.expm1(-tau / s)))


def stratified_draws(kind: str, sigma: float, tau: float, n: int, rng) -> list:
    """Two strata ``[(P(|x| <= tau), x_inside), (P(|x| > tau), x_tail)]``."""
    n_tail = n // TAIL_SPLIT
    p_tail = tail_probability(kind, sigma, tau)
    return [(1.0 - p_tail, draw_stratum(kind, sigma, tau, False, n - n_tail, rng)),
            (p_tail, draw_stratum(kind, sigma, tau, True, n_tail, rng))]


def input_power(kind: str, bits: int) -> float:
    """The input distribution's mean square (exact)."""
    if kind == "uniform":
        return 1.0 / 3.0
    if kind == "sine":
        return (1.0 - step(bits)) ** 2 / 2.0
    return input_sigma(kind) ** 2


def quantization_error(x: np.ndarray, bits: int, mode: str, seed) -> np.ndarray:
    """``q - x`` with ``q = fxsim.quantize(x, s{b}.{b-1}, mode, overflow="saturate")``.

    ``seed`` seeds the random bits of the stochastic modes (ignored otherwise)."""
    rng = np.random.default_rng(seed) if fxsim.Rounding(mode).is_stochastic else None
    q = fxsim.quantize(x, fixed_format(bits), mode, overflow="saturate", rng=rng)
    return q - x


# ---------------------------------------------------------------- statistics
def stratified_stats(parts) -> dict:
    """Mean and mean square of the error over strata ``[(weight, e), ...]``
    (weights summing to 1), with 95 % CI half-widths:
    ``sum w_i mean_i`` and ``Z95 * sqrt(sum w_i**2 s_i**2 / n_i)``."""
    mean = mse = var_mean = var_mse = 0.0
    for w, e in parts:
        sq = e * e
        mean += w * float(e.mean())
        mse += w * float(sq.mean())
        var_mean += w * w * float(e.var()) / e.size
        var_mse += w * w * float(sq.var()) / e.size
    return {"mean": mean, "mean_hw": Z95 * math.sqrt(var_mean),
            "mse": mse, "mse_hw": Z95 * math.sqrt(var_mse)}


def error_stats(e: np.ndarray, positive=None) -> dict:
    """Mean, variance and mean square of ``e`` with their 95 % CI half-widths.

    ``positive``: a boolean mask; adds the mean (and half-width) over it."""
    n = e.size
    mean = float(e.mean())
    sq = e * e
    msq = float(sq.mean())
    centered = e - mean
    c2 = centered * centered
    var = float(c2.mean())
    m4 = float((c2 * c2).mean())
    out = {"n": n, "mean": mean, "mean_hw": Z95 * math.sqrt(var / n),
           "mse": msq, "mse_hw": Z95 * float(sq.std()) / math.sqrt(n),
           "var": var, "var_hw": Z95 * math.sqrt(max(m4 - var * var, 0.0) / n)}
    if positive is not None:
        ep = e[positive]
        out["mean_pos"] = float(ep.mean())
        out["mean_pos_hw"] = Z95 * float(ep.std()) / math.sqrt(ep.size)
    return out


def sqnr_db(power: float, mse: float) -> float:
    return 10.0 * math.log10(power / mse)


# ---------------------------------------------------------------- theory: exact, per cell
def cell_moments(mode: str, n: int, int_max: int) -> tuple:
    """Exact (mean / D, mean square / D**2) of the error of ``mode`` for x uniform
    in the cell ``[n D, (n+1) D)`` of a saturating fixed-point grid.

    Straight from the mode definitions (fxsim.modes): with ``f`` uniform,
    rounding down gives ``e = -f`` (moments -1/2, 1/3), up ``e = 1 - f``
    (1/2, 1/3); nearest ``e`` uniform on [-1/2, 1/2] (0, 1/12); stochastic up
    with probability f: ``E[e^2 | f] = f (1 - f)``, mean 0, mean square 1/6;
    stochastic_equal up with probability 1/2: mean 1/2 - E f = 0, mean square
    E[(f^2 + (1-f)^2)/2] = 1/3.  Cells with ``n >= 0`` hold positive x.  In the
    top cell (``n = int_max``) ``n + 1`` saturates to ``n``: every mode rounds
    down there."""
    if n >= int_max:
        return _DOWN
    if mode in NEAREST_MODES:
        return (0.0, 1.0 / 12.0)
    if mode == "stochastic":
        return (0.0, 1.0 / 6.0)
    if mode == "stochastic_equal":
        return (0.0, 1.0 / 3.0)
    goes_up = {"down": False, "up": True, "toward_zero": n < 0, "away": n >= 0,
               "odd": n % 2 == 0, "jam": n % 2 == 0}[mode]
    return _UP if goes_up else _DOWN


@functools.lru_cache(maxsize=None)
def uniform_cells_theory(mode: str, bits: int, n_lo: int, n_hi: int) -> dict:
    """Exact error moments (units of D) for x uniform over the cells n_lo..n_hi
    (inclusive) of the b-bit format: the average of :func:`cell_moments`.
    ``mean_pos`` averages the cells of positive x only."""
    int_max = fixed_format(bits).int_max
    n = np.arange(n_lo, n_hi + 1)
    # A cell's moments depend only on its sign, parity and whether it is the top
    # cell: evaluate one representative cell per class, weighted by the count.
    kind = 4 * (n < 0) + 2 * (n % 2 == 1) + (n >= int_max)
    classes, first, count = np.unique(kind, return_index=True, return_counts=True)
    moments = np.array([cell_moments(mode, int(n[i]), int_max) for i in first])
    mean, msq = count @ moments / n.size
    positive = classes < 4
    mean_pos = count[positive] @ moments[positive, 0] / count[positive].sum()
    return {"mean": float(mean), "mse": float(msq), "var": float(msq - mean * mean),
            "mean_pos": float(mean_pos)}


def uniform_sqnr_theory(mode: str, bits: int) -> float:
    """Exact SQNR (dB) of the full-scale uniform input U[-1, 1) (all 2**b cells)."""
    half = 1 << (bits - 1)
    mse = uniform_cells_theory(mode, bits, -half, half - 1)["mse"] * step(bits) ** 2
    return sqnr_db(1.0 / 3.0, mse)


def table_input_range(bits: int) -> tuple:
    """The bias-table input [-1 + D, 1 - D): cells -2**(b-1)+1 .. 2**(b-1)-2."""
    half = 1 << (bits - 1)
    return -half + 1, half - 2


# ---------------------------------------------------------------- theory: additive-noise model
def _tail(kind: str, a: float) -> tuple:
    """(P(x > a), E[(x - a); x > a], E[(x - a)^2; x > a]) for a >= 0 (closed forms)."""
    sigma = input_sigma(kind)
    if kind == "gaussian":
        t = a / sigma
        q, p = stats.norm.sf(t), stats.norm.pdf(t)
        return q, sigma * (p - t * q), sigma ** 2 * ((1 + t * t) * q - t * p)
    s = sigma / math.sqrt(2.0)          # Laplace scale
    tail = 0.5 * math.exp(-a / s)
    return tail, s * tail, 2 * s * s * tail


def model_error_moments(kind: str, bits: int, mode: str) -> tuple:
    """(mean, mean square) of the error under the additive-noise model.

    Granular part: ``m D`` and ``c D**2`` (:data:`MODE_MOMENTS`) for x inside
    the format's range ``[-1, 1 - D]``; clipping part: x beyond an end is
    replaced by that end, exactly.  The uniform input and the sinusoid never
    reach beyond the ends here (the uniform's top cell is left to the exact
    theory), so their model is the granular part alone."""
    d = step(bits)
    m, c = MODE_MOMENTS[mode]
    if kind in ("uniform", "sine"):
        return m * d, c * d * d
    p_hi, e1_hi, e2_hi = _tail(kind, 1.0 - d)      # x > 1 - D -> 1 - D: e = -(x - (1 - D))
    p_lo, e1_lo, e2_lo = _tail(kind, 1.0)          # x < -1 -> -1: e = +(-1 - x)
    inside = 1.0 - p_hi - p_lo
    mean = m * d * inside - e1_hi + e1_lo
    return mean, c * d * d * inside + e2_hi + e2_lo


def model_sqnr_db(kind: str, bits: int, mode: str) -> float:
    return sqnr_db(input_power(kind, bits), model_error_moments(kind, bits, mode)[1])


# ---------------------------------------------------------------- theory: Gaussian clipping
def gaussian_clip_noise(alpha: float) -> float:
    """``2 * integral_alpha^inf (x - alpha)^2 phi(x) dx`` in sigma**2 (closed form:
    ``2 ((1 + alpha^2) Q(alpha) - alpha phi(alpha))``)."""
    return 2.0 * ((1.0 + alpha * alpha) * special.ndtr(-alpha) - alpha * _phi(alpha))


def _phi(x):
    """The standard normal density (0 at +-inf)."""
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def aciq_mse(alpha: float, bits: int) -> float:
    """ACIQ's model: ``D**2 / 12 + clipping noise``, ``D = 2 alpha / 2**b`` (sigma**2)."""
    d = 2.0 * alpha / 2 ** bits
    return d * d / 12.0 + gaussian_clip_noise(alpha)


def midrise_mse(alpha: float, bits: int) -> float:
    """Exact MSE (sigma**2) of the b-bit mid-rise quantizer with clipping at alpha.

    Levels ``y_k = (k + 1/2) D``, ``k = -K .. K-1``, ``K = 2**(b-1)``,
    ``D = 2 alpha / 2**b``; level ``y_k`` takes ``[k D, (k+1) D)``, the outer
    levels everything beyond.  Sum over the cells of
    ``integral (x - y)^2 phi = (1 + y^2) dPhi - [x phi] + 2 y [phi]``."""
    half = 1 << (bits - 1)
    d = 2.0 * alpha / 2 ** bits
    k = np.arange(-half, half, dtype=np.float64)
    y = (k + 0.5) * d
    lo, hi = k * d, (k + 1) * d
    lo[0], hi[-1] = -np.inf, np.inf
    mass = special.ndtr(hi) - special.ndtr(lo)
    with np.errstate(invalid="ignore"):                  # inf * 0 at the outer ends
        x_phi_lo, x_phi_hi = lo * _phi(lo), hi * _phi(hi)
    x_phi_lo[0] = x_phi_hi[-1] = 0.0                   # x phi(x) -> 0 at +-inf
    return float(np.sum((1 + y * y) * mass - (x_phi_hi - x_phi_lo)
                        + 2 * y * (_phi(hi) - _phi(lo))))


def optimal_alpha(mse, bits: int) -> float:
    """The alpha (sigma) minimizing ``mse(alpha, bits)`` on [0.5, 10]."""
    res = optimize.minimize_scalar(lambda a: mse(a, bits), bounds=(0.5, 10.0), method="bounded",
                                   options={"xatol": 1e-9})
    return float(res.x)


# ---------------------------------------------------------------- tasks
def sqnr_task(kind: str, bits: int, n: int, seed: int) -> dict:
    """One input and b: per mode, the error's mean and mean square (95 % CIs).

    All modes see the same ``n`` draws (common random numbers)."""
    strata = draw_input(kind, bits, n, np.random.default_rng(seed))
    out = {}
    for i, mode in enumerate(MODES):
        out[mode] = stratified_stats([(w, quantization_error(x, bits, mode, [seed, i, j]))
                                      for j, (w, x) in enumerate(strata)])
    return out


def bias_task(mode: str, bits: int, n: int, seed: int) -> dict:
    """Error statistics (units of D) of ``mode`` on x uniform over [-1 + D, 1 - D)."""
    d = step(bits)
    x = np.random.default_rng(seed).uniform(-1.0 + d, 1.0 - d, n)
    e = quantization_error(x, bits, mode, [seed, 1]) / d
    return error_stats(e, positive=x > 0)


def clipping_task(bits: int, alphas: tuple, n: int, seed: int) -> dict:
    """MSE (sigma**2) and 95 % half-widths, per alpha, of two b-bit quantizers of N(0, 1).

    ``midrise``: levels (k + 1/2) D, fxsim rounds ``t = z / D - 1/2`` to
    ``s{b}.0`` (nearest_even, saturate), ``e = (q - t) D``.  ``aciq_sim``: the
    ACIQ authors' simulation, ``t = clip(z / D, -K, K)`` rounded to
    ``s{b+1}.0`` (its 2**b + 1 levels -K..K fit), ``e = (q - z / D) D``.
    The draws are stratified at ``|z| = CLIP_TAIL_AT`` (:func:`stratified_draws`)
    and the same draws serve every alpha (common random numbers)."""
    strata = stratified_draws("gaussian", 1.0, CLIP_TAIL_AT, n, np.random.default_rng(seed))
    half = 1 << (bits - 1)
    out = {"midrise": [], "midrise_hw": [], "aciq_sim": [], "aciq_sim_hw": []}
    for alpha in alphas:
        d = 2.0 * alpha / 2 ** bits
        mid, sim = [], []
        for w, z in strata:
            t = z / d
            shifted = t - 0.5
            mid.append((w, (fxsim.quantize(shifted, fxsim.FixedFormat(bits, 0), "nearest_even",
                                           overflow="saturate") - shifted) * d))
            sim.append((w, (fxsim.quantize(np.clip(t, -half, half), fxsim.FixedFormat(bits + 1, 0),
                                           "nearest_even", overflow="saturate") - t) * d))
        for name, parts in (("midrise", mid), ("aciq_sim", sim)):
            st = stratified_stats(parts)
            out[name].append(st["mse"])
            out[name + "_hw"].append(st["mse_hw"])
    return {k: np.array(v) for k, v in out.items()}


def sqnr_bits(quick: bool) -> tuple:
    return (2, 3, 4, 6, 8, 12, 16) if quick else tuple(range(2, 17))


def sizes(quick: bool) -> dict:
    """Monte Carlo sample sizes per task."""
    if quick:
        return {"sqnr": 1 << 17, "bias": 1 << 20, "clip": 1 << 18}
    return {"sqnr": 1 << 20, "bias": 1 << 22, "clip": 1 << 21}


def clip_alphas(quick: bool) -> np.ndarray:
    """The alpha grid (sigma) of the clipping study."""
    return np.round(np.arange(1.0, 6.0 + 1e-9, 0.25 if quick else 0.1), 10)


def _alpha_chunks(quick: bool) -> list:
    grid = clip_alphas(quick)
    return [tuple(float(a) for a in part) for part in np.array_split(grid, 3 if quick else 6)]


def tasks(quick: bool) -> list:
    n = sizes(quick)
    out = []
    for i, kind in enumerate(INPUTS):
        for b in sqnr_bits(quick):
            out.append(Task(sqnr_task, {"kind": kind, "bits": b, "n": n["sqnr"],
                                        "seed": SEED_BASE + 100 * i + b}, f"quant_noise sqnr {kind} b={b}"))
    for i, mode in enumerate(MODES):
        out.append(Task(bias_task, {"mode": mode, "bits": TABLE_BITS, "n": n["bias"],
                                    "seed": SEED_BASE + 1000 + 100 * i + TABLE_BITS},
                        f"quant_noise bias {mode}"))
    for b in CLIP_BITS:
        for chunk in _alpha_chunks(quick):
            out.append(Task(clipping_task, {"bits": b, "alphas": chunk, "n": n["clip"],
                                            "seed": SEED_BASE + 2000 + b},
                            f"quant_noise clip b={b} alpha={chunk[0]:g}.."))
    return out


# ---------------------------------------------------------------- summary
_MODE_STYLE = {}
_MARKERS = "os^vD<>pP*Xhd8"


def _style(mode: str) -> dict:
    """Colour by theory class, marker by mode."""
    if not _MODE_STYLE:
        colors = {"nearest": "tab:blue", "biased": "tab:red", "third": "tab:orange",
                  "stochastic": "tab:green"}
        for i, m in enumerate(MODES):
            cls = ("nearest" if m in NEAREST_MODES else "stochastic" if m == "stochastic"
                   else "biased" if m in ("down", "up") else "third")
            _MODE_STYLE[m] = {"color": colors[cls], "marker": _MARKERS[i], "ms": 4,
                              "mfc": "none", "lw": 0}
    return _MODE_STYLE[mode]


def _sqnr_measured(results, quick):
    """{(kind, bits, mode): (sqnr dB, 95 % half-width dB, mean error)}."""
    out = {}
    it = iter(results)
    for kind in INPUTS:
        for b in sqnr_bits(quick):
            res = next(it)
            for mode in MODES:
                r = res[mode]
                db = sqnr_db(input_power(kind, b), r["mse"])
                out[kind, b, mode] = (db, 10 / math.log(10) * r["mse_hw"] / r["mse"], r["mean"])
    return out


def _theory_db(kind, b, mode):
    """The per-mode theory each input is compared with."""
    return uniform_sqnr_theory(mode, b) if kind == "uniform" else model_sqnr_db(kind, b, mode)


def _sqnr_figures(meas, quick, out_dir, figures):
    bits = sqnr_bits(quick)
    fine = np.arange(2, 17, dtype=np.float64)
    fig, axes = report.new_figure(2, 2, size=(11, 8.2))
    for ax, kind in zip(axes.ravel(), INPUTS):
        for mode in MODES:
            ax.plot(bits, [meas[kind, b, mode][0] for b in bits], label=mode, **_style(mode))
        for c, color, name in ((1 / 12, "tab:blue", "model, D²/12 (nearest)"),
                               (1 / 6, "tab:green", "model, D²/6 (stochastic)"),
                               (1 / 3, "tab:red", "model, D²/3 (other modes)")):
            mode = {1 / 12: "nearest_even", 1 / 6: "stochastic", 1 / 3: "jam"}[c]
            ax.plot(fine, [model_sqnr_db(kind, int(b), mode) for b in fine], color=color,
                    lw=1, alpha=0.7, label=name)
        ax.plot(fine, 6.02 * fine + 1.76, "k--", lw=0.8, label="6.02 b + 1.76 (sine)")
        ax.plot(fine, 6.02 * fine, "k:", lw=0.8, label="6.02 b (full-scale uniform)")
        ax.set_title({"uniform": "uniform on [-1, 1) (full scale)",
                      "sine": "sinusoid, amplitude 1 - D",
                      "gaussian": "Gaussian, clipped at ±4σ",
                      "laplace": "Laplace, clipped at ±8σ"}[kind], fontsize=10)
        ax.set_xlabel("bits b")
        ax.set_ylabel("SQNR (dB)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6, ncol=2, loc="upper left")
    md = report.save(fig, out_dir, "quant_noise_sqnr",
                     "SQNR against bits for every rounding mode (markers: fxsim Monte Carlo) "
                     "beside the additive-noise model of each class of modes (lines)", figures)

    fig, axes = report.new_figure(2, 2, size=(11, 7.5))
    for ax, kind in zip(axes.ravel(), INPUTS):
        for mode in MODES:
            ax.plot(bits, [meas[kind, b, mode][0] - _theory_db(kind, b, mode) for b in bits],
                    label=mode, **_style(mode))
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"{kind}: measured − {'exact theory' if kind == 'uniform' else 'model'}",
                     fontsize=10)
        ax.set_xlabel("bits b")
        ax.set_ylabel("dB")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6, ncol=2)
    md += report.save(fig, out_dir, "quant_noise_sqnr_deviation",
                      "Measured SQNR minus theory (uniform: exact per-cell theory with the "
                      "saturating top cell; others: the additive-noise model with clipping)",
                      figures)
    return md


def _bias_figure(table, theory, out_dir, figures):
    fig, axes = report.new_figure(1, 2, size=(11, 4.2))
    x = np.arange(len(MODES))
    for ax, key, label in ((axes[0], "mean", "mean error / D"), (axes[1], "var", "error variance / D²")):
        ax.errorbar(x, [table[m][key] for m in MODES], yerr=[table[m][key + "_hw"] for m in MODES],
                    fmt="o", ms=4, capsize=3, label="fxsim, 95 % CI")
        ax.plot(x, [theory[m][key] for m in MODES], "k_", ms=14, mew=1.5, label="theory (exact)")
        if key == "mean":
            ax.plot(x, [table[m]["mean_pos"] for m in MODES], "s", ms=3, mfc="none",
                    color="tab:red", label="mean over x > 0")
        ax.set_xticks(x, MODES, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return report.save(fig, out_dir, "quant_noise_bias_variance",
                       f"Mean and variance of the rounding error per mode at b = {TABLE_BITS} "
                       "(uniform input on [-1 + D, 1 - D))", figures)


def _clip_figure(clip, alphas, out_dir, figures, optima):
    fig, axes = report.new_figure(2, 2, size=(11, 7.5))
    fine = np.linspace(alphas[0], alphas[-1], 120)
    for ax, b in zip(axes.ravel(), CLIP_BITS):
        ax.plot(fine, [aciq_mse(a, b) for a in fine], color="tab:red", lw=1.2,
                label="ACIQ model: D²/12 + clipping")
        ax.plot(fine, [midrise_mse(a, b) for a in fine], color="tab:blue", lw=1.2,
                label=f"exact, b-bit mid-rise ({2 ** b} levels)")
        ax.errorbar(alphas, clip[b]["midrise"], yerr=clip[b]["midrise_hw"], fmt="o", ms=3,
                    color="tab:blue", mfc="none", label="fxsim MC, mid-rise")
        ax.errorbar(alphas, clip[b]["aciq_sim"], yerr=clip[b]["aciq_sim_hw"], fmt="x", ms=3,
                    color="tab:red", label=f"fxsim MC, clip + round ({2 ** b + 1} levels)")
        ax.axvline(optima[b]["aciq"], color="tab:red", ls=":", lw=1)
        ax.axvline(optima[b]["midrise"], color="tab:blue", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"b = {b}", fontsize=10)
        ax.set_xlabel("clipping threshold α (σ)")
        ax.set_ylabel("MSE (σ²)")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    return report.save(fig, out_dir, "quant_noise_clipping",
                       "Gaussian input: MSE against the clipping threshold α; dotted lines mark "
                       "the optimal α of the ACIQ model (red) and of the exact b-bit quantizer "
                       "(blue)", figures)


def summarize(results: list, out_dir, quick: bool) -> report.Section:
    n_sqnr = len(INPUTS) * len(sqnr_bits(quick))
    sqnr_res = results[:n_sqnr]
    bias_res = results[n_sqnr:n_sqnr + len(MODES)]
    clip_res = results[n_sqnr + len(MODES):]
    size = sizes(quick)
    numbers, figures, md = {}, [], []
    meas = _sqnr_measured(sqnr_res, quick)
    bits = sqnr_bits(quick)

    # --- SQNR
    for kind in INPUTS:
        db, hw, _ = meas[kind, 8, "nearest_even"]
        numbers[f"{kind}_sqnr_b8_nearest_even_db"] = db
        numbers[f"{kind}_sqnr_b8_nearest_even_ci_db"] = hw
        numbers[f"{kind}_sqnr_b8_theory_db"] = _theory_db(kind, 8, "nearest_even")
    numbers["uniform_sqnr_b8_nearest_away_db"] = meas["uniform", 8, "nearest_away"][0]
    numbers["uniform_sqnr_b8_model_db"] = model_sqnr_db("uniform", 8, "nearest_even")
    numbers["uniform_sqnr_b8_exact_db"] = uniform_sqnr_theory("nearest_even", 8)
    numbers["sine_sqnr_b8_textbook_db"] = 6.02 * 8 + 1.76
    spread = max(max(meas[k, b, m][0] for m in NEAREST_MODES) - min(meas[k, b, m][0] for m in NEAREST_MODES)
                 for k in INPUTS for b in bits)
    numbers["nearest_modes_max_spread_db"] = spread
    for mode in ("down", "stochastic", "jam"):
        numbers[f"uniform_sqnr_b8_{mode}_db"] = meas["uniform", 8, mode][0]
    dev_uniform = max(abs(meas["uniform", b, m][0] - _theory_db("uniform", b, m))
                      for b in bits for m in MODES)
    numbers["uniform_max_abs_dev_from_exact_db"] = dev_uniform

    md.append(
        "Every rounding here is `fxsim.quantize(x, s{b}.{b-1}, mode, overflow=\"saturate\")`: the "
        "signed b-bit format with step D = 2^(1−b) and range [−1, 1 − D], each float64 input "
        "rounded once, exactly; the error e = q − x and all statistics are float64. Theory is the "
        "additive-noise model: the fractional part of x/D is uniform, so each mode's error has "
        "mean m·D and mean square c·D² with c = 1/12 for the six nearest modes (the D²/12 model), "
        "1/6 for stochastic rounding (E[e² | f] = f(1 − f)·D², averaged over f), and 1/3 for every "
        "other mode (down/up: variance D²/12 plus bias² D²/4; toward_zero, away, odd, jam, "
        "stochastic_equal: unbiased on average, variance D²/3). So stochastic rounding costs "
        "10·log10(2) = 3.01 dB (half a bit) and the directed modes 10·log10(4) = 6.02 dB (one bit) "
        "against nearest rounding, at every b.\n")
    md.append(
        "Inputs (SQNR = the input's exact mean square / the estimated mean square of e): "
        "**uniform** on [−1, 1), "
        "the full scale — the model gives 6.02·b dB for nearest rounding (no +1.76); the exact "
        "theory averages each cell's exact error moments and includes the top cell, where n + 1 "
        "saturates so every mode rounds down; **sine**: a sinusoid of amplitude A = 1 − D (the "
        "format's largest value, so it never saturates), random phase — the textbook "
        "6.02·b + 1.76 dB applies to this input only (plus 20·log10 A, −0.03 dB at b = 8, "
        "−6.02 dB at b = 2); **Gaussian** with σ = 1/4 (clipping at ±4σ) and **Laplace** with "
        "σ = 1/8 (clipping at ±8σ): their model adds to the granular c·D² (over the range) the "
        "clipping noise beyond the format's ends −1 and 1 − D (closed forms). Monte Carlo: "
        f"{size['sqnr']} draws per input and b, shared by all modes; b = {', '.join(map(str, bits))}. "
        "The Gaussian and Laplace draws are stratified: "
        f"{size['sqnr'] - size['sqnr'] // TAIL_SPLIT} inside |x| ≤ 1 − D and "
        f"{size['sqnr'] // TAIL_SPLIT} beyond (clipped), weighted by the exact probabilities of the two "
        "regions, so the clipping noise (from draws beyond 4σ / 8σ, probabilities 6e-5 and 1e-5) "
        "is measured, not left to a handful of draws. ± is a 95 % confidence interval "
        "(1.96 standard errors of the stratified estimate).\n")
    md.append(_sqnr_figures(meas, quick, out_dir, figures))

    rows = []
    for kind in INPUTS:
        for b in (4, 8, 16) if 16 in bits else (4, 8):
            row = [kind, b]
            for mode in ("nearest_even", "stochastic", "down", "jam"):
                db, hw, _ = meas[kind, b, mode]
                row += [f"{db:.2f} ± {hw:.2f}", f"{_theory_db(kind, b, mode):.2f}"]
            rows.append(row)
    md.append("SQNR in dB (measured ± 95 % CI, then theory: exact for the uniform input, the "
              "model otherwise):\n")
    md.append(report.table(["input", "b", "nearest_even", "theory", "stochastic", "theory",
                            "down", "theory", "jam", "theory"], rows))
    def worst(kind, modes, keep):
        """(|measured - theory| dB, mode, b): the largest over the modes and the b kept."""
        return max((abs(meas[kind, b, m][0] - _theory_db(kind, b, m)), m, b)
                   for m in modes for b in bits if keep(b))

    worst_all = {k: worst(k, MODES, lambda b: b >= 6) for k in INPUTS[1:]}
    worst_near = {k: worst(k, NEAREST_MODES + ("stochastic", "down", "up"), lambda b: b >= 6)
                  for k in INPUTS[1:]}
    low_b = {k: worst(k, MODES, lambda b: b == 2) for k in INPUTS[1:]}
    for k in INPUTS[1:]:
        numbers[f"{k}_max_abs_dev_from_model_b6plus_db"] = worst_all[k][0]
        numbers[f"{k}_max_abs_dev_from_model_b6plus_nearest_stochastic_down_up_db"] = worst_near[k][0]
        numbers[f"{k}_max_abs_dev_from_model_b2_db"] = low_b[k][0]

    def said(w):
        return f"{w[0]:.2f} dB ({w[1]}, b = {w[2]})"

    nearest_text = ("give identical errors on every draw" if spread == 0 else
                    f"differ by at most {spread:.2g} dB anywhere")
    md.append(
        f"\nFindings. At b = 8 the full-scale uniform input measures "
        f"{numbers['uniform_sqnr_b8_nearest_even_db']:.3f} ± "
        f"{numbers['uniform_sqnr_b8_nearest_even_ci_db']:.3f} dB "
        f"with nearest_even ({numbers['uniform_sqnr_b8_nearest_away_db']:.3f} dB with nearest_away) "
        f"against {numbers['uniform_sqnr_b8_exact_db']:.3f} dB exact and "
        f"{numbers['uniform_sqnr_b8_model_db']:.3f} dB = 6.02·8 from the D²/12 model; the difference "
        "between the two theories is the saturating top cell (a 1/2^b share of the input), which "
        "matters only at small b. Over all b and modes the uniform input stays within "
        f"{dev_uniform:.3f} dB of the exact theory. The six nearest modes {nearest_text} "
        "(no draw of a continuous input lands on a tie, so tie-breaking never shows). At b = 8 "
        f"stochastic rounding measures {numbers['uniform_sqnr_b8_stochastic_db']:.2f} dB and down "
        f"{numbers['uniform_sqnr_b8_down_db']:.2f} dB: the half-bit and one-bit shifts of the "
        "6 dB-per-bit line.\n\n"
        "The sinusoid follows 6.02·b + 1.76 + 20·log10(1 − D) (shifted per mode) to within "
        f"{said(worst_all['sine'])} for b ≥ 6 and misses by up to {said(low_b['sine'])} at b = 2: "
        "with few levels its fractional part is far from uniform (the arcsine density piles up "
        "near the peaks). The Gaussian and Laplace inputs follow the model for b ≥ 6 to within "
        f"{said(worst_near['gaussian'])} and {said(worst_near['laplace'])} for the nearest, "
        f"stochastic, down and up modes, and {said(worst_all['gaussian'])} and "
        f"{said(worst_all['laplace'])} over all modes: toward_zero and away round |x|, so in "
        "every cell they see the density "
        "falling with |x| on both signs (fractional parts skewed small: toward_zero's error "
        "shrinks, away's grows), an effect of first order in D/σ that cancels between the two "
        "signs for the other modes. The fit holds through the flattening at high b, where the "
        "clipping noise at ±4σ / ±8σ dominates. At b = 2, where D is 2σ (Gaussian) and "
        "4σ (Laplace) and the uniform-fractional-part assumption fails, they miss by up to "
        f"{said(low_b['gaussian'])} and {said(low_b['laplace'])}.\n")

    # --- bias and variance
    lo, hi = table_input_range(TABLE_BITS)
    theory = {m: uniform_cells_theory(m, TABLE_BITS, lo, hi) for m in MODES}
    table = dict(zip(MODES, bias_res))
    rows = []
    for m in MODES:
        t, th = table[m], theory[m]
        rows.append([m, f"{t['mean']:+.4f} ± {t['mean_hw']:.4f}", f"{th['mean']:+.4f}",
                     f"{t['mean_pos']:+.4f} ± {t['mean_pos_hw']:.4f}", f"{th['mean_pos']:+.4f}",
                     f"{t['var']:.4f} ± {t['var_hw']:.4f}", f"{th['var']:.4f}",
                     f"{t['mse']:.4f} ± {t['mse_hw']:.4f}", f"{th['mse']:.4f}"])
    inside = sum(abs(table[m][k] - theory[m][k]) <= table[m][k + "_hw"]
                 for m in MODES for k in ("mean", "mean_pos", "var", "mse"))
    st = table["stochastic"]
    numbers.update({
        "stochastic_mean_error_lsb": st["mean"], "stochastic_mean_ci_halfwidth_lsb": st["mean_hw"],
        "stochastic_mse_lsb2": st["mse"], "stochastic_mse_ci_halfwidth_lsb2": st["mse_hw"],
        "stochastic_mse_theory_lsb2": 1.0 / 6.0,
        "down_mean_error_lsb": table["down"]["mean"], "down_mean_ci_halfwidth_lsb": table["down"]["mean_hw"],
        "toward_zero_mean_error_positive_lsb": table["toward_zero"]["mean_pos"],
        "bias_table_estimates_inside_95ci": float(inside),
        "bias_table_estimates_total": float(4 * len(MODES)),
    })
    md.append(
        f"### Bias and variance per mode (b = {TABLE_BITS})\n\n"
        f"Input: {size['bias']} draws uniform on [−1 + D, 1 − D), i.e. the cells n = {lo}..{hi}: "
        "whole cells, symmetric about 0, as many odd as even n, and no mode can saturate, so the "
        "per-cell theory (exact, from the mode definitions) applies without approximation. "
        "Units: D (mean) and D² (variance, mean square). ± is the 95 % confidence half-width "
        "(1.96 standard errors; for the variance from the sample fourth moment). The 'x > 0' "
        "column is the mean error over positive inputs: toward_zero and away are unbiased only "
        "because the input is symmetric — on one sign they are as biased as down and up "
        "(their error is correlated with the signal). The small non-zero theory values of odd "
        "and jam over x > 0 come from the odd number of positive cells.\n")
    md.append(report.table(["mode", "mean", "theory", "mean, x > 0", "theory", "variance", "theory",
                            "mean square", "theory"], rows))
    md.append(
        f"\n{inside} of the {4 * len(MODES)} estimates lie inside their 95 % interval around the "
        f"exact theory. Stochastic rounding: mean error {st['mean']:+.2e} D ± {st['mean_hw']:.1e} "
        f"(theory −D/2^33 ≈ −1e-10 D with fxsim's 32 random bits: unbiased), mean square "
        f"{st['mse']:.5f} ± {st['mse_hw']:.5f} D² against 1/6 = {1 / 6:.5f}: twice the D²/12 of "
        "nearest rounding, in exchange for E[e | x] = 0 at every x (nearest rounding's error is a "
        "deterministic function of x; stochastic_equal is unbiased only on average over x, its "
        f"conditional mean is (1/2 − f)·D). Down: mean {table['down']['mean']:+.4f} D against −1/2, "
        f"variance {table['down']['var']:.4f} D² against 1/12.\n")
    md.append(_bias_figure(table, theory, out_dir, figures))

    # --- clipping
    alphas = clip_alphas(quick)
    chunks = len(_alpha_chunks(quick))
    clip = {}
    for i, b in enumerate(CLIP_BITS):
        parts = clip_res[i * chunks:(i + 1) * chunks]
        clip[b] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    optima, rows, fit_rows = {}, [], []
    for b in CLIP_BITS:
        a_aciq = optimal_alpha(aciq_mse, b)
        a_mid = optimal_alpha(midrise_mse, b)
        a_mc = float(alphas[int(np.argmin(clip[b]["midrise"]))])
        optima[b] = {"aciq": a_aciq, "midrise": a_mid, "mc": a_mc}
        numbers[f"optimal_alpha_aciq_b{b}"] = a_aciq
        numbers[f"optimal_alpha_midrise_b{b}"] = a_mid
        numbers[f"optimal_alpha_mc_b{b}"] = a_mc
        numbers[f"midrise_over_aciq_mse_at_aciq_alpha_b{b}"] = midrise_mse(a_aciq, b) / aciq_mse(a_aciq, b)
        exact = np.array([midrise_mse(a, b) for a in alphas])
        model = np.array([aciq_mse(a, b) for a in alphas])
        rel_mid = clip[b]["midrise"] / exact - 1
        rel_sim = clip[b]["aciq_sim"] / model - 1
        inside = int(np.sum(np.abs(clip[b]["midrise"] - exact) <= clip[b]["midrise_hw"]))
        near = int(np.argmin(np.abs(alphas - a_aciq)))
        numbers[f"mc_midrise_vs_exact_max_rel_b{b}"] = float(np.abs(rel_mid).max())
        numbers[f"mc_midrise_inside_95ci_b{b}"] = float(inside)
        numbers[f"mc_aciq_sim_vs_aciq_model_rel_near_opt_b{b}"] = float(rel_sim[near])
        numbers[f"mc_midrise_vs_aciq_model_rel_near_opt_b{b}"] = float(
            clip[b]["midrise"][near] / model[near] - 1)
        rows.append([b, a_aciq, BANNER_ALPHA_GAUSS[b], aciq_mse(a_aciq, b), a_mid, midrise_mse(a_mid, b),
                     midrise_mse(a_aciq, b), f"{a_mc:.2f}"])
        fit_rows.append([b, f"{100 * np.abs(rel_mid).max():.2f} %", f"{inside} / {alphas.size}",
                         f"{alphas[near]:.2f}",
                         f"{100 * numbers[f'mc_midrise_vs_aciq_model_rel_near_opt_b{b}']:+.1f} %",
                         f"{100 * rel_sim[near]:+.1f} %", f"{100 * np.abs(rel_sim).max():.1f} %"])
    md.append(
        "### The clipping trade-off for Gaussian inputs\n\n"
        "A symmetric b-bit quantizer of N(0, σ²) with clipping threshold α has step D = 2α/2^b. "
        "ACIQ's analytic model (Banner, Nahshan, Soudry, arXiv 1810.05723) is "
        "MSE(α) = D²/12 + 2·∫_α^∞ (x − α)² φ(x) dx, the second term in closed form "
        "2((1 + α²)Q(α) − αφ(α)) (scipy.stats.norm). The b-bit quantizer it describes has "
        f"2^b levels (k + 1/2)·D, k = −2^(b−1) … 2^(b−1) − 1 (mid-rise); its outer levels sit at "
        "±(α − D/2), not ±α, so the exact MSE (the sum over cells of ∫(x − level)²φ, "
        "closed form) "
        "exceeds the model. fxsim Monte Carlo, nearest_even with saturation, "
        f"{size['clip']} standard-normal draws per b shared by all α (stratified: "
        f"{size['clip'] // TAIL_SPLIT} of them beyond |z| = {CLIP_TAIL_AT}; α grid step "
        f"{alphas[1] - alphas[0]:.2f} σ): the mid-rise quantizer (rounding z/D − 1/2 onto s{{b}}.0), "
        "and the quantizer of the ACIQ authors' own simulation (`mse_analysis.py`: clip to ±α, "
        f"round to a multiple of D: 2^b + 1 levels, rounded onto s{{b+1}}.0), whose clipping "
        "error is exactly the model's clipping term (its outer levels are ±α) and whose granular "
        "error is D²/12 only as far as the fractional part of x/D is uniform.\n")
    md.append("Optimal clipping thresholds (α in σ, MSE in σ²):\n")
    md.append(report.table(["b", "α* ACIQ model", "α* ACIQ code", "model MSE at α*",
                            "α* exact mid-rise", "exact MSE at its α*", "exact MSE at ACIQ α*",
                            "α* MC mid-rise (grid)"], rows, digits=4))
    md.append("\nMonte Carlo against theory: the mid-rise quantizer against its exact MSE over the "
              "whole α grid, and both quantizers against the ACIQ model at the grid α nearest "
              "ACIQ's α*:\n")
    md.append(report.table(["b", "max |MC/exact − 1|", "inside 95 % CI", "α near α*",
                            "MC mid-rise / model − 1", "MC 2^b+1 levels / model − 1",
                            "max over grid, 2^b+1 levels"], fit_rows))
    sim_near_opt = max(abs(numbers[f"mc_aciq_sim_vs_aciq_model_rel_near_opt_b{b}"])
                       for b in CLIP_BITS if b > 2)
    aciq_list = ", ".join(f"{optima[b]['aciq']:.4f}" for b in CLIP_BITS)
    midrise_list = ", ".join(f"{optima[b]['midrise']:.3f}" for b in CLIP_BITS)
    md.append(
        "\nα* ACIQ code: the values printed in the authors' repository "
        "(submission2019/cnn-quantization, int_quantizer.py); the model minimized here with "
        f"scipy reproduces them ({aciq_list}). The fxsim Monte Carlo of the b-bit mid-rise "
        "quantizer agrees with its exact MSE over the whole α grid to within "
        f"{100 * max(numbers[f'mc_midrise_vs_exact_max_rel_b{b}'] for b in CLIP_BITS):.2f} %, "
        "and the 2^b + 1-level simulation agrees with the ACIQ model near α* to within "
        f"{100 * sim_near_opt:.1f} % "
        f"for b ≥ 3 ({100 * numbers['mc_aciq_sim_vs_aciq_model_rel_near_opt_b2']:+.1f} % at b = 2, "
        "where D ≈ 0.9σ and D²/12 is only approximate; further out, at large α, D exceeds σ and "
        "the granular term fails). But for a real b-bit code, 2^b levels, the model is optimistic: "
        "at ACIQ's α* the exact b-bit MSE is "
        + ", ".join(f"{numbers[f'midrise_over_aciq_mse_at_aciq_alpha_b{b}']:.3f}×" for b in CLIP_BITS)
        + f" the model's (b = {', '.join(map(str, CLIP_BITS))}), and its optimal α is larger "
        f"({midrise_list} σ), because the outer levels sit half a step inside α, so every "
        "clipped value pays an extra D/2. The model's clipping term is exact only for a quantizer "
        "with one more level (2^b + 1, outer levels at ±α), which a b-bit code cannot hold; the "
        "two agree as b grows and the half step shrinks. The optimal α grows "
        "with b in every column: finer steps make granular noise cheap, so clipping less pays.\n")
    md.append(_clip_figure(clip, alphas, out_dir, figures, optima))
    return report.Section(TITLE, "\n".join(md), numbers, figures)
