"""fxsim.matmul / fxsim.conv2d against independent oracles: numpy integer
matmul, a numpy float32 loop in the stated order, Python ints, and
reference/linalg.py (Fractions, one reference.encode per step)."""
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fxsim
import reference as ref
from fxsim import linalg_engines
from fxsim._kernels import gemm, jit
from oracle import ref_format, tiny_floats

DETERMINISTIC = [m.value for m in fxsim.Rounding if not m.is_stochastic]


# ---------------------------------------------------------------- integers
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 7, 3), (33, 100, 17), (4, 1000, 6)])
def test_int8_exact_equals_numpy_int64(m, k, n):
    rng = np.random.default_rng(k)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    a[0, 0] = b[0, 0] = -128
    got = fxsim.matmul(a, b)
    assert got.fmt == fxsim.FixedFormat(16 + max(k - 1, 0).bit_length(), 0)
    np.testing.assert_array_equal(got.to_float(), a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("wa,wb,k", [(24, 24, 300), (31, 20, 50), (40, 40, 9), (63, 5, 4)])
def test_wide_exact_equals_python_ints(wa, wb, k):
    """The float64-chunk, int64 and Python-int paths of the exact GEMM."""
    rng = np.random.default_rng(wa + wb + k)
    fa, fb = fxsim.FixedFormat(wa, 3), fxsim.FixedFormat(wb, 0, signed=False)
    ia = [[int(v) for v in rng.integers(-(1 << (wa - 1)), 1 << (wa - 1), k)] for _ in range(3)]
    ib = [[int(v) for v in rng.integers(0, 1 << min(wb, 62), 4)] for _ in range(k)]
    ia[0][0] = -(1 << (wa - 1))
    qa = fxsim.from_bits(np.array([[v & ((1 << wa) - 1) for v in row] for row in ia], np.uint64), fa)
    qb = fxsim.from_bits(np.array(ib, np.uint64), fb)
    got = fxsim.matmul(qa, qb)
    exact = [[sum(ia[i][t] * ib[t][j] for t in range(k)) for j in range(4)] for i in range(3)]
    values = got.to_exact()
    for i in range(3):
        for j in range(4):
            assert values[i, j] * 8 == exact[i][j]


def _ints(q):
    return np.asarray(np.vectorize(lambda v: int(v * (1 << q.fmt.frac)))(q.to_exact()), object)


def test_wrapping_accumulator_is_the_exact_sum_modulo():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (9, 200)).astype(np.int8)
    b = rng.integers(-128, 128, (200, 7)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    expected = ((exact + 2**15) % 2**16) - 2**15
    for order in ("sequential", "pairwise", 8):
        got = fxsim.matmul(a, b, acc="s16.0", overflow="wrap", order=order)
        np.testing.assert_array_equal(got.to_float(), expected)


def _reference(a, b, c=None, **kw):
    """reference.matmul on the codes; the exception class if it raises."""
    for key in ("mul", "acc", "out"):
        if kw.get(key) is not None:
            kw[key] = ref_format(fxsim.format(kw[key]))
    cc = None if c is None else c.bits.astype(object).tolist()
    fc = None if c is None else ref_format(c.fmt)
    try:
        return ref.matmul(a.bits.astype(object).tolist(), ref_format(a.fmt),
                          b.bits.astype(object).tolist(), ref_format(b.fmt), c=cc, fc=fc, **kw)
    except (ValueError, OverflowError) as err:
        return type(err)


def _fxsim(a, b, c=None, **kw):
    try:
        return fxsim.matmul(a, b, c, **kw).bits.astype(object).tolist()
    except (ValueError, OverflowError) as err:
        return type(err)


@pytest.mark.parametrize("order", ["sequential", 1, 3, 64])
@pytest.mark.parametrize("acc", ["s16.0", "s12.0", "u10.2", "s12.0n", "s8.0n"])
@pytest.mark.parametrize("rounding", ["nearest_even", "jam"])
def test_saturating_accumulator_equals_reference(order, acc, rounding):
    """Saturation after every addition (the integer kernel), vs reference;
    jam changes even exact sums (it forces the last bit), so it cannot
    skip the core."""
    rng = np.random.default_rng(4)
    a = fxsim.asarray(rng.integers(-128, 128, (4, 40)).astype(np.int8))
    b = fxsim.asarray(rng.integers(-128, 128, (40, 3)).astype(np.int8))
    c = fxsim.asarray(rng.integers(-300, 300, (4, 3)), "s12.0", overflow="saturate")
    for cc in (None, c):
        kw = dict(acc=fxsim.format(acc), order=order, overflow="saturate", rounding=rounding)
        assert _fxsim(a, b, cc, **kw) == _reference(a, b, cc, **kw)


def test_fixed_kernel_equals_stepwise_engine(monkeypatch):
    rng = np.random.default_rng(5)
    a = fxsim.asarray(rng.integers(-128, 128, (6, 50)).astype(np.int8))
    b = fxsim.asarray(rng.integers(-128, 128, (50, 5)).astype(np.int8))
    cases = [dict(acc="s16.0", overflow=o, order=order)
             for o in ("saturate", "wrap") for order in ("sequential", 4, "pairwise")]
    fast = [_fxsim(a, b, **kw) for kw in cases]
    monkeypatch.setattr(linalg_engines, "fixed_ok", lambda *args: False)
    assert fast == [_fxsim(a, b, **kw) for kw in cases]


def test_raising_accumulator_names_the_output():
    a = fxsim.asarray(np.array([[100, 100, 0], [1, 1, 1]], np.int8))
    b = fxsim.asarray(np.array([[1], [1], [1]], np.int8))
    with pytest.raises(OverflowError, match=r"s8\.0.*at output \(0, 0\)"):
        fxsim.matmul(a, b, acc="s8.0", overflow="raise")


# ---------------------------------------------------------------- floats
def _numpy_float32_loop(x, y, c=None):
    """s = c (or the first product), then s = float32(s + x[i,k] * y[k,j])."""
    m, k = x.shape
    s = c.copy() if c is not None else (x[:, :1] * y[:1, :]).astype(np.float32)
    for t in range(0 if c is not None else 1, k):
        s = (s + x[:, t:t + 1] * y[t:t + 1, :]).astype(np.float32)
    return s


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "float8_e5m2", "float16"])
def test_float32_accumulation_equals_numpy_loop(fmt):
    rng = np.random.default_rng(6)
    x = fxsim.asarray(rng.standard_normal((17, 300)) * 8, fmt, overflow="saturate")
    y = fxsim.asarray(rng.standard_normal((300, 9)) * 8, fmt, overflow="saturate")
    xf, yf = x.to_float().astype(np.float32), y.to_float().astype(np.float32)
    got = fxsim.matmul(x, y, acc="float32")
    assert got.fmt == fxsim.formats.float32
    np.testing.assert_array_equal(got.to_float(), _numpy_float32_loop(xf, yf))
    c = (rng.standard_normal((17, 9)) * 100).astype(np.float32)
    got = fxsim.matmul(x, y, c, acc="float32")
    np.testing.assert_array_equal(got.to_float(), _numpy_float32_loop(xf, yf, c))


def test_hardware_engine_equals_stepwise_engine(monkeypatch):
    """Specials, signed zeros, overflow to inf: the machine's float32
    additions against the rounding core, step by step."""
    rng = np.random.default_rng(7)
    e5m2 = fxsim.formats.float8_e5m2
    bits_a = rng.integers(0, 256, (6, 24)).astype(np.uint8)
    bits_b = rng.integers(0, 256, (24, 5)).astype(np.uint8)
    bits_a[0] = 0x80  # -0 row: its products are signed zeros
    a, b = fxsim.from_bits(bits_a, e5m2), fxsim.from_bits(bits_b, e5m2)
    c = fxsim.asarray(np.array([0.0, -0.0, 1e38, -np.inf, 3.0]), "float32")
    cases = [(None, "float32"), (c, "float32"), (None, "float64")]
    fast = [_fxsim(a, b, cc, acc=acc) for cc, acc in cases]
    monkeypatch.setattr(linalg_engines, "hardware_ok", lambda *args: False)
    assert fast == [_fxsim(a, b, cc, acc=acc) for cc, acc in cases]      # the fma kernel
    monkeypatch.setattr(linalg_engines, "core_ok", lambda *args: False)
    assert fast == [_fxsim(a, b, cc, acc=acc) for cc, acc in cases]      # step by step


@pytest.mark.parametrize("fa,fb,acc,rounding,overflow", [
    ("float8_e4m3fn", "float8_e4m3fn", "bfloat16", "nearest_even", None),
    ("float8_e5m2", "float16", "float16", "toward_zero", "saturate"),
    ("bfloat16", "bfloat16", "float32", "up", None),
    ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fn", "nearest_away", "saturate"),
    ("s8.3", "float8_e4m3fn", "s12.4", "nearest_even", "saturate"),
    ("s8.3", "s8.5", "s10.4", "jam", "saturate"),
    ("float16", "float16", "s16.8", "down", "saturate")])
def test_fma_kernel_equals_stepwise_engine(monkeypatch, fa, fb, acc, rounding, overflow):
    """The one-kernel sequential accumulation (an exact fma rounded per
    step) against the stepwise engine (ops.add of exact products)."""
    rng = np.random.default_rng(14)
    fa, fb = fxsim.format(fa), fxsim.format(fb)
    a = fxsim.from_bits(rng.integers(0, 1 << fa.width, (5, 30)), fa) if fa.is_float else \
        fxsim.asarray(rng.standard_normal((5, 30)) * 4, fa, overflow="saturate")
    b = fxsim.from_bits(rng.integers(0, 1 << fb.width, (30, 4)), fb) if fb.is_float else \
        fxsim.asarray(rng.standard_normal((30, 4)) * 4, fb, overflow="saturate")
    acc_fmt = fxsim.format(acc)
    if not (acc_fmt.is_float and acc_fmt.has_nan):  # keep NaN/inf out of an acc without NaN
        a = fxsim.asarray(np.nan_to_num(a.to_float(), nan=1.0, posinf=2.0, neginf=-2.0), fa)
        b = fxsim.asarray(np.nan_to_num(b.to_float(), nan=1.0, posinf=2.0, neginf=-2.0), fb)
    c = fxsim.asarray(rng.standard_normal((5, 4)), acc, overflow="saturate")
    kw = dict(acc=acc, rounding=rounding, overflow=overflow)
    fast = [_fxsim(a, b, **kw), _fxsim(a, b, c, **kw), _fxsim(a[:, :1], b[:1], **kw)]
    assert not any(isinstance(r, type) for r in fast)  # real results, not two errors
    monkeypatch.setattr(linalg_engines, "core_ok", lambda *args: False)
    assert fast == [_fxsim(a, b, **kw), _fxsim(a, b, c, **kw), _fxsim(a[:, :1], b[:1], **kw)]


E8M13 = fxsim.FloatFormat(8, 13)


@pytest.mark.parametrize("order", ["sequential", "pairwise", 1, 2, 4, 100])
@pytest.mark.parametrize("acc,rounding", [("bfloat16", "nearest_even"), (E8M13, "toward_zero"),
                                          ("float16", "nearest_away"), ("float8_e4m3fn", "up")])
def test_custom_accumulators_equal_reference(order, acc, rounding):
    rng = np.random.default_rng(8)
    x = fxsim.asarray(rng.standard_normal((3, 9)), "float8_e4m3fn")
    y = fxsim.asarray(rng.standard_normal((9, 4)) * 4, "float8_e4m3fn")
    c = fxsim.asarray(rng.standard_normal((3, 4)), "bfloat16")
    acc = fxsim.format(acc)
    for cc in (None, c):
        kw = dict(acc=acc, order=order, rounding=rounding)
        assert _fxsim(x, y, cc, **kw) == _reference(x, y, cc, **kw)
        kw.update(mul="bfloat16", out="float8_e5m2")
        assert _fxsim(x, y, cc, **kw) == _reference(x, y, cc, **kw)


small_floats = st.one_of(st.sampled_from(["float8_e4m3fn", "float8_e5m2", "float16", "bfloat16",
                                          "float8_e4m3fnuz", "float6_e3m2fn"]).map(fxsim.format),
                         tiny_floats())
small_fixed = st.builds(fxsim.FixedFormat, word=st.integers(2, 12), frac=st.integers(-2, 8),
                        signed=st.booleans())
orders = st.one_of(st.sampled_from(["sequential", "pairwise"]), st.integers(1, 5))


@st.composite
def matrices(draw, fmt, m, k):
    top = (1 << fmt.width) - 1
    sign = 1 << (fmt.width - 1)
    special = [0, 1, top, top - 1, sign, sign + 1, sign - 1]
    codes = [[draw(st.one_of(st.integers(0, top), st.sampled_from(special))) for _ in range(k)]
             for _ in range(m)]
    dtype = fxsim.array.bits_dtype(fmt)
    return fxsim.from_bits(np.array(codes, dtype).reshape(m, k), fmt)


@settings(deadline=None)
@given(data=st.data(), order=orders, rounding=st.sampled_from(DETERMINISTIC))
def test_matmul_matches_reference(data, order, rounding):
    fa = data.draw(st.one_of(small_floats, small_fixed), "fa")
    fb = data.draw(st.one_of(small_floats, small_fixed), "fb")
    acc = data.draw(st.one_of(st.none(), small_floats, small_fixed), "acc")
    mul = data.draw(st.one_of(st.none(), small_floats), "mul") if acc is not None else None
    out = data.draw(st.one_of(st.none(), small_floats, small_fixed), "out")
    if acc is None and out is None:
        out = data.draw(small_floats, "out")
    used = [f for f in (acc, mul, out) if f is not None]
    common = set.intersection(*(set(f.overflows) for f in used))
    overflow = data.draw(st.one_of(st.none(), st.sampled_from(sorted(o.value for o in common))))
    m, k, n = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)),
               data.draw(st.integers(1, 3)))
    a = data.draw(matrices(fa, m, k), "a")
    b = data.draw(matrices(fb, k, n), "b")
    c = data.draw(st.one_of(st.none(), matrices(acc or fa, m, n)), "c")
    kw = dict(mul=mul, acc=acc, out=out, order=order, rounding=rounding, overflow=overflow)
    got, expected = _fxsim(a, b, c, **kw), _reference(a, b, c, **kw)
    if isinstance(expected, type) and isinstance(got, type):
        return  # both refuse; which of two errors comes first is an order of evaluation
    assert got == expected


def test_exact_fixed_with_c_and_out():
    rng = np.random.default_rng(9)
    a = fxsim.asarray(rng.standard_normal((3, 5)), "s8.4")
    b = fxsim.asarray(rng.standard_normal((5, 2)), "u6.5")
    c = fxsim.asarray(rng.standard_normal((3, 2)), "s10.7")
    got = fxsim.matmul(a, b, c)
    ea, eb, ec = a.to_exact(), b.to_exact(), c.to_exact()
    for i in range(3):
        for j in range(2):
            assert got.to_exact()[i, j] == ec[i, j] + sum(ea[i, t] * eb[t, j] for t in range(5))
    for mode in ("nearest_even", "down", "odd"):
        kw = dict(out=fxsim.format("float8_e4m3fn"), rounding=mode)
        assert _fxsim(a, b, c, **kw) == _reference(a, b, c, **kw)


# ---------------------------------------------------------------- shapes, conv
def test_numpy_matmul_shapes():
    rng = np.random.default_rng(10)
    a = rng.integers(-5, 5, (2, 3, 4, 6)).astype(np.int16)
    b = rng.integers(-5, 5, (3, 6, 2)).astype(np.int16)
    v = rng.integers(-5, 5, 6).astype(np.int16)
    for x, y in ((a, b), (v, b), (a, v), (v, v)):
        got = fxsim.matmul(x, y, acc="s12.0", overflow="saturate")
        np.testing.assert_array_equal(got.to_float(), np.matmul(x.astype(np.int64), y.astype(np.int64)))


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 0, 1, 2), (1, 2, 2, 1)])
def test_conv2d_equals_reference(stride, padding, dilation, groups):
    rng = np.random.default_rng(11)
    x = fxsim.asarray(rng.standard_normal((1, 4, 5, 5)), "float8_e4m3fn")
    w = fxsim.asarray(rng.standard_normal((2, 4 // groups, 3, 2)), "float8_e4m3fn")
    for kw in (dict(acc=fxsim.format("bfloat16"), order="sequential"),
               dict(acc=fxsim.format("float16"), order="pairwise", rounding="toward_zero"),
               dict(acc=fxsim.format("float32"), order=4)):
        got = fxsim.conv2d(x, w, stride, padding, dilation, groups, **kw)
        rkw = dict(kw, acc=ref_format(kw["acc"]))
        expected = ref.conv2d(x.bits.astype(object).tolist(), ref_format(x.fmt),
                              w.bits.astype(object).tolist(), ref_format(w.fmt), stride=stride,
                              padding=padding, dilation=dilation, groups=groups, **rkw)
        assert got.bits.astype(object).tolist() == expected


TWO_THREADS = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2,
    reason="needs a Numba thread pool of 2 (NUMBA_NUM_THREADS >= 2; it defaults to the "
           "number of CPU cores)")


def _kernel_products():
    """One product per GEMM kernel (and a convolution), with shapes of many
    rows per thread: (name, thunk)."""
    rng = np.random.default_rng(12)
    a8 = rng.integers(-128, 128, (96, 200)).astype(np.int8)
    b8 = rng.integers(-128, 128, (200, 40)).astype(np.int8)
    x = fxsim.asarray(rng.standard_normal((96, 200)), "float8_e4m3fn")
    y = fxsim.asarray(rng.standard_normal((200, 40)), "float8_e4m3fn")
    img = fxsim.asarray(rng.standard_normal((2, 6, 12, 12)), "float8_e4m3fn")
    w = fxsim.asarray(rng.standard_normal((8, 6, 3, 3)), "float8_e4m3fn")
    return [("fixed", lambda: fxsim.matmul(a8, b8, acc="s16.0", overflow="saturate")),
            ("hardware", lambda: fxsim.matmul(x, y, acc="float32")),
            ("core", lambda: fxsim.matmul(x, y, acc="bfloat16")),
            ("block", lambda: fxsim.matmul(x, y, acc="bfloat16", order=4)),
            ("conv2d", lambda: fxsim.conv2d(img, w, padding=1, acc="float16"))]


@TWO_THREADS
def test_same_results_on_one_and_two_threads():
    """Every GEMM kernel really runs on 1 and on 2 threads (jit.last_threads
    says so), with bit-identical results: rows go to threads, each output is
    reduced by one thread in the stated order."""
    for name, run in _kernel_products():
        results = []
        for threads in (1, 2):
            with jit.exact_threads(threads):
                results.append(run().bits)
                assert jit.last_threads() == threads, (name, threads)
        np.testing.assert_array_equal(results[0], results[1], err_msg=name)


def test_thread_record_follows_the_override():
    # the check of the check: the record is what the kernel got, not what was asked
    x = fxsim.asarray(np.ones((4, 3)), "float8_e4m3fn")
    with jit.exact_threads(1):
        assert jit.last_threads() == 0
        fxsim.matmul(x, x.T, acc="bfloat16")
        assert jit.last_threads() == 1
    with pytest.raises(ValueError, match="exact_threads: n must be an int from 1"):
        with jit.exact_threads(numba.config.NUMBA_NUM_THREADS + 1):
            pass


def test_errors_name_the_problem():
    a = fxsim.asarray(np.ones((2, 3)), "float16")
    with pytest.raises(ValueError, match="order must be"):
        fxsim.matmul(a, a.T, acc="float32", order="tree")
    with pytest.raises(ValueError, match="stochastic rounding inside an accumulation"):
        fxsim.matmul(a, a.T, acc="float32", rounding="stochastic")
    with pytest.raises(ValueError, match="reduction lengths differ"):
        fxsim.matmul(a, a, acc="float32")
    with pytest.raises(ValueError, match="give acc="):
        fxsim.matmul(a, a.T, mul="bfloat16")
    e8m0 = fxsim.asarray(np.ones((1, 1, 2, 2)), "float8_e8m0fnu")
    with pytest.raises(ValueError, match="no zero to pad with"):
        fxsim.conv2d(e8m0, e8m0, padding=1, acc="float32")
    with pytest.raises(ValueError, match="do not make 2 groups"):
        fxsim.conv2d(np.ones((1, 3, 4, 4), np.int8), np.ones((2, 1, 1, 1), np.int8), groups=2)
    nan = fxsim.asarray(np.array([[np.nan, 1.0]]), "float16")
    with pytest.raises(ValueError, match="NaN"):
        fxsim.matmul(nan, nan.T, acc="s16.8")


def test_signed_zero_of_fixed_products_in_float_results():
    """-2 * 0 is -0 (IEEE), though a fixed zero is +0: a sum of -0 products
    rounded into a float is -0, under down any exact zero is -0."""
    a = fxsim.asarray(np.array([[-2, 0], [-2, 1]]), "s4.0")
    b = fxsim.asarray(np.array([[0], [1]]), "u2.0")
    z = fxsim.asarray(np.array([[0, -1], [-2, 0]]), "s4.0")
    for kw in (dict(out="float16"), dict(out="float16", rounding="down"),
               dict(acc="bfloat16"), dict(acc="bfloat16", order="pairwise"),
               dict(acc="bfloat16", order=2, rounding="down")):
        for x, y in ((a, b), (a[:, :1], b[:1]), (z, b)):
            assert _fxsim(x, y, **kw) == _reference(x, y, **kw), (kw, x, y)


@pytest.mark.parametrize("operand,acc,order", [
    ("s16.0", "s24.0", "sequential"),   # float64 lanes: products up to 2**30
    ("s16.0", "s24.0", 5),
    ("s24.0", "s60.0", "sequential"),   # int64 lanes: partial sums beyond 2**53
    ("s24.0", "s60.0", 7),
    ("s6.2", "s20.9", 3)])              # the accumulator's finer grid: products shifted
def test_integer_kernel_lanes_equal_reference(operand, acc, order):
    """The integer kernel runs in float32, float64 or int64 lanes by the
    proven size of its values; each against reference/linalg."""
    rng = np.random.default_rng(13)
    fmt = fxsim.format(operand)
    lo, hi = -(1 << (fmt.word - 1)), (1 << (fmt.word - 1))
    a = fxsim.from_bits(rng.integers(lo, hi, (3, 20)) & ((1 << fmt.word) - 1), fmt)
    b = fxsim.from_bits(rng.integers(lo, hi, (20, 4)) & ((1 << fmt.word) - 1), fmt)
    for overflow in ("saturate", "raise"):
        kw = dict(acc=fxsim.format(acc), order=order, overflow=overflow)
        assert _fxsim(a, b, **kw) == _reference(a, b, **kw)


@pytest.mark.parametrize("acc", ["float32", "bfloat16", "e5m10"])
@pytest.mark.parametrize("order", ["sequential", 1, 2, 3])
def test_float64_operands_whose_products_need_over_64_bits(acc, order):
    # float64 x e4m3fn products need a 57-bit significand: no 64-bit format holds them, so
    # sequential steps run as fused multiply-adds and blocks as exact term sums (found by
    # the accumulation study: this raised "FloatFormat codes are at most 64 bits")
    rng = np.random.default_rng(11)
    a = fxsim.asarray(rng.normal(size=(3, 5)) / 3, "float64")
    b = fxsim.asarray(rng.normal(size=(5, 2)), "float8_e4m3fn")
    c = fxsim.asarray(rng.normal(size=(3, 2)), "float64")
    for cc in (None, c):
        got = fxsim.matmul(a, b, cc, acc=acc, order=order)
        want = _reference(a, b, cc, acc=acc, order=order)
        assert got.bits.tolist() == want, (acc, order, cc is None)
    with pytest.raises(ValueError, match="order='pairwise' holds products as values; use"):
        fxsim.matmul(a, b, acc=acc, order="pairwise")


@pytest.mark.parametrize("k", [2, 3, 5, 6, 7, 11, 13, 37])
@pytest.mark.parametrize("acc", ["bfloat16", "e4m3fn"])
def test_pairwise_tree_shapes_equal_reference(k, acc):
    # the adder tree runs level by level on stacked products: every way an odd
    # element moves up (leftover from products, from sums, meeting a leftover
    # at the next level) against reference/linalg's tree of single additions
    rng = np.random.default_rng(k)
    a = fxsim.asarray(rng.normal(size=(3, k)) * 4, "float8_e5m2")
    b = fxsim.asarray(rng.normal(size=(k, 2)), "float8_e5m2")
    c = fxsim.asarray(rng.normal(size=(3, 2)), "bfloat16")
    for cc in (None, c):
        assert _fxsim(a, b, cc, acc=acc, order="pairwise") == _reference(a, b, cc, acc=acc, order="pairwise")


@pytest.mark.parametrize("rounding", DETERMINISTIC)
@pytest.mark.parametrize("acc", ["bfloat16", "e5m10", "float8_e4m3fn", "float8_e5m2"])
def test_block_kernel_equals_reference(acc, rounding, monkeypatch):
    # the block kernel (exact float64 expansions, one core rounding per block)
    # against reference/linalg: cancellation to exact zeros (signed), sums just
    # above and below rounding boundaries, c, blocks of 2, 3 and a short last one
    calls = []
    real = gemm.core_block_gemm
    monkeypatch.setattr(gemm, "core_block_gemm", lambda *args: calls.append(1) or real(*args))
    rng = np.random.default_rng(len(acc) + len(rounding))
    base = rng.choice([1.0, 1.125, -1.0, 0.0, -0.0, 2.0 ** -9, -(2.0 ** -7), 3.0, 0.5], size=(5, 7))
    a = fxsim.asarray(base, "float8_e5m2")
    b = fxsim.asarray(rng.choice([1.0, -1.0, 0.0, -0.0, 2.0 ** -8, 1.5, -3.0], size=(7, 3)), "float8_e5m2")
    c = fxsim.asarray(rng.choice([0.0, -0.0, 1.0, -2.0 ** -6, 100.0], size=(5, 3)), "float16")
    for order in (2, 3, 7):
        for cc in (None, c):
            kw = dict(acc=acc, order=order, rounding=rounding, overflow="saturate")
            assert _fxsim(a, b, cc, **kw) == _reference(a, b, cc, **kw), (order, cc is None)
    assert calls  # the kernel ran (not only the stepwise engine)


@pytest.mark.parametrize("rounding", DETERMINISTIC)
@pytest.mark.parametrize("order", [3, 4])
def test_block_kernel_sums_just_off_a_boundary(rounding, order):
    # block sums whose float64 lead is exactly a bfloat16 value or tie and whose
    # rest (2**-100) lies below or above it: the kernel must pass the side to the
    # core (1 - 2**-100 rounds down to 0.99609375; 1 + 3*2**-8 - 2**-100, just
    # below a tie, rounds to 1 + 2**-7 under nearest_even, not to the even 1 + 2**-6)
    t = 2.0 ** -100
    rows = [[1, 3 * 2.0 ** -8, -t], [1, 0, -t], [1, 3 * 2.0 ** -8, t], [-1, -3 * 2.0 ** -8, t],
            [1, 0, t], [-1, 0, t], [2.0 ** -8, 1, -t], [0, 0, -0.0]]
    a = fxsim.asarray(np.array(rows), "float32")
    b = fxsim.asarray(np.ones((3, 1)), "float32")
    kw = dict(acc="bfloat16", order=order, rounding=rounding)
    assert _fxsim(a, b, **kw) == _reference(a, b, **kw)
    if rounding == "nearest_even":
        got = fxsim.matmul(a, b, **kw).to_float().ravel()
        assert got[0] == 1 + 2.0 ** -7 and got[2] == 1 + 2.0 ** -6 and got[1] == 1.0
    if rounding == "down":
        assert fxsim.matmul(a, b, **kw).to_float()[1, 0] == 1 - 2.0 ** -8


@pytest.mark.parametrize("acc", ["float8_e4m3fn", "bfloat16"])
def test_block_kernel_non_finite_start(acc):
    # c = -NaN (0xff in E4M3FN) or +-inf: the sum stays NaN (canonical, positive) or inf;
    # found by hypothesis: the kernel once kept the start code 0xff unchanged
    fc = fxsim.format(acc)
    specials = [0xff, 0x7f] if acc == "float8_e4m3fn" else [0xffc1, 0x7f80, 0xff80, 0x3f80]
    c = fxsim.from_bits(np.array(specials, dtype=np.uint64).reshape(1, -1).astype(fc.width > 8 and np.uint16 or np.uint8), fc)
    a = fxsim.asarray(np.zeros((1, 3)), "float8_e4m3fn")
    b = fxsim.asarray(np.ones((3, len(specials))), "float8_e4m3fn")
    for order in (2, 3):
        assert _fxsim(a, b, c, acc=acc, order=order) == _reference(a, b, c, acc=acc, order=order)


# ---------------------------------------------------------------- kernel failures
def _error(run):
    try:
        run()
    except (ValueError, OverflowError) as err:
        return type(err), str(err)
    raise AssertionError("no error")


def _big(rng, shape, fmt, scale, at):
    """Small values except ``scale`` at the positions ``at``."""
    v = rng.uniform(-1, 1, shape)
    for idx in at:
        v[idx] = scale
    return fxsim.asarray(v, fmt, overflow="saturate")


@pytest.mark.parametrize("case", ["float", "fixed acc", "float64 operand", "nan into fixed"])
def test_core_kernel_reports_the_stepwise_error(case, monkeypatch):
    # the sequential kernel notes each row's first failure (status, column, step k, the
    # accumulator before it); the error raised from that note is the stepwise engine's own,
    # naming the first failure in step order: step k=3 at output (1, 2) -- not row 0's
    # later step, nor (2, 0) at a later step, nor (1, 4) at the same step
    rng = np.random.default_rng(20)
    at_a = [(0, 5), (1, 3), (2, 4)]
    at_b = [(3, 2), (3, 4), (4, 0), (5, 1)]
    c, where = None, "at index (1, 2)"
    if case == "float":
        a, b = _big(rng, (3, 7), "float16", 40.0, at_a), _big(rng, (7, 5), "float16", 40.0, at_b)
        kw = dict(acc="float8_e4m3fn", overflow="raise")
        c = fxsim.asarray(rng.uniform(-1, 1, (3, 5)), "bfloat16")
    elif case == "fixed acc":
        a, b = _big(rng, (3, 7), "s8.3", 12.0, at_a), _big(rng, (7, 5), "float8_e4m3fn", 12.0, at_b)
        kw = dict(acc="s10.4", overflow="raise")
    elif case == "float64 operand":  # products need more than 64 bits: fma steps
        a = _big(rng, (3, 7), "float64", 2.0 ** 120, at_a)
        b = _big(rng, (7, 5), "float8_e4m3fn", 2.0 ** 8, at_b)
        kw = dict(acc="bfloat16", overflow="raise")
    else:  # a NaN product into a fixed accumulator: all of row 1 fails at step 3
        a = _big(rng, (3, 7), "float16", np.nan, at_a)
        b = _big(rng, (7, 5), "float16", 2.0, at_b)
        kw = dict(acc="s16.8", overflow="saturate")
        where = "at index (1, 0)"
    calls = []
    real = gemm.core_seq_gemm
    monkeypatch.setattr(gemm, "core_seq_gemm", lambda *args: calls.append(1) or real(*args))
    kernel = _error(lambda: fxsim.matmul(a, b, c, **kw))
    assert calls, "the kernel ran"
    assert "step k=3" in kernel[1] and where in kernel[1], kernel
    monkeypatch.setattr(linalg_engines, "core_ok", lambda *args: False)
    assert kernel == _error(lambda: fxsim.matmul(a, b, c, **kw))  # the stepwise engine's error


@pytest.mark.parametrize("with_c", [False, True])
@pytest.mark.parametrize("k", [1, 9])
def test_block_kernel_reports_the_stepwise_error(k, with_c, monkeypatch):
    # blocks of 3: the first failure in block order (k=3..5 at (1, 2) when K = 9), or a lone
    # first product cast into the accumulator (K = 1, no c)
    rng = np.random.default_rng(21)
    big = [(0, 6), (1, 3), (2, 4)] if k == 9 else [(1, 0)]
    a = _big(rng, (3, k), "float16", 300.0, big)
    b = _big(rng, (k, 5), "float16", 300.0, [(3, 2), (3, 4), (4, 0), (6, 1)] if k == 9 else [(0, 2)])
    c = fxsim.asarray(rng.uniform(-1, 1, (3, 5)), "bfloat16") if with_c else None
    kw = dict(acc="float8_e5m2", order=3, overflow="raise")
    calls = []
    real = gemm.core_block_gemm
    monkeypatch.setattr(gemm, "core_block_gemm", lambda *args: calls.append(1) or real(*args))
    kernel = _error(lambda: fxsim.matmul(a, b, c, **kw))
    assert calls, "the kernel ran"
    assert "at index (1, 2)" in kernel[1], kernel
    assert ("block k=3..5" if k == 9 else ("block k=0..0" if with_c else "k=0")) in kernel[1]
    monkeypatch.setattr(linalg_engines, "block_ok", lambda *args: False)
    assert kernel == _error(lambda: fxsim.matmul(a, b, c, **kw))


@TWO_THREADS
def test_kernel_failure_is_the_same_on_one_and_two_threads():
    rng = np.random.default_rng(22)
    a = _big(rng, (40, 30), "float16", 40.0, [(7, 20), (30, 11), (31, 11)])
    b = _big(rng, (30, 9), "float16", 40.0, [(11, 3), (20, 0)])
    errors = []
    for threads in (1, 2):
        with jit.exact_threads(threads):
            errors.append(_error(lambda: fxsim.matmul(a, b, acc="float8_e4m3fn", overflow="raise")))
            assert jit.last_threads() == threads
    assert errors[0] == errors[1] and "step k=11" in errors[0][1] and "(30, 3)" in errors[0][1]
