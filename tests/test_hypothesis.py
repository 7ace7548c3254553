"""Hypothesis: random formats and hard inputs against reference/.

Hard inputs are built from the format's own grid (taken from reference/):
codes, exact midpoints between neighbouring codes (ties), one float64 ulp
either side of both, the tie just above the largest finite value, the
subnormal range, and integers beyond 2**53.  Both engines are exercised:
float64 and int64 arrays take the Numba path, Python ints and Fractions the
exact path.
"""
import math
from fractions import Fraction

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import fxsim
import reference as ref
from oracle import ref_encode, ref_format

MODES = [m.value for m in fxsim.Rounding]

fixed_formats = st.builds(fxsim.FixedFormat, word=st.integers(1, 128), frac=st.integers(-16, 140),
                          signed=st.booleans())


@st.composite
def float_formats(draw):
    special = draw(st.sampled_from(["ieee", "fn", "fnuz", "finite", "e8m0"]))
    exp = draw(st.integers(2, 11))
    man = 0 if special == "e8m0" else draw(st.integers(0, 52))
    default = (1 << (exp - 1)) - (0 if special == "fnuz" else 1)
    bias = default + draw(st.integers(-3, 3))
    if special == "ieee" and man == 0 and draw(st.booleans()):
        man = 1  # keep a NaN most of the time
    return fxsim.FloatFormat(exp, man, bias=bias, subnormals=draw(st.booleans()), special=special)


formats = st.one_of(fixed_formats, float_formats())


def _value(code, fmt):
    sign, mag = ref.decode(code, ref_format(fmt))
    return None if isinstance(mag, str) else sign * mag


@st.composite
def hard_values(draw, fmt):
    """An exact value near the format's grid, as a Fraction."""
    top = (1 << fmt.width) - 1
    kind = draw(st.sampled_from(["code", "tie", "near-tie", "above-max", "big-int", "any"]))
    if kind == "big-int":
        return Fraction(draw(st.integers(-(1 << 70), 1 << 70)))
    if kind == "any":
        x = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
        return Fraction(x)
    if kind == "above-max":
        high = fmt.max_exact
        ulp = high - _value(fmt.max_code - 1, fmt) if fmt.is_float and fmt.max_code else \
            Fraction(2) ** -fmt.frac if not fmt.is_float else high
        return high + ulp * Fraction(draw(st.integers(0, 4)), 2)
    code = draw(st.integers(0, top - 1))
    low, high = _value(code, fmt), _value(code + 1, fmt)
    assume(low is not None)
    if kind == "code" or high is None:
        return low
    tie = (low + high) / 2
    if kind == "tie":
        return tie
    return tie + (high - low) * Fraction(draw(st.sampled_from([-1, 1])), 1 << draw(st.integers(2, 60)))


def as_float64(x: Fraction):
    """x as a float64 if it is exactly one, else None."""
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if Fraction(f) == x else None


def check(values, fmt, mode, policy, r, R):
    """Every value through both engines equals the reference."""
    random = {} if not fxsim.Rounding(mode).is_stochastic else {"random": [r], "random_bits": R}
    for x in values:
        want = ref_encode(x, fmt, mode, policy, r=r, R=R)
        inputs = [[x]]  # the exact path
        if isinstance(x, Fraction) and as_float64(x) is not None:
            inputs.append(np.array([as_float64(x)]))  # the float64 fast path
        elif isinstance(x, float):
            inputs = [np.array([x])]
        if isinstance(x, Fraction) and x.denominator == 1 and -(1 << 63) <= x < (1 << 63):
            inputs.append(np.array([int(x)], dtype=np.int64))  # the integer fast path
        for arr in inputs:
            if isinstance(want, int):
                got = fxsim.encode(arr, fmt, mode, policy, **random)
                assert int(got[0]) == want, (fmt, mode, policy, x, type(arr), int(got[0]), want)
            else:
                try:
                    fxsim.encode(arr, fmt, mode, policy, **random)
                except want:
                    continue
                raise AssertionError(f"{fmt} {mode} {policy} {x!r}: expected {want.__name__}")


@given(data=st.data(), fmt=formats, mode=st.sampled_from(MODES))
def test_hard_values_against_reference(data, fmt, mode):
    policy = data.draw(st.sampled_from([p.value for p in fmt.overflows]))
    R = data.draw(st.integers(1, 64))
    r = data.draw(st.integers(0, (1 << R) - 1))
    values = data.draw(st.lists(hard_values(fmt), min_size=1, max_size=4))
    check(values, fmt, mode, policy, r, R)


@given(data=st.data(), fmt=formats)
def test_special_floats_against_reference(data, fmt):
    mode = data.draw(st.sampled_from(MODES))
    policy = data.draw(st.sampled_from([p.value for p in fmt.overflows]))
    x = data.draw(st.sampled_from([math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0,
                                   5e-324, -5e-324, 1.7976931348623157e308]))
    check([x], fmt, mode, policy, 1, 1)


@given(fmt=float_formats(), data=st.data())
def test_decode_against_reference(fmt, data):
    codes = data.draw(st.lists(st.integers(0, (1 << fmt.width) - 1), min_size=1, max_size=20))
    got = fxsim.decode(np.array(codes, dtype=np.uint64), fmt, exact=True)
    for code, value in zip(codes, got):
        sign, mag = ref.decode(code, ref_format(fmt))
        if mag == "nan":
            assert isinstance(value, float) and math.isnan(value)
        elif mag == "inf":
            assert value == sign * math.inf
        else:
            assert value == sign * mag
    floats = fxsim.decode(np.array(codes, dtype=np.uint64), fmt)
    for code, value in zip(codes, floats):
        sign, mag = ref.decode(code, ref_format(fmt))
        if isinstance(mag, str) or fmt.exp > 11 or fmt.man > 52:
            continue
        expected = as_float64(sign * mag)
        if expected is not None:  # float64 holds it: decode must be exact
            assert value == expected and math.copysign(1, value) == sign


@given(fmt=fixed_formats, data=st.data())
def test_wide_fixed_decode_is_exact(fmt, data):
    codes = data.draw(st.lists(st.integers(0, (1 << fmt.width) - 1), min_size=1, max_size=10))
    got = fxsim.decode(np.array(codes, dtype=object), fmt, exact=True)
    for code, value in zip(codes, got):
        sign, mag = ref.decode(code, ref_format(fmt))
        assert value == sign * mag
