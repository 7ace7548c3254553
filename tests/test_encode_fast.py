"""The fast encode and decode engines equal the general kernel and reference/.

``codec.engine`` picks the kernel that encodes an array: a table of the
core's answers ("table": float16 input; float32 into narrow float formats),
the fused float -> fixed-point loop ("fixed": float32/float64 into fixed
point, deterministic modes), or the general kernel ("convert").  Each test
encodes the same data twice -- as chosen, and with ``engine`` forced to
"convert" -- and compares codes, dtypes and errors (type and message, which
names the first offending index); samples go to reference/ as well.
Exhaustive where the space is small (every float16, every float32 top half
with several low halves, every code of a decode table), hypothesis elsewhere.
"""
import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
from fxsim import codec
from fxsim._kernels import jit
from fxsim.exact import codes_dtype
from oracle import DETERMINISTIC, ref_encode, ref_float, same_floats

OVERFLOWS = ("wrap", "saturate", "raise")


def _run(x, fmt, mode, overflow):
    try:
        return codec.encode(x, fmt, mode, overflow)
    except (ValueError, OverflowError) as err:
        return type(err), str(err)


def _general(x, fmt, mode, overflow):
    real = codec.engine
    codec.engine = lambda *a: "convert"
    try:
        return _run(x, fmt, mode, overflow)
    finally:
        codec.engine = real


def _same(x, fmt, mode, overflow, kind=None):
    """Encode as chosen and on the general kernel; both must agree."""
    fmt = fxsim.format(fmt)
    if kind is not None and x.dtype in (np.float16, np.float32, np.float64):
        src = {np.dtype(np.float16): fxsim.formats.float16, np.dtype(np.float32): fxsim.formats.float32,
               np.dtype(np.float64): fxsim.formats.float64}[x.dtype]
        assert codec.engine(src, fmt, fxsim.Rounding(mode)) == kind
    fast = _run(x, fmt, mode, overflow)
    slow = _general(x, fmt, mode, overflow)
    if isinstance(fast, tuple) or isinstance(slow, tuple):
        assert fast == slow, (fmt.name, mode, overflow)
        return fast
    assert fast.dtype == codes_dtype(fmt) == slow.dtype
    bad = np.flatnonzero(fast != slow)
    assert bad.size == 0, (fmt.name, mode, overflow, x.reshape(-1)[bad[0]], fast[bad[0]], slow[bad[0]])
    return fast


def _fits(fmt, overflow):
    return overflow in [o.value for o in fmt.overflows]


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name,dtype", [("s8.4", np.uint8), ("u8.0", np.uint8), ("s1.0", np.uint8),
                                        ("s9.4", np.uint16), ("s16.8", np.uint16), ("s32.16", np.uint32),
                                        ("s33.0", np.uint64), ("s64.0", np.uint64), ("u64.3", np.uint64),
                                        ("float8_e4m3fn", np.uint8), ("float4_e2m1fn", np.uint8),
                                        ("bfloat16", np.uint16), ("float32", np.uint32),
                                        ("float64", np.uint64), ("s100.60", object)])
def test_encode_returns_the_smallest_code_dtype(name, dtype):
    fmt = fxsim.format(name)
    x = np.linspace(-3, 3, 7)
    inputs = [x, x.astype(np.float32), x.astype(np.float16), np.arange(-3, 4, dtype=np.int8),
              [0.5, -1.25], np.array(0.75)]
    for v in inputs:
        got = fxsim.encode(v, fmt, "nearest_even", "saturate")
        if np.ndim(got) == 0:  # a scalar: numpy's, or a Python int beyond 64 bits
            assert isinstance(got, int) if dtype is object else got.dtype == np.dtype(dtype)
        else:
            assert got.dtype == np.dtype(dtype), (name, getattr(v, "dtype", v))
    got = fxsim.encode(x, fmt, "stochastic", "saturate", rng=1)
    assert got.dtype == np.dtype(dtype)
    q = fxsim.asarray(x, fmt, overflow="saturate")
    assert q.bits.dtype == np.dtype(dtype)
    if dtype is not object:
        assert np.array_equal(q.bits, fxsim.encode(x, fmt, overflow="saturate"))
    for v in inputs[:-1]:  # encode hands over arrays of their own: a QArray cannot be unlocked
        p = fxsim.asarray(v, fmt, overflow="saturate")
        with pytest.raises(ValueError):
            p.bits.flags.writeable = True


# ---------------------------------------------------------------- float -> fixed, exhaustive
EVERY_F16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
FIXED = ["s16.8", "s8.4", "u8.0", "s12.-3", "s8.10", "s32.16", "s64.30", "u64.0", "s64.0", "s24.40"]


@pytest.mark.parametrize("name", FIXED + [fxsim.FixedFormat(8, 4, narrow=True),
                                          fxsim.FixedFormat(16, -8, narrow=True)])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_every_float16_value_into_fixed_point(name, mode):
    fmt = fxsim.format(name)
    finite = EVERY_F16[np.isfinite(EVERY_F16)]
    for dtype in (np.float64, np.float32):
        x = finite.astype(dtype)
        for overflow in OVERFLOWS:
            if _fits(fmt, overflow):
                got = _same(x, fmt, mode, overflow, "fixed")
                if dtype is np.float64 and overflow != "raise":  # and a sample against reference/
                    for i in range(0, x.size, 97):
                        assert int(got[i]) == ref_encode(float(x[i]), fmt, mode, overflow), x[i]
        # with NaN and inf: the first of them is the error, on both engines
        every = EVERY_F16.astype(dtype)
        err = _same(every, fmt, mode, "saturate", "fixed")
        assert err[0] is ValueError and "index (31744,)" in err[1]  # +inf is 0x7c00
        # the float16 table too
        _same(finite, fmt, mode, "saturate", "table")


def _float32_inputs():
    top = np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)
    low = [0, 1, 0x4000, 0x7FFF, 0x8000, 0x8001, 0xC000, 0xFFFF]
    return np.concatenate([top | np.uint32(v) for v in low]).view(np.float32)


X32 = _float32_inputs()
X32_FINITE = X32[np.isfinite(X32)]


@pytest.mark.parametrize("name", ["s16.8", "s8.0", "u16.16", "s32.-20", "s64.70", "s40.-8", "u64.64"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_float32_top_halves_into_fixed_point(name, mode):
    fmt = fxsim.format(name)
    for overflow in OVERFLOWS:
        if _fits(fmt, overflow):
            _same(X32_FINITE, fmt, mode, overflow, "fixed")
            _same(X32_FINITE.astype(np.float64), fmt, mode, overflow, "fixed")


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                                  "float6_e3m2fn", "float4_e2m1fn", "float8_e8m0fnu", "e4m3_nosub"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_float32_top_halves_into_narrow_floats(name, mode):
    fmt = fxsim.format(name)
    for overflow in fmt.overflows:
        x = X32 if fmt.has_nan else X32[~np.isnan(X32)]
        got = _same(x, fmt, mode, overflow.value, "table")
        if overflow.value == "raise" and not isinstance(got, tuple):
            raise AssertionError("raise must fail on these inputs")


def test_float16_table_into_several_formats():
    for name in ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "bfloat16", "s8.4"]:
        fmt = fxsim.format(name)
        x = EVERY_F16 if fmt.is_float and fmt.has_nan else EVERY_F16[np.isfinite(EVERY_F16)]
        for mode in DETERMINISTIC:
            _same(x, fmt, mode, "saturate", "table")


# ---------------------------------------------------------------- adversarial values, hypothesis
def _near_grid(fmt, rng, n):
    """float64 values at, beside and between the grid points of ``fmt``
    near zero, at random and at both ends of its range, plus float64's
    own extremes (subnormals, the largest finite, inf, NaN)."""
    F, lo, hi = fmt.frac, fmt.int_min, fmt.int_max
    ks = [0, 1, -1, 2, -2, 3, lo, lo + 1, lo - 1, hi, hi - 1, hi + 1]
    ks += [int(v) for v in rng.integers(max(lo, -(1 << 62)), min(hi, (1 << 62)) + 1, size=8)]
    out = []
    for k in ks:
        for half in (0, 1):  # the grid point and the tie above it
            v = math.ldexp(2 * k + half, -F - 1) if abs(2 * k + half) < (1 << 53) else \
                float(2 * k + half) * 2.0 ** (-F - 1)
            if math.isfinite(v):
                out += [v, math.nextafter(v, math.inf), math.nextafter(v, -math.inf)]
    out += [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, -1e-310, 1.7976931348623157e308,
            -1.7976931348623157e308, math.ldexp(1, 63 - F), -math.ldexp(1, 63 - F),
            math.ldexp(1, 64 - F), math.nextafter(math.ldexp(1, 63 - F), 0.0)]
    out += list(rng.normal(0, 2.0 ** (fmt.word - 1 - F), size=n))
    out += list(rng.standard_cauchy(size=n) * 2.0 ** (-F))
    out = np.array([v for v in out if math.isfinite(v)], np.float64)
    rng.shuffle(out)
    return out


fixed_formats = st.builds(lambda w, f, s, n: fxsim.FixedFormat(w, f, signed=s, narrow=n and s and w > 1),
                          st.integers(1, 64), st.integers(-8, 70), st.booleans(),
                          st.integers(0, 3).map(lambda v: v == 0))


@given(fmt=fixed_formats, mode=st.sampled_from(DETERMINISTIC), overflow=st.sampled_from(OVERFLOWS),
       seed=st.integers(0, 2**32 - 1), extra=st.lists(st.floats(width=64), max_size=8),
       special=st.sampled_from([None, math.nan, math.inf, -math.inf]), at=st.floats(0, 1))
def test_hypothesis_float64_into_fixed_point(fmt, mode, overflow, seed, extra, special, at):
    if not _fits(fmt, overflow):
        overflow = "saturate"
    rng = np.random.default_rng(seed)
    x = np.concatenate([_near_grid(fmt, rng, 24), np.array(extra, np.float64)])
    if special is not None:
        x = np.insert(x, int(at * x.size), special)
    got = _same(x, fmt, mode, overflow, "fixed")
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    _same(x32, fmt, mode, overflow, "fixed")
    if isinstance(got, tuple):
        # the error names the first value reference/ cannot encode
        first = next(i for i, v in enumerate(x)
                     if isinstance(ref_encode(float(v), fmt, mode, overflow), type))
        assert f"index ({first},)" in got[1], (got, x[first])
        x = x[:first]
        got = codec.encode(x, fmt, mode, overflow)
    for i in range(0, x.size, max(1, x.size // 40)):
        assert int(got[i]) == ref_encode(float(x[i]), fmt, mode, overflow), (fmt, mode, overflow, x[i])


@given(mode=st.sampled_from(DETERMINISTIC), x=st.lists(st.floats(width=32, allow_nan=False), min_size=1,
                                                        max_size=40),
       name=st.sampled_from(["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "float6_e2m3fn",
                             "float8_e4m3fnuz", "float8_e8m0fnu"]))
def test_hypothesis_float32_table_against_reference(mode, x, name):
    fmt = fxsim.format(name)
    x = np.array(x, np.float32)
    for overflow in fmt.overflows:
        got = _same(x, fmt, mode, overflow.value, "table")
        if not isinstance(got, tuple):
            for v, code in zip(x, got):
                assert int(code) == ref_encode(float(v), fmt, mode, overflow.value)


# ---------------------------------------------------------------- errors, chunks and threads
def test_first_error_across_chunks_and_engines():
    """A fast-path overflow and a rare input (NaN, inf, huge) in different
    chunks: the error names whichever comes first."""
    fmt = fxsim.format("s16.8")
    n = 5 * jit.CHUNK + 123
    x = np.random.default_rng(3).normal(0, 20, n)
    for over_at, rare_at, rare in [(3 * jit.CHUNK + 7, 2 * jit.CHUNK + 9, 1e300),
                                   (jit.CHUNK + 5, 4 * jit.CHUNK, math.inf),
                                   (4 * jit.CHUNK + 1, 4 * jit.CHUNK + 2, -1e200),
                                   (4 * jit.CHUNK + 3, 4 * jit.CHUNK + 2, math.nan)]:
        y = x.copy()
        y[over_at], y[rare_at] = 200.0, rare
        err = _same(y, fmt, "nearest_even", "raise", "fixed")
        first = min(over_at, rare_at)  # every rare value here fails too (inf, NaN: ValueError)
        assert f"index ({first},)" in err[1], (err, first)
        assert err[0] is (ValueError if first == rare_at and not abs(rare) < math.inf else OverflowError)
        # under saturate and wrap the rare values (but for NaN/inf) are coded by the general kernel
        for overflow in ("saturate", "wrap"):
            got = _same(y, fmt, "nearest_even", overflow, "fixed")
            if not isinstance(got, tuple):
                assert int(got[rare_at]) == ref_encode(rare, fmt, "nearest_even", overflow)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_table_errors_name_the_first_index_across_chunks(dtype):
    n = 4 * jit.CHUNK + 11
    x = np.clip(np.random.default_rng(4).normal(0, 0.5, n), -2, 2).astype(dtype)
    x[3 * jit.CHUNK + 2], x[3 * jit.CHUNK + 1], x[jit.CHUNK + 7] = np.nan, np.inf, 1e4
    for name, overflow, first in [("float4_e2m1fn", "saturate", 3 * jit.CHUNK + 2),   # no NaN there
                                  ("float4_e2m1fn", "raise", jit.CHUNK + 7),          # 1e4 overflows
                                  ("float8_e4m3fn", "raise", jit.CHUNK + 7)]:
        for mode in ("nearest_even", "toward_zero", "up"):
            err = _same(x, fxsim.format(name), mode, overflow, "table")
            assert f"index ({first},)" in err[1], (name, mode, err)
    assert not isinstance(_same(x, fxsim.format("float8_e5m2"), "up", "raise", "table"), tuple)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="a 1-vs-2-threads comparison needs a Numba pool of at least 2 threads (NUMBA_NUM_THREADS)")
def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(9)
    n = 6 * jit.CHUNK + 17
    x = rng.normal(0, 100, n)
    x[rng.integers(0, n, 40)] = 1e30  # rare inputs in several chunks
    x32 = x.astype(np.float32)
    codes8 = rng.integers(0, 256, n).astype(np.uint8)
    runs = []
    for threads in (1, 2):
        with jit.exact_threads(threads):
            r = [fxsim.encode(x, "s16.8", "nearest_even", "saturate")]
            assert jit.last_threads() == threads
            r.append(fxsim.encode(x32, "float8_e4m3fn", "nearest_even"))
            assert jit.last_threads() == threads
            r.append(fxsim.decode(codes8, "float8_e4m3fn"))
            assert jit.last_threads() == threads
            r.append(fxsim.encode(x, "float8_e4m3fn", "up"))  # the general kernel
            assert jit.last_threads() == threads
            try:
                fxsim.encode(x, "s16.8", "nearest_even", "raise")
            except OverflowError as err:
                r.append(str(err))
            runs.append(r)
    for a, b in zip(*runs):
        if isinstance(a, str):
            assert a == b
        else:
            assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))


# ---------------------------------------------------------------- decode
@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e8m0fnu",
                                  "float4_e2m1fn", "float6_e3m2fn", "s8.4", "u8.3", "float16", "bfloat16",
                                  "s16.8"])
def test_decode_every_code_equals_the_general_kernel_and_reference(name):
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    general, failure = codec.convert(codes, fmt, fxsim.formats.float64, fxsim.Rounding.NEAREST_EVEN,
                                     fxsim.Overflow.IEEE, np.empty(0, np.uint64), 1, np.float64)
    assert failure is None
    for dtype in (codes_dtype(fmt), np.uint16, np.uint32, np.uint64, np.int64):
        c = codes.astype(dtype)
        got = fxsim.decode(c, fmt)
        assert same_floats(got, general).all() and got.dtype == np.float64
        c.flags.writeable = False  # a QArray's codes: read-only, decoded in place
        assert same_floats(fxsim.decode(c, fmt), general).all()
        assert same_floats(fxsim.decode(c[::-1], fmt), general[::-1]).all()
    want = [ref_float(c, fmt) for c in codes[:: max(1, codes.size // 512)]]
    assert same_floats(general[:: max(1, codes.size // 512)], want).all()
    q = fxsim.from_bits(codes, fmt)
    assert same_floats(np.asarray(q), general).all()


def test_decode_reports_the_first_code_out_of_range():
    n = 3 * jit.CHUNK
    codes = np.zeros(n, np.uint8)
    codes[2 * jit.CHUNK + 5] = 16
    codes[2 * jit.CHUNK + 9] = 200
    with pytest.raises(ValueError, match=rf"index \({2 * jit.CHUNK + 5},\)"):
        fxsim.decode(codes, "float4_e2m1fn")
    big = np.zeros(4, np.uint64)
    big[1] = np.uint64(1 << 63)
    with pytest.raises(ValueError, match=r"index \(1,\)"):
        fxsim.decode(big, "float8_e4m3fn")
