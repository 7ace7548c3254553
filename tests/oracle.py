"""Glue between fxsim and the independent oracle in reference/."""
import math

import numpy as np

import fxsim
import reference as ref
from hypothesis import strategies as st  # noqa: I001  (test helpers)


def ref_format(fmt):
    """The reference/ twin of an fxsim format."""
    if fmt.is_float:
        return ref.FloatFormat(fmt.exp, fmt.man, fmt.bias, fmt.subnormals, fmt.special,
                               signed=fmt.signed)
    return ref.FixedFormat(fmt.word, fmt.frac, fmt.signed, narrow=fmt.narrow)


def ref_encode(x, fmt, rounding="nearest_even", overflow=None, r=0, R=32):
    """reference.encode, with errors returned as their exception class."""
    try:
        return ref.encode(x, ref_format(fmt), rounding, overflow, r=r, R=R)
    except (ValueError, OverflowError) as err:
        return type(err)


def ref_float(code, fmt):
    """reference.decode as a Python float (NaN, inf and -0 kept)."""
    sign, mag = ref.decode(int(code), ref_format(fmt))
    if mag == "nan":
        return math.nan
    if mag == "inf":
        return sign * math.inf
    return math.copysign(float(mag), sign)


def same_floats(a, b):
    """Bitwise float64 equality, with every NaN equal to every NaN."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    return (a.view(np.uint64) == b.view(np.uint64)) | both_nan


SMALL_PRESETS = [name for name, f in fxsim.formats.PRESETS.items() if f.width <= 8]
FLOAT_PRESETS = [name for name, f in fxsim.formats.PRESETS.items() if f.is_float]
DETERMINISTIC = [m.value for m in fxsim.Rounding if not m.is_stochastic]


@st.composite
def tiny_floats(draw):
    """Random float formats of at most 12 bits: every kind of special."""
    special = draw(st.sampled_from(["ieee", "fn", "fnuz", "finite"]))
    exp, man = draw(st.integers(2, 5)), draw(st.integers(0, 6))
    if special == "ieee" and man == 0:
        man = 1
    default = (1 << (exp - 1)) - (0 if special == "fnuz" else 1)
    return fxsim.FloatFormat(exp, man, bias=default + draw(st.integers(-2, 2)),
                             subnormals=draw(st.booleans()), special=special)
