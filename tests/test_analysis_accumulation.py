"""The accumulation study against theory and independent computations.

Oracles: plain numpy float32 loops, exact rational sums (Fractions),
Higham's gamma_n bound (a theorem), pure-Python replays of wrapping and
saturating integer accumulators, and closed forms.
"""
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim.studies import accumulation as A


def gamma(n, u):
    return n * u / (1 - n * u) if n * u < 1 else math.inf


def roundings(order, k):
    if order == "sequential":
        return k
    if order == "pairwise":
        return max(1, math.ceil(math.log2(k)))
    return -(-k // order)


# ---------------------------------------------------------------- floating point
@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_float32_sequential_is_a_plain_numpy_float32_loop(dist):
    # float16 x float16 products (22 bits, exponents >= -48) are exact in
    # float32, and numpy's float32 addition rounds to nearest-even.
    x, y = A.draw_operands("float16", dist, 40, 300, seed=(7, 1))
    s = (x[:, 0] * y[:, 0]).astype(np.float32)
    for k in range(1, x.shape[1]):
        s = s + (x[:, k] * y[:, k]).astype(np.float32)
    assert np.array_equal(A.sequential_sum(x * y, "float32"), s.astype(np.float64))
    assert np.array_equal(A.matmul_rows(x[:5], y[:5], "float16", "float32", "sequential"),
                          s[:5].astype(np.float64))


@pytest.mark.parametrize("fmt,dist,k", [("float16", "normal", 45), ("float8_e5m2", "uniform", 70),
                                        ("bfloat16", "uniform", 33)])
@pytest.mark.parametrize("acc", A.ACCUMULATORS)
def test_batched_shortcuts_equal_fxsim_matmul_on_the_operands(fmt, dist, k, acc):
    # odd K: the tree's odd element moves up unrounded; K % 32 != 0: a short last block
    x, y = A.draw_operands(fmt, dist, 3, k, seed=(7, 2, k))
    for order in A.ORDERS:
        got, _ = A.accumulate(x, y, fmt, acc, order)
        assert np.array_equal(got, A.matmul_rows(x, y, fmt, acc, order)), order


def test_blocks_not_exact_in_float64_fall_back_to_matmul():
    x = np.array([[65504.0, 2.0 ** -24] + [0.5] * 38])
    y = np.array([[65504.0, 2.0 ** -24] + [0.25] * 38])   # 2**32 + 2**-48 needs 81 bits
    _, exact = A.exact_block_sums(x * y, 32)
    assert not exact[0]
    got, fell = A.blocked_sum(x, y, "float16", "float32", 32)
    assert fell == 1
    assert np.array_equal(got, A.matmul_rows(x, y, "float16", "float32", 32))


@pytest.mark.parametrize("fmt,dist", [("float16", "uniform"), ("float8_e4m3fn", "normal")])
def test_errors_never_exceed_gamma_against_exact_rational_sums(fmt, dist):
    k = 100
    x, y = A.draw_operands(fmt, dist, 40, k, seed=(7, 3))
    exact = [sum(Fraction(a) * Fraction(b) for a, b in zip(xr, yr)) for xr, yr in zip(x, y)]
    size = [sum(abs(Fraction(a) * Fraction(b)) for a, b in zip(xr, yr)) for xr, yr in zip(x, y)]
    for acc in A.ACCUMULATORS:
        u = 2.0 ** -(fxsim.format(acc).man + 1)
        for order in A.ORDERS:
            got, _ = A.accumulate(x, y, fmt, acc, order)
            bound = Fraction(gamma(roundings(order, k), u))
            for g, s, m in zip(got, exact, size):
                assert abs(Fraction(g) - s) <= bound * m, (acc, order)


def test_study_task_errors_within_the_bound_and_checks_agree():
    for fmt, dist, k, t in [("float16", "uniform", 64, 256), ("bfloat16", "normal", 256, 48),
                            ("float8_e4m3fn", "uniform", 16, 512)]:
        r = A.float_task(fmt, dist, k, t, seed=(7, 4, k))
        assert r["mismatches"] == 0 and r["checks"] > 0
        for acc in A.ACCUMULATORS:
            u = 2.0 ** -(fxsim.format(acc).man + 1)
            for order in A.ORDERS:
                median, worst, mean, zero = r["stats"][f"{acc}|{A.order_name(order)}"]
                assert 0 <= median <= worst <= gamma(roundings(order, k), u)
                assert 0 <= zero <= 1


def test_pairwise_median_below_sequential_at_large_k():
    for dist in ("uniform", "normal"):
        r = A.float_task("float16", dist, 2048, 48, seed=(7, 5))
        for acc in A.ACCUMULATORS:
            seq = r["stats"][f"{acc}|sequential"][0]
            pair = r["stats"][f"{acc}|pairwise"][0]
            assert pair < seq, (dist, acc)


def test_sequential_float32_median_matches_the_rounding_model():
    # independent uniform rounding errors: a heuristic, so a loose tolerance
    k, t = 1024, 256
    x, y = A.draw_operands("float16", "uniform", t, k, seed=(7, 6))
    p = x * y
    exact = np.array([math.fsum(r) for r in p.tolist()])
    err = np.abs(A.sequential_sum(p, "float32") - exact) / exact
    model = A.rounding_model_median("uniform", k, 2.0 ** -24)
    assert 0.75 < np.median(err) / model < 1.25


def test_bfloat16_sequential_sum_of_terms_in_unit_interval_never_exceeds_256():
    x, y = A.draw_operands("float16", "uniform", 32, 2048, seed=(7, 7))
    got = A.sequential_sum(x * y, "bfloat16")
    assert got.max() <= 256 and (got == 256).any()
    # all products 1: 255 + 1 = 256, then 256 + 1 = 257 is a tie, going to the even 256
    ones = fxsim.asarray(np.ones((1, 600)), "float16")
    assert float(fxsim.matmul(ones, ones.T, acc="bfloat16")[0, 0]) == 256.0


def test_renewal_increments_in_closed_form():
    # spacing 1 (binade [128, 256)): a product moves the sum iff it exceeds 1/2
    assert A.mean_increment(1.0) == pytest.approx((1 - math.log(2)) / 2, rel=1e-12)
    assert A.mean_increment(2.0) == 0.0
    assert A.mean_increment(2.0 ** -13) == 0.25
    assert A.mean_increment(2.0 ** -11) == pytest.approx(0.25, rel=1e-6)
    assert float(A.product_cdf(1.0)) == 1.0


def test_stagnation_step_near_the_renewal_estimate():
    r = A.stagnation_task("float16", 1800, 64, seed=(7, 8))
    assert r["matmul_equal"] and r["above_cap"] == 0
    assert (r["reached"] > 0).all()
    estimate = A.renewal_path()[0][-1]
    assert 1350 < estimate < 1420
    assert abs(np.median(r["reached"]) / estimate - 1) < 0.06


# ---------------------------------------------------------------- fixed point
def replay(products, lo, hi):
    """Pure-Python wrap and saturate accumulators of one trial."""
    width = hi - lo + 1
    wrap = sat = None
    for p in products:
        wrap = p if wrap is None else wrap + p
        wrap = (wrap - lo) % width + lo
        sat = min(hi, max(lo, p if sat is None else sat + p))
    return wrap, sat


@pytest.mark.parametrize("dist,k", [("zero-mean", 24), ("zero-mean", 40), ("positive", 9)])
def test_fixed_corruption_counts_equal_independent_replays(dist, k):
    t = 300
    r = A.fixed_task(dist, k, t, seed=(7, 9, k))
    a, b = A.int8_operands(dist, t, k, seed=(7, 9, k))
    for acc in A.FIXED_ACCS:
        lo, hi = A.fixed_range(acc)
        assert (lo, hi) == (-(2 ** (fxsim.format(acc).word - 1)), 2 ** (fxsim.format(acc).word - 1) - 1)
        wrap_bad = sat_bad = left = 0
        for ar, br in zip(a.tolist(), b.tolist()):
            products = [p * q for p, q in zip(ar, br)]
            exact = sum(products)
            wrap, sat = replay(products, lo, hi)
            assert wrap == exact or not lo <= exact <= hi
            wrap_bad += wrap != exact
            sat_bad += sat != exact
            partial = np.cumsum(products)
            left += bool(((partial < lo) | (partial > hi)).any())
        c = r[acc]
        assert (c["wrap"], c["saturate"]) == (wrap_bad, sat_bad)
        assert (c["pred_wrap"], c["pred_saturate"], c["left_range"]) == (wrap_bad, sat_bad, left)
        assert c["sat_equal_replay"]
        assert sat_bad <= left   # saturation can only corrupt after leaving the range
    if dist == "zero-mean" and k == 40:
        assert 0 < r["s16.0"]["wrap"] < r["s16.0"]["saturate"] < t


def test_positive_data_wrap_and_saturate_corrupt_the_same_trials():
    for k in (6, 8, 11):
        r = A.fixed_task("positive", k, 400, seed=(7, 10, k))
        c = r["s16.0"]
        assert c["wrap"] == c["saturate"] == c["left_range"]
    assert 0 < A.fixed_task("positive", 8, 400, seed=(7, 10, 8))["s16.0"]["wrap"] < 400


def test_saturation_can_recover_the_exact_sum():
    # s12.0: 3000 clamps to 2047 (offset -953), the walk down clamps at -2048 twice
    # (offsets +905 and +48): the result is the exact -2048.
    a = np.array([[100, 100, 100, -100, -100, -100, -100, -100, -48]], np.int8)
    b = np.array([[10, 10, 10, 10, 10, 10, 10, 10, 1]], np.int8)
    exact = int((a.astype(np.int64) * b).sum())
    assert exact == -2048
    got = int(fxsim.matmul(a[:, None, :], b[:, :, None], acc="s12.0", overflow="saturate")
              .to_float().reshape(-1)[0])
    assert got == exact
    pred = A.predict_overflow(a, b, -2048, 2047)
    assert pred["left"][0] and pred["saturated"][0] == exact and not pred["final_out"][0]


def test_product_moments_closed_form():
    for dist, lo in (("zero-mean", -128), ("positive", 0)):
        v = np.arange(lo, 128, dtype=float)
        p = np.multiply.outer(v, v).ravel()
        mean, sd = A.product_moments(dist)
        assert mean == pytest.approx(p.mean(), rel=1e-12)
        assert sd == pytest.approx(p.std(), rel=1e-12)


def test_brownian_exit_probability():
    def theta(a, terms=2000):
        return 1 - 4 / math.pi * sum((-1) ** n / (2 * n + 1)
                                     * math.exp(-((2 * n + 1) ** 2) * math.pi ** 2 / (8 * a * a))
                                     for n in range(terms))
    for a in (0.3, 0.8, 1.0, 1.5, 2.5):
        assert A.brownian_exit(a) == pytest.approx(theta(a), abs=1e-12)
    # small probabilities: twice the one-sided reflection value 2 P(N > a)
    assert A.brownian_exit(4.0) == pytest.approx(2 * math.erfc(4 / math.sqrt(2)), rel=1e-6)


def test_tasks_are_picklable_and_seeded_by_their_parameters():
    for quick in (True, False):
        ts = A.tasks(quick)
        pickle.dumps([(t.func, t.kwargs) for t in ts])
        seeds = [t.kwargs["seed"] for t in ts]
        assert len(set(seeds)) == len(seeds)
    assert A.float_ks(True)[-1] == 4096 and A.float_ks(False)[-1] == 16384
    assert {8, 32, 128, 512, 8192} <= set(A.fixed_ks(True)) & set(A.fixed_ks(False))
