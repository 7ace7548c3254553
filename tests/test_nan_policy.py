"""NaN policies for formats without NaN (issue 17): ``nan=`` of encode and
quantize -- "raise" (default), "zero", "negative_zero", "max" or a code --
applied by the core's special-value step on every engine (the float16 and
float32 tables, the fused float -> fixed loop, the general kernel, the
exact Python engine), against reference/, which implements the same policy
on its own.  ml_dtypes is reported where it differs, never asserted.
"""
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

import fxsim
import reference as ref
from oracle import ref_format

F = fxsim.formats
FLOAT16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
NAN16 = FLOAT16[np.isnan(FLOAT16)]  # all 2046 NaN patterns, both signs
# formats without NaN: FP4/FP6 (finite), IEEE-like without fraction bits,
# an unsigned finite float, fixed point (narrowed too)
NO_NAN = ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn", "e3m0", "ue2m1_finite",
          "int8", "int2", "uint2", "s8.0n", "s12.4", "u3.1"]


def _policies(fmt):
    """The policies ``fmt`` takes: negative_zero only where -0 exists; a code."""
    signed_float = fmt.is_float and fmt.signed
    return ["raise", "zero", "max", 3] + (["negative_zero"] if signed_float else [])


def _ref(x, fmt, mode="nearest_even", overflow=None, nan=None):
    try:
        return ref.encode(x, ref_format(fmt), mode, overflow, nan=nan)
    except (ValueError, OverflowError) as err:
        return type(err)


@pytest.mark.parametrize("name", NO_NAN)
def test_policy_codes_against_reference(name):
    fmt = fxsim.format(name)
    for policy in _policies(fmt):
        for x in (math.nan, -math.nan):
            want = _ref(x, fmt, nan=policy)
            if want is ValueError:
                with pytest.raises(ValueError, match=fmt.name):
                    fxsim.encode(np.array([1.0, x]), fmt, nan=policy)
            else:
                assert fxsim.encode(np.array([x]), fmt, nan=policy)[0] == want, (policy, x)


def test_documented_values():
    e2m1 = F.float4_e2m1fn
    got = {p: int(fxsim.encode(np.float32(np.nan), e2m1, nan=p)) for p in ("zero", "negative_zero", "max")}
    assert got == {"zero": 0x0, "negative_zero": 0x8, "max": 0x7}
    assert fxsim.quantize(np.array([np.nan, -np.nan]), e2m1, nan="max").tolist() == [6.0, 6.0]
    assert math.copysign(1, fxsim.quantize(np.nan, e2m1, nan="negative_zero")) == -1
    assert fxsim.quantize(np.nan, "int8", nan="max") == 127
    assert fxsim.quantize(np.nan, "s8.0n", nan="max") == 127
    assert fxsim.quantize(np.nan, "int8", nan=0x80) == -128
    with pytest.raises(ValueError, match="nan='zero'"):  # the default still refuses NaN
        fxsim.encode(np.array([0.5, np.nan]), e2m1)


@pytest.mark.parametrize("mode", ["nearest_even", "down", "jam"])
@pytest.mark.parametrize("name", ["float4_e2m1fn", "float6_e3m2fn", "ue2m1_finite", "int8",
                                  "s8.0n", "u3.1"])
def test_every_float16_input_under_every_policy(name, mode):
    """All 65536 float16 inputs (the table engine).  A policy changes only
    NaN inputs: they all give reference/'s code for the policy, and every
    other input gives the code it gives without a policy -- which is
    reference/'s (asked here for the formats that are not presets, in
    nearest_even; test_exhaustive.py checks the presets in every mode)."""
    fmt = fxsim.format(name)
    overflow = "saturate"
    nan = np.isnan(FLOAT16)
    plain = FLOAT16[~nan & ~(np.isinf(FLOAT16) & (not fmt.is_float))]  # inf: no fixed-point code
    without = fxsim.encode(plain, fmt, mode, overflow)
    if mode == "nearest_even" and name not in F.PRESETS:
        want = [_ref(x, fmt, mode, overflow) for x in plain.astype(np.float64).tolist()]
        assert without.tolist() == want
    for policy in _policies(fmt):
        if policy == "raise":
            with pytest.raises(ValueError, match="NaN"):
                fxsim.encode(NAN16, fmt, mode, overflow, nan=policy)
            continue
        got = fxsim.encode(FLOAT16, fmt, mode, overflow, nan=policy) if fmt.is_float else \
            fxsim.encode(np.concatenate([plain, NAN16]), fmt, mode, overflow, nan=policy)
        got_nan = got[nan] if fmt.is_float else got[plain.size:]
        got_plain = got[~nan] if fmt.is_float else got[:plain.size]
        assert (got_plain == without).all(), policy
        assert (got_nan == _ref(math.nan, fmt, mode, overflow, nan=policy)).all(), policy
        assert _ref(-math.nan, fmt, mode, overflow, nan=policy) == got_nan[0]


@pytest.mark.parametrize("name", NO_NAN + ["s100.3", "e2m1_finite_nosub"])
def test_every_engine_gives_the_policy(name):
    """float16 (table), float32 (table / fused fixed), float64 (general kernel
    / fused fixed), a stochastic mode (general kernel) and Python numbers
    (exact engine): the same codes for NaN among ordinary values."""
    fmt = fxsim.format(name)
    values = [0.75, math.nan, -1.25, -math.nan, 2.0]
    for policy in _policies(fmt)[1:]:
        want = [_ref(x, fmt, "nearest_even", "saturate", nan=policy) for x in values]
        runs = {dt: fxsim.encode(np.array(values, dt), fmt, overflow="saturate", nan=policy)
                for dt in (np.float16, np.float32, np.float64)}
        obj = np.array([Fraction(3, 4), math.nan, Fraction(-5, 4), -math.nan, 2], dtype=object)
        runs["python"] = fxsim.encode(obj, fmt, overflow="saturate", nan=policy)
        for engine, codes in runs.items():
            assert [int(c) for c in codes] == want, (engine, policy)
        rs = np.array([0, 1, 2 ** 31, 3, 2 ** 32 - 1], np.uint64)
        want = [ref.encode(x, ref_format(fmt), "stochastic", "saturate", r=int(r), nan=policy)
                for x, r in zip(values, rs)]
        got = fxsim.encode(np.array(values), fmt, "stochastic", "saturate", nan=policy, random=rs)
        assert [int(c) for c in got] == want, ("stochastic", policy)


@pytest.mark.parametrize("name, policy, words", [
    ("float8_e4m3fn", "zero", "has NaN"),
    ("float8_e8m0fnu", "max", "has NaN"),
    ("bfloat16", "raise", "has NaN"),
    ("int8", "negative_zero", "no -0"),
    ("ue2m1_finite", "negative_zero", "no -0"),
    ("float4_e2m1fn", 16, "not a code"),
    ("int8", -1, "not a code"),
    ("s8.0n", 0x80, "never a result"),
    ("float4_e2m1fn", "nearest", "unknown NaN policy"),
    ("float4_e2m1fn", True, "unknown NaN policy"),
    ("float4_e2m1fn", 1.5, "unknown NaN policy"),
])
def test_bad_policies_are_refused(name, policy, words):
    fmt = fxsim.format(name)
    with pytest.raises(ValueError, match=words) as info:
        fxsim.encode(np.array([1.0]), fmt, nan=policy)
    assert fmt.name in str(info.value)
    assert _ref(1.0, fmt, nan=policy) is ValueError  # reference/ refuses them too


def test_numpy_integer_codes_are_codes():
    assert fxsim.encode(np.nan, "int8", nan=np.uint8(5)) == 5


# ---------------------------------------------------------------- peers
@pytest.mark.parametrize("name", ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn"])
def test_ml_dtypes_nan_into_fp4_fp6(name, record_property):
    """ml_dtypes 0.7 turns +NaN into -0 (0x8 in E2M1) and -NaN into +0:
    fxsim's ``nan="negative_zero"`` gives -0 for either sign (reference/)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    fmt = fxsim.format(name)
    x = np.concatenate([NAN16.astype(np.float32), np.array([np.nan, -np.nan], np.float32)])
    ours = fxsim.encode(x, fmt, nan="negative_zero")
    assert _ref(math.nan, fmt, nan="negative_zero") == 1 << (fmt.width - 1)
    assert (ours == 1 << (fmt.width - 1)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = x.astype(getattr(ml_dtypes, name)).view(np.uint8)
    differ = int(np.count_nonzero(ours != theirs))
    record_property(f"ml_dtypes {name} NaN differences", differ)
    if differ:
        warnings.warn(f"ml_dtypes {ml_dtypes.__version__} {name}: {differ} of {x.size} NaN inputs "
                      f"differ from nan='negative_zero' (its -NaN gives +0)")


@pytest.mark.parametrize("name", ["int2", "uint2", "int1", "uint1"])
def test_ml_dtypes_nan_into_small_ints(name):
    """ml_dtypes turns NaN into 0 for its small ints: fxsim's nan="zero"."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = NAN16.astype(np.float32)
    ours = fxsim.encode(x, name, "toward_zero", nan="zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = x.astype(getattr(ml_dtypes, name)).view(np.uint8)
    assert (ours == 0).all() and _ref(math.nan, fxsim.format(name), nan="zero") == 0
    if (theirs != ours).any():
        warnings.warn(f"ml_dtypes {name}: NaN does not give 0")


# ---------------------------------------------------------------- the operations
def _ref_op(op, a, fa, b, fb, out, nan):
    """reference/'s result, a NaN result (an error into ``out``) given the policy."""
    try:
        return getattr(ref, op)(int(a), ref_format(fa), int(b), ref_format(fb), ref_format(out))
    except ValueError:
        return ref.encode(math.nan, ref_format(out), nan=nan)


@pytest.mark.parametrize("engine", ["table", "kernel", "python"])
def test_ops_apply_the_policy(engine, python_engine, monkeypatch):
    """add/sub/mul/div/cast into FP4: NaN operands and invalid operations
    (inf - inf, 0 * inf, 0 / 0) give the policy's code -- on the table of
    two 8-bit operands, the elementwise kernel (bfloat16 operands) and the
    exact Python engine."""
    src = F.bfloat16 if engine == "kernel" else F.float8_e5m2
    if engine == "python":
        python_engine(monkeypatch)
    out = F.float4_e2m1fn
    a = fxsim.asarray([np.inf, np.nan, 1.0, 0.0, -np.nan, 3.0], src)
    b = fxsim.asarray([np.inf, 1.0, 0.5, 0.0, 2.0, np.inf], src)
    ops = {"add": fxsim.add, "sub": fxsim.subtract, "mul": fxsim.multiply, "div": fxsim.divide}
    for policy in ("zero", "negative_zero", "max", 5):
        for name, op in ops.items():
            got = op(a, b, out=out, overflow="saturate", nan=policy).bits
            want = [_ref_op(name, x, src, y, src, out, policy) for x, y in zip(a.bits, b.bits)]
            assert [int(c) for c in got] == want, (name, policy)
        cast = fxsim.cast(a, out, nan=policy).bits
        assert [int(c) for c in cast] == [ref.encode(v, ref_format(out), nan=policy)
                                         for v in a.to_float().tolist()]
    with pytest.raises(ValueError, match="NaN"):
        fxsim.subtract(a, b, out=out)
    with pytest.raises(ValueError, match="has NaN"):
        fxsim.add(a, b, out="float16", nan="zero")


def test_sqrt_and_fixed_point_out():
    x = fxsim.asarray([-1.0, 4.0, np.nan], "float16")
    assert fxsim.sqrt(x, out="s8.2", nan="max").to_float().tolist() == [127 / 4, 2.0, 127 / 4]
    assert fxsim.cast(x, "int8", nan=-3 % 256).to_float().tolist() == [-1.0, 4.0, -3.0]
    assert fxsim.cast(np.array([np.nan, 1.5]), "int8", nan="zero").to_float().tolist() == [0.0, 2.0]
