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
integer result that involves rounding (targets, shifts, requantization) is
produced by fxsim's one rounding core (``fxsim.cast`` / ``fxsim.encode``,
:func:`fxsim.exact.round_rational`, :func:`fxsim.exact.round_pot_quotient`);
comparisons, clamps and integer additions are exact.

The code lives in one module per form; this module re-exports their public
API (``fxsim.nn.bn.fold_bn`` and so on):

=======================  ====================================================
:mod:`.bn_params`        reading and checking parameters and accumulators
:mod:`.bn_fold`          :class:`FoldedBN`, :func:`fold_bn`,
                         :func:`apply_folded_bn`
:mod:`.bn_shared_scale`  :class:`SharedScaleBN`, :func:`shared_scale_bn`,
                         :func:`apply_shared_scale_bn`
:mod:`.bn_thresholds`    :class:`BNThresholds`, :func:`thresholds_sign`,
                         :func:`thresholds_kbit`, :func:`apply_thresholds`
=======================  ====================================================
"""
from __future__ import annotations

from .bn_fold import FoldedBN, apply_folded_bn, fold_bn, signed_quantize_multiplier
from .bn_params import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN  # noqa: F401 (bn.INT32_*)
from .bn_shared_scale import SharedScaleBN, apply_shared_scale_bn, shared_scale_bn
from .bn_thresholds import BNThresholds, apply_thresholds, thresholds_kbit, thresholds_sign

__all__ = [
    "FoldedBN", "fold_bn", "apply_folded_bn",
    "SharedScaleBN", "shared_scale_bn", "apply_shared_scale_bn",
    "BNThresholds", "thresholds_sign", "thresholds_kbit", "apply_thresholds",
    "INT64_MIN", "INT64_MAX",
]

#: The name this module used before the split (tests call it).
_quantize_multiplier = signed_quantize_multiplier
