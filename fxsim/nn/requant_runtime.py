"""Requantization as the float32 runtimes compute it: onnxruntime (MLAS),
fbgemm, and torch's two per-tensor quantizers.

Unlike gemmlowp/TFLite (:mod:`fxsim.nn.requant`, an integer multiplier),
these runtimes hold the multiplier as a float32 and round with the FPU.
Every step below is ONE IEEE 754 binary32 operation under round-to-nearest-
even (numpy float32 arithmetic, which performs each operation on its own and
rounds it once, with no flush-to-zero), an exact integer operation, or
``rint`` (round half to even, what ``std::nearbyint``, ``lrintf``,
``_mm_cvtps_epi32`` and ``vcvtnq_s32_f32`` do in the default rounding mode).
``fl32(e)`` below is ``e`` rounded once to float32.

* :func:`float32_multiplier` -- ``M = fl32(fl32(a_scale * b_scale) / y_scale)``
  per output channel: onnxruntime's QLinearMatMul/QLinearConv
  (``output_scales[i] = a_scale * b_scale[i] / y_scale`` in C++ float) and
  torch/fbgemm's quantized linear/conv (``act_times_w_scale / output_scale``).
* :func:`requantize_float32` -- MLAS's ``MlasRequantizeOutput`` (x86; tested
  against onnxruntime 1.32's QLinearMatMul and QLinearConv, including an
  accumulator whose float32 conversion decides the result) and the same
  sequence in fbgemm's ``requantizeOutputProcessingAvx2`` and torch's
  ``RequantizeAvx2`` (read in their source, not run)::

      v = acc + bias          exact int32 addition (an int32 overflow is a ValueError)
      f = fl32(v)             int32 -> float32 (_mm_cvtepi32_ps): rounds when |v| > 2**24
      f = fl32(f * M)         one float32 multiplication
      r = rint(f)             half to even
      y = min(max(r + zy, qmin), qmax)     zy added AFTER the rounding, exact

  MLAS clamps ``f`` to ``[qmin - zy, qmax - zy]`` before ``rint`` and adds
  ``zy`` after; since the bounds are integers that is the same as clamping
  ``r + zy``.  (onnxruntime on ARM64 may use a fixed-point requantization
  instead; this function is the x86/float path.)
* :func:`qlinear_matmul` -- ONNX ``QLinearMatMul``: the exact int32 sum
  ``sum_k (a - a_zero_point) * (b - b_zero_point)``, then
  :func:`requantize_float32` with ``M`` from :func:`float32_multiplier`.
* :func:`qlinear_conv` -- ONNX ``QLinearConv``: the exact int32 sum of the
  zero-point-corrected codes (:func:`fxsim.conv2d`), then
  :func:`requantize_float32` with the int32 bias and per-output-channel
  ``M``.
* :func:`torch_quantize_per_tensor` -- ``torch.quantize_per_tensor`` (CPU)::

      s = fl32(scale); inv = fl32(1 / s)
      t = fl32(x * inv + zero_point)       ONE rounding: a fused multiply-add
      q = min(max(rint(t), qmin), qmax)

  on float32 ``x``: the zero point is added BEFORE the rounding, inside an
  fma (the form of fbgemm's ``QuantizeAvx2<T, LEGACY=true>``,
  ``_mm256_fmadd_ps(x, inverse_scale, zero_point)``).  ``AffineQuantizerBase.cpp`` names
  ``LEGACY=false`` (``rint(fl32(x * inv)) + zero_point``), but torch 2.13's
  CPU wheel computes the fused form: on the 687 inputs of
  ``tests/test_requant_runtime.py`` (zero point 131) the fused form matches
  torch on all, the rint-then-add form differs on 214, the unfused
  ``rint(fl32(fl32(x * inv) + zp))`` on 13, ``rint(fl32(x / s)) + zp`` on
  223.  This function follows the measured behaviour.
* :func:`torch_fake_quantize_per_tensor_affine` --
  ``torch.fake_quantize_per_tensor_affine`` (the CPU cachemask kernel)::

      s = fl32(scale); inv = fl32(1 / s)
      t = fl(x * inv); qf = fl(zero_point + rint(t))   fl: x's precision
      q = min(max(qf, quant_min), quant_max)
      out = fl32(fl32(q - zero_point) * s)

  ``fl`` in the input's precision: float32 for float32 input (where
  ``zero_point + rint(t)`` is a float32 addition: inexact beyond ``2**24``),
  float64 for float64 input (``inv`` stays the float32 value).  The output
  is computed in float32 whatever the input (C++ ``int64 * float`` is a
  float multiplication) and then widened, exactly, to the input's dtype: a
  float64 input gets float32-rounded outputs (measured against torch 2.13:
  the float64 product ``(q - zp) * s`` differs from torch on 308 of 687
  test inputs, the float32 one on none).

Nothing else rounds: the remaining steps are exact integer arithmetic.
Each public function first checks that numpy's float32 arithmetic in this
process is IEEE round-to-nearest-even with subnormals (a RuntimeError if a
library set flush-to-zero or another rounding mode).

So the two torch quantizers round in different orders:
``quantize_per_tensor`` rounds ``x * inv + zp`` once (zp inside),
``fake_quantize_per_tensor_affine`` rounds ``x * inv``, then ``rint``, then
adds zp (``x = -1.25``, ``scale = 0.5``, ``zp = 131``: 128 against 129).
And ``x * (1/s)`` is not ``x / s``: with ``s = 0.00214854861`` and ``x = 0.273939937`` (float32) the
product is 127.5 (rounds to 128) where the quotient is 127.499992 (fbgemm's
own comment); ONNX QuantizeLinear divides, torch multiplies.
"""
from __future__ import annotations

import numpy as np

from ..exact import signed_ints
from ..linalg import conv2d

__all__ = ["float32_multiplier", "qlinear_conv", "qlinear_matmul", "requantize_float32",
           "torch_fake_quantize_per_tensor_affine", "torch_quantize_per_tensor"]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
TORCH_DTYPES = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (INT32_MIN, INT32_MAX)}
ONNX_DTYPES = {"uint8": (0, 255), "int8": (-128, 127)}


def _check_float32_arithmetic(name):
    """Raise unless numpy's float32 arithmetic in this process is IEEE
    round-to-nearest-even with subnormals (no flush-to-zero, no other
    rounding mode set by some library): what every step here relies on."""
    a = np.array([2.0 ** -148, 1.0, 1.0], np.float32)
    b = np.array([0.5, 2.0 ** -24, 3 * 2.0 ** -25], np.float32)
    if (a * b)[0] != np.float32(2.0 ** -149) or (a + b)[1] != 1 or not (a + b)[2] > 1:
        raise RuntimeError(f"{name}: this process's float32 arithmetic is not IEEE round to "
                           "nearest even with subnormals (a library set flush-to-zero or a "
                           "rounding mode); the float32 steps would not be the runtime's")


def _first(mask, shape) -> str:
    i = int(np.flatnonzero(np.asarray(mask).reshape(-1))[0])
    return str(tuple(int(k) for k in np.unravel_index(i, shape)))


def _ints(name, what, v, lo=INT32_MIN, hi=INT32_MAX):
    arr = np.asarray(v)
    if arr.dtype.kind not in "iu":
        if arr.dtype == object and all(isinstance(e, (int, np.integer)) and not isinstance(
                e, bool) for e in arr.reshape(-1)):
            arr = np.array([int(e) for e in arr.reshape(-1)], dtype=object).reshape(arr.shape)
        else:
            raise ValueError(f"{name}: {what} has dtype {arr.dtype}; give integers")
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        raise ValueError(f"{name}: {what} = {np.asarray(arr).reshape(-1)[np.flatnonzero(bad)[0]]} "
                         f"at index {_first(bad, arr.shape)} is outside [{lo}, {hi}]")
    return arr.astype(np.int64)


def _scales(name, what, v):
    """Positive finite scales as float64 arrays (the caller rounds them)."""
    arr = np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind in "fiu" else None
    if arr is None:
        raise ValueError(f"{name}: {what} must be real numbers, got {np.asarray(v).dtype}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        raise ValueError(f"{name}: {what} = {arr.reshape(-1)[np.flatnonzero(bad)[0]]} at index "
                         f"{_first(bad, arr.shape)} must be positive and finite")
    return arr


def _channel(name, what, arr, shape, axis):
    """A scalar or per-channel (length C along ``axis``) parameter, reshaped to broadcast."""
    arr = np.asarray(arr)
    if arr.ndim == 0:
        return arr
    if axis is None:
        return arr
    if arr.ndim != 1 or arr.shape[0] not in (1, shape[axis]):
        raise ValueError(f"{name}: {what} must be a scalar or one value per channel "
                         f"({shape[axis]} along axis {axis}), got shape {arr.shape}")
    full = [1] * len(shape)
    full[axis] = arr.shape[0]
    return arr.reshape(full)


def float32_multiplier(a_scale, b_scale, y_scale) -> np.ndarray:
    """``M = fl32(fl32(a_scale * b_scale) / y_scale)`` (float32), the scales
    first rounded to float32 (they are C++ ``float``\\ s); ``b_scale`` may be
    per channel.  Two IEEE float32 operations, each rounded once."""
    name = "float32_multiplier"
    _check_float32_arithmetic(name)
    sa, sb, sy = (_scales(name, w, v).astype(np.float32) for w, v in
                  (("a_scale", a_scale), ("b_scale", b_scale), ("y_scale", y_scale)))
    for what, s in (("a_scale", sa), ("b_scale", sb), ("y_scale", sy)):
        if np.any(s == 0) or not np.all(np.isfinite(s)):
            raise ValueError(f"{name}: {what} is 0 or infinite in float32")
    with np.errstate(over="ignore", under="ignore"):
        m = np.float32(sa * sb) / sy
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: the float32 multiplier overflows")
    return np.asarray(m, dtype=np.float32)


def requantize_float32(acc, multiplier, zero_point=0, bias=None, dtype="uint8",
                       channel_axis=-1):
    """int32 accumulators -> 8-bit codes as MLAS/fbgemm do it (module
    docstring): ``clamp(rint(fl32(fl32(acc + bias) * M)) + zero_point)``.

    ``acc``: int32 values.  ``multiplier``: float32 ``M`` (positive, finite;
    other dtypes are rounded to float32 first), a scalar or one per channel
    along ``channel_axis``; ``bias`` (int32) likewise or None.
    ``zero_point``: a scalar of ``dtype`` (``"uint8"`` or ``"int8"``).
    Returns ``dtype`` codes shaped like ``acc``.  Exact except the two
    float32 roundings and ``rint``, as stated."""
    name = "requantize_float32"
    _check_float32_arithmetic(name)
    if dtype not in ONNX_DTYPES:
        raise ValueError(f"{name}: dtype = {dtype!r}; choose 'uint8' or 'int8'")
    qmin, qmax = ONNX_DTYPES[dtype]
    acc = _ints(name, "acc", acc)
    axis = None if acc.ndim == 0 else channel_axis % acc.ndim
    m32 = _scales(name, "multiplier", multiplier).astype(np.float32)
    if np.any(m32 == 0) or not np.all(np.isfinite(m32)):
        raise ValueError(f"{name}: multiplier {multiplier!r} is 0 or infinite in float32")
    m = _channel(name, "multiplier", m32, acc.shape, axis)
    zp = _ints(name, "zero_point", zero_point, qmin, qmax)
    if zp.ndim:
        raise ValueError(f"{name}: zero_point must be a scalar, got shape {zp.shape}")
    v = acc
    if bias is not None:
        v = acc + _channel(name, "bias", _ints(name, "bias", bias), acc.shape, axis)
        bad = (v < INT32_MIN) | (v > INT32_MAX)
        if np.any(bad):
            raise ValueError(f"{name}: acc + bias = {v.reshape(-1)[np.flatnonzero(bad)[0]]} at "
                             f"index {_first(bad, v.shape)} leaves int32 (an int32 addition)")
    f = v.astype(np.float64).astype(np.float32)  # exact, then one rounding to float32
    with np.errstate(over="ignore"):
        f = f * m                                 # one float32 multiplication
    r = np.rint(f.astype(np.float64))             # half to even; exact (an integer-valued float)
    r = np.clip(r, qmin - int(zp) - 1, qmax - int(zp) + 1)  # beyond: clamped anyway
    y = np.clip(r.astype(np.int64) + int(zp), qmin, qmax)
    return y.astype(dtype)


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """ONNX ``QLinearMatMul`` as onnxruntime's CPU kernel computes it.

    ``a`` (..., M, K) and ``b`` (..., K, N) uint8 or int8 codes; scales
    positive float32 scalars except ``b_scale``/``b_zero_point``, which may
    hold one value per column N.  The sum ``sum_k (a - za) * (b - zb)`` is
    exact (int64; a ValueError if it leaves int32, the C++ accumulator);
    then :func:`requantize_float32` with ``M = float32_multiplier(a_scale,
    b_scale, y_scale)``.  Output: ``y_zero_point``'s dtype (uint8 if a
    Python int)."""
    name = "qlinear_matmul"
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    for what, arr in (("a", a_arr), ("b", b_arr)):
        if arr.dtype not in (np.uint8, np.int8):
            raise ValueError(f"{name}: {what} must be uint8 or int8 codes, got {arr.dtype}")
    if a_arr.ndim < 2 or b_arr.ndim < 2 or a_arr.shape[-1] != b_arr.shape[-2]:
        raise ValueError(f"{name}: shapes {a_arr.shape} and {b_arr.shape} do not multiply")
    za = _ints(name, "a_zero_point", a_zero_point, -128, 255)
    zb = _ints(name, "b_zero_point", b_zero_point, -128, 255)
    if za.ndim or zb.ndim > 1:
        raise ValueError(f"{name}: a_zero_point must be a scalar and b_zero_point a scalar or "
                         "one per column")
    acc = np.matmul(a_arr.astype(np.int64) - za, b_arr.astype(np.int64) - zb)  # exact
    bad = (acc < INT32_MIN) | (acc > INT32_MAX)
    if np.any(bad):
        raise ValueError(f"{name}: the int32 sum {acc.reshape(-1)[np.flatnonzero(bad)[0]]} at "
                         f"index {_first(bad, acc.shape)} leaves int32")
    ydt = np.asarray(y_zero_point).dtype
    dtype = "int8" if ydt == np.int8 else "uint8"
    m = float32_multiplier(a_scale, b_scale, y_scale)
    return requantize_float32(acc, m, y_zero_point, None, dtype, -1)


def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                 bias=None, stride=1, padding=0, dilation=1, groups=1):
    """ONNX ``QLinearConv`` (NCHW x OIHW) as onnxruntime's CPU kernel computes it.

    ``acc = sum over (c, ky, kx) of (x - x_zero_point) * (w - w_zero_point)``
    exactly (:func:`fxsim.conv2d` with no accumulator format; padding adds
    the code ``x_zero_point``, i.e. the real value 0), a ValueError if a sum
    leaves int32; then :func:`requantize_float32` with the int32 ``bias``
    (one per output channel, or None) and ``M = float32_multiplier(x_scale,
    w_scale, y_scale)``, ``w_scale``/``w_zero_point`` scalars or one per
    output channel.  Output dtype: ``y_zero_point``'s (uint8 for a Python int)."""
    name = "qlinear_conv"
    xa, wa = np.asarray(x), np.asarray(w)
    for what, arr in (("x", xa), ("w", wa)):
        if arr.dtype not in (np.uint8, np.int8) or arr.ndim != 4:
            raise ValueError(f"{name}: {what} must be 4-d uint8 or int8 codes, got {arr.dtype} "
                             f"of shape {arr.shape}")
    xz = _ints(name, "x_zero_point", x_zero_point, -128, 255)
    wz = _channel(name, "w_zero_point", _ints(name, "w_zero_point", w_zero_point, -128, 255),
                  wa.shape, 0)
    if xz.ndim:
        raise ValueError(f"{name}: x_zero_point must be a scalar, got shape {xz.shape}")
    r = conv2d((xa.astype(np.int16) - xz).astype(np.int16),
               (wa.astype(np.int16) - wz).astype(np.int16), stride=stride, padding=padding,
               dilation=dilation, groups=groups)  # exact
    acc = np.asarray(signed_ints(r.bits, r.fmt))
    bad = (acc < INT32_MIN) | (acc > INT32_MAX)
    if np.any(bad):
        raise ValueError(f"{name}: the int32 sum {acc.reshape(-1)[np.flatnonzero(bad)[0]]} at "
                         f"index {_first(bad, acc.shape)} leaves int32")
    dtype = "int8" if np.asarray(y_zero_point).dtype == np.int8 else "uint8"
    m = float32_multiplier(x_scale, w_scale, y_scale)
    return requantize_float32(acc.astype(np.int64), m, y_zero_point, bias, dtype, 1)


def _torch_scale(name, scale):
    s = _scales(name, "scale", scale)
    if s.ndim:
        raise ValueError(f"{name}: scale must be a scalar (per tensor), got shape {s.shape}")
    s32 = np.float32(s)
    if s32 == 0 or not np.isfinite(s32):
        raise ValueError(f"{name}: scale = {float(s)!r} is 0 or infinite in float32")
    with np.errstate(over="ignore"):
        inv = np.float32(1) / s32           # one float32 division
    return s32, inv


def torch_quantize_per_tensor(x, scale, zero_point, dtype="quint8"):
    """``torch.quantize_per_tensor(x, scale, zero_point, dtype)``'s integer
    codes (CPU): float32 ``x``; ``q = clamp(rint(fl32(x * fl32(1 /
    fl32(scale)) + zero_point)))``, the fma rounded once (module docstring).  ``dtype``:
    ``"quint8"``, ``"qint8"`` or ``"qint32"``.  NaN input is a ValueError.
    Returns uint8, int8 or int32 codes."""
    name = "torch_quantize_per_tensor"
    _check_float32_arithmetic(name)
    if dtype not in TORCH_DTYPES:
        raise ValueError(f"{name}: dtype = {dtype!r}; choose one of {', '.join(TORCH_DTYPES)}")
    qmin, qmax = TORCH_DTYPES[dtype]
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise ValueError(f"{name}: x must be float32 (torch's quantizer reads float32), got "
                         f"{x.dtype}")
    if np.any(np.isnan(x)):
        raise ValueError(f"{name}: x is NaN at index {_first(np.isnan(x), x.shape)}")
    s, inv = _torch_scale(name, scale)
    zp = int(_ints(name, "zero_point", zero_point, qmin, qmax))
    t = _fma32(x, inv, zp)                              # fl32(x * inv + zp), one rounding
    r = np.rint(np.clip(t.astype(np.float64), -2.0 ** 40, 2.0 ** 40))  # beyond: clamped anyway
    q = np.clip(r.astype(np.int64), qmin, qmax)
    return q.astype({"quint8": np.uint8, "qint8": np.int8, "qint32": np.int32}[dtype])


def _fma32(x, inv, zp):
    """float32 ``fma(x, inv, zp)``: ``x * inv + zp`` rounded ONCE to float32.

    ``p = x * inv`` is exact in float64 (24 x 24 significant bits); ``p +
    zp`` is then rounded to float64 with round-to-odd (TwoSum gives the
    exact error; an inexact even result is moved one ulp toward the exact
    sum), and that is rounded to float32: round-to-odd at 53 bits followed
    by one rounding at 24 <= 53 - 2 bits is the correctly rounded result."""
    with np.errstate(over="ignore", invalid="ignore"):
        p = x.astype(np.float64) * np.float64(inv)
        z = np.float64(zp)
        s = p + z
        bb = s - p
        err = (p - (s - bb)) + (z - bb)
        bits = s.view(np.int64)
        move = (err != 0) & ((bits & 1) == 0) & np.isfinite(s)
        s = np.where(move, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
        return s.astype(np.float32)


def torch_fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max):
    """``torch.fake_quantize_per_tensor_affine`` (CPU): float32 or float64
    ``x`` -> the same dtype, by the steps of the module docstring, each in
    ``x``'s precision (``s`` and ``inv`` are float32 values).  NaN input is a
    ValueError."""
    name = "torch_fake_quantize_per_tensor_affine"
    _check_float32_arithmetic(name)
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name}: x must be float32 or float64, got {x.dtype}")
    if np.any(np.isnan(x)):
        raise ValueError(f"{name}: x is NaN at index {_first(np.isnan(x), x.shape)}")
    lo = int(_ints(name, "quant_min", quant_min))
    hi = int(_ints(name, "quant_max", quant_max))
    if lo > hi:
        raise ValueError(f"{name}: quant_min = {lo} > quant_max = {hi}")
    zp = int(_ints(name, "zero_point", zero_point, lo, hi))
    s, inv = _torch_scale(name, scale)
    ft = x.dtype.type
    with np.errstate(over="ignore", invalid="ignore"):
        t = x * ft(inv)                                 # one multiplication in x's precision
        qf = ft(zp) + np.rint(t)                        # one addition (exact below 2**24 / 2**53)
    q = np.clip(qf.astype(np.float64), lo, hi).astype(np.int64)  # clamp of a whole number: exact
    out = (q - zp).astype(np.float32) * s               # int64 -> float (rounds), float32 multiply
    return out.astype(ft)                               # float32 -> x's dtype: exact
