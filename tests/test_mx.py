"""Block formats: fxsim.mx (OCP MX v1.0) and fxsim.bfp against exact oracles.

The oracles below are written from the rules, not from fxsim: Fractions,
reference.encode / reference.round_to_integer for the one rounding, and the
MX scale rule in the words of spec section 6.3 -- "the largest power of two
less than or equal to max |V_i|, divided by the largest power of two
representable in the element data type" -- where that last power of two is
found by listing every value of the element format with reference.decode.
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fxsim
import reference as ref
from fxsim import bfp, mx
from reference.codec import floor_log2
from reference.formats import PRESETS as REF

MX_NAMES = ["float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn",
            "mxint8"]
REF_ELEM = {**{name: REF[name] for name in MX_NAMES[:-1]}, "mxint8": ref.FixedFormat(8, 6)}
FX_ELEM = {**{name: fxsim.formats.PRESETS[name] for name in MX_NAMES[:-1]},
           "mxint8": fxsim.FixedFormat(8, 6)}
# emax_elem as the spec tables state it (exponent of the largest normal).
SPEC_EMAX = {"float8_e4m3fn": 8, "float8_e5m2": 15, "float6_e3m2fn": 4, "float6_e2m3fn": 2,
             "float4_e2m1fn": 2, "mxint8": 0}
E8M0 = REF["float8_e8m0fnu"]
DETERMINISTIC = [m.value for m in fxsim.Rounding if not m.is_stochastic]
TWO = Fraction(2)


# ------------------------------------------------------------------ oracles
def _largest_power_of_two(name):
    """Largest power of two among the element format's values (listed)."""
    fmt = REF_ELEM[name]
    best = None
    for code in ref.all_codes(fmt):
        sign, mag = ref.decode(code, fmt)
        if sign > 0 and not isinstance(mag, str) and mag > 0:
            p, q = mag.numerator, mag.denominator
            if p & (p - 1) == 0 and q & (q - 1) == 0:
                best = mag if best is None else max(best, mag)
    return best


LARGEST_POW2 = {name: _largest_power_of_two(name) for name in MX_NAMES}


def _exact(v):
    """(Fraction or None for NaN/inf, the zero to pass on to keep its sign)."""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v != v or v in (float("inf"), float("-inf")):
            return None
        return Fraction(v)
    return Fraction(v)


def _blocks_of(x, block, axis):
    """(index of the row in the moved array, block number, list of (position, value))."""
    moved = np.moveaxis(np.asarray(x, dtype=object), axis, -1)
    n = moved.shape[-1]
    for idx in np.ndindex(moved.shape[:-1]):
        for b in range(-(-n // block)):
            span = range(b * block, min(n, (b + 1) * block))
            yield idx, b, [(j, moved[idx + (j,)]) for j in span]


def oracle_mx(x, name, block, axis, rounding="nearest_even", overflow="saturate", symmetric=True,
              random=None, R=32):
    """(E8M0 scale codes, element codes with None under a NaN scale)."""
    x = np.asarray(x, dtype=object)
    axis %= x.ndim
    n = x.shape[axis]
    nb = -(-n // block)
    per_block = x.shape[:axis] + (nb,) + x.shape[axis + 1:]
    scales = np.moveaxis(np.zeros(per_block, dtype=object), axis, -1)
    elems = np.moveaxis(np.empty(x.shape, dtype=object), axis, -1)
    rnd = None if random is None else np.moveaxis(np.asarray(random, dtype=object), axis, -1)
    for idx, b, items in _blocks_of(x, block, axis):
        vals = [_exact(v) for _, v in items]
        if any(v is None for v in vals):
            scales[idx + (b,)] = 0xFF       # NaN scale: sec. 5.1, the whole block is NaN
            continue
        amax = max(abs(v) for v in vals)
        if amax == 0:
            shared = -127                   # all zero: the clamped limit
        else:
            X = TWO ** floor_log2(amax) / LARGEST_POW2[name]   # sec. 6.3 (1), word for word
            shared = floor_log2(X)
            assert X == TWO ** shared and shared == floor_log2(amax) - SPEC_EMAX[name]
        if shared > 127:
            scales[idx + (b,)] = 0xFF
            continue
        shared = max(shared, -127)
        X = TWO ** shared
        code = ref.encode(X, E8M0)
        assert code == shared + 127         # E8M0: bias 127 (Table 7)
        scales[idx + (b,)] = code
        for (j, raw), v in zip(items, vals):
            r = 0 if rnd is None else int(rnd[idx + (j,)])
            t = raw if v == 0 and isinstance(raw, float) else v / X   # keep -0.0
            if name == "mxint8" and symmetric:
                m = ref.round_to_integer(Fraction(t) * 64, rounding, True, r, R)
                elems[idx + (j,)] = min(max(m, -127), 127) % 256      # clamp to +-127/64
            else:
                elems[idx + (j,)] = ref.encode(t, REF_ELEM[name], rounding, overflow, r=r, R=R)
    return np.moveaxis(scales, -1, axis), np.moveaxis(elems, -1, axis)


def oracle_bfp(x, p, block, axis, rounding="nearest_even", symmetric=True, random=None, R=32):
    """(exponents, mantissa codes) by the documented rule, with Fractions."""
    x = np.asarray(x, dtype=object)
    axis %= x.ndim
    n = x.shape[axis]
    nb = -(-n // block)
    per_block = x.shape[:axis] + (nb,) + x.shape[axis + 1:]
    exps = np.moveaxis(np.zeros(per_block, dtype=object), axis, -1)
    codes = np.moveaxis(np.empty(x.shape, dtype=object), axis, -1)
    rnd = None if random is None else np.moveaxis(np.asarray(random, dtype=object), axis, -1)
    hi = 2 ** (p - 1) - 1
    lo = -hi if symmetric else -hi - 1
    for idx, b, items in _blocks_of(x, block, axis):
        vals = [_exact(v) for _, v in items]
        amax = max(abs(v) for v in vals)
        e = 0 if amax == 0 else floor_log2(amax) - (p - 2)
        exps[idx + (b,)] = e
        for (j, _), v in zip(items, vals):
            r = 0 if rnd is None else int(rnd[idx + (j,)])
            m = ref.round_to_integer(v / TWO ** e, rounding, True, r, R)
            assert -hi - 1 <= m <= hi + 1   # rounding carries at most one past the range
            codes[idx + (j,)] = min(max(m, lo), hi) % 2 ** p
    return np.moveaxis(exps, -1, axis), np.moveaxis(codes, -1, axis)


def assert_mx_matches(q, x, name, block, axis, **kw):
    scales, elems = oracle_mx(x, name, block, axis, **kw)
    assert q.scales.fmt == fxsim.formats.float8_e8m0fnu and q.elements.fmt == FX_ELEM[name]
    assert q.scales.shape == scales.shape and q.elements.shape == elems.shape
    assert [int(c) for c in q.scales.bits.ravel()] == list(scales.ravel())
    got = [None if e is None else int(c) for c, e in zip(q.elements.bits.ravel(), elems.ravel())]
    assert got == list(elems.ravel())
    # Dequantized values: X * P exactly (NaN under a NaN scale).
    values = q.dequantize()
    for v, s, e in zip(values.ravel(), np.broadcast_to(
            np.repeat(scales, block, axis=axis).take(np.arange(x.shape[axis]), axis=axis),
            x.shape).ravel(), elems.ravel()):
        if s == 0xFF:
            assert np.isnan(v)
            continue
        sign, mag = ref.decode(int(e), REF_ELEM[name])
        if mag == "inf":
            assert v == sign * np.inf
        else:
            assert Fraction(v) == sign * mag * TWO ** (int(s) - 127)


# ------------------------------------------------------------------ strategies
@st.composite
def values(draw):
    kind = draw(st.sampled_from(["grid", "grid", "pow2", "near-pow2", "zero", "any", "tiny"]))
    sign = draw(st.sampled_from([1.0, -1.0]))
    if kind == "grid":   # few significant bits: exact ties of the element grids
        return sign * draw(st.integers(0, 1023)) * 2.0 ** draw(st.integers(-30, 30))
    if kind == "pow2":
        return sign * 2.0 ** draw(st.integers(-160, 160))
    if kind == "near-pow2":
        k = draw(st.integers(-20, 20))
        nudge = draw(st.sampled_from([-1, 1])) * 2.0 ** -draw(st.integers(1, 53))
        return sign * 2.0 ** k * (1 + nudge)
    if kind == "zero":
        return sign * 0.0
    if kind == "tiny":
        return sign * draw(st.integers(1, 7)) * 2.0 ** -1074
    return draw(st.floats(allow_nan=False, allow_infinity=False, width=64))


@st.composite
def arrays(draw, specials=True):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    x = draw(hnp.arrays(np.float64, shape, elements=values()))
    if specials and draw(st.integers(0, 4)) == 0:
        x.reshape(-1)[draw(st.integers(0, x.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    block = draw(st.integers(1, 6))
    return x, axis, block


# ------------------------------------------------------------------ MX: the rule
@pytest.mark.parametrize("name", MX_NAMES)
def test_emax_elem_is_the_spec_table_and_the_largest_power_of_two(name):
    fmt = mx.element_format(name)
    assert fmt == FX_ELEM[name]
    assert mx.EMAX_ELEM[fmt] == SPEC_EMAX[name]
    assert LARGEST_POW2[name] == TWO ** SPEC_EMAX[name]
    if fmt.is_float:
        assert fmt.emax == SPEC_EMAX[name]


@given(arrays(), st.sampled_from(MX_NAMES), st.sampled_from(DETERMINISTIC))
def test_mx_against_oracle_and_round_trip(case, name, rounding):
    x, axis, block = case
    q = mx.quantize(x, name, block=block, axis=axis, rounding=rounding)
    assert_mx_matches(q, x, name, block, axis, rounding=rounding)
    # quantize -> dequantize -> quantize reproduces every code, for every mode
    # that leaves exact values alone (all but jam)
    if rounding != "jam":
        again = mx.quantize(q.dequantize(), name, block=block, axis=axis, rounding=rounding)
        assert np.array_equal(again.scales.bits, q.scales.bits)
        assert np.array_equal(again.elements.bits, q.elements.bits)


@given(arrays(), st.sampled_from(MX_NAMES))
def test_mx_exact_path_against_oracle(case, name):
    """Python ints and Fractions take the exact (non-float64) path."""
    x, axis, block = case
    obj = np.empty(x.shape, dtype=object)
    for i, v in enumerate(x.ravel()):
        obj.reshape(-1)[i] = v if not np.isfinite(v) or v == 0 else (
            int(v) * 3 ** 40 if v == int(v) and abs(v) < 2 ** 60 else Fraction(v) / 3)
    q = mx.quantize(obj, name, block=block, axis=axis)
    assert_mx_matches(q, obj, name, block, axis)


def test_mxint8_full_range_breaks_the_round_trip_at_minus_two():
    """Why int8_symmetric is the default: -2.0 * X requantizes with scale 2X."""
    x = np.array([-1.999, 1.0])
    full = mx.quantize(x, "int8", block=2, int8_symmetric=False)
    assert list(full.elements.bits) == [0x80, 64] and full.dequantize()[0] == -2.0
    again = mx.quantize(full.dequantize(), "int8", block=2, int8_symmetric=False)
    assert again.scales.bits[0] == full.scales.bits[0] + 1
    sym = mx.quantize(x, "int8", block=2)
    assert list(sym.elements.bits) == [0x81, 64] and sym.dequantize()[0] == -127 / 64
    assert_mx_matches(full, x, "mxint8", 2, -1, symmetric=False)
    assert_mx_matches(sym, x, "mxint8", 2, -1)


def test_mxint8_symmetric_is_the_narrowed_format_s8_6n():
    """The symmetric clamp is the rounding core's overflow step of the
    narrowed s8.6 (codes stay s8.6 codes): "raise" raises at -2.0 as it does
    at +2.0, and "wrap" (which would produce 0x80) needs int8_symmetric=False."""
    assert mx.MXINT8_SYMMETRIC == fxsim.FixedFormat(8, 6, narrow=True)
    x = np.array([-1.999, 1.0])
    assert mx.quantize(x, "int8", block=2).elements.fmt == mx.MXINT8
    assert list(mx.quantize(x, "int8", block=2, overflow="raise",
                            rounding="toward_zero").elements.bits) == [0x81, 64]  # no overflow
    with pytest.raises(OverflowError, match=r"index \(0,\).*s8\.6n"):
        mx.quantize(x, "int8", block=2, overflow="raise")
    with pytest.raises(OverflowError, match=r"index \(1,\).*s8\.6n"):
        mx.quantize(np.array([1.0, 1.999]), "int8", block=2, overflow="raise")
    full = mx.quantize(x, "int8", block=2, overflow="raise", int8_symmetric=False)
    assert list(full.elements.bits) == [0x80, 64]
    with pytest.raises(ValueError, match=r"element format s8\.6.*overflow='wrap'.*int8_symmetric"
                                         r".*s8\.6n.*saturate, raise"):
        mx.quantize(x, "int8", block=2, overflow="wrap")
    wrapped = mx.quantize(np.array([1.999, 1.0]), "int8", block=2, overflow="wrap",
                          int8_symmetric=False)
    assert list(wrapped.elements.bits) == [0x80, 64]  # 2.0 wraps to -2.0


STOCHASTIC = ["stochastic", "stochastic_equal"]


@given(arrays(specials=False), st.sampled_from(MX_NAMES), st.sampled_from(STOCHASTIC),
       st.integers(1, 8), st.data())
def test_mx_stochastic_uses_one_draw_per_element_in_c_order_of_x(case, name, rounding, R, data):
    x, axis, block = case
    random = data.draw(hnp.arrays(np.int64, x.shape, elements=st.integers(0, 2 ** R - 1)))
    q = mx.quantize(x, name, block=block, axis=axis, rounding=rounding, random=random,
                    random_bits=R)
    assert_mx_matches(q, x, name, block, axis, rounding=rounding, random=random, R=R)


def test_mx_stochastic_rng_is_reproducible():
    x = np.linspace(-3, 3, 64).reshape(2, 32)
    a = mx.quantize(x, "e2m1", rounding="stochastic", rng=5)
    b = mx.quantize(x, "e2m1", rounding="stochastic", rng=np.random.default_rng(5))
    assert np.array_equal(a.elements.bits, b.elements.bits)


# ------------------------------------------------------------------ MX: hand-built blocks
@pytest.mark.parametrize("name", MX_NAMES)
def test_all_zero_block(name):
    x = np.array([[0.0, -0.0, 0.0], [1.0, 0.0, -0.0]])
    q = mx.quantize(x, name, block=3)
    assert list(q.scales.bits[:, 0]) == [0, 127 - SPEC_EMAX[name]]   # 2**-127; 2**(0 - emax)
    fmt = FX_ELEM[name]
    minus_zero = 0 if not fmt.is_float else 1 << (fmt.width - 1)
    assert list(q.elements.bits[0]) == [0, minus_zero, 0]
    assert np.array_equal(q.dequantize(), x) and np.array_equal(np.signbit(q.dequantize()),
                                                                np.signbit(x) & fmt.is_float)
    assert_mx_matches(q, x, name, 3, -1)


@pytest.mark.parametrize("name", MX_NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_block_holding_nan_or_inf_gets_a_nan_scale(name, bad):
    x = np.array([1.0, bad, 3.0, 0.5, 4.0, 7.0])
    q = mx.quantize(x, name, block=3)
    assert list(q.scales.bits) == [0xFF, 127 + 2 - SPEC_EMAX[name]]
    assert list(q.elements.bits[:3]) == [0, 0, 0]
    values = q.dequantize()
    assert np.isnan(values[:3]).all() and not np.isnan(values[3:]).any()
    assert_mx_matches(q, x, name, 3, -1)


@pytest.mark.parametrize("name", MX_NAMES)
@pytest.mark.parametrize("k", [-100, -3, 0, 5, 60])
def test_max_just_below_a_power_of_two_saturates(name, k):
    """max = 2**k (1 - 2**-20): floor(log2) = k - 1, so max / X is just below
    2**(emax + 1), rounds beyond the max normal and is clamped to it."""
    top = 2.0 ** k * (1 - 2.0 ** -20)
    x = np.array([top, -top, 2.0 ** (k - 3)])
    q = mx.quantize(x, name, block=3)
    assert q.scales.bits[0] == 127 + k - 1 - SPEC_EMAX[name]
    fmt = FX_ELEM[name]
    X = 2.0 ** (k - 1 - SPEC_EMAX[name])
    assert list(q.dequantize()[:2]) == [fmt.max * X, -fmt.max * X]
    assert_mx_matches(q, x, name, 3, -1)


def test_e5m2_non_saturating_conversion_on_request():
    top = 2.0 ** 7 * (1 - 2.0 ** -20)
    q = mx.quantize(np.array([top, -top]), "e5m2", block=2, overflow="ieee")
    assert list(q.dequantize()) == [np.inf, -np.inf]
    assert_mx_matches(q, np.array([top, -top]), "float8_e5m2", 2, -1, overflow="ieee")


@pytest.mark.parametrize("name", MX_NAMES)
@pytest.mark.parametrize("k", [-100, -1, 0, 7, 100])
def test_max_exactly_a_power_of_two(name, k):
    x = np.array([-(2.0 ** k), 2.0 ** (k - 1), 3 * 2.0 ** (k - 4)])
    q = mx.quantize(x, name, block=4)
    assert q.scales.bits[0] == 127 + k - SPEC_EMAX[name]
    assert q.dequantize()[0] == -(2.0 ** k)   # the max maps to 2**emax_elem exactly
    assert_mx_matches(q, x, name, 4, -1)


@pytest.mark.parametrize("name", MX_NAMES)
@pytest.mark.parametrize("rounding", ["nearest_even", "up", "away", "down", "odd"])
def test_huge_dynamic_range_flushes_small_elements(name, rounding):
    """Small elements fall below X times the smallest subnormal: zero when
    rounded to nearest, the smallest subnormal (with the right sign) for the
    modes that round away.  2**-1074 * 2**-90 is no float64: exact path."""
    x = np.array([2.0 ** 100, 2.0 ** -100, -3 * 2.0 ** -1074, 2.0 ** -1074, -1.0])
    q = mx.quantize(x, name, block=8, rounding=rounding)
    assert_mx_matches(q, x, name, 8, -1, rounding=rounding)
    if rounding == "nearest_even":
        assert list(q.dequantize()[1:]) == [0.0] * 4


def test_shared_exponent_clamps_to_e8m0_range():
    # floor(log2) - emax below -127: clamped to 2**-127 (code 0)
    tiny = np.array([2.0 ** -140, -(2.0 ** -130), 2.0 ** -128])
    q = mx.quantize(tiny, "e4m3", block=3)
    assert q.scales.bits[0] == 0
    assert_mx_matches(q, tiny, "float8_e4m3fn", 3, -1)
    # the largest scale, 2**127 (code 254), then no scale at all (NaN)
    for name in MX_NAMES:
        emax = SPEC_EMAX[name]
        x = np.array([2.0 ** (127 + emax), 2.0 ** (128 + emax), 1.0])
        q = mx.quantize(x, name, block=1)
        assert list(q.scales.bits) == [254, 255, 127 - emax]
        assert q.dequantize()[0] == 2.0 ** (127 + emax) and np.isnan(q.dequantize()[1])
        assert_mx_matches(q, x, name, 1, -1)
    # float32 input never reaches the NaN side; its max scale is exact
    x32 = np.array([np.finfo(np.float32).max], dtype=np.float32)
    q = mx.quantize(x32, "int8", block=1)
    assert q.scales.bits[0] == 254 and q.dequantize()[0] == 127 / 64 * 2.0 ** 127


@pytest.mark.parametrize("name", MX_NAMES)
def test_other_axes_and_partial_last_block(name):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((7, 3, 5)) * 2.0 ** rng.integers(-8, 8, (7, 3, 5))
    for axis in (0, 1, -1):
        q = mx.quantize(x, name, block=3, axis=axis)
        nb = -(-x.shape[axis] // 3)
        expected = list(x.shape)
        expected[axis] = nb
        assert q.scales.shape == tuple(expected) and q.elements.shape == x.shape
        assert q.axis == axis % 3
        assert_mx_matches(q, x, name, 3, axis)
        moved = mx.quantize(np.moveaxis(x, axis, -1), name, block=3)
        assert np.array_equal(np.moveaxis(q.elements.bits, axis, -1), moved.elements.bits)
    # the partial block's scale comes from its own element only
    q = mx.quantize(np.array([100.0, 1.0, 1.0, 0.25]), name, block=3)
    assert list(q.scales.bits) == [127 + 6 - SPEC_EMAX[name], 127 - 2 - SPEC_EMAX[name]]


def test_default_block_is_32_along_the_last_axis():
    x = np.arange(70.0).reshape(1, 70)
    q = mx.quantize(x, "e4m3")
    assert q.block == 32 and q.scales.shape == (1, 3)
    assert_mx_matches(q, x, "float8_e4m3fn", 32, -1)


def test_rounding_mode_reaches_the_elements():
    # 2.5 * X is a tie between 2 and 3 in E2M1: even -> 2, away -> 3
    x = np.array([4.0, 2.5])
    assert mx.quantize(x, "e2m1", block=2).dequantize()[1] == 2.0
    assert mx.quantize(x, "e2m1", block=2, rounding="nearest_away").dequantize()[1] == 3.0


def test_float64_is_rounded_once_not_through_float32():
    """-431.99999999999994 rounds to -416 in E4M3 directly; via float32 it would
    become -432 and then -448 (the trap of ml_dtypes <= 0.6 and torch 2.13)."""
    x = np.array([-431.99999999999994, 1.0])
    q = mx.quantize(x, "e4m3", block=2)
    assert q.scales.bits[0] == 127 and q.dequantize()[0] == -416.0


def test_inputs_of_every_kind_are_exact():
    big = 2 ** 60 + 1
    q = mx.quantize([big, 3], "e5m2", block=2)
    assert_mx_matches(q, np.array([big, 3], dtype=object), "float8_e5m2", 2, -1)
    ints = np.array([2 ** 62 + 2 ** 9, 1], dtype=np.int64)
    assert_mx_matches(mx.quantize(ints, "int8", block=2), ints.astype(object), "mxint8", 2, -1)
    qa = fxsim.asarray(np.array([1.5, -6.0, 0.25]), "float16")
    assert_mx_matches(mx.quantize(qa, "e2m1", block=3), np.array([1.5, -6.0, 0.25]),
                      "float4_e2m1fn", 3, -1)
    fr = [Fraction(1, 3), Fraction(-5, 7)]
    assert_mx_matches(mx.quantize(fr, "e3m2", block=2), np.array(fr, dtype=object),
                      "float6_e3m2fn", 2, -1)


def test_dequantize_exact_and_from_bits():
    x = np.array([[3.0, -0.1], [1e-3, 250.0]])
    q = mx.quantize(x, "e4m3", block=2, axis=0)
    values = mx.dequantize(q, exact=True)
    assert all(Fraction(a) == b for a, b in zip(q.dequantize().ravel(), values.ravel()))
    rebuilt = mx.MXArray(fxsim.from_bits(q.scales.bits, "float8_e8m0fnu"),
                         fxsim.from_bits(q.elements.bits, "float8_e4m3fn"), 2, 0)
    assert np.array_equal(rebuilt.dequantize(), q.dequantize())


# ------------------------------------------------------------------ MX: names and errors
def test_element_format_names():
    e4m3fn = fxsim.formats.float8_e4m3fn
    for name in ("e4m3", "E4M3", "float8_e4m3fn", "e4m3fn", "mxfp8_e4m3"):
        assert mx.element_format(name) == e4m3fn
    assert mx.element_format("e2m1") == fxsim.formats.float4_e2m1fn
    assert mx.element_format("fp4") == fxsim.formats.float4_e2m1fn
    for name in ("int8", "mxint8", "s8.6"):
        assert mx.element_format(name) == fxsim.FixedFormat(8, 6)
    assert mx.quantize([1.0], "int8", block=1).elements.fmt == fxsim.FixedFormat(8, 6)


def test_bad_element_formats():
    with pytest.raises(ValueError, match="s8.6"):
        mx.quantize([1.0], fxsim.formats.int8)           # plain int8 is s8.0
    with pytest.raises(ValueError, match="block 32.*'float16' is not an MX element format"):
        mx.quantize([1.0], "float16")
    with pytest.raises(ValueError, match="not an MX element format"):
        mx.quantize([1.0], fxsim.formats.float8_e4m3)    # IEEE-like E4M3 is not OCP's


@pytest.mark.parametrize("block", [0, -2, 2.5, True, "4", None])
def test_bad_block(block):
    with pytest.raises(ValueError, match=r"float8_e4m3fn.*block.*axis -1.*positive integer"):
        mx.quantize(np.ones(4), "e4m3", block=block)


def test_bad_axis_and_scalar_and_modes():
    with pytest.raises(ValueError, match=r"float4_e2m1fn.*block 2.*axis 2 is out of range.*2 dim"):
        mx.quantize(np.ones((2, 2)), "e2m1", block=2, axis=2)
    with pytest.raises(ValueError, match="at least one dimension"):
        mx.quantize(1.0, "e2m1")
    with pytest.raises(ValueError, match="unknown rounding mode"):
        mx.quantize([1.0], "e2m1", rounding="half_up")
    with pytest.raises(ValueError, match="overflow='nan' is not available for format float4_e2m1"):
        mx.quantize([1.0], "e2m1", overflow="nan")
    with pytest.raises(ValueError, match="scales have shape"):
        q = mx.quantize(np.ones(8), "e2m1", block=4)
        mx.MXArray(q.scales, q.elements, 2, 0)


def test_bad_input_values_name_the_index():
    with pytest.raises(ValueError, match=r"float4_e2m1fn.*'b' at index \(0, 1\) is not a number"):
        mx.quantize([[1.0, "b"]], "e2m1")
    with pytest.raises(ValueError, match=r"s8\.0.*'b' at index \(1,\) is not a number"):
        bfp.quantize([1, "b"], 8)


# ------------------------------------------------------------------ BFP
@given(arrays(specials=False), st.sampled_from([2, 3, 4, 8, 12, 53, 70]),
       st.sampled_from(DETERMINISTIC), st.booleans())
def test_bfp_against_oracle_and_round_trip(case, p, rounding, symmetric):
    x, axis, block = case
    b = bfp.quantize(x, p, block=block, axis=axis, rounding=rounding, symmetric=symmetric)
    exps, codes = oracle_bfp(x, p, block, axis, rounding, symmetric)
    assert b.mantissas.fmt == fxsim.FixedFormat(p, 0)
    assert b.exponents.shape == exps.shape and b.mantissas.shape == x.shape
    assert [int(e) for e in b.exponents.ravel()] == list(exps.ravel())
    assert [int(c) for c in b.mantissas.bits.ravel()] == list(codes.ravel())
    # dequantize: m * 2**e, exactly (float64 input, p <= 53) or correctly rounded
    exact = bfp.dequantize(b, exact=True)
    values = b.dequantize()
    for v, f in zip(values.ravel(), exact.ravel()):
        if abs(f) >= TWO ** 1024:  # only -2**(p-1) * 2**1023 with symmetric=False
            assert not symmetric and f == -(TWO ** 1024) and v == -np.inf
            continue
        assert v == float(f)       # float(Fraction) rounds to nearest even
        if p <= 53 and rounding != "jam":
            assert Fraction(v) == f
    # round trip (exact dequantization, a mode that leaves exact values alone)
    if symmetric and p <= 53 and rounding != "jam":
        again = bfp.quantize(values, p, block=block, axis=axis, rounding=rounding)
        assert np.array_equal(again.exponents, b.exponents)
        assert np.array_equal(again.mantissas.bits, b.mantissas.bits)


@given(arrays(specials=False), st.sampled_from([3, 8]), st.sampled_from(STOCHASTIC), st.data())
def test_bfp_stochastic_against_oracle(case, p, rounding, data):
    x, axis, block = case
    random = data.draw(hnp.arrays(np.int64, x.shape, elements=st.integers(0, 15)))
    b = bfp.quantize(x, p, block=block, axis=axis, rounding=rounding, random=random, random_bits=4)
    exps, codes = oracle_bfp(x, p, block, axis, rounding, random=random, R=4)
    assert [int(c) for c in b.mantissas.bits.ravel()] == list(codes.ravel())


def test_bfp_saturates_instead_of_bumping_the_exponent():
    # p = 8: max 127.9 -> e = 0, 127.9 rounds to 128 -> saturates to 127;
    # 0.5 keeps its precision (a tie: 0), 3.25 -> 3 (would be 2 with e = 1)
    b = bfp.quantize(np.array([127.9, 0.5, 3.25]), 8)
    assert list(b.exponents) == [0]
    assert list(b.mantissas.bits.view(np.int8)) == [127, 0, 3]
    # negative: -128 fits two's complement; symmetric (default) saturates it to -127
    def mantissas(v, **kw):
        return list(bfp.quantize(np.array(v), 8, **kw).mantissas.bits.view(np.int8))

    assert mantissas([-127.9]) == [-127]
    assert mantissas([-127.9], symmetric=False) == [-128]
    # the symmetric range is the narrowed s8.0n's; the codes stay s8.0 codes
    assert bfp.quantize(np.array([-127.9]), 8).mantissas.fmt == fxsim.FixedFormat(8, 0)
    # directed rounding can carry too
    assert mantissas([127.01], rounding="up") == [127]
    assert mantissas([127.01], rounding="down") == [127]
    # a max exactly a power of two: mantissa 2**(p-2)
    b = bfp.quantize(np.array([-64.0, 1.0]), 8)
    assert list(b.exponents) == [0] and list(b.mantissas.bits.view(np.int8)) == [-64, 1]


def test_bfp_zero_block_and_partial_block_and_axis():
    x = np.array([[0.0, -0.0, 0.0, 5.0], [1.0, 2.0, 0.0, 0.0]])
    b = bfp.quantize(x, 4, block=3)
    assert b.exponents.tolist() == [[0, 0], [-1, 0]]   # all-zero block: 0; partial block [5.0]: 2-2
    assert b.mantissas.bits.tolist() == [[0, 0, 0, 5], [2, 4, 0, 0]]
    b = bfp.quantize(x, 4, block=1, axis=0)
    assert b.exponents.shape == (2, 4) and b.axis == 0
    assert np.array_equal(b.dequantize(), x)


def test_bfp_huge_dynamic_range_and_exact_inputs():
    x = np.array([2.0 ** 1000, 2.0 ** -1000, -(2.0 ** -1074)])
    for rounding in ("nearest_even", "up", "down"):
        b = bfp.quantize(x, 8, block=3, rounding=rounding)
        exps, codes = oracle_bfp(x, 8, 3, -1, rounding)
        assert list(b.mantissas.bits) == list(codes) and list(b.exponents) == list(exps)
    big = [2 ** 200 + 1, -(2 ** 199), Fraction(1, 3)]
    b = bfp.quantize(big, 60, block=3)
    exps, codes = oracle_bfp(np.array(big, dtype=object), 60, 3, -1)
    assert list(b.mantissas.bits) == list(codes) and list(b.exponents) == list(exps)


def test_bfp_errors():
    with pytest.raises(ValueError, match=r"s8\.0.*block 4.*axis -1.*nan at index \(1, 0\)"):
        bfp.quantize(np.array([[1.0, 2.0], [np.nan, np.inf]]), 8, block=4)
    with pytest.raises(ValueError, match=r"inf at index \(1,\)"):
        bfp.quantize([1.0, float("-inf")], 8)
    with pytest.raises(ValueError, match="mantissa_bits must be an integer >= 2"):
        bfp.quantize([1.0], 1)
    with pytest.raises(ValueError, match="block must be a positive integer"):
        bfp.quantize([1.0], 8, block=0)
    with pytest.raises(ValueError, match="axis -2 is out of range"):
        bfp.quantize([1.0], 8, axis=-2)
