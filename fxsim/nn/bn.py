"""Batch norm on integer accumulators: folding, shared-scale BN, thresholds.

Batch norm at inference, on an integer accumulator ``x`` whose real value is
``x * in_scale``, is

    y(x) = gamma * (x * in_scale - mean) / sqrt(var + eps) + beta.

Three integer forms of it live here:

* :func:`fold_bn` -- the TFLite/gemmlowp form: per channel an int32 bias and
  a multiplier ``m0 * 2**(shift - 31)``; :func:`apply_folded_bn` runs the
  integer pipeline bit-exactly (double or single rounding).  Computing the
  parameters is the standard float64 approximation; exactness is NOT
  claimed for it (see its docstring for the bound).
* :func:`shared_scale_bn` -- Lin et al. 2020: for ``y = a*x + b`` with exact
  rational ``a``, ``b``, the smallest ``k`` with integers ``A``, ``B`` such
  that ``(A*x + B) >> k == round(a*x + b)`` for every integer ``x`` of a
  range, proven by an exhaustive check; :func:`apply_shared_scale_bn`.
* :func:`thresholds_sign`, :func:`thresholds_kbit` -- BN followed by a sign
  or k-bit activation, as integer thresholds on ``x`` (FINN's MultiThreshold
  or Larq Compute Engine's bitpacked-output convention), exact against the
  *rational* BN (no float rounding anywhere); :func:`apply_thresholds`.

Parameters are read as exact rationals: a Python/numpy float is the dyadic
rational it holds, ints and Fractions are themselves (Decimals too).  Every
integer result that involves rounding (targets, shifts, requantization,
clamping) is produced by fxsim's one rounding core (``fxsim.cast`` /
``fxsim.encode``); comparisons and integer additions are exact.
"""
from __future__ import annotations

import dataclasses
import decimal
import math
import numbers
from fractions import Fraction

import numpy as np

from .. import formats as _formats
from ..array import from_bits
from ..codec import encode
from ..modes import Rounding, rounding_mode
from ..ops import cast
from . import requant
from .requant import quantize_multiplier

__all__ = [
    "FoldedBN", "fold_bn", "apply_folded_bn",
    "SharedScaleBN", "shared_scale_bn", "apply_shared_scale_bn",
    "BNThresholds", "thresholds_sign", "thresholds_kbit", "apply_thresholds",
    "INT64_MIN", "INT64_MAX",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# ------------------------------------------------------------------ helpers
def _exact(v, what: str, index=None) -> Fraction:
    """The exact rational value of one number; a ValueError naming the
    parameter (and channel) for NaN, inf or a non-number."""
    where = f" at channel {index}" if index is not None else ""
    if isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{what}{where}: {v!r} is a bool, not a number")
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{what}{where} is {float(v)!r}: give a finite number")
        return Fraction(*np.longdouble(v).as_integer_ratio()) if isinstance(v, np.longdouble) \
            else Fraction(float(v))
    if isinstance(v, np.integer):
        return Fraction(int(v))
    if isinstance(v, numbers.Rational):
        return Fraction(v)
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise ValueError(f"{what}{where} is {v!r}: give a finite number")
        return Fraction(v)
    raise ValueError(f"{what}{where}: {v!r} ({type(v).__name__}) is not a number; "
                     "give ints, floats, Fractions or Decimals")


def _channels(**params):
    """Broadcast per-channel parameters to one length C; returns (C, dict of
    lists of Fractions)."""
    arrays = {k: np.asarray(v, dtype=object) for k, v in params.items()}
    for k, arr in arrays.items():
        if arr.ndim > 1:
            raise ValueError(f"{k} must be a scalar or a 1-D array over channels, "
                             f"got shape {arr.shape}")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
        raise ValueError(f"per-channel parameters do not broadcast: {shapes}") from None
    C = shape[0] if shape else 1
    out = {}
    for k, arr in arrays.items():
        flat = np.broadcast_to(arr.reshape(arr.shape or (1,)), (C,))
        out[k] = [_exact(v, k, c) for c, v in enumerate(flat)]
    return C, out


def _variances(var, eps, C):
    """``var + eps`` per channel, exact; a ValueError naming the first
    channel where it is not positive (its square root is BN's divisor)."""
    q = [v + e for v, e in zip(var, eps)]
    for c in range(C):
        if q[c] <= 0:
            raise ValueError(f"var + eps = {q[c]} (var={var[c]}, eps={eps[c]}) at channel {c} "
                             "is not positive: batch norm divides by its square root")
    return q


def _positive(values, what):
    for c, v in enumerate(values):
        if v <= 0:
            raise ValueError(f"{what} = {v} at channel {c} must be positive")


def _deterministic(rounding, what):
    mode = rounding_mode(rounding)
    if mode.is_stochastic:
        raise ValueError(f"{what}: rounding={mode.value} is stochastic; a BN that must equal an "
                         "exact function of x needs a deterministic rounding mode")
    return mode


def _signed_values(bits, word: int):
    """Integers of two's complement ``word``-bit codes (int64 when word <= 64)."""
    if bits.dtype == object:
        out = np.empty(bits.shape, dtype=object)
        out.reshape(-1)[:] = [int(v) - (1 << word) if int(v) >> (word - 1) else int(v)
                              for v in bits.reshape(-1)]
        return out
    bits = np.asarray(bits, dtype=np.uint64)
    if word == 64:
        return bits.view(np.int64)
    v = bits.astype(np.int64)
    return np.where(v >= (1 << (word - 1)), v - (1 << word), v)


def _fits_int64(arr) -> bool:
    arr = np.asarray(arr)
    if arr.dtype != object:
        return True
    return all(INT64_MIN <= int(v) <= INT64_MAX for v in arr.reshape(-1))


def _as_ints(values):
    """An int64 array when every value fits, else an object array of ints."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.dtype != object:
        return arr.astype(np.int64)
    if _fits_int64(arr):
        return arr.astype(np.int64)
    out = np.empty(arr.shape, dtype=object)
    out.reshape(-1)[:] = [int(v) for v in arr.reshape(-1)]
    return out


def _round_scaled(num, k: int, rounding, word: int = 64, overflow="raise"):
    """``num * 2**-k`` rounded to an integer of the format ``s{word}.0``, by
    the rounding core (``fxsim.cast`` from ``FixedFormat(w, k)``).

    ``num`` is an int64 array (the Numba path) or an object array of Python
    ints (the exact path, any width).  Returns int64 for ``word <= 64``."""
    num = np.asarray(num)
    dst = _formats.FixedFormat(word, 0)
    if num.dtype != object:  # the int64 path is requant's
        return requant._round_pot(num, k, rounding, dst, overflow)
    flat = [int(v) for v in num.reshape(-1)]
    w = max([64] + [v.bit_length() + 2 for v in flat] + [(-v).bit_length() + 2 for v in flat])
    codes = np.empty(num.shape, dtype=object)
    codes.reshape(-1)[:] = [v % (1 << w) for v in flat]
    if w == 64:
        codes = codes.astype(np.uint64)
    out = cast(from_bits(codes, _formats.FixedFormat(w, k)), dst, rounding, overflow)
    return _signed_values(np.asarray(out.bits), word)


def _round_rational(num, den: int, rounding):
    """``round(num / den)`` (den > 0) to integers with ``rounding``, by the core.

    A deterministic mode's decision depends only on ``n = floor(t)``, on
    whether ``t`` is exact, and on the fraction ``f = t - n`` against 1/2.
    ``M / 4`` with ``M = 4n + 2*g + s`` (``g = floor(2f)``, sticky ``s`` =
    "2f is not an integer") has the same floor, is exact iff ``t`` is, and
    its fraction ``g/2 + s/4`` sits on the same side of (or on) 1/2: so the
    core rounding ``M * 2**-2`` gives ``round(t)``.  Vectorized, exact."""
    num = np.asarray(num)
    small = num.dtype != object and den < (1 << 58) and \
        (num.size == 0 or int(np.abs(num).max()) < (1 << 58))
    if not small and num.dtype != object:
        num = num.astype(object)
    n, r = num // den, num % den
    g, s = (2 * r) // den, (2 * r) % den != 0
    M = (n * 2 + g) * 2 + s.astype(np.int64 if small else object)
    if small:
        return _round_scaled(M.astype(np.int64), 2, rounding, 64)
    width = max([64] + [abs(int(v)).bit_length() + 2 for v in M.reshape(-1)])
    return _round_scaled(M, 2, rounding, width)


# ---------------------------------------------------------- 1. fold_bn
@dataclasses.dataclass(frozen=True)
class FoldedBN:
    """Per-channel gemmlowp parameters of a folded batch norm (see
    :func:`fold_bn`).  Output integer of channel c for accumulator x::

        clamp(zero_point[c] + requant(x + bias[c], m0[c], shift[c]))

    with ``requant(v) ~ v * m0 * 2**(shift - 31)`` (:func:`apply_folded_bn`).
    ``multiplier`` is the float64 multiplier before quantization.
    """

    m0: np.ndarray
    shift: np.ndarray
    bias: np.ndarray
    zero_point: np.ndarray
    out_fmt: _formats.FixedFormat
    multiplier: np.ndarray


def _quantize_multiplier(m: float):
    """TFLite's ``QuantizeMultiplier`` (:func:`fxsim.nn.requant.quantize_multiplier`)
    of ``|m|``, with ``m``'s sign on ``m0`` (a negative gamma folds into a
    negative multiplier)."""
    m0, shift = quantize_multiplier(abs(m))
    return (-m0 if m < 0 else m0), shift


def fold_bn(gamma, beta, mean, var, eps, in_scale, out_fmt="s8.0", *, out_scale=None,
            out_zero_point=0) -> FoldedBN:
    """Fold a batch norm into TFLite's integer requantization (gemmlowp form).

    For an integer accumulator ``x`` (real value ``x * in_scale``) the
    target is ``round(y / out_scale) + out_zero_point`` clamped to the range
    of ``out_fmt``, with ``y = gamma*(x*in_scale - mean)/sqrt(var + eps) +
    beta``.  Returned per channel: ``m0`` (int32), ``shift``, ``bias``
    (int32) such that ``requant(x + bias)`` by ``(m0, shift)`` approximates
    it (run it with :func:`apply_folded_bn`).

    Parameters
    ----------
    gamma, beta, mean, var, eps, in_scale : scalars or 1-D arrays over channels
    out_fmt : FixedFormat or str
        The output integers' range (``"s8.0"`` int8, ``"u8.0"`` uint8, ...).
        Without ``out_scale`` the output step is its grid ``2**-frac``, so the
        integers are ``out_fmt``'s codes read as integers.  With
        ``out_scale``, ``out_fmt`` must have ``frac == 0`` (it only gives the
        range).
    out_scale : float, optional
        Real value of one output step (TFLite's output scale).
    out_zero_point : int

    What is rounded (the standard TFLite approximation; exactness is NOT
    claimed for ``fold_bn``, unlike everything else in this module):

    * in float64: ``s = sqrt(var + eps)`` (correctly rounded),
      ``M = gamma * in_scale / (s * out_scale)`` and
      ``bias_real = (beta * s / gamma - mean) / in_scale`` (a few roundings
      each, relative error ~1e-16);
    * ``M`` to 31 bits: ``m0 = round_half_away(q * 2**31)`` with
      ``M = q * 2**shift`` (TFLite's ``QuantizeMultiplier``; a negative
      gamma gives a negative ``m0``);
    * ``bias = round_half_away(bias_real)`` to int32 (as TFLite quantizes a
      conv bias).

    So ``M * (x + bias)`` differs from the exact ``y / out_scale`` by at most
    ``|M|/2 + |M| * 2**-31 * |x + bias|`` (plus ~1e-16 relative), and the
    requantization adds its rounding: at most 1/2 with single rounding or
    when ``shift >= 0``, ``1/2 + 2**-(r+1)`` with TFLite's double rounding
    and ``r = -shift >= 1`` (then ``|M| < 1/2``).  With ``|M| < 1`` the output
    is therefore within 1 of ``y / out_scale`` (up to the tiny terms) and at
    most one integer off the exactly rounded BN (the tests hold it to that);
    with powers of two everywhere it is exact (single rounding: ties toward
    +inf).

    ``gamma == 0``: the channel's output is the constant
    ``round_half_away(beta / out_scale) + out_zero_point``; it is stored with
    ``m0 = shift = bias = 0`` and that constant as the channel's
    ``zero_point`` (which is ``out_zero_point`` for every other channel).

    Raises ValueError naming the channel for ``var + eps <= 0``, non-finite
    or non-positive scales, non-finite parameters, and OverflowError naming
    the channel when ``bias`` does not fit int32 (a tiny ``gamma`` makes
    ``beta * s / gamma`` huge: use :func:`thresholds_kbit` or set gamma to 0).
    """
    out_fmt = _formats.format(out_fmt)
    if out_fmt.is_float:
        raise ValueError(f"fold_bn: out_fmt must be a fixed-point format, got {out_fmt.name}")
    if out_scale is None:
        out_scale = Fraction(2) ** -out_fmt.frac
    elif out_fmt.frac != 0:
        raise ValueError(f"fold_bn: with out_scale given, out_fmt only gives the integer range "
                         f"and must have frac 0, got {out_fmt.name}")
    C, p = _channels(gamma=gamma, beta=beta, mean=mean, var=var, eps=eps, in_scale=in_scale,
                     out_scale=out_scale)
    _variances(p["var"], p["eps"], C)
    _positive(p["in_scale"], "in_scale")
    _positive(p["out_scale"], "out_scale")
    zp = int(_exact(out_zero_point, "out_zero_point"))
    f64 = {k: np.array([float(v) for v in vals], dtype=np.float64) for k, vals in p.items()}
    s = np.sqrt(f64["var"] + f64["eps"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mult = f64["gamma"] * f64["in_scale"] / (s * f64["out_scale"])
        bias_real = (f64["beta"] * s / f64["gamma"] - f64["mean"]) / f64["in_scale"]
        const = f64["beta"] / f64["out_scale"]
    m0 = np.zeros(C, np.int64)
    shift = np.zeros(C, np.int64)
    bias = np.zeros(C, np.int64)
    zero_point = np.full(C, zp, np.int64)
    for c in range(C):
        if p["gamma"][c] == 0:
            k = int(_signed_values(np.asarray([encode(const[c], "s32.0", "nearest_away",
                                                      "saturate")], np.uint64), 32)[0])
            zero_point[c] = zp + k
            continue
        if not math.isfinite(mult[c]):
            raise OverflowError(f"fold_bn: the multiplier of channel {c} is {mult[c]} in float64")
        try:
            m0[c], shift[c] = _quantize_multiplier(float(mult[c]))
        except ValueError as err:  # a multiplier beyond TFLite's shift range
            raise OverflowError(f"fold_bn: channel {c}: the multiplier {float(mult[c])!r} "
                                f"does not fit TFLite's (m0, shift) form: {err}") from None
        if not math.isfinite(bias_real[c]) or abs(bias_real[c]) >= 2.0**31:
            raise OverflowError(
                f"fold_bn: the bias of channel {c}, (beta*s/gamma - mean)/in_scale = "
                f"{bias_real[c]}, does not fit int32 (gamma={float(p['gamma'][c])!r}); "
                "the gemmlowp form cannot hold it")
        try:
            code = encode(float(bias_real[c]), "s32.0", "nearest_away", "raise")
        except OverflowError as err:
            raise OverflowError(f"fold_bn: the bias of channel {c} does not fit int32: "
                                f"{err}") from None
        bias[c] = int(_signed_values(np.asarray([code], np.uint64), 32)[0])
    return FoldedBN(m0=m0, shift=shift, bias=bias, zero_point=zero_point, out_fmt=out_fmt,
                    multiplier=mult)


def _move_channels(x, C, axis, what):
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{what}: x must have a channel axis")
    x = np.moveaxis(x, axis, -1)
    if x.shape[-1] != C:
        raise ValueError(f"{what}: x has {x.shape[-1]} channels on axis {axis}, the parameters "
                         f"have {C}")
    return x


def _int64_input(x, what):
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "iu":
        raise ValueError(f"{what}: x must be an integer array, got dtype {x.dtype}")
    if x.dtype == np.uint64 and x.size and int(x.max()) > INT64_MAX:
        i = int(np.argmax(x > INT64_MAX))
        raise ValueError(f"{what}: x[{np.unravel_index(i, x.shape)}] = {x.reshape(-1)[i]} "
                         "does not fit int64")
    return x.astype(np.int64)


def _first_outside(v, lo, hi):
    bad = np.flatnonzero((v < lo) | (v > hi))
    return int(bad[0]) if bad.size else None


def apply_folded_bn(x, folded: FoldedBN, *, axis=1, rounding="double"):
    """TFLite's integer output stage for a folded BN, bit-exact.

    ``x``: integer accumulators (int32 range) with channels on ``axis``.
    Per channel ``c``: ``acc = x + bias[c]`` (must fit int32), then

    * ``rounding="double"`` (TFLite's reference ``MultiplyByQuantizedMultiplier``):
      ``v = acc * 2**max(shift, 0)`` (must fit int32, as in TFLite where it
      is an int32 product), ``r1 = SaturatingRoundingDoublingHighMul(v, m0)
      = round(v * m0 / 2**31)`` with ties toward +inf, saturated to int32
      (the core, ``nearest_up``), then ``RoundingDivideByPOT(r1, -shift)``
      when ``shift < 0``: ties away from zero (the core, ``nearest_away``).
      Two roundings (TensorFlow issue 25087).
    * ``rounding="single"`` (``TFLITE_SINGLE_ROUNDING``, XNNPACK's
      ``rndnu``): ``round(acc * m0 / 2**(31 - shift))`` once, ties toward
      +inf; needs ``shift <= 30``; the result must fit int32.

    Finally ``zero_point[c]`` is added and the result saturated into the
    range of ``folded.out_fmt``.  Returns int64 integers (the output codes
    read as integers), in ``x``'s shape.  OverflowError names the first
    offending index.
    """
    if rounding not in ("double", "single"):
        raise ValueError(f"apply_folded_bn: rounding must be 'double' or 'single', "
                         f"got {rounding!r}")
    C = folded.m0.shape[0]
    xm = _move_channels(_int64_input(x, "apply_folded_bn"), C, axis, "apply_folded_bn")
    shape = xm.shape
    acc = xm + folded.bias
    i = _first_outside(acc, INT32_MIN, INT32_MAX)
    if i is not None:
        idx = np.unravel_index(i, shape)
        raise OverflowError(f"apply_folded_bn: x + bias = {acc.reshape(-1)[i]} at index "
                            f"{_orig_index(idx, axis, len(shape))} (channel {idx[-1]}) does not "
                            "fit int32")
    out = np.empty(shape, np.int64)
    for c in range(C):
        a = acc[..., c]
        m0, sh = int(folded.m0[c]), int(folded.shift[c])
        if rounding == "double":
            left, right = max(sh, 0), max(-sh, 0)
            v = a << left
            j = _first_outside(v, INT32_MIN, INT32_MAX)
            if j is not None:
                raise OverflowError(
                    f"apply_folded_bn: (x + bias) * 2**{left} = {v.reshape(-1)[j]} at channel {c}, "
                    f"element {np.unravel_index(j, v.shape)} does not fit int32 (TFLite's int32 "
                    "left shift)")
            r = requant._divide_pot(requant._high_mul(v, m0), right)
        else:
            if sh > 30:
                raise ValueError(f"apply_folded_bn: single rounding needs shift <= 30, channel {c} "
                                 f"has {sh}")
            try:
                r = _round_scaled(a * m0, 31 - sh, Rounding.NEAREST_UP, 32, "raise")
            except OverflowError as err:
                raise OverflowError(f"apply_folded_bn: channel {c} (index within the channel as "
                                    f"below): the single-rounded result does not fit int32: "
                                    f"{err}") from None
        out[..., c] = r + folded.zero_point[c]
    ofmt = folded.out_fmt
    clamp_fmt = _formats.FixedFormat(ofmt.word, 0, ofmt.signed)
    codes = encode(out, clamp_fmt, "nearest_even", "saturate")
    res = _signed_values(np.asarray(codes, np.uint64), ofmt.word) if ofmt.signed \
        else np.asarray(codes, np.uint64).astype(np.int64)
    return np.moveaxis(np.asarray(res, np.int64).reshape(shape), -1, axis)


def _orig_index(idx, axis, ndim):
    """An index of the channels-last view, in the caller's axis order."""
    idx = list(idx)
    c = idx.pop()
    axis = axis % ndim
    idx.insert(axis, c)
    return tuple(int(i) for i in idx)


# ---------------------------------------------- 2. Lin et al.: shared scale
@dataclasses.dataclass(frozen=True)
class SharedScaleBN:
    """Lin et al.'s fixed-point BN: ``(A*x + B + offset) >> k`` equals
    ``round(a*x + b)`` (mode ``rounding``) for every integer ``x`` in
    ``[x_min, x_max]``; ``offset = 0`` for ``shift="floor"`` and
    ``2**(k-1)`` (0 when k = 0) for ``shift="half_up"``.

    ``k`` is the smallest that works; ``A_range`` every feasible ``A`` at
    this ``k`` (None: any A, a one-point range); ``B_range`` the feasible
    ``B`` for the chosen ``A``.  ``verified`` says the exhaustive check over
    the ``checked`` inputs ran and passed (a failure raises instead).
    """

    k: int
    A: int
    B: int
    shift: str
    rounding: str
    a: Fraction
    b: Fraction
    x_min: int
    x_max: int
    A_range: tuple | None
    B_range: tuple
    verified: bool
    checked: int

    @property
    def offset(self) -> int:
        return (1 << self.k) >> 1 if self.shift == "half_up" else 0

    def __call__(self, x):
        return apply_shared_scale_bn(x, self)


_MAX_POINTS = 1 << 24


def _int_param(v, what):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"shared_scale_bn: {what} must be an integer, got {v!r}")
    return int(v)


class _Problem:
    """The constraints ``L(x) <= A*x + B <= U(x)`` at one k, vectorized."""

    def __init__(self, xs, t, k):
        self.xs = xs
        one = 1 << k
        self.L = t * one
        self.U = (t + 1) * one - 1

    def h(self, A):
        """max(L - A x) - min(U - A x): convex in A; A works iff h(A) <= 0."""
        ax = self.xs * A
        return int((self.L - ax).max()) - int((self.U - ax).min())

    def b_range(self, A):
        ax = self.xs * A
        return int((self.L - ax).max()), int((self.U - ax).min())


def _arrays_for(xs64, t, k, a, W):
    """xs and t as int64 when every intermediate provably fits, else objects."""
    xmax = max(abs(int(xs64[0])), abs(int(xs64[-1])))
    tmax = max(abs(int(t.min())), abs(int(t.max()))) + 1
    amax = abs(a) * (1 << k) + (3 * (1 << k)) // max(W, 1) + 2
    bound = tmax * (1 << k) + math.ceil(amax) * xmax
    if bound < (1 << 62) and t.dtype != object:
        return xs64, t.astype(np.int64)
    xs = xs64.astype(object)
    return xs, t.astype(object)


def _a_window(a, k, W):
    """Every feasible A at k lies in this window (proof in shared_scale_bn)."""
    centre = a * (1 << k)
    radius = Fraction(3 * (1 << k), W)
    return math.ceil(centre - radius), math.floor(centre + radius)


def _solve_k(xs64, t, k, a, W, ends=True):
    """((A_lo, A_hi, A_best), problem) of the feasible A at k (the ends only
    when ``ends``), or (None, (problem, A_best)) when there is none."""
    xs, tt = _arrays_for(xs64, t, k, a, W)
    prob = _Problem(xs, tt, k)
    if W == 0:
        A = round(a * (1 << k))
        return (None, None, A), prob
    lo, hi = _a_window(a, k, W)
    # h is convex on the integers: its minimizer is the first A whose
    # forward difference is >= 0.
    left, right = lo, hi
    while left < right:
        mid = (left + right) // 2
        if prob.h(mid + 1) >= prob.h(mid):
            right = mid
        else:
            left = mid + 1
    best = left
    if prob.h(best) > 0:
        return None, (prob, best)
    if not ends:
        return (None, None, best), prob
    # {h <= 0} is an interval around best: binary search both ends.
    left, right = lo, best
    while left < right:
        mid = (left + right) // 2
        if prob.h(mid) <= 0:
            right = mid
        else:
            left = mid + 1
    A_lo = left
    left, right = best, hi
    while left < right:
        mid = (left + right + 1) // 2
        if prob.h(mid) <= 0:
            left = mid
        else:
            right = mid - 1
    A_hi = left
    return (A_lo, A_hi, best), prob


def shared_scale_bn(a, b, x_min, x_max, *, rounding="nearest_even", shift="floor",
                    k_max=32) -> SharedScaleBN:
    """Lin et al.'s shared-scale fixed-point BN, found and proven.

    For ``y = a*x + b`` (``a``, ``b`` exact rationals: ints, floats taken
    as the dyadic rationals they hold, Fractions, Decimals) find the
    smallest ``k`` in ``0..k_max`` and integers ``A``, ``B`` with

        (A*x + B) >> k == round(a*x + b)            (shift="floor")
        (A*x + B + 2**(k-1)) >> k == round(a*x + b)   (shift="half_up")

    for EVERY integer ``x`` in ``[x_min, x_max]`` (at most 2**24 of them).
    ``>>`` is the floor shift of a two's complement datapath; ``round`` is
    the named deterministic mode (default nearest_even), computed exactly:
    ``a*x + b = (P*x + Q) / D`` in integers, rounded by fxsim's core.

    Method.  With ``t(x)`` the target, the floor shift needs
    ``L(x) = t(x)*2**k <= A*x + B <= (t(x)+1)*2**k - 1 = U(x)``.  For a
    fixed A the feasible B form the interval ``[max(L - A x), min(U - A x)]``
    (vectorized over x), so A works iff ``h(A) = max(L - A x) - min(U - A x)
    <= 0``; h is convex (a max of lines minus a min of lines), so the
    feasible A are an interval, found by integer binary searches on h.  The
    searches run inside a window that provably holds every feasible A:
    ``e(x) = (A x + B)/2**k - (a x + b)`` lies in ``[-1, 2]`` (t is within
    1 of ``a x + b`` for every mode; ``(A x + B)/2**k`` in ``[t, t+1)``), so
    ``|A/2**k - a| * W = |e(x_max) - e(x_min)| <= 3`` with
    ``W = x_max - x_min``: ``|A - a 2**k| <= 3 * 2**k / W``.
    Feasibility only grows with k (``(2A, 2B)`` works at ``k+1`` when
    ``(A, B)`` works at ``k``), so the smallest k is found by bisection after
    checking ``k_max``.  The half_up variant is the floor one with ``B``
    lowered by the offset, so its smallest k is the same.

    Chosen: ``A`` the feasible value nearest ``a * 2**k`` (ties: the
    smaller), ``B`` the middle (rounded down) of its feasible interval.
    Then every x of the range is checked through the datapath
    (:func:`apply_shared_scale_bn`) against ``t(x)``.

    Returns a :class:`SharedScaleBN`.  Raises ValueError when no k in
    ``0..k_max`` works, saying why (for example a target whose ties go to
    even is not ``floor`` of any line: ``round(x/2)`` over 0..5 gives
    0, 0, 1, 2, 2, 2, which no ``(A x + B) >> k`` reproduces, for any k).
    """
    if shift not in ("floor", "half_up"):
        raise ValueError(f"shared_scale_bn: shift must be 'floor' or 'half_up', got {shift!r}")
    mode = _deterministic(rounding, "shared_scale_bn")
    a, b = _exact(a, "a"), _exact(b, "b")
    x_min, x_max = _int_param(x_min, "x_min"), _int_param(x_max, "x_max")
    k_max = _int_param(k_max, "k_max")
    if x_min > x_max:
        raise ValueError(f"shared_scale_bn: x_min={x_min} > x_max={x_max}")
    if x_max - x_min >= _MAX_POINTS:
        raise ValueError(f"shared_scale_bn: the range [{x_min}, {x_max}] has more than 2**24 "
                         "inputs; the exhaustive proof would not fit")
    if k_max < 0:
        raise ValueError(f"shared_scale_bn: k_max must be >= 0, got {k_max}")
    if x_min < INT64_MIN or x_max > INT64_MAX:
        raise ValueError("shared_scale_bn: x_min and x_max must fit int64")
    W = x_max - x_min
    xs64 = np.arange(x_max - x_min + 1, dtype=np.int64) + np.int64(x_min)
    D = math.lcm(a.denominator, b.denominator)
    P, Q = a.numerator * (D // a.denominator), b.numerator * (D // b.denominator)
    if abs(P) * max(abs(x_min), abs(x_max)) + abs(Q) < (1 << 62):
        num = xs64 * np.int64(P) + np.int64(Q)
    else:
        num = xs64.astype(object) * P + Q
    t = _as_ints(_round_rational(num, D, mode))

    found, witness = _solve_k(xs64, t, k_max, a, W, ends=False)
    if found is None:
        prob, A = witness
        lo_B, hi_B = prob.b_range(A)
        x1 = int(prob.xs[int(np.argmax(prob.L - prob.xs * A))])
        x2 = int(prob.xs[int(np.argmin(prob.U - prob.xs * A))])
        raise ValueError(
            f"shared_scale_bn: no k in 0..{k_max} gives (A*x + B) >> k == "
            f"{mode.value}(a*x + b) for every integer x in [{x_min}, {x_max}] "
            f"(a={a}, b={b}). Feasibility only grows with k, so k={k_max} failing rules out "
            f"every smaller k. At k={k_max} the A with the least violation, A={A}, would need "
            f"B >= {lo_B} (for x={x1}) and B <= {hi_B} (for x={x2}). If the target breaks ties "
            "in a way no floor of a line does (e.g. to even), no k works at all.")
    lo, hi = 0, k_max  # feasible at hi
    while lo < hi:
        mid = (lo + hi) // 2
        if _solve_k(xs64, t, mid, a, W, ends=False)[0] is not None:
            hi = mid
        else:
            lo = mid + 1
    k = lo
    (A_lo, A_hi, best), prob = _solve_k(xs64, t, k, a, W)
    if A_lo is None:
        A, A_range = best, None
    else:
        target = a * (1 << k)
        A = min(max(math.floor(target), A_lo), A_hi)
        if A + 1 <= A_hi and abs(A + 1 - target) < abs(A - target):
            A += 1
        A_range = (A_lo, A_hi)
    B_lo, B_hi = prob.b_range(A)
    B = (B_lo + B_hi) // 2
    offset = (1 << k) >> 1 if shift == "half_up" else 0
    result = SharedScaleBN(k=k, A=int(A), B=int(B - offset), shift=shift, rounding=mode.value,
                           a=a, b=b, x_min=x_min, x_max=x_max, A_range=A_range,
                           B_range=(B_lo - offset, B_hi - offset), verified=False,
                           checked=len(xs64))
    got = _as_ints(apply_shared_scale_bn(xs64, result))
    bad = np.flatnonzero(got != t)
    if bad.size:
        i = int(bad[0])
        raise RuntimeError(f"shared_scale_bn: internal error: k={k}, A={A}, B={result.B} give "
                           f"{got[i]} at x={int(xs64[i])}, expected {t[i]}")
    return dataclasses.replace(result, verified=True)


def apply_shared_scale_bn(x, result: SharedScaleBN):
    """``(A*x + B + offset) >> k`` for integer ``x`` (any shape): the
    datapath of :func:`shared_scale_bn`, with the shift (a floor) done by the
    rounding core (``down`` into ``s64.0``; wider results stay exact Python
    ints in an object array).  Outside ``[x_min, x_max]`` the datapath is
    computed just the same, but its agreement with ``round(a*x + b)`` is
    only proven inside."""
    x = np.asarray(x)
    if x.dtype == object:
        xi = np.empty(x.shape, dtype=object)
        for i, v in enumerate(x.reshape(-1)):
            xi.reshape(-1)[i] = _int_param(v, f"x[{np.unravel_index(i, x.shape)}]")
        x = xi
    elif x.dtype.kind not in "iu":
        raise ValueError(f"apply_shared_scale_bn: x must be integers, got dtype {x.dtype}")
    A, B, k = result.A, result.B + result.offset, result.k
    xmax = max(abs(int(x.min())), abs(int(x.max()))) if x.size else 0
    if x.dtype != object and xmax <= INT64_MAX and abs(A) * xmax + abs(B) < (1 << 62):
        v = x.astype(np.int64) * np.int64(A) + np.int64(B)
    else:
        v = x.astype(object) * A + B
    if v.dtype != object:
        return _round_scaled(v, k, Rounding.DOWN, 64)
    width = max([64] + [abs(int(w)).bit_length() + 2 for w in v.reshape(-1)])
    out = _round_scaled(v, k, Rounding.DOWN, width)
    return _as_ints(out)


# --------------------------------------------------- 3. BN -> thresholds
@dataclasses.dataclass(frozen=True)
class BNThresholds:
    """Integer thresholds of BN followed by an activation (see
    :func:`thresholds_sign`, :func:`thresholds_kbit`, :func:`apply_thresholds`).

    ``convention="finn"``: ``thresholds`` is ``(C, n)`` int64, each row sorted
    ascending; the activation's level (0..n) of channel c is
    ``sum(x >= T[c])`` where ``ge[c]`` and ``sum(x <= T[c])`` where not
    (a flipped comparison for negative gamma); its value is
    ``out_bias + out_scale * level`` (FINN MultiThreshold's out_scale /
    out_bias; None for explicit boundaries).

    ``convention="lce"``: ``thresholds`` is ``(C,)`` int32 and the output bit
    (1 meaning -1) of XOR-popcount ``accum`` is ``accum > T[c]``; ``K`` is
    the popcount length (dot product ``K - 2*accum``).

    ``negate[c]``: the channel's weights must be negated by the caller (the
    sign of a negative gamma folded into the weights); its thresholds are
    for the accumulator those negated weights produce.

    Sentinels: ``INT64_MIN`` / ``INT64_MAX`` (``INT32_MIN`` / ``INT32_MAX``
    for lce) stand for "always" / "never" (gamma == 0, or a threshold beyond
    the integer range, e.g. for a tiny gamma).  The levels are exact for
    every accumulator strictly between INT64_MIN and INT64_MAX.
    """

    convention: str
    thresholds: np.ndarray
    ge: np.ndarray
    negate: np.ndarray
    out_scale: Fraction | None
    out_bias: Fraction | None
    K: int | None = None


def _floor_u_plus_v_sqrt(u: Fraction, v: Fraction, q: Fraction) -> int:
    """``floor(u + v * sqrt(q))`` exactly (q > 0), with integer square roots."""
    fu = math.floor(u)
    if v == 0:
        return fu
    z = v * v * q  # (v sqrt q)**2
    r = math.isqrt(z.numerator // z.denominator)  # floor(sqrt(z))
    if v > 0:
        # u + sqrt(z) lies in [fu + r, fu + r + 2): the floor is one of two.
        n = fu + r + 1
        d = n - u  # n <= u + sqrt(z)  <=>  d <= 0 or d*d <= z
        return n if (d <= 0 or d * d <= z) else n - 1
    # u - sqrt(z) lies in (fu - r - 1, fu - r + 1).
    n = fu - r
    d = u - n  # n <= u - sqrt(z)  <=>  d >= 0 and z <= d*d
    return n if (d >= 0 and z <= d * d) else n - 1


_INF = float("inf")


def _channel_thresholds(g, beta, mean, q, sc, boundaries, negative):
    """Exact thresholds of one channel (Python ints or +-inf) in the
    orientation of the result: returns (ge, negate, list)."""
    if g == 0:
        # y == beta for every x: each boundary is met always or never.
        return True, False, [(-_INF if (beta >= b if incl else beta > b) else _INF)
                             for b, incl in boundaries]
    out = []
    for b, incl in boundaries:
        # y >= b  <=>  g * (x*sc - mean) >= (b - beta) * sqrt(q)
        #         <=>  x >= rho (g > 0) or x <= rho (g < 0),
        # rho = mean/sc + (b - beta)/(g*sc) * sqrt(q) = u + v sqrt(q).
        u, v = mean / sc, (b - beta) / (g * sc)
        if g > 0:   # count x >= T
            T = -_floor_u_plus_v_sqrt(-u, -v, q) if incl else _floor_u_plus_v_sqrt(u, v, q) + 1
        else:       # count x <= T
            T = _floor_u_plus_v_sqrt(u, v, q) if incl else -_floor_u_plus_v_sqrt(-u, -v, q) - 1
        out.append(T)
    if g > 0:
        return True, False, out
    if negative == "flip":
        return False, False, out
    # Weights negated: the accumulator is -x, and x <= T  <=>  -x >= -T.
    return True, True, [-T for T in out]


def _clamp(T, lo, hi):
    return lo if T == -_INF or T < lo else hi if T == _INF or T > hi else int(T)


def _prepare(gamma, beta, mean, var, eps, in_scale):
    C, p = _channels(gamma=gamma, beta=beta, mean=mean, var=var, eps=eps, in_scale=in_scale)
    q = _variances(p["var"], p["eps"], C)
    _positive(p["in_scale"], "in_scale")
    return C, p, q


def _finn(C, p, q, boundaries, negative, out_scale, out_bias):
    if negative not in ("flip", "fold"):
        raise ValueError(f"negative must be 'flip' or 'fold', got {negative!r}")
    n = len(boundaries)
    T = np.empty((C, n), np.int64)
    ge = np.ones(C, bool)
    neg = np.zeros(C, bool)
    for c in range(C):
        ge[c], neg[c], row = _channel_thresholds(p["gamma"][c], p["beta"][c], p["mean"][c], q[c],
                                                 p["in_scale"][c], boundaries, negative)
        T[c] = sorted(_clamp(t, INT64_MIN, INT64_MAX) for t in row)
    return BNThresholds("finn", T, ge, neg, out_scale, out_bias)


def thresholds_sign(gamma, beta, mean, var, eps, *, in_scale=1, convention="finn", K=None,
                    negative=None) -> BNThresholds:
    """Batch norm followed by Hubara et al.'s sign, as integer thresholds.

    ``sign(y) = +1 if y >= 0 else -1`` (sign(0) = +1) of the RATIONAL batch
    norm ``y = gamma*(x*in_scale - mean)/sqrt(var + eps) + beta`` of an
    integer accumulator x: exact, no float rounding.  The square root is
    never computed: the threshold is ``ceil(rho)`` (or ``floor`` for
    gamma < 0) of the root ``rho = u + v*sqrt(var + eps)`` (u, v rational),
    and ``floor(u + v*sqrt(q))`` is found exactly with integer square roots
    (``isqrt``) and one comparison of squares of rationals.

    Conventions
    -----------
    ``"finn"`` (FINN / qonnx MultiThreshold): one threshold per channel, the
    output level is ``x >= T`` (0 or 1), value ``-1 + 2*level``
    (``out_bias=-1``, ``out_scale=2``).
    ``"lce"`` (Larq Compute Engine's bitpacked output,
    ``OutputTransform<TBitpacked>``): the accumulator is the XOR-popcount
    ``accum`` in ``0..K`` (dot product ``K - 2*accum``) and the output bit,
    where 1 means -1, is ``accum > T``.  LCE's converter computes
    ``T = floor((K + bias/|mult|) / 2)`` in float32 from the folded BN
    ``y = dot*mult + bias``; here ``T = floor((K - T_x) / 2)`` with
    ``T_x`` the exact smallest dot product giving +1, so the bit is exact.
    Like LCE, gamma == 0 gives ``INT32_MIN`` (always 1, beta < 0) or
    ``INT32_MAX`` (always 0, beta >= 0), and negative gamma is folded into
    the weights (LCE multiplies the filter by ``sign(mult)``, sign(0) = +1).

    Negative gamma (``negative``): ``"flip"`` (default for finn) keeps the
    weights and counts ``x <= T`` for those channels (``ge[c]`` False);
    ``"fold"`` (default and only choice for lce) sets ``negate[c]``: the
    caller negates the channel's weights, the accumulator becomes ``-x`` and
    the comparison stays ``>=`` (``>`` for lce).

    Raises ValueError naming the channel for ``var + eps <= 0``,
    ``in_scale <= 0`` or a non-finite parameter.
    """
    C, p, q = _prepare(gamma, beta, mean, var, eps, in_scale)
    boundaries = [(Fraction(0), True)]
    if convention == "finn":
        return _finn(C, p, q, boundaries, negative or "flip", Fraction(2), Fraction(-1))
    if convention != "lce":
        raise ValueError(f"convention must be 'finn' or 'lce', got {convention!r}")
    if (negative or "fold") != "fold":
        raise ValueError("convention='lce' has only 'accum > T': negative gamma must be folded "
                         "into the weights (negative='fold')")
    if K is None or isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 0:
        raise ValueError(f"convention='lce' needs K, the XOR-popcount length (an int >= 0), "
                         f"got {K!r}")
    K = int(K)
    T = np.empty(C, np.int32)
    neg = np.zeros(C, bool)
    for c in range(C):
        _, neg[c], (Tx,) = _channel_thresholds(p["gamma"][c], p["beta"][c], p["mean"][c], q[c],
                                               p["in_scale"][c], boundaries, "fold")
        # bit 1  <=>  level 0  <=>  K - 2*accum < Tx  <=>  accum > (K - Tx)/2.
        if Tx == -_INF:
            tau = INT32_MAX  # +1 always: never a 1-bit
        elif Tx == _INF:
            tau = INT32_MIN  # -1 always
        else:
            tau = _clamp((K - Tx) // 2, INT32_MIN, INT32_MAX)
        T[c] = tau
    return BNThresholds("lce", T, np.ones(C, bool), neg, Fraction(-2), Fraction(1), K)


def _fixed_boundaries(fmt, rounding):
    """Boundaries (b, inclusive) where ``encode(y, fmt, rounding,
    "saturate")`` steps from code value ``c-1`` to ``c``, for every ``c``
    above the smallest; found by asking the core.

    With ``t = y * 2**frac``, every deterministic mode gives ``R(t) >= c``
    for ``t >= c`` and ``R(t) < c`` for ``t < c - 1``; inside ``(c-1, c)`` its
    answer is constant on ``(c-1, c-1/2)`` and on ``(c-1/2, c)``.  So
    probing ``t = c-1, c-3/4, c-1/2, c-1/4`` decides the step: at ``c-1``
    (inclusive or not), at ``c-1/2`` (inclusive or not) or at ``c``."""
    lo, hi = fmt.int_min, fmt.int_max
    cs = np.arange(lo + 1, hi + 1, dtype=np.int64)
    probe_fmt = _formats.FixedFormat(fmt.word + 3, fmt.frac + 2)
    probes = (4 * (cs[:, None] - 1) + np.arange(4)).reshape(-1)
    codes = probes % (1 << probe_fmt.word) if probe_fmt.word < 64 else probes.view(np.uint64)
    out = cast(from_bits(codes.astype(np.uint64), probe_fmt), fmt, rounding, "saturate")
    n = _signed_values(np.asarray(out.bits, np.uint64), fmt.word) if fmt.signed \
        else np.asarray(out.bits).astype(np.int64)
    up = (n.reshape(-1, 4) >= cs[:, None])
    ulp = Fraction(2) ** -fmt.frac
    result = []
    for c, (r0, r1, r2, r3) in zip(cs.tolist(), up.tolist()):
        if r0:
            theta, incl = Fraction(c - 1), True
        elif r1:
            theta, incl = Fraction(c - 1), False
        elif r2:
            theta, incl = c - Fraction(1, 2), True
        elif r3:
            theta, incl = c - Fraction(1, 2), False
        else:
            theta, incl = Fraction(c), True
        result.append((theta * ulp, incl))
    return result


def thresholds_kbit(gamma, beta, mean, var, eps, act, *, rounding="nearest_even", in_scale=1,
                    negative="flip") -> BNThresholds:
    """Batch norm followed by a k-bit activation, as FINN MultiThreshold
    thresholds, exact against the RATIONAL batch norm (see
    :func:`thresholds_sign` for how the square root is handled).

    ``act`` is either

    * a fixed-point format (``FixedFormat`` or a name such as ``"u2.0"``,
      ``"s4.2"``): the activation is ``encode(y, act, rounding,
      overflow="saturate")`` (clipping to the format's range); level ``i``
      is the code value ``(int_min + i) * 2**-frac``, so ``out_bias =
      int_min * 2**-frac`` and ``out_scale = 2**-frac``.  Where each step
      lies, and whether a value exactly on it steps up, is asked of the
      rounding core (ties follow the mode: under nearest_even a tie goes up
      exactly when the upper code is even);
    * a sequence of boundary values ``b_1 <= b_2 <= ...`` (exact
      rationals): the level is the number of ``b_i`` with ``y >= b_i``
      (``out_scale``/``out_bias`` None).

    The thresholds are the integer accumulators where the activation steps
    up: ``T_i`` is the smallest x with level >= i (gamma > 0).  Negative
    gamma: ``negative="flip"`` counts ``x <= T`` (``ge[c]`` False),
    ``"fold"`` asks the caller to negate the channel's weights
    (``negate[c]``) and keeps ``x >= T``.  gamma == 0: the level is that of
    ``beta`` for every x, expressed with sentinel thresholds INT64_MIN
    (always) / INT64_MAX (never).
    """
    C, p, q = _prepare(gamma, beta, mean, var, eps, in_scale)
    if isinstance(act, (str, _formats.FixedFormat, _formats.FloatFormat)):
        fmt = _formats.format(act)
        if fmt.is_float:
            raise ValueError(f"thresholds_kbit: act must be a fixed-point format or boundaries, "
                             f"got {fmt.name}")
        if fmt.word > 16:
            raise ValueError(f"thresholds_kbit: {fmt.name} has 2**{fmt.word} levels; at most 16 "
                             "bits")
        mode = _deterministic(rounding, "thresholds_kbit")
        boundaries = _fixed_boundaries(fmt, mode)
        ulp = Fraction(2) ** -fmt.frac
        return _finn(C, p, q, boundaries, negative, ulp, fmt.int_min * ulp)
    values = list(np.asarray(act, dtype=object).reshape(-1))
    bs = [_exact(v, "boundary", None) for v in values]
    for i in range(len(bs) - 1):
        if bs[i] > bs[i + 1]:
            raise ValueError(f"thresholds_kbit: boundaries must be non-decreasing; boundary "
                             f"{i + 1} ({bs[i + 1]}) is below boundary {i} ({bs[i]})")
    return _finn(C, p, q, [(b, True) for b in bs], negative, None, None)


def apply_thresholds(x, th: BNThresholds, *, axis=1):
    """The activation levels (finn) or output bits (lce) of integer
    accumulators ``x`` with channels on ``axis``.

    finn: ``sum(x >= T[c])`` (``sum(x <= T[c])`` where ``ge[c]`` is False),
    int64 in ``0..n``; the activation value is ``out_bias + out_scale *
    level``.  lce: ``x`` is the XOR-popcount, the result is
    ``uint8(x > T[c])`` (1 = -1).  For channels with ``negate[c]`` pass the
    accumulator of the negated weights.  Comparisons only: exact."""
    C = th.thresholds.shape[0]
    xm = _move_channels(_int64_input(x, "apply_thresholds"), C, axis, "apply_thresholds")
    if th.convention == "lce":
        out = (xm > th.thresholds.astype(np.int64)).astype(np.uint8)
    else:
        xe = xm[..., None]
        up = (xe >= th.thresholds).sum(-1)
        down = (xe <= th.thresholds).sum(-1)
        out = np.where(th.ge, up, down).astype(np.int64)
    return np.moveaxis(out, -1, axis)
