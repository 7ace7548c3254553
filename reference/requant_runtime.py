"""Float32 requantization as onnxruntime (MLAS), fbgemm and torch compute it.

These runtimes keep the requantization multiplier as a C++ ``float`` and
let the FPU round.  Each step is written here with exact rationals and an
explicit rounding, so every place a bit can be lost is visible:

* ``fl32(v)``: ``v`` rounded to the nearest float32, ties to even (what
  every float32 ``+ - * /`` and every int -> float conversion does);
* ``rint(v)``: ``v`` rounded to the nearest integer, ties to even
  (``std::nearbyint``, ``lrintf``, ``_mm_cvtps_epi32`` in the default mode).

Read in order: ``fl32``, ``rint``, ``float32_multiplier``,
``requantize_float32`` (MLAS ``MlasRequantizeOutput``, fbgemm
``requantizeOutputProcessing``), ``qlinear_matmul`` (ONNX QLinearMatMul),
``torch_quantize_per_tensor``, ``torch_fake_quantize_per_tensor_affine``.
"""

import math
from fractions import Fraction

from .codec import decode, encode
from .formats import PRESETS
from .rounding import round_to_integer

FLOAT32 = PRESETS["float32"]
FLOAT64 = PRESETS["float64"]


def round_to(v, fmt):
    """``v`` (a Fraction, or a float infinity) rounded to the nearest value of a
    float format, ties to even; beyond its range: the infinity (IEEE overflow)."""
    if isinstance(v, float) and math.isinf(v):
        return v
    sign, mag = decode(encode(Fraction(v), fmt, "nearest_even", "ieee"), fmt)
    if mag == "inf":
        return sign * math.inf
    return sign * mag


def fl32(v):
    return round_to(v, FLOAT32)


def rint(v):
    """Nearest integer, ties to even (an infinity stays itself)."""
    if isinstance(v, float) and math.isinf(v):
        return v
    return round_to_integer(Fraction(v), "nearest_even", True)


def clamp(v, lo, hi):
    return min(max(v, lo), hi)


def float32_multiplier(a_scale, b_scale, y_scale):
    """``M = fl32(fl32(a_scale * b_scale) / y_scale)``, each scale first a float32."""
    sa, sb, sy = fl32(a_scale), fl32(b_scale), fl32(y_scale)
    return fl32(fl32(sa * sb) / sy)


def requantize_float32(acc, m, zero_point, qmin, qmax, bias=0):
    """One int32 accumulator -> a code:

    1. ``v = acc + bias``          (int32 addition, exact)
    2. ``f = fl32(v)``             (int32 -> float32)
    3. ``f = fl32(f * m)``         (float32 multiplication; ``m`` is a float32)
    4. ``r = rint(f)``
    5. ``clamp(r + zero_point, qmin, qmax)`` (the zero point after the rounding)
    """
    v = acc + bias
    f = fl32(fl32(v) * Fraction(m))
    return clamp(rint(f) + zero_point, qmin, qmax)


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point,
                   qmin, qmax):
    """ONNX QLinearMatMul on nested lists (M x K times K x N); ``b_scale`` and
    ``b_zero_point`` are lists of one value per column."""
    rows, inner, cols = len(a), len(b), len(b[0])
    out = []
    for i in range(rows):
        row = []
        for j in range(cols):
            acc = sum((a[i][k] - a_zero_point) * (b[k][j] - b_zero_point[j]) for k in range(inner))
            m = float32_multiplier(a_scale, b_scale[j], y_scale)
            row.append(requantize_float32(acc, m, y_zero_point, qmin, qmax))
        out.append(row)
    return out


def torch_quantize_per_tensor(x, scale, zero_point, qmin, qmax):
    """``torch.quantize_per_tensor`` of one float32 ``x`` (torch 2.13 CPU, a
    fused multiply-add): ``clamp(rint(fl32(x * inv + zero_point)), qmin, qmax)``
    with ``inv = fl32(1 / fl32(scale))``: ``x * inv + zero_point`` is exact
    here and rounded once, the zero point INSIDE the rounding."""
    s = fl32(scale)
    inv = fl32(1 / s)
    t = fl32(Fraction(x) * inv + zero_point)
    return clamp(rint(t), qmin, qmax)


def torch_fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max,
                                          precision="float32"):
    """``torch.fake_quantize_per_tensor_affine`` of one ``x`` (CPU kernel)::

        s = fl32(scale); inv = fl32(1 / s)
        t = fl(x * inv); qf = fl(zero_point + rint(t))
        q = clamp(qf, quant_min, quant_max)
        return fl32(fl32(q - zero_point) * s)

    ``fl`` rounds to the input's precision ("float32" or "float64"); the
    output is a float32 product whatever the input (C++ ``int64 * float``).
    """
    fmt = FLOAT32 if precision == "float32" else FLOAT64
    s = fl32(scale)
    inv = fl32(1 / s)
    t = round_to(Fraction(x) * inv, fmt)
    qf = round_to(zero_point + rint(t), fmt)
    q = clamp(qf, quant_min, quant_max)
    return fl32(fl32(q - zero_point) * s)
