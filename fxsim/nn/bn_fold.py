"""Batch norm folded into TFLite's integer requantization (gemmlowp form).

:func:`fold_bn` computes per channel an int32 bias and a multiplier ``m0 *
2**(shift - 31)`` (:class:`FoldedBN`); :func:`apply_folded_bn` runs the
integer pipeline bit-exactly (double or single rounding).  Overview of the
three integer forms of BN in :mod:`fxsim.nn.bn`.

What is exact and what is rounded where:

* ``fold_bn``: the parameters are read exactly (:mod:`.bn_params`), then
  the standard float64 approximation is used (``sqrt``, the multiplier and
  the real bias in float64); exactness is NOT claimed for it (see its
  docstring for the bound).  The multiplier's 31-bit ``m0`` and the int32
  bias are rounded half away from zero by fxsim's core (``fxsim.encode``,
  :func:`fxsim.nn.requant.quantize_multiplier`).
* ``apply_folded_bn``: bit-exact.  The additions and the clamp are exact;
  the only roundings are those of TFLite's multiply by the quantized
  multiplier, by fxsim's core, in :func:`fxsim.nn.requant.output_stage`
  (the one output stage, shared with :func:`fxsim.nn.requant.requantize`).
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from .. import exact
from .. import formats as _formats
from ..codec import encode
from . import requant
from .bn_params import (INT64_MAX, INT64_MIN, check_positive, exact_param, int64_input,
                        move_channels, read_channels, var_plus_eps)
from .requant import quantize_multiplier

__all__ = ["FoldedBN", "fold_bn", "apply_folded_bn", "signed_quantize_multiplier"]

_S32 = _formats.FixedFormat(32, 0)


def _int32_of(code) -> int:
    """The integer of one ``s32.0`` code."""
    return int(exact.signed_ints(np.asarray([code], np.uint64), _S32)[0])


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


def signed_quantize_multiplier(m: float):
    """TFLite's ``QuantizeMultiplier`` (:func:`fxsim.nn.requant.quantize_multiplier`)
    of ``|m|``, with ``m``'s sign on ``m0`` (a negative gamma folds into a
    negative multiplier): ``(m0, shift)``."""
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
    C, p = read_channels(gamma=gamma, beta=beta, mean=mean, var=var, eps=eps, in_scale=in_scale,
                     out_scale=out_scale)
    var_plus_eps(p["var"], p["eps"], C)
    check_positive(p["in_scale"], "in_scale")
    check_positive(p["out_scale"], "out_scale")
    zp = int(exact_param(out_zero_point, "out_zero_point"))
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
            k = _int32_of(encode(const[c], _S32, "nearest_away", "saturate"))
            zero_point[c] = zp + k
            continue
        if not math.isfinite(mult[c]):
            raise OverflowError(f"fold_bn: the multiplier of channel {c} is {mult[c]} in float64")
        try:
            m0[c], shift[c] = signed_quantize_multiplier(float(mult[c]))
        except ValueError as err:  # a multiplier beyond TFLite's shift range
            raise OverflowError(f"fold_bn: channel {c}: the multiplier {float(mult[c])!r} "
                                f"does not fit TFLite's (m0, shift) form: {err}") from None
        if not math.isfinite(bias_real[c]) or abs(bias_real[c]) >= 2.0**31:
            raise OverflowError(
                f"fold_bn: the bias of channel {c}, (beta*s/gamma - mean)/in_scale = "
                f"{bias_real[c]}, does not fit int32 (gamma={float(p['gamma'][c])!r}); "
                "the gemmlowp form cannot hold it")
        try:
            code = encode(float(bias_real[c]), _S32, "nearest_away", "raise")
        except OverflowError as err:
            raise OverflowError(f"fold_bn: the bias of channel {c} does not fit int32: "
                                f"{err}") from None
        bias[c] = _int32_of(code)
    return FoldedBN(m0=m0, shift=shift, bias=bias, zero_point=zero_point, out_fmt=out_fmt,
                    multiplier=mult)


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

    Finally ``zero_point[c]`` is added (exactly, in int64) and the result
    clamped to the integer range of ``folded.out_fmt`` (exact comparisons).
    This is :func:`fxsim.nn.requant.output_stage`, the stage
    :func:`fxsim.nn.requant.requantize` runs too.  Returns int64 integers
    (the output codes read as integers), in ``x``'s shape.  OverflowError
    names the first offending index (channel by channel after the bias
    addition, which is checked for every channel first).
    """
    if rounding not in ("double", "single"):
        raise ValueError(f"apply_folded_bn: rounding must be 'double' or 'single', "
                         f"got {rounding!r}")
    C = folded.m0.shape[0]
    xm = move_channels(int64_input(x, "apply_folded_bn"), C, axis, "apply_folded_bn")
    shape = xm.shape
    shift = np.asarray(folded.shift, np.int64)
    big = np.flatnonzero(shift > 30) if rounding == "single" else ()
    bad_shift = int(big[0]) if len(big) else None  # raised in channel order, as a loop would

    def shift_error(c):
        return ValueError(f"apply_folded_bn: single rounding needs shift <= 30, channel {c} "
                          f"has {shift[c]}")

    def fail(step, bad, v):
        if step == "acc + bias":  # checked for every channel first
            i = int(np.flatnonzero(bad)[0])
            idx = np.unravel_index(i, shape)
            raise OverflowError(f"apply_folded_bn: x + bias = {v['x'].reshape(-1)[i]} at index "
                                f"{_orig_index(idx, axis, len(shape))} (channel {idx[-1]}) does "
                                "not fit int32")
        if step == "result + zero_point":
            return  # not an int32 addition here: the output format saturates it below
        c, j = _first_by_channel(bad, C)
        if bad_shift is not None and bad_shift <= c:
            raise shift_error(bad_shift)
        element = np.unravel_index(j, shape[:-1])
        if step == "x * 2**left_shift":
            raise OverflowError(
                f"apply_folded_bn: (x + bias) * 2**{max(int(shift[c]), 0)} = "
                f"{v['shifted'][..., c].reshape(-1)[j]} at channel {c}, element {element} does "
                "not fit int32 (TFLite's int32 left shift)")
        raise OverflowError(
            f"apply_folded_bn: channel {c}: the single-rounded result (x + bias) * m0 * "
            f"2**(shift - 31) = {v['x'][..., c].reshape(-1)[j]} * {int(folded.m0[c])} * "
            f"2**({int(shift[c])} - 31) -> {v['result'][..., c].reshape(-1)[j]} at element "
            f"{element} does not fit int32 (a failed TFLITE_DCHECK in the C++)")

    ofmt = folded.out_fmt
    lo, hi = max(ofmt.int_min, INT64_MIN), min(ofmt.int_max, INT64_MAX)  # its integer range
    out = requant.output_stage(xm, np.asarray(folded.bias, np.int64),
                               np.asarray(folded.m0, np.int64),
                               np.minimum(shift, 30) if bad_shift is not None else shift,
                               np.asarray(folded.zero_point, np.int64), lo, hi, rounding, fail)
    if bad_shift is not None:
        raise shift_error(bad_shift)
    return np.moveaxis(out.astype(np.int64).reshape(shape), -1, axis)


def _first_by_channel(bad, C):
    """(channel, flat index within the channel) of the first True of a
    channels-last mask, channel by channel."""
    per = bad.reshape(-1, C)
    c = int(np.flatnonzero(per.any(axis=0))[0])
    return c, int(np.flatnonzero(per[:, c])[0])


def _orig_index(idx, axis, ndim):
    """An index of the channels-last view, in the caller's axis order."""
    idx = list(idx)
    c = idx.pop()
    axis = axis % ndim
    idx.insert(axis, c)
    return tuple(int(i) for i in idx)
