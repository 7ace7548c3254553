"""NVFP4 (NVIDIA): 16 E2M1 elements share an unsigned E4M3 scale, and the
whole tensor shares one float32 scale.  Exact rationals, one rounding per
step:

1. ``amax = max |x|``; the tensor scale ``S = fl32(amax / 2688)``
   (2688 = 6 * 448; ``S = 1`` when ``amax = 0``).
2. Per block of 16: ``S_b`` = ``block_amax / (6 * S)`` rounded to nearest
   (ties to even) among the non-negative E4M3 values, at most 448.
3. Per element: ``x / (S_b * S)`` rounded to nearest (ties to even) among
   the E2M1 values, at most 6 in magnitude, keeping the sign; a zero
   ``S_b`` makes the element a zero.

The unsigned E4M3 scale is E4M3FN's positive half: the same codes with the
sign bit 0, so it is rounded here with E4M3FN and a positive value.
"""

from fractions import Fraction

from .codec import decode, encode, value_of
from .formats import PRESETS

E2M1 = PRESETS["float4_e2m1fn"]
E4M3 = PRESETS["float8_e4m3fn"]
FLOAT32 = PRESETS["float32"]


def _value(code, fmt):
    sign, mag = decode(code, fmt)
    return sign * mag


def tensor_scale(amax):
    """``fl32(amax / 2688)`` as (Fraction, float32 code); 1.0 for amax = 0."""
    if amax == 0:
        return Fraction(1)
    code = encode(Fraction(amax) / 2688, FLOAT32, "nearest_even", "ieee")
    return _value(code, FLOAT32)


def quantize_row(values, scale=None):
    """One row (a list of numbers, the blocked axis) -> (S, scale codes, element codes).

    ``scale``: the tensor scale to use (a Fraction), or None for the
    recipe's.  The tensor amax must be that of the whole tensor: pass
    ``scale`` when the row is part of a larger tensor."""
    mags = [value_of(v)[1] for v in values]
    if scale is None:
        scale = tensor_scale(max(mags, default=0))
    scale_codes, elem_codes = [], []
    for start in range(0, len(values), 16):
        block = values[start:start + 16]
        bmax = max(mags[start:start + 16])
        sb_code = encode(bmax / (6 * scale), E4M3, "nearest_even", "saturate")
        assert sb_code < 0x80  # positive: the unsigned E4M3 code
        scale_codes.append(sb_code)
        d = _value(sb_code, E4M3) * scale
        for v in block:
            if d == 0:
                negative = value_of(v)[0] < 0
                elem_codes.append(0x8 if negative else 0x0)
            elif isinstance(v, float) and v == 0:
                elem_codes.append(encode(v, E2M1, "nearest_even", "saturate"))
            else:
                elem_codes.append(encode(Fraction(v) / d, E2M1, "nearest_even", "saturate"))
    return scale, scale_codes, elem_codes


def dequantize(elem_code, scale_code, scale):
    """``P * S_b * S`` exactly."""
    return _value(elem_code, E2M1) * _value(scale_code, E4M3) * scale
