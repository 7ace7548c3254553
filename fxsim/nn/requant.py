"""Integer requantization as gemmlowp and TensorFlow Lite define it.

An int8 convolution or matrix product accumulates exact int32 sums; each is
scaled back to int8 by a real multiplier ``M`` (``x_scale * w_scale /
out_scale``, per output channel) held as a fixed-point number::

    M  ~=  m0 * 2**(shift - 31)       m0 in [2**30, 2**31), shift in [-31, 30]

* :func:`quantize_multiplier` -- TFLite's ``QuantizeMultiplier``: ``real``
  -> ``(m0, shift)``, one rounding (of ``frexp``'s fraction times ``2**31``,
  half away from zero, by fxsim's core).
* :func:`multiply_by_quantized_multiplier` -- ``x * m0 * 2**(shift - 31)``
  rounded to an integer, two ways, named:

  ``rounding="double"`` (TFLite's default, from gemmlowp)
      ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**left_shift,
      m0), right_shift)`` with ``left_shift = max(shift, 0)``, ``right_shift
      = max(-shift, 0)``.  Two roundings: the high-mul rounds ``x *
      2**left_shift * m0 / 2**31`` to nearest with **ties toward +inf**
      (gemmlowp's nudge with C++'s truncating division; as ARM's
      ``VQRDMULH``) -- not away from zero, as is often said --, then the
      divide rounds to nearest with **ties away from zero**.  The double
      rounding is why 7984 * M gives 12 where the correctly rounded value is
      11 (TensorFlow issue 25087).  For ``shift > 0`` the divide is exact and
      "double" equals "single".
  ``rounding="single"`` (``TFLITE_SINGLE_ROUNDING``, XNNPACK)
      ``(x * m0 + 2**(s - 1)) >> s`` with ``s = 31 - shift`` in int64: the
      exact product rounded once, to nearest with **ties toward +inf**.

  Every rounding is fxsim's core: the exact product is a fixed-point QArray
  (int64 codes ``x * m0`` in ``FixedFormat(64, frac)``) cast into
  ``FixedFormat(32, 0)`` (or ``FixedFormat(64, 0)``) with ``nearest_up`` or
  ``nearest_away`` (:func:`fxsim.exact.round_pot_quotient`).  Products and
  shifts before a rounding are exact.
* :func:`saturating_rounding_doubling_high_mul`, :func:`rounding_divide_by_pot`
  -- gemmlowp's two steps, vectorized.
* :func:`requantize` -- the per-channel int8 pipeline after the sum:
  ``+ bias`` (int32), multiply by the quantized multiplier, ``+
  out_zero_point``, clamp to ``[out_min, out_max]``.
* :func:`output_stage` -- that pipeline on checked int64 arrays, the one
  copy: :func:`requantize`, :func:`multiply_by_quantized_multiplier` and
  :func:`fxsim.nn.bn_fold.apply_folded_bn` call it, each turning an int32
  overflow into its own error.
* :func:`quantized_conv2d` -- int8 NCHW x OIHW convolution with zero points:
  the exact int32 sum (``fxsim.conv2d``), then :func:`requantize`.

Where the C++ is undefined (an int32 overflow, a failed ``TFLITE_DCHECK``),
fxsim raises ``ValueError`` naming the function, the first offending index
and its value (and the rounding where it matters); it never returns a
guessed value:

* ``x * 2**left_shift`` outside int32 ("double", ``shift > 0``): signed
  int32 overflow in the C++;
* a "single" result outside int32: ``TFLITE_DCHECK`` in the C++;
* ``acc + bias`` or ``result + out_zero_point`` outside int32 (int32
  additions), or a convolution sum outside int32 (the int32 accumulator);
* ``quantize_multiplier`` of a negative, NaN or infinite real (TFLite
  requires ``real >= 0``), or of a real that needs ``shift > 30``.

The only saturation is gemmlowp's own: ``SaturatingRoundingDoublingHighMul
(INT32_MIN, INT32_MIN)`` is ``INT32_MAX`` (unreachable from
:func:`multiply_by_quantized_multiplier`, whose ``m0`` is non-negative).
"""
from __future__ import annotations

import numpy as np

from .. import exact, runtime
from ..formats import FixedFormat
from ..linalg import conv2d
from ..ops import cast

__all__ = [
    "multiply_by_quantized_multiplier", "output_stage", "quantize_multiplier", "quantized_conv2d",
    "requantize", "rounding_divide_by_pot", "saturating_rounding_doubling_high_mul",
]

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
ROUNDINGS = ("double", "single")

_S32 = FixedFormat(32, 0)
_S64 = FixedFormat(64, 0)


def _ints(q):
    """The integers of a fixed-point QArray's codes."""
    return exact.signed_ints(q.bits, q.fmt)


# ---------------------------------------------------------------- arguments
def _where(flat, shape) -> str:
    return f"at index {runtime.format_index(int(flat), shape)}"


def _integers(name, what, v, lo, hi, why=""):
    """``v`` as an int64 array after checking every element is an integer in
    ``[lo, hi]`` (an error names the first one that is not)."""
    arr = np.asarray(v)
    if arr.dtype == object:
        flat = arr.reshape(-1)
        for i, e in enumerate(flat):
            if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, np.integer)):
                raise ValueError(f"{name}: {what} = {e!r} {_where(i, arr.shape)} is not an "
                                 "integer")
            if not lo <= int(e) <= hi:
                raise ValueError(f"{name}: {what} = {int(e)} {_where(i, arr.shape)} is outside "
                                 f"[{lo}, {hi}]{why}")
        return np.array([int(e) for e in flat], dtype=np.int64).reshape(arr.shape)
    if arr.dtype.kind not in "iu":
        first = (f" ({what} = {arr.reshape(-1)[0].item()!r} {_where(0, arr.shape)})"
                 if arr.size else "")
        raise ValueError(f"{name}: {what} has dtype {arr.dtype}{first}; give integers")
    bad = np.flatnonzero((arr < lo) | (arr > hi)) if arr.size else ()
    if len(bad):
        i = bad[0]
        raise ValueError(f"{name}: {what} = {arr.reshape(-1)[i]} {_where(i, arr.shape)} is "
                         f"outside [{lo}, {hi}]{why}")
    return arr.astype(np.int64)


def _rounding(name, rounding):
    if rounding not in ROUNDINGS:
        raise ValueError(f"{name}: rounding = {rounding!r}; expected 'double' (TFLite's default, "
                         "gemmlowp) or 'single' (TFLITE_SINGLE_ROUNDING, XNNPACK)")
    return rounding


def _broadcast(name, **arrays):
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        raise ValueError(f"{name}: shapes {shapes} do not broadcast") from None
    return shape, [np.broadcast_to(a, shape) for a in arrays.values()]


def _outside_int32(values):
    return (values < INT32_MIN) | (values > INT32_MAX)


def _int32_error(name, i, shape, what):
    return ValueError(f"{name}: {what} {_where(i, shape)} is outside int32 "
                      f"[{INT32_MIN}, {INT32_MAX}]")


def _int32_check(name, values, shape, describe):
    """Raise if an exact int64 result leaves int32 (C++ undefined behaviour)."""
    bad = np.flatnonzero(_outside_int32(values))
    if bad.size:
        i = int(bad[0])
        raise _int32_error(name, i, shape, describe(i))


def _int32_failure(name, shape, acc, bias, m0, shift, zero_point, rounding):
    """The ``fail`` of :func:`output_stage` for this module's functions: a
    ValueError naming the first offending (flat) index of ``shape`` and the
    operands there (``acc``, ``bias``, ... are the flat broadcast inputs)."""
    def fail(step, bad, v):
        i = int(np.flatnonzero(bad)[0])
        x = v["x"]
        if step == "acc + bias":
            what = (f"acc + bias = {acc[i]} + {bias[i]} = {x[i]} (int32 addition; "
                    "overflow is undefined behaviour in the C++)")
        elif step == "x * 2**left_shift":
            what = (f"x * 2**left_shift = {x[i]} * 2**{v['left'][i]} = {v['shifted'][i]} "
                    f"(rounding='double', shift={shift[i]}; an int32 multiplication whose "
                    "overflow is undefined behaviour in the C++)")
        elif step == "x * m0 * 2**(shift - 31)":
            what = (f"x * m0 * 2**(shift - 31) = {x[i]} * {m0[i]} * 2**({shift[i]} - 31), "
                    f"rounded to {v['result'][i]} (rounding='single'; a failed TFLITE_DCHECK in "
                    "the C++),")
        else:  # "result + zero_point"
            what = (f"result + out_zero_point = {v['result'][i]} + {zero_point[i]} = "
                    f"{v['out'][i]} (rounding={rounding!r}; int32 addition, overflow is "
                    "undefined behaviour in the C++)")
        raise _int32_error(name, i, shape, what)
    return fail


# ---------------------------------------------------------------- the roundings
def _round_shifts(values, fracs, rounding, out, overflow):
    """Integers ``values * 2**-frac`` (int64 ``values``, a ``frac`` per
    element) rounded into the integer format ``out`` by fxsim's core
    (:func:`fxsim.exact.round_pot_quotient`): one cast per distinct ``frac``
    (each a different format)."""
    values = np.asarray(values, np.int64)
    fracs = np.broadcast_to(np.asarray(fracs, np.int64), values.shape)
    result = np.empty(values.shape, np.int64)
    for f in np.unique(fracs):
        mask = fracs == f
        result[mask] = exact.round_pot_quotient(values[mask], int(f), rounding, out, overflow)
    return result


def _high_mul(a, b):
    """SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values:
    ``a * b / 2**31`` (exact in int64: at most ``2**62``) rounded to nearest,
    ties toward +inf, saturated into int32 (only INT32_MIN * INT32_MIN)."""
    return exact.round_pot_quotient(a * b, 31, "nearest_up", _S32, "saturate")


def _divide_pot(x, exponent):
    """RoundingDivideByPOT: ``x / 2**exponent``, nearest, ties away from zero."""
    return _round_shifts(x, exponent, "nearest_away", _S32, "raise")


def output_stage(acc, bias, m0, shift, zero_point, out_min, out_max, rounding, fail):
    """TFLite's integer output stage, the one copy: :func:`requantize`,
    :func:`multiply_by_quantized_multiplier` and
    :func:`fxsim.nn.bn_fold.apply_folded_bn` call it.

    On int64 arrays that broadcast together (flat arrays of one length, or
    ``(..., C)`` accumulators against ``(C,)`` parameters)::

        x = acc + bias                          exact  (bias None: x = acc)
        y = x * m0 * 2**(shift - 31), rounded   rounding "double" or "single"
        z = y + zero_point                      exact  (zero_point None: z = y)
        min(max(z, out_min), out_max)           exact  (None: no bound)

    Rounded only in ``y``, by fxsim's core, as
    :func:`multiply_by_quantized_multiplier` describes: ``"double"``
    (gemmlowp) is ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x *
    2**max(shift, 0), m0), max(-shift, 0))`` (nearest with ties toward +inf,
    saturated to int32, then nearest with ties away from zero);
    ``"single"`` rounds the exact ``x * m0 * 2**(shift - 31)`` once (nearest,
    ties toward +inf) into int64.  ``m0`` may be negative (a folded negative
    gamma); ``x`` is an int32 value and ``shift <= 30`` so that every product
    is exact in int64.

    Each value that the C++ holds in an int32 is checked.  Where one leaves
    int32, ``fail(step, bad, values)`` is called with the step's name
    (``"acc + bias"``, ``"x * 2**left_shift"`` (double),
    ``"x * m0 * 2**(shift - 31)"`` (single) or ``"result + zero_point"``),
    the boolean mask of the offending elements and a dict of the exact int64
    values computed so far (``"x"``, ``"left"`` and ``"shifted"`` (double),
    ``"result"`` (y), ``"out"`` (z)).  ``fail`` raises the caller's error
    (naming what the caller knows: the index in its shape, the channel), or
    returns to accept the exact int64 values and go on.  Returns the int64
    result, of the broadcast shape."""
    values = {"x": acc if bias is None else acc + bias}
    x = values["x"]
    if bias is not None:
        _check(fail, "acc + bias", x, values)
    if rounding == "double":
        values["left"] = np.maximum(shift, 0)
        values["shifted"] = shifted = x << values["left"]
        _check(fail, "x * 2**left_shift", shifted, values)
        y = _divide_pot(_high_mul(shifted, m0), np.maximum(-shift, 0))
        values["result"] = y
    else:
        values["result"] = y = _round_shifts(x * m0, 31 - shift, "nearest_up", _S64, "raise")
        _check(fail, "x * m0 * 2**(shift - 31)", y, values)
    if zero_point is not None:
        values["out"] = y = y + zero_point
        _check(fail, "result + zero_point", y, values)
    if out_min is not None:
        y = np.maximum(y, out_min)
    if out_max is not None:
        y = np.minimum(y, out_max)
    return y


def _check(fail, step, values, so_far):
    bad = _outside_int32(values)
    if bad.any():
        fail(step, bad, so_far)


def _out(result, shape, dtype=np.int32):
    return result.reshape(shape).astype(dtype)[()]


# ---------------------------------------------------------------- public API
def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 arrays.

    ``a * b / 2**31`` (the exact 64-bit product, so nothing is lost before
    the rounding), rounded once by fxsim's core to the nearest integer with
    ties toward +inf -- what gemmlowp's nudge ``ab >= 0 ? 2**30 : 1 - 2**30``
    followed by C++'s truncating ``/ 2**31`` does (``-0.5 -> 0``,
    ``-1.5 -> -1``), as ARM's ``VQRDMULH``.  The one result beyond int32,
    ``INT32_MIN * INT32_MIN``, saturates to ``INT32_MAX`` (the core's
    ``saturate``).  Returns int32 (broadcast shape)."""
    name = "saturating_rounding_doubling_high_mul"
    a = _integers(name, "a", a, INT32_MIN, INT32_MAX)
    b = _integers(name, "b", b, INT32_MIN, INT32_MAX)
    shape, (a, b) = _broadcast(name, a=a, b=b)
    return _out(_high_mul(a.reshape(-1), b.reshape(-1)), shape)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded once by
    fxsim's core to the nearest integer, ties away from zero.  ``x`` int32,
    ``exponent`` in ``[0, 31]`` (scalars or arrays, broadcast).  Returns int32."""
    name = "rounding_divide_by_pot"
    x = _integers(name, "x", x, INT32_MIN, INT32_MAX)
    e = _integers(name, "exponent", exponent, 0, 31)
    shape, (x, e) = _broadcast(name, x=x, exponent=e)
    return _out(_divide_pot(x.reshape(-1), e.reshape(-1)), shape)


def multiply_by_quantized_multiplier(x, m0, shift, rounding="double"):
    """TFLite's ``MultiplyByQuantizedMultiplier``: ``x * m0 * 2**(shift - 31)``
    rounded to an int32, on arrays.

    ``x``: int32 values (any integer dtype, checked); ``m0`` in ``[0,
    2**31)`` and ``shift`` in ``[-31, 30]``: scalars or arrays broadcasting
    against ``x`` (e.g. per channel, shaped ``(C, 1, 1)`` for NCHW).

    ``rounding="double"`` (default, gemmlowp): ``x * 2**max(shift, 0)``
    exactly (a ValueError if it leaves int32: the C++ int32 multiplication
    overflows), the exact product with ``m0`` divided by ``2**31`` and
    rounded (nearest, ties toward +inf), then divided by ``2**max(-shift, 0)``
    and rounded again (nearest, ties away from zero).

    ``rounding="single"`` (TFLITE_SINGLE_ROUNDING, XNNPACK): the exact
    product ``x * m0 * 2**(shift - 31)`` rounded once (nearest, ties toward
    +inf); a result outside int32 is a ValueError (a failed TFLITE_DCHECK).

    Each rounding is a cast by fxsim's core of the exact product held as a
    ``FixedFormat(64, frac)`` QArray (one cast per distinct shift).  Returns
    int32 of the broadcast shape."""
    name = "multiply_by_quantized_multiplier"
    rounding = _rounding(name, rounding)
    x = _integers(name, "x", x, INT32_MIN, INT32_MAX)
    m0 = _integers(name, "m0", m0, 0, INT32_MAX, " (TFLite requires 0 <= m0 < 2**31)")
    shift = _integers(name, "shift", shift, -31, 30)
    shape, arrays = _broadcast(name, x=x, m0=m0, shift=shift)
    x, m0, shift = (a.reshape(-1) for a in arrays)
    fail = _int32_failure(name, shape, x, None, m0, shift, None, rounding)
    return _out(output_stage(x, None, m0, shift, None, None, None, rounding, fail), shape)


def quantize_multiplier(real):
    """TFLite's ``QuantizeMultiplier``: ``real -> (m0, shift)`` with
    ``real ~= m0 * 2**(shift - 31)`` and ``m0`` in ``[2**30, 2**31)``.

    ``frexp(real) = q * 2**shift`` (``0.5 <= q < 1``, exact); ``m0 = q *
    2**31`` rounded to an integer half away from zero (TfLiteRound =
    ``std::round``) -- the only rounding, by fxsim's core, on the exact
    float64 value.  If that gives ``2**31``, ``m0 = 2**30`` and ``shift + 1``.
    A shift below -31 (``real`` below about ``2**-32``) gives ``(0, 0)``, as
    does ``real == 0``.  So ``|m0 * 2**(shift-31) - real| <= 2**(shift-32)``:
    within ``2**-31`` relative.

    Errors (``ValueError`` naming the index and value): a negative, NaN or
    infinite ``real`` (TFLite requires a non-negative multiplier for
    requantization; single rounding supports no other), and a ``real`` that
    needs ``shift > 30`` (``real >= 2**30`` after rounding), outside the
    shifts :func:`multiply_by_quantized_multiplier` takes (TFLite's
    single-rounding build saturates it to ``(2**31 - 1, 30)``, its default
    build overflows later).

    ``real``: a float or an array of floats (float16/32/64 and integers are
    read exactly as float64).  Returns Python ints for a scalar, two int64
    arrays for an array."""
    name = "quantize_multiplier"
    arr = np.asarray(real)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: real has dtype {arr.dtype}; give floats")
    arr = arr.astype(np.float64)
    flat = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat) | (flat < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: real = {float(flat[i])!r} {_where(i, arr.shape)} is not a "
                         "finite number >= 0 (TFLite requires a non-negative multiplier for "
                         "requantization)")
    q, shift = np.frexp(flat)  # exact; frexp(0) = (0, 0)
    shift = shift.astype(np.int64)
    m0 = _ints(cast(q, FixedFormat(33, 31), rounding="nearest_away",
                    overflow="raise")).astype(np.int64)  # codes = round(q * 2**31)
    carry = m0 == (1 << 31)
    m0[carry] = 1 << 30
    shift[carry] += 1
    tiny = shift < -31
    m0[tiny] = 0
    shift[tiny] = 0
    big = np.flatnonzero(shift > 30)
    if big.size:
        i = int(big[0])
        raise ValueError(f"{name}: real = {float(flat[i])!r} {_where(i, arr.shape)} needs shift = "
                         f"{shift[i]} > 30 (real >= 2**30 after rounding); "
                         "multiply_by_quantized_multiplier takes shifts in [-31, 30]")
    if arr.ndim == 0:
        return int(m0[0]), int(shift[0])
    return m0.reshape(arr.shape), shift.reshape(arr.shape)


def _out_dtype(lo, hi):
    for dtype in (np.int8, np.uint8, np.int16, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return dtype
    return np.int32  # unreachable: out_min/out_max are checked to be int32


def _per_channel(name, what, v, lo, hi, shape, axis, why=""):
    """A per-channel parameter (scalar or length C) shaped to broadcast
    along ``axis`` of ``shape`` (or numpy-broadcast when ``axis`` is None)."""
    arr = _integers(name, what, v, lo, hi, why)
    if arr.ndim == 0 or axis is None:
        return arr
    if arr.ndim != 1 or arr.shape[0] not in (1, shape[axis]):
        raise ValueError(f"{name}: {what} must be a scalar or have one value per channel "
                         f"({shape[axis]} along axis {axis}), got shape {arr.shape}")
    full = [1] * len(shape)
    full[axis] = arr.shape[0]
    return arr.reshape(full)


def _requantize(name, acc, bias, m0, shift, out_zero_point, out_min, out_max, rounding,
                channel_axis):
    rounding = _rounding(name, rounding)
    acc = _integers(name, "acc", acc, INT32_MIN, INT32_MAX)
    lo = int(_integers(name, "out_min", out_min, INT32_MIN, INT32_MAX).reshape(-1)[0]) \
        if np.ndim(out_min) == 0 else None
    hi = int(_integers(name, "out_max", out_max, INT32_MIN, INT32_MAX).reshape(-1)[0]) \
        if np.ndim(out_max) == 0 else None
    if lo is None or hi is None or lo > hi:
        raise ValueError(f"{name}: out_min = {out_min!r} and out_max = {out_max!r} must be "
                         "int32 scalars with out_min <= out_max")
    shape = acc.shape
    axis = channel_axis
    if axis is not None and acc.ndim:
        if not -acc.ndim <= axis < acc.ndim:
            raise ValueError(f"{name}: channel_axis = {axis} is out of range for acc of shape "
                             f"{shape}")
        axis %= acc.ndim
    elif axis is not None:
        axis = None  # a 0-d acc: every parameter must broadcast as it is
    params = {
        "bias": None if bias is None else _per_channel(name, "bias", bias, INT32_MIN, INT32_MAX,
                                                       shape, axis),
        "m0": _per_channel(name, "m0", m0, 0, INT32_MAX, shape, axis,
                           " (TFLite requires 0 <= m0 < 2**31)"),
        "shift": _per_channel(name, "shift", shift, -31, 30, shape, axis),
        "out_zero_point": _per_channel(name, "out_zero_point", out_zero_point, INT32_MIN,
                                       INT32_MAX, shape, axis),
    }
    arrays = {"acc": acc, **{k: v for k, v in params.items() if v is not None}}
    full, broadcast = _broadcast(name, **arrays)
    b = {k: v.reshape(-1) for k, v in zip(arrays, broadcast)}
    bias = b.get("bias")
    fail = _int32_failure(name, full, b["acc"], bias, b["m0"], b["shift"], b["out_zero_point"],
                          rounding)
    z = output_stage(b["acc"], bias, b["m0"], b["shift"], b["out_zero_point"], lo, hi, rounding,
                     fail)
    return _out(z, full, _out_dtype(lo, hi))


def requantize(acc, bias, m0, shift, out_zero_point, out_min=-128, out_max=127,
               rounding="double", channel_axis=1):
    """TFLite's per-channel requantization of int32 sums into int8 (the tail
    of ``reference_integer_ops::ConvPerChannel`` and ``FullyConnected``).

    Per element, with the parameters of its channel::

        v = acc + bias                         (int32 addition, exact)
        v = multiply_by_quantized_multiplier(v, m0, shift, rounding)
        v = v + out_zero_point                 (int32 addition, exact)
        v = min(max(v, out_min), out_max)      (clamp: the fused activation)

    The roundings are those of :func:`multiply_by_quantized_multiplier`
    (``"double"``: two, ``"single"``: one), nowhere else; the additions and
    the clamp are exact.  An addition leaving int32 (undefined in the C++)
    is a ValueError naming the index, as are the multiplier's own undefined
    cases.

    ``acc``: int32 values.  ``bias`` (or None), ``m0``, ``shift``,
    ``out_zero_point``: scalars or one value per channel, the channel being
    axis ``channel_axis`` of ``acc`` (1: NCHW conv output; -1: the columns
    of a matmul; None: numpy broadcasting of the arrays as given).
    ``out_min``, ``out_max``: int32 scalars.  Returns the smallest of
    int8, uint8, int16, uint16, int32 that holds ``[out_min, out_max]``
    (int8 by default)."""
    return _requantize("requantize", acc, bias, m0, shift, out_zero_point, out_min, out_max,
                       rounding, channel_axis)


def quantized_conv2d(x, w, bias, x_zero_point, w_zero_point, m0, shift, out_zero_point,
                     stride=1, padding=0, dilation=1, groups=1, out_min=-128, out_max=127,
                     rounding="double"):
    """Quantized 2-d convolution as TFLite's int8 ``ConvPerChannel`` (and
    gemmlowp's uint8 one) computes it: ``x`` (N, C, H, W) and ``w``
    (O, C // groups, kh, kw) integer codes (int8 or uint8), output
    (N, O, Ho, Wo) codes.

    1. ``acc = sum over (c, ky, kx) of (x - x_zero_point) * (w - w_zero_point)``
       -- exact: the zero-point-corrected codes go to :func:`fxsim.conv2d` as
       int16 (int32 if needed) arrays with no accumulator format, so the sum
       is the exact integer.  Padding adds the real value zero, i.e. the code
       ``x_zero_point``, as TFLite does; after the correction that is 0, so
       the corrected values are padded with 0.  A sum outside int32 (the C++
       int32 accumulator overflows) is a ValueError naming the output index.
       (Only the final sum is checked: with wrapping int32 adds an
       intermediate overflow that cancels gives the same final sum.)
    2. :func:`requantize` with the per-output-channel ``bias``, ``m0``,
       ``shift``, the ``out_zero_point`` and ``[out_min, out_max]``: the only
       roundings (see :func:`multiply_by_quantized_multiplier`).

    ``x_zero_point``: a scalar; ``w_zero_point``: a scalar or one per output
    channel (TFLite's int8 per-channel kernels require 0).  ``stride``,
    ``padding``, ``dilation``, ``groups`` as :func:`fxsim.conv2d`."""
    name = "quantized_conv2d"
    rounding = _rounding(name, rounding)
    x = _integers(name, "x", x, INT32_MIN, INT32_MAX)
    w = _integers(name, "w", w, INT32_MIN, INT32_MAX)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{name}: x must be (N, C, H, W) and w (O, C/groups, kh, kw), got shapes "
                         f"{x.shape} and {w.shape}")
    xz = _integers(name, "x_zero_point", x_zero_point, INT32_MIN, INT32_MAX)
    if xz.ndim:
        raise ValueError(f"{name}: x_zero_point must be a scalar, got shape {xz.shape}")
    wz = _per_channel(name, "w_zero_point", w_zero_point, INT32_MIN, INT32_MAX, w.shape, 0)
    xc = x - xz
    wc = w - wz
    for what, v in (("x - x_zero_point", xc), ("w - w_zero_point", wc)):
        _int32_check(name, v.reshape(-1), v.shape, lambda i, v=v, what=what: (
            f"{what} = {v.flat[i]} (an int32 subtraction in the C++)"))
    small = all(v.size == 0 or (v.min() >= -(1 << 15) and v.max() < (1 << 15)) for v in (xc, wc))
    dtype = np.int16 if small else np.int32
    r = conv2d(xc.astype(dtype), wc.astype(dtype), stride=stride, padding=padding,
               dilation=dilation, groups=groups)  # exact: no acc, no out
    assert not r.fmt.is_float and r.fmt.frac == 0
    acc = _ints(r)  # int64, or Python ints for a (huge) sum wider than 64 bits
    flat = acc.reshape(-1)
    _int32_check(name, flat, acc.shape, lambda i: (
        f"the int32 accumulator sum((x - x_zero_point) * (w - w_zero_point)) = {flat[i]}"))
    acc = acc.astype(np.int64)
    return _requantize(name, acc, bias, m0, shift, out_zero_point, out_min, out_max, rounding, 1)
