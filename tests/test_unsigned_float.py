"""Unsigned floats (issue 17): ``FloatFormat(..., signed=False)``, the presets
``float8_e5m3fnu`` (ml_dtypes 0.7) and ``ue4m3`` (NVFP4's block scale), and
E8M0 as the unsigned ``fn`` rule without fraction bits.

Oracles: reference/ (every code, every float16 input, every deterministic
mode and overflow policy, the stochastic modes with given random bits);
the identity "ue4m3 is e4m3fn without its sign bit" (torchao stores UE4M3
scales as torch.float8_e4m3fn of positive values); ml_dtypes 0.7.0 as a
test-only peer for float8_e5m3fnu (its answers are asserted only where
they agree with reference/).

(test_exhaustive.py runs the two presets through every deterministic mode
and every overflow policy on all float16 inputs, since they are presets of
at most 8 bits; here the stochastic modes get all float16 inputs and the
non-preset unsigned formats every value, midpoint and neighbour.)
"""
import math
import warnings

import numpy as np
import pytest

import fxsim
from oracle import DETERMINISTIC, ref_encode, ref_float, same_floats

F = fxsim.formats
FLOAT16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
# Unsigned formats beyond the presets: every kind that may be unsigned,
# another bias, no subnormals.
VARIANTS = ["ue5m2ieee", "ue2m1_finite", "e4m3b5fnu_nosub", "ue3m2b2_finite_nosub"]
UNSIGNED = ["float8_e5m3fnu", "ue4m3", "float8_e8m0fnu"] + VARIANTS


def _ref_codes(xs, fmt, mode, overflow, rs=None, R=32):
    """reference/'s code (or exception class) for each float in ``xs``."""
    if rs is None:
        return [ref_encode(x, fmt, mode, overflow) for x in xs]
    return [ref_encode(x, fmt, mode, overflow, int(r), R) for x, r in zip(xs, rs)]


def _every_policy(xs, fmt, mode, rs=None, R=32):
    """fxsim against reference/ on the array ``xs`` under every overflow
    policy of ``fmt``.  The policy only matters below and beyond the range,
    so reference/ is asked once per input under the default policy and once
    more per policy where the input is negative, NaN or beyond max, or its
    result is an end of the range (0, max), NaN, inf or an error."""
    xl = xs.astype(np.float64).tolist()
    kw = {} if rs is None else {"random": rs, "random_bits": R}
    default = fmt.default_overflow.value
    base = _ref_codes(xl, fmt, mode, default, rs, R)
    top = float(fmt.max_exact)
    ends = {0, fmt.max_code} | {c for c in range(1 << fmt.width) if not math.isfinite(ref_float(c, fmt))}
    sensitive = [i for i, (x, b) in enumerate(zip(xl, base))
                 if not 0 <= x <= top or not isinstance(b, int) or b in ends]
    for policy in fmt.overflows:
        expected = list(base)
        if policy.value != default:
            again = _ref_codes([xl[i] for i in sensitive], fmt, mode, policy.value,
                               None if rs is None else rs[sensitive], R)
            for i, code in zip(sensitive, again):
                expected[i] = code
        _check(xs, fmt, mode, policy.value, expected, **kw)


def _hard_values(fmt):
    """Every finite value of ``fmt`` with both signs, the midpoints between
    neighbours, a float64 ulp either side of each, beyond max, the specials."""
    v = fxsim.decode(np.arange(1 << fmt.width, dtype=np.uint64), fmt)
    v = np.unique(v[np.isfinite(v)])
    pts = np.concatenate([v, (v[:-1] + v[1:]) / 2, [v[-1] * 1.5, v[-1] * 2, 2.0 ** -200]])
    pts = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf)])
    pts = np.unique(np.concatenate([pts, -pts, [np.inf, -np.inf, 1e300, -1e300]]))
    return np.concatenate([pts, [-0.0, np.nan, -np.nan]])


def _check(xs, fmt, mode, overflow, expected, **kw):
    """fxsim's codes of the float16 array ``xs`` equal ``expected`` where the
    reference gives a code, and fxsim raises the reference's error alone."""
    ok = np.array([isinstance(e, int) for e in expected])
    got = fxsim.encode(xs[ok], fmt, mode, overflow, **{k: (v[ok] if k == "random" else v)
                                                      for k, v in kw.items()})
    want = np.array([e for e in expected if isinstance(e, int)], dtype=np.uint64)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (fmt.name, mode, overflow, float(xs[ok][bad[0]]), int(got[bad[0]]),
                           int(want[bad[0]]))
    for i in np.flatnonzero(~ok)[:3]:  # each kind of error, on its own
        kwi = {k: (v[i:i + 1] if k == "random" else v) for k, v in kw.items()}
        with pytest.raises(expected[i]):
            fxsim.encode(xs[i:i + 1], fmt, mode, overflow, **kwi)


# ---------------------------------------------------------------- the formats
def test_float8_e5m3fnu_is_ml_dtypes_type():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    fmt, info = F.float8_e5m3fnu, ml_dtypes.finfo(ml_dtypes.float8_e5m3fnu)
    assert (fmt.width, fmt.exp, fmt.man, fmt.bias, fmt.signed) == (8, 5, 3, 15, False)
    assert (fmt.has_inf, fmt.has_nan, fmt.max_code) == (False, True, 0xFE)
    assert fmt.max == float(info.max) == 114688.0 and fmt.min == float(info.min) == 0.0
    assert fmt.tiny == float(info.smallest_normal) and fmt.eps == float(info.eps)
    assert fxsim.decode(1, fmt) == float(info.smallest_subnormal) == 2.0 ** -17
    assert math.isnan(fxsim.decode(0xFF, fmt)) and fxsim.decode(0xFE, fmt) == 1.75 * 2 ** 16


def test_ue4m3_is_e4m3fn_without_its_sign_bit():
    """UE4M3 codes are the e4m3fn codes 0x00..0x7F: 0x7E = 448, 0x7F NaN."""
    fmt = F.ue4m3
    assert (fmt.width, fmt.bias, fmt.max_code, fmt.max, fmt.tiny) == (7, 7, 0x7E, 448.0, 2.0 ** -6)
    codes = np.arange(128, dtype=np.uint8)
    assert same_floats(fxsim.decode(codes, fmt), fxsim.decode(codes, F.float8_e4m3fn)).all()
    assert math.isnan(fxsim.decode(0x7F, fmt)) and fxsim.encode(np.nan, fmt) == 0x7F
    assert fxsim.encode(np.array([1.0]), fmt).dtype == np.uint8


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_ue4m3_encodes_non_negative_values_as_e4m3fn(mode):
    """Every non-negative float16 (and NaN) under every policy: the e4m3fn code."""
    x = FLOAT16[~np.signbit(FLOAT16)]
    for policy in F.ue4m3.overflows:
        if policy.value == "raise":
            x = x[~(x >= 448)]  # (NaN kept) nothing here overflows, in any mode
        ours = fxsim.encode(x, F.ue4m3, mode, policy)
        assert (ours == fxsim.encode(x, F.float8_e4m3fn, mode, policy)).all(), policy


@pytest.mark.parametrize("name", UNSIGNED)
def test_names_print_and_parse_back(name):
    fmt = fxsim.format(name)
    assert not fmt.signed and fmt.width == fmt.exp + fmt.man
    assert fxsim.format(str(fmt)) == fmt and fxsim.format(fmt.name) == fmt
    assert eval(repr(fmt), {"FloatFormat": fxsim.FloatFormat}) == fmt


def test_spellings_of_unsigned_floats():
    assert fxsim.format("e5m3fnu") is F.float8_e5m3fnu
    assert fxsim.format("ue4m3") is F.ue4m3 and fxsim.format("ue4m3fn") == F.ue4m3
    assert fxsim.format("e4m3fnu") == F.ue4m3 and F.ue4m3.name == "ue4m3"
    assert fxsim.format("ue5m2ieee") == fxsim.FloatFormat(5, 2, signed=False)
    assert fxsim.format("ue5m2") == fxsim.FloatFormat(5, 2, signed=False)
    assert fxsim.FloatFormat(2, 1, special="finite", signed=False).name == "ue2m1_finite"
    assert fxsim.FloatFormat(5, 3, bias=9, special="fn", signed=False).name == "e5m3b9fnu"


def test_e8m0_is_the_unsigned_fn_rule_without_fraction_bits():
    e8m0 = fxsim.FloatFormat(8, 0, special="fn", signed=False)
    assert e8m0 == F.float8_e8m0fnu and e8m0.special == "e8m0" and not e8m0.signed
    assert fxsim.FloatFormat(8, 0, special="e8m0") == e8m0  # always unsigned
    assert fxsim.format("e8m0fnu") is F.float8_e8m0fnu and F.float8_e8m0fnu.name == "float8_e8m0fnu"
    assert fxsim.format("e4m0fnu") == fxsim.FloatFormat(4, 0, special="e8m0")
    # the same NaN (all ones) and max (all ones but one) as the fn kind with fraction bits
    assert (e8m0.max_code, F.float8_e5m3fnu.max_code) == (0xFE, 0xFE)


@pytest.mark.parametrize("kw, words", [
    (dict(special="fnuz"), "negative-zero pattern"),
    (dict(man=0), "no NaN"),
])
def test_kinds_that_cannot_be_unsigned_are_refused(kw, words):
    args = dict(exp=4, man=3, signed=False) | kw
    with pytest.raises(ValueError, match=words):
        fxsim.FloatFormat(**args)


def test_min_of_unsigned_formats():
    assert F.float8_e5m3fnu.min == 0.0 and F.ue4m3.min == 0.0
    assert F.float8_e8m0fnu.min == 2.0 ** -127  # no zero: its smallest scale


# ---------------------------------------------------------------- against reference/
@pytest.mark.parametrize("name", VARIANTS)
def test_every_code_decodes_like_reference(name):
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    assert same_floats(fxsim.decode(codes, fmt), [ref_float(c, fmt) for c in codes]).all()
    values = fxsim.decode(codes, fmt)
    finite = values[np.isfinite(values)]
    assert [int(c) for c in fxsim.encode(finite, fmt)] == [ref_encode(v, fmt) for v in finite]


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("name", VARIANTS)
def test_hard_values_every_mode_every_policy(name, mode):
    """Every value of the format (both signs), midpoints, a float64 ulp
    either side, beyond max, the specials (float64: the general kernel)."""
    fmt = fxsim.format(name)
    _every_policy(_hard_values(fmt), fmt, mode)


@pytest.mark.parametrize("mode", ["stochastic", "stochastic_equal"])
@pytest.mark.parametrize("name", ["float8_e5m3fnu", "ue4m3"])
def test_stochastic_modes_on_every_float16_input(name, mode):
    """Random bits given per element (R = 8), negative inputs included,
    every overflow policy.  (test_exhaustive.py has the deterministic modes.)"""
    fmt = fxsim.format(name)
    rs = np.random.default_rng(17).integers(0, 256, FLOAT16.size, dtype=np.uint64)
    _every_policy(FLOAT16, fmt, mode, rs, 8)


# ---------------------------------------------------------------- negative values
@pytest.mark.parametrize("name", ["float8_e5m3fnu", "ue4m3", "ue5m2ieee", "ue2m1_finite"])
def test_negative_values_are_below_the_range(name):
    """-0 is +0; a negative value (also one that would round to -0, and -inf)
    is NaN under nan/ieee, the least code 0 under saturate, an
    OverflowError naming the index under raise."""
    fmt = fxsim.format(name)
    neg = FLOAT16[np.signbit(FLOAT16) & ~np.isnan(FLOAT16) & (FLOAT16 != 0)]
    for policy in fmt.overflows:
        assert fxsim.encode(np.float32(-0.0), fmt, overflow=policy) == 0
        if policy.value == "raise":
            with pytest.raises(OverflowError, match=r"index \(1,\)"):
                fxsim.encode(np.array([1.0, -2.0 ** -30]), fmt, "up", policy)
            continue
        want = 0 if policy.value == "saturate" else fmt.exact_spec.nan_code
        for mode in ("nearest_even", "up", "toward_zero", "jam"):
            assert (fxsim.encode(neg, fmt, mode, policy) == want).all(), (policy, mode)
        assert ref_encode(-1e-300, fmt, "up", policy.value) == want


def test_unsigned_arithmetic_results():
    """A negative difference into an unsigned format: the same rule (reference/)."""
    import reference as ref
    from oracle import ref_format
    fmt = F.float8_e5m3fnu
    a, b = fxsim.asarray([1.0, 3.0, 2.0], fmt), fxsim.asarray([2.0, 1.0, 2.0], fmt)
    for policy in ("saturate", "nan"):
        got = fxsim.subtract(a, b, out=fmt, overflow=policy).bits
        want = [ref.sub(int(x), ref_format(fmt), int(y), ref_format(fmt), ref_format(fmt),
                        "nearest_even", policy) for x, y in zip(a.bits, b.bits)]
        assert [int(c) for c in got] == want
    two = int(fxsim.encode(2.0, fmt))
    assert [int(c) for c in fxsim.subtract(a, b, out=fmt, overflow="saturate").bits] == [0, two, 0]


# ---------------------------------------------------------------- ml_dtypes 0.7.0
def _hard_inputs(fmt):
    """Every float16 value, every code's value and midpoint, a float32 ulp
    either side, random values, the specials."""
    parts = [FLOAT16.astype(np.float32)]
    values = fxsim.decode(np.arange(1 << fmt.width, dtype=np.uint64), fmt)
    values = np.sort(values[np.isfinite(values)])
    for v in (values, (values[:-1] + values[1:]) / 2):
        v32 = v.astype(np.float32)
        parts += [v32, np.nextafter(v32, np.float32(np.inf)), np.nextafter(v32, np.float32(-np.inf))]
    rng = np.random.default_rng(5)
    parts.append((rng.standard_normal(50_000) * fmt.max / 4).astype(np.float32))
    parts.append(np.array([np.inf, -np.inf, 0.0, -0.0, np.nan, -np.nan, 3e38, -1e-45], np.float32))
    return np.concatenate(parts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float8_e5m3fnu_matches_ml_dtypes(dtype, record_property):
    """fxsim's default (nearest even, overflow to NaN; negative values NaN)
    against ml_dtypes' cast; every difference must be fxsim == reference/."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    fmt = F.float8_e5m3fnu
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = _hard_inputs(fmt).astype(dtype)
    ours = fxsim.encode(x, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = x.astype(ml_dtypes.float8_e5m3fnu).view(np.uint8)
    bad = np.flatnonzero(ours != theirs)
    for i in bad:
        assert int(ours[i]) == ref_encode(float(x[i]), fmt), x[i]
    record_property("ml_dtypes float8_e5m3fnu differences", int(bad.size))
    if bad.size:
        warnings.warn(f"ml_dtypes {ml_dtypes.__version__} float8_e5m3fnu differs from fxsim on "
                      f"{bad.size} {np.dtype(dtype).name} inputs, first {x[bad[0]]!r}: "
                      f"ml_dtypes 0x{int(theirs[bad[0]]):x}, fxsim 0x{int(ours[bad[0]]):x}")


def test_float8_e5m3fnu_decodes_like_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    codes = np.arange(256, dtype=np.uint8)
    theirs = codes.view(ml_dtypes.float8_e5m3fnu).astype(np.float64)
    assert same_floats(fxsim.decode(codes, F.float8_e5m3fnu), theirs).all()


# ---------------------------------------------------------------- int1/int2/uint1/uint2
# (the other new types of ml_dtypes 0.7: plain fixed-point presets)
SMALL_INTS = {"int1": (1, True, -1, 0), "int2": (2, True, -2, 1),
              "uint1": (1, False, 0, 1), "uint2": (2, False, 0, 3)}


@pytest.mark.parametrize("name", list(SMALL_INTS))
def test_small_int_presets(name):
    word, signed, lo, hi = SMALL_INTS[name]
    fmt = fxsim.format(name)
    assert fmt == fxsim.FixedFormat(word, 0, signed=signed) and fxsim.format(fmt.name) == fmt
    assert (fmt.int_min, fmt.int_max, fmt.min, fmt.max) == (lo, hi, lo, hi)
    codes = np.arange(1 << word, dtype=np.uint64)
    assert fxsim.decode(codes, fmt).tolist() == [ref_float(c, fmt) for c in codes]
    ml_dtypes = pytest.importorskip("ml_dtypes")
    info = ml_dtypes.iinfo(getattr(ml_dtypes, name))
    assert (int(info.min), int(info.max)) == (lo, hi)
    theirs = codes.astype(np.uint8).view(getattr(ml_dtypes, name)).astype(np.float64)
    assert fxsim.decode(codes, fmt).tolist() == theirs.tolist()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(SMALL_INTS))
def test_small_ints_match_ml_dtypes_casts(name, dtype, record_property):
    """Every float16 value (as float32/float64): ml_dtypes truncates toward
    zero, as fxsim's ``toward_zero``; beyond the range it gives 0 (fxsim
    saturates: reported, and fxsim == reference/ there), NaN gives 0
    (fxsim's ``nan="zero"``)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    fmt = fxsim.format(name)
    x = FLOAT16[~np.isinf(FLOAT16)].astype(dtype)
    ours = fxsim.encode(x, fmt, "toward_zero", nan="zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = x.astype(getattr(ml_dtypes, name)).view(np.uint8) & np.uint8((1 << fmt.width) - 1)
    with np.errstate(invalid="ignore"):
        t = np.trunc(x.astype(np.float64))
    inside = np.isnan(x) | ((t >= fmt.int_min) & (t <= fmt.int_max))
    assert (ours[inside] == theirs[inside]).all()
    outside = np.flatnonzero(~inside)
    for i in outside[:: max(1, outside.size // 300)]:
        assert int(ours[i]) == ref_encode(float(x[i]), fmt, "toward_zero", "saturate"), x[i]
    differ = int(np.count_nonzero(ours[outside] != theirs[outside]))
    record_property(f"ml_dtypes {name} out-of-range differences", differ)


@pytest.mark.parametrize("name", list(SMALL_INTS))
def test_small_ints_wrap_like_ml_dtypes_integer_casts(name):
    """Every int8 into the small ints: ml_dtypes keeps the low bits, as
    fxsim's ``overflow="wrap"`` (reference/ agrees)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    fmt = fxsim.format(name)
    x = np.arange(-128, 128, dtype=np.int8)
    ours = fxsim.encode(x, fmt, overflow="wrap")
    theirs = x.astype(getattr(ml_dtypes, name)).view(np.uint8) & np.uint8((1 << fmt.width) - 1)
    assert ours.tolist() == theirs.tolist() == [ref_encode(int(v), fmt, "nearest_even", "wrap") for v in x]
