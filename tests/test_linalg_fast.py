"""The fast float GEMM engines of fxsim.matmul (issue 15), each bit for bit
against the general engine (forced by monkeypatching the engine choice) and
against reference/linalg, on random and adversarial data:

* sequential binary32/binary64 accumulation in the machine's IEEE additions
  (``linalg_engines.hardware_engine``, kernel ``ieee_seq_gemm``);
* blocks of exact binary64 sums added with one IEEE rounding
  (``linalg_engines.ieee_block_engine``, kernel ``ieee_block_gemm``);
* exact accumulation (acc=None) through sliced BLAS GEMMs rounded once by
  the core (``linalg_exact``, kernels ``int_slices`` and ``exact_slices_sum``).
"""
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fxsim
import reference as ref
from fxsim import linalg_engines, linalg_exact
from fxsim._kernels import gemm, jit
from oracle import ref_format, tiny_floats

DETERMINISTIC = [m.value for m in fxsim.Rounding if not m.is_stochastic]
NARROW = ["bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"]
FAST = [(linalg_engines, "hardware_ok"), (linalg_engines, "ieee_block_ok"),
        (linalg_exact, "exact_ok")]
TWO_THREADS = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="needs a Numba thread pool of 2 (NUMBA_NUM_THREADS >= 2)")


# ---------------------------------------------------------------- helpers
def _run(a, b, c=None, **kw):
    """fxsim.matmul's codes as nested lists, or (error class, message)."""
    try:
        return fxsim.matmul(a, b, c, **kw).bits.astype(object).tolist()
    except (ValueError, OverflowError) as err:
        return type(err), str(err)


def _general(monkeypatch, a, b, c=None, **kw):
    """The same product with every fast engine's test saying no."""
    with monkeypatch.context() as m:
        for module, test in FAST:
            m.setattr(module, test, lambda *args: False)
        return _run(a, b, c, **kw)


def _reference(a, b, c=None, **kw):
    """reference.matmul on the codes; the exception class if it raises."""
    for key in ("acc", "out"):
        if kw.get(key) is not None:
            kw[key] = ref_format(fxsim.format(kw[key]))
    cc = None if c is None else np.broadcast_to(c.bits, (a.shape[0], b.shape[1])).astype(object).tolist()
    try:
        return ref.matmul(a.bits.astype(object).tolist(), ref_format(a.fmt),
                          b.bits.astype(object).tolist(), ref_format(b.fmt), c=cc,
                          fc=None if c is None else ref_format(c.fmt), **kw)
    except (ValueError, OverflowError) as err:
        return type(err)


def _same(fast, other):
    """Equal codes, or the same error class (reference gives only the class)."""
    if isinstance(other, type):
        return isinstance(fast, tuple) and fast[0] is other
    return fast == other


def _spy(monkeypatch, kernel):
    """Count the calls of a kernel of fxsim._kernels.gemm."""
    calls = []
    real = getattr(gemm, kernel)
    monkeypatch.setattr(gemm, kernel, lambda *args: calls.append(1) or real(*args))
    return calls


def _q(values, fmt):
    return fxsim.asarray(np.asarray(values, np.float64), fmt)


def _random_codes(rng, fmt, shape):
    fmt = fxsim.format(fmt)
    return fxsim.from_bits(rng.integers(0, 1 << fmt.width, shape).astype(np.uint64), fmt)


T = 2.0 ** -24
ROWS = {  # each row of a, against b = ones (products = the row), k = 6
    "ties": [1, T, T, T, T, T],                   # 1 + 2**-24 is a float32 tie: stays 1
    "near tie": [1, T, 2.0 ** -30, 0, 0, 0],      # exact: just above the tie
    "tie below": [1, -T / 2, T, -T / 4, 0, 0],
    "cancel": [3, -3, 2.0 ** -20, 5, -5, 0],
    "cancel to 0": [1.5, 2, -1.5, -2, 0, 0],
    "neg zeros": [-0.0] * 6,                      # every product -0: the sum is -0
    "mixed zeros": [-0.0, 0.0, -0.0, -0.0, -0.0, -0.0],
    "small": [2.0 ** -14, 3 * 2.0 ** -15, -2.0 ** -14, 2.0 ** -24, 0, 1],
    "alternating": [1, -1, 1, -1, 1, -1],
}


def _crafted(fmt):
    """Adversarial rows (see ROWS) as a; b = ones next to a column of -1
    and a column of 2**-4 (signs and scaled products)."""
    a = _q(list(ROWS.values()), fmt)
    b = _q(np.stack([np.ones(6), -np.ones(6), np.full(6, 2.0 ** -4)], axis=1), fmt)
    return a, b


# ---------------------------------------------------------------- the engines' domains
def test_which_cases_each_engine_takes():
    bf, f32, f64 = (fxsim.format(n) for n in ("bfloat16", "float32", "float64"))
    a = _q(np.ones((2, 3)), bf)
    ne, rne = fxsim.Rounding.NEAREST_EVEN, fxsim.Rounding.TOWARD_ZERO
    ieee = fxsim.Overflow.IEEE
    ok = linalg_engines.hardware_ok
    assert ok(a, a.T, f32, "sequential", ne, ieee) and ok(a, a.T, f64, "sequential", ne, ieee)
    assert not ok(a, a.T, f32, "sequential", rne, ieee)           # other modes: the core
    assert not ok(a, a.T, f32, "sequential", ne, fxsim.Overflow.SATURATE)
    assert not ok(a, a.T, f32, "pairwise", ne, ieee) and not ok(a, a.T, f32, 4, ne, ieee)
    assert not ok(a, a.T, bf, "sequential", ne, ieee)             # other accumulators
    x32 = _q(np.ones((2, 3)), f32)
    assert not ok(x32, x32.T, f32, "sequential", ne, ieee)        # 48-bit products
    assert ok(x32, x32.T, f64, "sequential", ne, ieee)
    s8 = _q(np.ones((2, 3)), "s8.3")
    assert not ok(s8, s8.T, f32, "sequential", ne, ieee)          # fixed operands
    blk = linalg_engines.ieee_block_ok
    assert blk(a, a.T, f32, 2, ne, ieee) and blk(a, a.T, f64, 32, ne, ieee)
    assert not blk(a, a.T, f32, 1, ne, ieee) and not blk(a, a.T, f32, "sequential", ne, ieee)
    assert not blk(a, a.T, f32, 4, rne, ieee) and not blk(a, a.T, bf, 4, ne, ieee)
    assert blk(x32, x32.T, f32, 4, ne, ieee)                      # 48-bit products: exact
    x64 = _q(np.ones((2, 3)), f64)
    assert not blk(x64, a.T, f32, 4, ne, ieee)                    # products beyond binary64
    ex = linalg_exact.exact_ok
    assert ex(a, a.T, None, None) and ex(a, a.T, None, f32) and ex(a, a.T, s8[:, :2], bf)
    assert not ex(a, a.T, None, f64) and not ex(a, a.T, None, fxsim.format("s16.8"))
    assert not ex(s8, s8.T, None, f32) and not ex(a[:, :0], a[:, :0].T, None, f32)  # K = 0
    assert ex(x64, a.T, None, f32)  # float64 operands: their spans decide, at run time


# ---------------------------------------------------------------- sequential, IEEE
@pytest.mark.parametrize("fmt", NARROW)
@pytest.mark.parametrize("acc", ["float32", "float64"])
def test_sequential_equals_general_and_reference(fmt, acc, monkeypatch):
    rng = np.random.default_rng(len(fmt) + len(acc))
    calls = _spy(monkeypatch, "ieee_seq_gemm")
    cases = [_crafted(fmt),
             (_q(rng.standard_normal((9, 37)) * 3, fmt), _q(rng.standard_normal((37, 6)), fmt)),
             (_q(rng.standard_normal((3, 1)), fmt), _q(rng.standard_normal((1, 5)), fmt)),
             (_q(rng.standard_normal((3, 2)), fmt), _q(rng.standard_normal((2, 5)), fmt)),
             (_q(rng.standard_normal((2, 1000)), fmt), _q(rng.standard_normal((1000, 3)), fmt))]
    for a, b in cases:
        c = _q(rng.standard_normal((a.shape[0], b.shape[1])) * 4, acc)
        for cc in (None, c, _q(np.full((1, b.shape[1]), -0.0), acc), _q([[np.inf]], acc)):
            fast = _run(a, b, cc, acc=acc)
            assert fast == _general(monkeypatch, a, b, cc, acc=acc)
            if a.shape[1] < 1000 or cc is None:
                assert fast == _reference(a, b, cc, acc=acc)
    assert calls


@pytest.mark.parametrize("fmt", NARROW)
def test_sequential_on_every_code(fmt, monkeypatch):
    # random bit patterns: NaN, inf, subnormals, the largest values, both zeros
    rng = np.random.default_rng(3)
    calls = _spy(monkeypatch, "ieee_seq_gemm")
    a, b = _random_codes(rng, fmt, (7, 23)), _random_codes(rng, fmt, (23, 5))
    if fmt == "bfloat16":  # keep the products exact in float32 (else the core runs it)
        a = fxsim.asarray(np.clip(np.nan_to_num(a.to_float(), nan=1.0), -2.0 ** 60, 2.0 ** 60), fmt)
        b = fxsim.asarray(np.where(np.abs(b.to_float()) < 2.0 ** -60, 0.0, b.to_float()), fmt)
    for acc in ("float32", "float64"):
        fast = _run(a, b, acc=acc)
        assert fast == _general(monkeypatch, a, b, acc=acc) == _reference(a, b, acc=acc)
    assert calls


def test_sequential_overflow_and_subnormal_products(monkeypatch):
    # float32 sums overflowing to +-inf and then meeting the other infinity (NaN);
    # bfloat16 products in float32's subnormal range (exact there)
    big, tiny = 1.5 * 2.0 ** 127, 2.0 ** -126
    a = _q([[big, big, -big, 0, 0], [big, big, -np.inf, 1, 0], [-big, -big, big, big, big],
            [tiny, 2.0 ** -130, -tiny, 2.0 ** -133, 0]], "bfloat16")
    b = _q(np.stack([np.ones(5), np.full(5, 2.0 ** -3), np.full(5, -2.0 ** -2)], axis=1), "bfloat16")
    calls = _spy(monkeypatch, "ieee_seq_gemm")
    fast = _run(a, b, acc="float32")
    assert fast == _general(monkeypatch, a, b, acc="float32") == _reference(a, b, acc="float32")
    assert calls
    values = fxsim.matmul(a, b, acc="float32").to_float()
    assert values[0, 0] == np.inf and np.isnan(values[1, 0]) and values[2, 0] == -np.inf
    assert values[3, 1] != 0


def test_sequential_inexact_products_go_to_the_core(monkeypatch):
    # bfloat16 products below float32's least subnormal (2**-133 * 2**-20) or above its
    # largest value are not exact in float32: the core's kernel runs them, exactly
    for x, y in ((2.0 ** -133, 2.0 ** -20), (2.0 ** 100, 2.0 ** 100)):
        a = _q([[1.0, x, 3.0], [x, -x, 0.5]], "bfloat16")
        b = _q([[1.0, 2.0], [y, 1.0], [1.0, -y]], "bfloat16")
        seq, core = _spy(monkeypatch, "ieee_seq_gemm"), _spy(monkeypatch, "core_seq_gemm")
        fast = _run(a, b, acc="float32")
        assert not seq and core
        assert fast == _reference(a, b, acc="float32")
        monkeypatch.undo()


def test_flush_to_zero_threads_fall_back_to_the_core(monkeypatch):
    # a kernel whose probe says the thread flushes subnormals hands the product to the
    # core or the general exact sum (simulated: a probe that fails on every thread)
    rng = np.random.default_rng(4)
    a, b = _q(rng.standard_normal((6, 40)), "bfloat16"), _q(rng.standard_normal((40, 5)), "bfloat16")
    kws = (dict(acc="float32"), dict(acc="float32", order=8), dict(out="float32"))
    want = [_run(a, b, **kw) for kw in kws]
    monkeypatch.setattr(linalg_engines, "ieee_probe", lambda dtype: np.array([1, 0.5, 1], dtype))
    seq, core = _spy(monkeypatch, "ieee_seq_gemm"), _spy(monkeypatch, "core_seq_gemm")
    blocks, sliced = _spy(monkeypatch, "core_block_gemm"), _spy(monkeypatch, "exact_slices_sum")
    assert [_run(a, b, **kw) for kw in kws] == want
    assert seq and core and blocks and sliced


# ---------------------------------------------------------------- blocks, IEEE
@pytest.mark.parametrize("fmt", NARROW)
@pytest.mark.parametrize("order", [2, 3, 7, 32, 1000])
def test_blocks_equal_general_and_reference(fmt, order, monkeypatch):
    rng = np.random.default_rng(order + len(fmt))
    calls = _spy(monkeypatch, "ieee_block_gemm")
    cases = [_crafted(fmt),
             (_q(rng.standard_normal((9, 37)) * 3, fmt), _q(rng.standard_normal((37, 6)), fmt)),
             (_q(rng.standard_normal((3, 1)), fmt), _q(rng.standard_normal((1, 5)), fmt)),
             (_q(rng.standard_normal((2, 1000)), fmt), _q(rng.standard_normal((1000, 2)), fmt))]
    for a, b in cases:
        for acc in ("float32", "float64"):
            c = _q(rng.standard_normal((a.shape[0], b.shape[1])) * 4, acc)
            for cc in (None, c, _q([[-0.0]], acc)):
                kw = dict(acc=acc, order=order)
                fast = _run(a, b, cc, **kw)
                assert fast == _general(monkeypatch, a, b, cc, **kw)
                if a.shape[1] < 1000 or order == 1000:
                    assert fast == _reference(a, b, cc, **kw)
    assert calls


@pytest.mark.parametrize("fmt", NARROW)
def test_blocks_on_every_code(fmt, monkeypatch):
    rng = np.random.default_rng(5)
    calls = _spy(monkeypatch, "ieee_block_gemm")
    a, b = _random_codes(rng, fmt, (7, 23)), _random_codes(rng, fmt, (23, 5))
    c = _random_codes(rng, "float32", (7, 5))
    for order in (2, 5, 23):
        for cc in (None, c):
            fast = _run(a, b, cc, acc="float32", order=order)
            assert fast == _general(monkeypatch, a, b, cc, acc="float32", order=order)
            assert fast == _reference(a, b, cc, acc="float32", order=order)
    assert calls


def test_block_sums_the_bound_cannot_prove_exact(monkeypatch):
    # blocks mixing 2**60 and 2**-60 products: a binary64 sum would drop bits, so those
    # outputs are computed by the exact block engine; the others stay in the IEEE kernel
    rng = np.random.default_rng(6)
    a = rng.standard_normal((8, 12))
    a[2, 3], a[5, 7], a[6, 0] = 2.0 ** 60, 2.0 ** -60, -2.0 ** 61
    a[6, 1] = 2.0 ** -62
    a, b = _q(a, "bfloat16"), _q(rng.standard_normal((12, 5)), "bfloat16")
    c = _q(rng.standard_normal((8, 5)), "float32")
    fast_calls, exact_calls = _spy(monkeypatch, "ieee_block_gemm"), _spy(monkeypatch, "core_block_gemm")
    for order in (4, 12):
        for cc in (None, c):
            fast = _run(a, b, cc, acc="float32", order=order)
            assert fast == _general(monkeypatch, a, b, cc, acc="float32", order=order)
            assert fast == _reference(a, b, cc, acc="float32", order=order)
    assert fast_calls and exact_calls


@pytest.mark.parametrize("order", [2, 3, 4])
def test_block_sums_off_a_float32_boundary(order, monkeypatch):
    # block sums that land exactly on a float32 tie, or a hair above or below it, with
    # the accumulator at 1: the round-to-odd step must see which side
    t = 2.0 ** -24
    rows = [[1, t, 0, 0], [1, t, 2.0 ** -40, 0], [1, t, -2.0 ** -40, 0], [-1, -t, 2.0 ** -40, 0],
            [1, 3 * t, 0, 0], [1, 3 * t, -2.0 ** -50, 0], [1, 0, t, -2.0 ** -45], [1, t, t, -t]]
    a = _q(rows, "bfloat16")
    b = _q(np.ones((4, 1)), "bfloat16")
    for c in (None, _q([[0.0]], "float32")):
        fast = _run(a, b, c, acc="float32", order=order)
        assert fast == _general(monkeypatch, a, b, c, acc="float32", order=order)
        assert fast == _reference(a, b, c, acc="float32", order=order)


# ---------------------------------------------------------------- exact (acc=None)
@pytest.mark.parametrize("fmt", NARROW + ["float32", "float64"])
@pytest.mark.parametrize("out", ["float32", "bfloat16", "float8_e4m3fn"])
def test_exact_equals_general_and_reference(fmt, out, monkeypatch):
    rng = np.random.default_rng(len(fmt) * 7 + len(out))
    calls = _spy(monkeypatch, "exact_slices_sum")
    cases = [_crafted(fmt),
             (_q(rng.standard_normal((7, 37)) * 3, fmt), _q(rng.standard_normal((37, 6)), fmt)),
             (_q(rng.standard_normal((3, 1)), fmt), _q(rng.standard_normal((1, 5)), fmt)),
             (_q(rng.standard_normal((2, 1000)), fmt), _q(rng.standard_normal((1000, 2)), fmt))]
    for a, b in cases:
        c = _q(rng.standard_normal((a.shape[0], b.shape[1])), "bfloat16")
        for cc in (None, c, _q([[-0.0]], "float16")):
            for rounding in ("nearest_even", "down", "toward_zero", "odd"):
                kw = dict(out=out, rounding=rounding, overflow="saturate")
                fast = _run(a, b, cc, **kw)
                assert fast == _general(monkeypatch, a, b, cc, **kw)
                if a.shape[1] < 1000 or cc is None:
                    assert fast == _reference(a, b, cc, **kw)
    assert calls


@pytest.mark.parametrize("rounding", DETERMINISTIC)
def test_exact_every_mode_on_every_code(rounding, monkeypatch):
    # NaN and inf rows and columns go to the general engine; the rest is sliced
    rng = np.random.default_rng(7)
    calls = _spy(monkeypatch, "exact_slices_sum")
    for fmt, out in (("float8_e4m3fn", "bfloat16"), ("float8_e5m2", "float16"),
                     ("bfloat16", "float32"), ("float16", "float8_e5m2")):
        a, b = _random_codes(rng, fmt, (6, 19)), _random_codes(rng, fmt, (19, 4))
        c = _random_codes(rng, "bfloat16", (6, 4))
        for cc in (None, c):
            kw = dict(out=out, rounding=rounding)
            fast = _run(a, b, cc, **kw)
            assert fast == _general(monkeypatch, a, b, cc, **kw)
            assert _same(fast, _reference(a, b, cc, **kw))
    assert calls


def test_exact_wide_spans_need_several_slices(monkeypatch):
    # rows spanning 2**-120 .. 2**120 (bfloat16): many slices per operand; a sum whose
    # only nonzero part is the tiny one; and too many slice pairs -> the general engine
    rng = np.random.default_rng(8)
    v = rng.standard_normal((5, 40)) * np.exp2(rng.integers(-120, 120, (5, 40)))
    v[0, :4] = [2.0 ** 100, 2.0 ** -100, -2.0 ** 100, 0]
    a, b = _q(v, "bfloat16"), _q(rng.standard_normal((40, 3)) * 2.0 ** rng.integers(-60, 60, (40, 3)), "bfloat16")
    calls = _spy(monkeypatch, "exact_slices_sum")
    for out in ("bfloat16", "float32"):
        fast = _run(a, b, out=out)
        assert fast == _general(monkeypatch, a, b, out=out) == _reference(a, b, out=out)
    assert calls
    monkeypatch.setattr(linalg_exact, "MAX_PAIRS", 1)
    calls.clear()
    assert _run(a, b, out="float32") == fast
    assert not calls


@pytest.mark.parametrize("rounding", ["nearest_even", "down", "up"])
def test_exact_zero_signs(rounding, monkeypatch):
    # every product -0 (-0), +0 and -0 mixed (+0; -0 under down), exact cancellation
    # (+0; -0 under down), with c = -0 or +0
    a = _q([[-0.0, -0.0, 0.0], [-0.0, 0.0, -0.0], [1.5, -1.5, 0.0], [-2.0, 0.0, -0.0]], "bfloat16")
    b = _q([[1.0, -0.0], [2.0, -1.0], [3.0, 0.0]], "bfloat16")
    for c in (None, _q([[-0.0]], "float32"), _q([[0.0]], "float32")):
        kw = dict(out="float32", rounding=rounding)
        fast = _run(a, b, c, **kw)
        assert fast == _general(monkeypatch, a, b, c, **kw) == _reference(a, b, c, **kw)


def test_exact_failures_are_the_general_engines_errors(monkeypatch):
    # overflow under overflow="raise" and a NaN into a format without one: the error the
    # general engine raises, naming the same output
    a = _q([[1.0, 2.0], [300.0, 400.0]], "float16")
    b = _q([[1.0, 1.0], [1.0, 400.0]], "float16")
    err = _run(a, b, out="float8_e4m3fn", overflow="raise")
    assert isinstance(err, tuple) and err == _general(monkeypatch, a, b, out="float8_e4m3fn",
                                                      overflow="raise")
    nan = _q([[np.nan, 1.0], [1.0, 1.0]], "float16")
    err = _run(nan, b, out="float6_e3m2fn")
    assert isinstance(err, tuple) and err == _general(monkeypatch, nan, b, out="float6_e3m2fn")


# ---------------------------------------------------------------- threads
@TWO_THREADS
def test_fast_engines_same_on_one_and_two_threads():
    rng = np.random.default_rng(9)
    a, b = _q(rng.standard_normal((70, 300)), "bfloat16"), _q(rng.standard_normal((300, 600)), "bfloat16")
    a = fxsim.asarray(np.where(rng.random((70, 300)) < 0.01, 2.0 ** -70, a.to_float()), "bfloat16")
    runs = {"sequential": dict(acc="float32"), "float64": dict(acc="float64"),
            "blocks": dict(acc="float32", order=16), "exact": dict(out="float32")}
    for name, kw in runs.items():
        results = []
        for threads in (1, 2):
            with jit.exact_threads(threads):
                results.append(fxsim.matmul(a, b, **kw).bits)
                assert jit.last_threads() == threads, (name, threads)
        np.testing.assert_array_equal(results[0], results[1], err_msg=name)


# ---------------------------------------------------------------- other accumulators
def test_pairwise_tree_in_row_chunks(monkeypatch):
    # the adder tree over K x M x N products runs on chunks of output rows when large;
    # the same codes, and on a failure the same error (the whole product's first)
    from fxsim import linalg_stepwise
    rng = np.random.default_rng(10)
    a = _q(rng.standard_normal((9, 13)) * 8, "float8_e4m3fn")
    b = _q(rng.standard_normal((13, 4)) * 8, "float8_e4m3fn")
    a = fxsim.asarray(np.where(np.arange(13) == 5, 400.0, a.to_float()), "float8_e4m3fn")
    b = fxsim.asarray(np.where(np.arange(13)[:, None] == 5, 400.0, b.to_float()), "float8_e4m3fn")
    c = _q(rng.standard_normal((9, 4)), "bfloat16")
    cases = [dict(acc="bfloat16", order="pairwise"), dict(acc="float16", order="pairwise",
                                                           rounding="toward_zero"),
             dict(acc="float8_e5m2", order="pairwise", overflow="raise")]
    whole = [_run(a, b, cc, **kw) for kw in cases for cc in (None, c)]
    assert isinstance(whole[-1], tuple)  # the raising case raises
    monkeypatch.setattr(linalg_stepwise, "TREE_ELEMENTS", 100)  # chunks of one row
    assert [_run(a, b, cc, **kw) for kw in cases for cc in (None, c)] == whole
    for kw in cases[:2]:
        assert _run(a, b, c, **kw) == _reference(a, b, c, **kw)


# ---------------------------------------------------------------- shapes, formats
def test_empty_transposed_and_odd_formats(monkeypatch):
    # empty products (M, N or K = 0), transposed (strided) operands, fixed and float c,
    # outputs without -0 or inf (fnuz, E8M0, FP6), every engine against the general one
    rng = np.random.default_rng(11)
    runs = [dict(acc="float32"), dict(acc="float64"), dict(acc="float32", order=4),
            dict(out="float32"), dict(out="float8_e4m3fnuz", overflow="saturate"),
            dict(out="float8_e8m0fnu"), dict(out="float6_e3m2fn", rounding="up")]
    for m, k, n in ((0, 5, 3), (3, 5, 0), (3, 0, 4), (1, 1, 1)):
        a, b = _q(rng.standard_normal((m, k)), "bfloat16"), _q(rng.standard_normal((k, n)), "bfloat16")
        for kw in runs:
            assert _run(a, b, **kw) == _general(monkeypatch, a, b, **kw), (m, k, n, kw)
    x = _q(rng.standard_normal((40, 9)), "float16")
    cs = (None, _q(rng.standard_normal((9, 9)), "s8.3"), _q(rng.standard_normal((9, 1)), "bfloat16"))
    for kw in runs:
        for c in cs:
            fast = _run(x.T, x, c, **kw)
            assert fast == _general(monkeypatch, x.T, x, c, **kw), kw
            assert _same(fast, _reference(x.T, x, c, **kw))


@settings(deadline=None, max_examples=60)
@given(data=st.data(), rounding=st.sampled_from(DETERMINISTIC))
def test_random_formats_equal_the_general_engines(data, rounding):
    # random narrow float formats and codes: every fast engine against the general one
    fa, fb = data.draw(tiny_floats(), "fa"), data.draw(tiny_floats(), "fb")
    out = data.draw(st.one_of(tiny_floats(), st.sampled_from(NARROW).map(fxsim.format)), "out")
    m, k, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 40)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), "seed"))
    a, b = _random_codes(rng, fa, (m, k)), _random_codes(rng, fb, (k, n))
    order = data.draw(st.sampled_from(["sequential", 2, 3, 16]), "order")
    mp = pytest.MonkeyPatch()
    try:
        for kw in (dict(out=out, rounding=rounding), dict(acc="float32", order=order),
                   dict(acc="float64", order=order)):
            assert _run(a, b, **kw) == _general(mp, a, b, **kw), kw
    finally:
        mp.undo()
