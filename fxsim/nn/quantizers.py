"""The seed papers' quantizers, each with its rounding and its zero stated.

Model arithmetic (``tanh``, normalizations, ``x - min``, the step ``delta``)
is float64 numpy, as the papers' float32 code does it in float32.  Every
rounding *onto a quantization grid* goes through fxsim's one rounding core:
the exact value (the exact product ``(2**k - 1) * x``, the exact quotient
``(x - min) / delta`` or ``x / step`` of the float64 operands) is rounded
once into an integer fixed-point format (``u{k}.0``, ``s{W}.0``) under a
named fxsim rounding mode, and a value that leaves the grid as float64
(``q / (2**k - 1)``, ``q * delta + min``, ``n * step``) is the exact result
rounded once (nearest even) into float64 by the core.

================================ ===============================================
:func:`ap2`                       ``sign(x) * 2**round(log2|x|)`` (Hubara et al.)
:func:`sign`                      +1 for ``x >= 0`` (also -0.0), else -1
:func:`stochastic_sign`           +1 with probability ``clip((x + 1)/2, 0, 1)``
:func:`ste_grad`                  ``dy`` where ``|x| <= 1``, else 0
:func:`mcdonnell_scale`           ``sqrt(2 / (F**2 * C_in))``
:func:`scaled_sign`               ``mcdonnell_scale(F, C_in) * sign(w)``
:func:`quantize_k`                DoReFa: ``round((2**k - 1) x) / (2**k - 1)``
:func:`dorefa_weights`            DoReFa weights (tanh-normalized)
:func:`dorefa_activations`        DoReFa activations (clipped to [0, 1])
:func:`gemmlowp_quantize`         Banner et al.'s min-max quantizer
:func:`linear_quant`              QNN ``LinearQuant``
:func:`log_quant`                 QNN ``LogQuant``
================================ ===============================================
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .. import ops as _ops
from ..formats import FixedFormat

__all__ = [
    "ap2", "sign", "stochastic_sign", "ste_grad", "mcdonnell_scale", "scaled_sign",
    "quantize_k", "dorefa_weights", "dorefa_activations", "gemmlowp_quantize",
    "MinMaxQuantized", "linear_quant", "log_quant",
]


# ---------------------------------------------------------------- helpers
def _where(flat_index, shape):
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape)) if shape else ()


def _real(x, name, *, allow_inf=True):
    """``x`` as a float64 array; NaN (and inf unless allowed) is a ValueError
    naming the first offending index."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: needs real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        v = arr.ravel()[i]
        what = "NaN" if np.isnan(v) else "not finite"
        raise ValueError(f"{name}: x = {v!r} at index {_where(i, arr.shape)} is {what}")
    return arr


def _shaped(a, shape):
    """``a`` in ``shape``; a scalar for ``shape == ()``."""
    a = np.asarray(a).reshape(shape)
    return a[()] if a.ndim == 0 else a


def _positive_int(value, name, what, lo=1, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo \
            or (hi is not None and value > hi):
        top = "" if hi is None else f" .. {hi}"
        raise ValueError(f"{name}: {what} must be an integer in {lo}{top}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- AP2
# The smallest float64 above sqrt(1/2).  sqrt(1/2) is irrational, so no
# float64 equals it and ``m > sqrt(1/2)`` is exactly ``m >= _SQRT_HALF_UP``.
def _sqrt_half_up() -> float:
    s = math.sqrt(0.5)
    if Fraction(s) ** 2 < Fraction(1, 2):
        s = math.nextafter(s, 1.0)
    assert Fraction(s) ** 2 > Fraction(1, 2) > Fraction(math.nextafter(s, 0.0)) ** 2
    return s


_SQRT_HALF_UP = _sqrt_half_up()


def ap2(x):
    """Approximate power of two (Hubara et al.): ``sign(x) * 2**round(log2|x|)``.

    Rounding of ``log2|x|``: to the nearest integer.  The ties of that rule
    sit at ``|x| = 2**(k + 1/2)``, the *geometric* midpoints of consecutive
    powers of two; they are irrational, so no float64 is a tie and "round
    half to even in the log domain" and "round at the geometric midpoint"
    are the same rule (tie-breaking never applies).  The decision is exact:
    with ``|x| = m * 2**e``, ``m`` in ``[1/2, 1)`` (``numpy.frexp``), the
    result is ``2**e`` if ``m > sqrt(1/2)`` else ``2**(e-1)``, and
    ``m > sqrt(1/2)`` is decided by comparing with the float64 just above
    ``sqrt(1/2)`` -- no ``log2`` is evaluated.  (The *arithmetic* midpoint
    ``1.5 * 2**k`` would send 1.45 to 1; the paper's example says 2.)
    Examples: 0.3 -> 0.25, 0.7 -> 0.5, 1.45 -> 2, 3 -> 4, -5 -> -4.

    Zero: ``AP2(0) = 0``, keeping the sign of a zero (``AP2(-0.0) = -0.0``).
    Subnormal inputs are handled exactly.  The result, a power of two, is
    exact in float64; ``|x| > 2**1023.5`` would need ``2**1024`` and is an
    ``OverflowError``; NaN and inf are a ``ValueError`` (both name the first
    offending index).

    Returns float64 (a scalar for scalar input).
    """
    arr = _real(x, "ap2", allow_inf=False)
    mag = np.abs(arr)
    m, e = np.frexp(mag)
    k = e - 1 + (m >= _SQRT_HALF_UP)
    too_big = (k > 1023) & (mag > 0)
    if too_big.any():
        i = int(np.flatnonzero(too_big.ravel())[0])
        raise OverflowError(f"ap2: |x| = {mag.ravel()[i]!r} at index {_where(i, arr.shape)} "
                            "rounds to 2**1024, beyond float64")
    out = np.where(mag > 0, np.ldexp(1.0, k), 0.0)
    out = np.copysign(out, arr)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------- binarization
def sign(x):
    """Deterministic binarization (Hubara et al.): +1.0 where ``x >= 0``,
    -1.0 elsewhere.  Zero -- also -0.0 -- gives +1 (as ``fxsim.binary``
    packs it).  NaN is a ValueError naming its index.  float64 out."""
    arr = _real(x, "sign")
    out = np.where(arr >= 0, 1.0, -1.0)
    return out[()] if out.ndim == 0 else out


def stochastic_sign(x, rng):
    """Stochastic binarization: +1 with probability ``p = clip((x + 1)/2, 0, 1)``.

    The draw: ``u = rng.random(x.shape)`` (numpy's float64 uniform in
    ``[0, 1)``, one per element in C order, each ``u = j * 2**-53``), and
    the result is +1 iff ``u < (x + 1) / 2`` *exactly*, evaluated as
    ``2*u - 1 < x`` (``2*u - 1`` is exact in float64, so nothing rounds;
    ``x >= 1`` is always +1, ``x <= -1`` always -1, the clip is implicit).
    So ``P(+1) = ceil((x + 1) * 2**52) / 2**53`` for ``x`` in ``[-1, 1]``,
    within ``2**-53`` of ``p``.  ``rng``: a ``numpy.random.Generator`` or a
    seed for ``numpy.random.default_rng`` (required): same seed, same signs.
    The gradient is :func:`ste_grad`.  float64 out.
    """
    arr = _real(x, "stochastic_sign")
    if rng is None:
        raise ValueError("stochastic_sign: rng= (a seed or numpy.random.Generator) is required")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    u = rng.random(arr.shape)
    out = np.where(2.0 * u - 1.0 < arr, 1.0, -1.0)
    return out[()] if out.ndim == 0 else out


def ste_grad(x, dy):
    """Straight-through estimator of sign (Hubara et al.): ``dy`` where
    ``|x| <= 1`` (both ends included), 0.0 elsewhere (also where ``dy`` is
    NaN/inf).  ``x`` and ``dy`` broadcast; float64 out."""
    arr = _real(x, "ste_grad")
    g = np.asarray(dy, dtype=np.float64)
    out = np.where(np.abs(arr) <= 1.0, g, 0.0)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------- McDonnell
def mcdonnell_scale(F, C_in) -> float:
    """McDonnell's constant per-layer weight scale ``sqrt(2 / (F**2 * C_in))``
    (the He-init standard deviation of an F x F conv with C_in input
    channels), float64: ``math.sqrt(2 / (F*F*C_in))`` (the integer product is
    exact; the division and the root are each rounded to nearest).
    F=3, C_in=3: 0.27217; F=3, C_in=16: 0.11785; F=1, C_in=640: 0.05590."""
    F = _positive_int(F, "mcdonnell_scale", "F")
    C_in = _positive_int(C_in, "mcdonnell_scale", "C_in")
    return math.sqrt(2.0 / (F * F * C_in))


def scaled_sign(w, F, C_in):
    """McDonnell's 1-bit weights ``mcdonnell_scale(F, C_in) * sign(w)``
    (``sign(0) = +1``); exact (a product with +-1).  float64 out."""
    return mcdonnell_scale(F, C_in) * sign(w)


# ---------------------------------------------------------------- DoReFa
def _grid_codes(x, k, rounding, rng, random, random_bits):
    """Codes ``q`` = ``(2**k - 1) * x`` (exact product) rounded once by the core
    into ``u{k}.0``."""
    fmt = FixedFormat(k, 0, signed=False)
    return _ops.multiply(x, float((1 << k) - 1), out=fmt, rounding=rounding, overflow="saturate",
                         rng=rng, random=random, random_bits=random_bits).bits


def _ratio(num, den):
    """``num / den`` for integer arrays, the exact quotient rounded once into
    float64 (nearest even) by the core."""
    return _ops.divide(np.asarray(num, np.int64), np.asarray(den, np.int64),
                       out="float64").to_float()


def quantize_k(x, k, rounding="nearest_even", *, rng=None, random=None, random_bits=32,
               return_codes=False):
    """DoReFa's ``quantize_k(x) = round((2**k - 1) x) / (2**k - 1)`` for ``x``
    in ``[0, 1]`` (anything else, NaN included, is a ValueError naming the
    first offending index).

    Rounding: the exact product ``(2**k - 1) * x`` is rounded once by fxsim's
    core into ``u{k}.0`` under ``rounding``; the default ``nearest_even`` is
    what DoReFa's ``tf.round`` does (half to even; ``nearest_away`` is the
    half-away alternative).  The value is ``q / (2**k - 1)`` rounded once
    (nearest even) into float64.  0 maps to 0 and 1 to 1 exactly.

    ``k`` from 1 to 53.  Every ``k`` quantizes (DoReFa's code returns ``x``
    unchanged for k = 32; here k = 32 is a 32-bit grid).
    Returns float64 values, or ``(values, codes)`` with ``return_codes``.
    """
    k = _positive_int(k, "quantize_k", "k", 1, 53)
    arr = _real(x, "quantize_k")
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"quantize_k: x = {arr.ravel()[i]!r} at index {_where(i, arr.shape)} "
                         f"is outside [0, 1] (k={k}, rounding={rounding})")
    q = _grid_codes(arr, k, rounding, rng, random, random_bits)
    values = _ratio(q, (1 << k) - 1)
    values, q = _shaped(values, arr.shape), _shaped(q, arr.shape)
    return (values, q) if return_codes else values


def dorefa_weights(w, k, rounding="nearest_even", *, rng=None, random=None, random_bits=32,
                   return_codes=False):
    """DoReFa k-bit weights: ``2 * quantize_k(x) - 1`` with
    ``x = tanh(w) / (2 * max|tanh(w)|) + 1/2`` (max over the whole tensor).

    ``x`` is float64 model arithmetic (numpy ``tanh``, one division, one
    addition; it stays in ``[0, 1]``).  ``q`` is the exact ``(2**k - 1) * x``
    rounded once by the core (``rounding``, default nearest even as
    ``tf.round``); the value is ``(2q - (2**k - 1)) / (2**k - 1)`` rounded
    once into float64.  The grid has ``2**k`` points in ``[-1, 1]`` and no
    zero: a zero weight (``x = 1/2``) goes to ``+-1/(2**k - 1)`` by the
    rounding's tie rule (nearest even: +1/(2**k - 1) for k >= 2, -1 for
    k = 1).  An all-zero tensor (``max|tanh| = 0``) is taken as ``x = 1/2``
    everywhere (no 0/0).  DoReFa's mean-|w| scaling for k = 1 is not applied.
    Returns float64 values, or ``(values, codes)``.
    """
    k = _positive_int(k, "dorefa_weights", "k", 1, 53)
    arr = _real(w, "dorefa_weights", allow_inf=False)
    t = np.tanh(arr)
    top = float(np.max(np.abs(t))) if t.size else 0.0
    x = t / (2.0 * top) + 0.5 if top > 0 else np.full_like(t, 0.5)
    q = _grid_codes(x, k, rounding, rng, random, random_bits)
    m = (1 << k) - 1
    values = _ratio(2 * q.astype(np.int64) - m, m)
    values, q = _shaped(values, arr.shape), _shaped(q, arr.shape)
    return (values, q) if return_codes else values


def dorefa_activations(x, k, rounding="nearest_even", *, rng=None, random=None, random_bits=32,
                       return_codes=False):
    """DoReFa k-bit activations: ``quantize_k(clip(x, 0, 1))`` (the clip is
    exact; see :func:`quantize_k` for the rounding).  NaN is a ValueError;
    +-inf clip to 1 / 0.  Returns float64 values, or ``(values, codes)``."""
    arr = _real(x, "dorefa_activations")
    return quantize_k(np.clip(arr, 0.0, 1.0), k, rounding, rng=rng, random=random,
                      random_bits=random_bits, return_codes=return_codes)


# ---------------------------------------------------------------- GEMMLOWP
class MinMaxQuantized(NamedTuple):
    """Result of :func:`gemmlowp_quantize`.  ``value = code * delta + min``;
    ``delta``, ``min``, ``max`` have ``x``'s number of dimensions (size 1
    along the reduced axes) and broadcast against it."""
    value: np.ndarray
    code: np.ndarray
    delta: np.ndarray
    min: np.ndarray
    max: np.ndarray


def gemmlowp_quantize(x, bits, *, channel_axis=None, min_value=None, max_value=None,
                      rounding="nearest_even", rng=None, random=None, random_bits=32):
    """Banner et al.'s GEMMLOWP-style min-max quantizer.

    ``delta = (max - min) / (2**b - 1)``;
    ``q = clamp(round((x - min)/delta), 0, 2**b - 1)``; value ``q*delta + min``.

    * ``min``/``max``: of the whole tensor (``channel_axis=None``) or of each
      slice along ``channel_axis`` (per channel: reduced over every other
      axis), unless given (``min_value``/``max_value``: scalars or arrays
      broadcasting to that keepdims shape; values outside are clamped).
      Banner et al.'s activation statistic, the batch mean of per-sample
      min/max, is ``x.reshape(len(x), -1).min(1).mean()``: pass it in.
    * Arithmetic: ``delta`` and ``d = x - min`` are float64 (model arithmetic,
      as the authors' float32 code).  The exact quotient ``d / delta`` of
      those two float64 numbers is rounded ONCE by fxsim's core into
      ``u{b}.0`` under ``rounding`` with saturation, which is the clamp to
      ``[0, 2**b - 1]`` (clamping before or after rounding gives the same
      integer).  Default ``nearest_even`` (``torch.round``: half to even).
      The value ``q * delta + min`` is an exact fused multiply-add rounded
      once into float64 (``fxsim.fma``).
    * Stochastic rounding (gradients): ``rounding="stochastic"`` with ``rng``
      (seed or Generator) or ``random`` (your integers).  fxsim's mode rounds
      ``t = n + f`` up iff ``floor(f * 2**R) + r >= 2**R`` with ``r``
      uniform in ``[0, 2**R)``, which is exactly ``floor(t + u)`` with
      ``u = r / 2**R`` uniform on ``{0, 2**-R, ..., 1 - 2**-R}``.  The
      paper's ``round(t + v)``, ``v`` uniform in ``[-1/2, 1/2)``, is
      ``round(t + u - 1/2)`` with ``u = v + 1/2`` in ``[0, 1)``, which equals
      ``floor(t + u)`` except when ``t + u`` is an integer (then a
      half-to-even round may give ``floor(t + u) - 1``; e.g. an exact integer
      ``t`` with ``v = -1/2``).  For continuous noise that event has
      probability 0: both round up with probability exactly ``f`` and are
      unbiased, ``E[q] = t`` (before the clamp).  fxsim's R-bit draw rounds up
      with probability ``floor(f * 2**R) / 2**R``, in ``(f - 2**-R, f]``, and
      never moves an exact integer.
    * Constant tensor or channel (``max == min``, i.e. ``delta == 0``): no
      division; every code is 0 and every value is ``min`` exactly (the grid
      is the single point ``min``; ``delta`` is reported as 0).  The authors'
      code substitutes an arbitrary nonzero scale instead.
    * ``min > max`` or NaN is a ValueError naming the first offending index.

    ``bits`` from 1 to 53.  Returns :class:`MinMaxQuantized`.
    """
    bits = _positive_int(bits, "gemmlowp_quantize", "bits", 1, 53)
    arr = _real(x, "gemmlowp_quantize", allow_inf=False)
    if channel_axis is None:
        axes = tuple(range(arr.ndim))
    else:
        ch = _axis(channel_axis, arr.ndim)
        axes = tuple(a for a in range(arr.ndim) if a != ch)
    keep = tuple(1 if a in axes else n for a, n in enumerate(arr.shape))
    if arr.size == 0 and (min_value is None or max_value is None):
        raise ValueError("gemmlowp_quantize: an empty array has no min/max; give min_value and "
                         "max_value")
    lo = np.amin(arr, axis=axes, keepdims=True) if min_value is None else \
        _stat(min_value, keep, "min_value")
    hi = np.amax(arr, axis=axes, keepdims=True) if max_value is None else \
        _stat(max_value, keep, "max_value")
    bad = lo > hi
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"gemmlowp_quantize: min {lo.ravel()[i]!r} > max {hi.ravel()[i]!r} at "
                         f"channel index {_where(i, keep)}")
    m = (1 << bits) - 1
    delta = (hi - lo) / m
    const = delta == 0
    d = arr - lo
    fmt = FixedFormat(bits, 0, signed=False)
    q = _ops.divide(d, np.where(const, 1.0, delta), out=fmt, rounding=rounding,
                    overflow="saturate", rng=rng, random=random, random_bits=random_bits).bits
    q = np.where(np.broadcast_to(const, arr.shape), np.zeros((), q.dtype), q)
    value = _ops.fma(q, np.broadcast_to(delta, arr.shape), np.broadcast_to(lo, arr.shape),
                     out="float64").to_float()
    return MinMaxQuantized(_shaped(value, arr.shape), _shaped(q, arr.shape), delta, lo, hi)


def _axis(axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis!r} is out of range for an array of {ndim} dimensions")
    return int(axis) % ndim


def _stat(value, keep, name):
    v = _real(value, f"gemmlowp_quantize {name}", allow_inf=False)
    try:
        return np.broadcast_to(v, keep).copy()
    except ValueError:
        raise ValueError(f"gemmlowp_quantize: {name} of shape {v.shape} does not broadcast to "
                         f"the statistics' shape {keep}") from None


# ---------------------------------------------------------------- QNN
def linear_quant(x, step, min_v, max_v, rounding="nearest_even", *, rng=None, random=None,
                 random_bits=32):
    """Hubara et al.'s ``LinearQuant(x, bitwidth) = Clip(round(x/bitwidth) *
    bitwidth, minV, maxV)`` (arXiv 1609.07061, the quantized-gradient
    section), read literally: the paper's second argument acts as the
    *step* of the grid (called ``step`` here), not as a number of bits; the
    bits a grid needs follow from ``(maxV - minV) / step``.

    ``n`` is the exact quotient ``x / step`` rounded once by the core into a
    signed integer format wide enough for ``[minV, maxV]`` (saturating beyond
    it, which the clip makes invisible); the value is ``n * step`` rounded
    once into float64 (exact when ``step`` is a power of two), then clipped
    to ``[min_v, max_v]``.  Default rounding ``nearest_even``; any fxsim mode
    (``stochastic`` with ``rng``).  Zero maps to 0.  float64 out.
    """
    arr = _real(x, "linear_quant", allow_inf=False)
    step = float(step)
    min_v, max_v = float(min_v), float(max_v)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"linear_quant: step must be a positive finite number, got {step!r}")
    if not (math.isfinite(min_v) and math.isfinite(max_v) and min_v <= max_v):
        raise ValueError(f"linear_quant: need finite min_v <= max_v, got {min_v!r}, {max_v!r}")
    top = max(abs(Fraction(min_v)), abs(Fraction(max_v))) / Fraction(step)
    width = (math.floor(top) + 2).bit_length() + 1
    n = _ops.divide(arr, np.float64(step), out=FixedFormat(width, 0), rounding=rounding,
                    overflow="saturate", rng=rng, random=random, random_bits=random_bits)
    value = _ops.multiply(n, np.float64(step), out="float64").to_float()
    return _shaped(np.clip(value, min_v, max_v), arr.shape)


def log_quant(x, min_v, max_v):
    """Hubara et al.'s ``LogQuant(x, bitwidth) = Clip(AP2(x), minV, maxV)``:
    :func:`ap2` (rounding at the geometric midpoint, ``AP2(0) = 0``), then
    clipped to ``[min_v, max_v]``.  The paper's ``bitwidth`` enters only
    through ``minV``/``maxV`` (how many powers of two the code can hold), so
    they are the parameters here.  float64 out."""
    min_v, max_v = float(min_v), float(max_v)
    if not min_v <= max_v:
        raise ValueError(f"log_quant: need min_v <= max_v, got {min_v!r}, {max_v!r}")
    out = np.clip(ap2(x), min_v, max_v)
    return out[()] if np.ndim(out) == 0 else out
