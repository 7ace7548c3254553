"""The integer-BN study (analysis/integer_bn.py) against theory and independent
computations: Fractions for requantization, reference/bn.py (exact, element by
element) for thresholds and shared-scale BN, closed forms and numerical
integration for Graham's BN, the AP2 bound for shift-based BN."""
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from fxsim.studies import integer_bn as ib
from fxsim import nn
import reference.bn as rb


def _round_half_up(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


# ------------------------------------------------------------------ requantization
def _sample_multipliers(rng, n):
    M = 2.0 ** rng.uniform(-20, 4, n)
    m0, shift = nn.quantize_multiplier(M)
    acc = np.array([int(rng.integers(-ib.acc_bound(int(math.floor(math.log2(m))), "int32"),
                                     ib.acc_bound(int(math.floor(math.log2(m))), "int32") + 1))
                    for m in M], dtype=np.int64)
    return M, m0, shift, acc


def test_single_rounding_is_the_exact_rounding_of_the_quantized_product():
    rng = np.random.default_rng(1)
    M, m0, shift, acc = _sample_multipliers(rng, 3000)
    single = nn.multiply_by_quantized_multiplier(acc, m0, shift, "single")
    exact = [_round_half_up(Fraction(int(a) * int(m), 1) * Fraction(2) ** (int(s) - 31))
             for a, m, s in zip(acc, m0, shift)]
    assert single.tolist() == exact
    # The study's int64 reference is that same rounding.
    assert ib.round_half_up_pot(acc * m0, 31 - shift).tolist() == exact


def test_double_rounding_is_within_one_lsb_and_wrong_only_at_second_step_ties():
    rng = np.random.default_rng(2)
    M, m0, shift, acc = _sample_multipliers(rng, 3000)
    double = nn.multiply_by_quantized_multiplier(acc, m0, shift, "double")
    for a, m, s, d in zip(acc.tolist(), m0.tolist(), shift.tolist(), double.tolist()):
        exact = Fraction(a * m) * Fraction(2) ** (s - 31)
        assert abs(d - _round_half_up(exact)) <= 1
        if d != _round_half_up(exact):
            r = -s
            assert r >= 1
            n = _round_half_up(Fraction(a * (1 << max(s, 0)) * m, 1 << 31))
            assert n % (1 << r) == 1 << (r - 1)  # a tie of RoundingDivideByPOT


def test_exact_round_real_matches_fractions():
    rng = np.random.default_rng(3)
    acc = rng.integers(-2**31 + 1, 2**31, 200)
    for M in 2.0 ** rng.uniform(-12, 0, 5):
        rounded, prod, d = ib.exact_round_real(acc, float(M))
        assert list(rounded) == [_round_half_up(Fraction(int(a)) * Fraction(float(M)))
                                 for a in acc]


@pytest.mark.parametrize("octave", [-6, -2, 1])
def test_requant_task_matches_the_double_rounding_theory(octave):
    r = ib.requant_task(octave=octave, acc_range="int32", n_mult=8, n_acc=1024, seed=11)
    assert r["single_ne_exact"] == 0 and r["single_max_lsb"] == 0
    assert r["double_max_lsb"] <= 1
    assert r["double_ne_off_tie"] == 0 and r["double_ref_mismatch"] == 0
    shift = octave + 1  # frexp: M in [2^e, 2^(e+1)) has shift e + 1 (or e + 2 on a carry)
    r_bits = -shift
    expected = r["n"] * (2.0 ** -(r_bits + 1) if r_bits >= 1 else 0.0)
    # binomial: within 5 standard deviations of n * 2^-(r+1)
    assert abs(r["double_ne_exact"] - expected) <= 5 * math.sqrt(expected + 1)
    # single rounding against the real M: only the 31-bit multiplier error can flip it
    assert r["single_max_lsb_real"] <= 1


# ------------------------------------------------------------------ thresholds
def test_thresholds_task_exhaustive_small_range():
    r = ib.thresholds_task(n_channels=3, x_bits=8, seed=5)
    assert r["n"] == 3 * 512
    assert r["thr_sign_mismatch"] == 0 and r["thr_kbit_mismatch"] == 0


def test_exact_bn_agrees_with_reference_and_fxsim_thresholds():
    """ExactBN and fxsim's thresholds against reference/bn.py, every x of a range."""
    rng = np.random.default_rng(7)
    p = ib.draw_bn_params(rng, 2)
    # Put the interesting region inside the small range: centre the mean.
    p["mean"] = np.float32([3.5, -10.25])
    p["var"] = np.float32([30.0, 7.0])
    x = np.arange(-160, 160, dtype=np.int64)
    fmt = ib._fixed(ib.THR_ACT)
    args = [np.asarray(p[k], np.float64) for k in ("gamma", "beta", "mean", "var", "eps")]
    xx = np.broadcast_to(x[:, None], (len(x), 2))
    sign_fx = 2 * nn.apply_thresholds(xx, nn.thresholds_sign(*args), axis=1) - 1
    code_fx = nn.apply_thresholds(xx, nn.thresholds_kbit(*args, fmt, rounding="nearest_even"),
                                  axis=1) + fmt.int_min
    for c in range(2):
        g, b, mu, var, eps = (float(a[c]) for a in args)
        bn = ib.ExactBN(g, b, mu, var, eps)
        ref_sign = [rb.sign_activation(int(v), g, b, mu, var, eps) for v in x]
        ref_code = [rb.fixed_activation(int(v), g, b, mu, var, eps, fmt.word, fmt.frac, True,
                                        "nearest_even") for v in x]
        assert bn.sign_value(x).tolist() == ref_sign == sign_fx[:, c].tolist()
        assert bn.fixed_code(x, fmt).tolist() == ref_code == code_fx[:, c].tolist()
        assert len(set(ref_code)) > 3  # the range covers several levels


def test_float_bn_rounds_each_operation():
    p = {k: np.float32([v]) for k, v in dict(gamma=1.5, beta=0.25, mean=3.0, var=4.0,
                                             eps=0.0).items()}
    y = ib.float_bn(np.array([7]), p, "float16", "direct")
    assert y.dtype == np.float16 and float(y[0, 0]) == 1.5 * 4 / 2 + 0.25
    y = ib.float_bn(np.array([7]), p, "float32", "folded")
    assert y.dtype == np.float32 and float(y[0, 0]) == 0.75 * 7 + (0.25 - 0.75 * 3)


# ------------------------------------------------------------------ shift BN
def test_shift_bn_scale_ratio_bounds():
    r = ib.shift_task(n_channels=400, batch=64, seed=9)
    s2 = math.sqrt(2)
    assert np.all(r["ap2_factor"] >= 1 / s2) and np.all(r["ap2_factor"] <= s2)
    assert np.all(r["var_factor"] >= 2 ** -0.25) and np.all(r["var_factor"] <= 2 ** 0.25)
    assert np.all(r["ratio"] >= 2 ** -0.75) and np.all(r["ratio"] <= 2 ** 0.75)
    np.testing.assert_allclose(r["ratio"], r["ap2_factor"] * r["var_factor"], rtol=1e-12)
    # AP2 factor recomputed with log2 (nearest power of two in the log domain)
    u = 2.0 ** -r["log2_std"]
    np.testing.assert_allclose(r["ap2_factor"], 2.0 ** np.round(np.log2(u)) / u, rtol=1e-12)
    # log2 of the AP2 factor is ~uniform on [-1/2, 1/2]: median |factor - 1| is
    # (sqrt2 - 1)/(sqrt2 + 1) = 0.1716; 400 channels: the median's spread is ~0.01.
    assert abs(np.median(np.abs(r["ap2_factor"] - 1)) - (s2 - 1) / (s2 + 1)) < 0.04


# ------------------------------------------------------------------ Lin et al.
def test_lin_task_matches_reference_min_k():
    r = ib.lin_task(x_bits=5, n_cases=4, seed=13)
    rng = np.random.default_rng(13)
    for k in r["k"]:
        a, b = ib.draw_lin_params(rng)
        want = rb.shared_scale_min_k(a, b, -16, 15, "nearest_even", k_max=32)
        assert k == (-1 if want is None else want)


def test_lin_task_reports_no_k():
    # round_half_even(x/2) is no floor of a line (fxsim's own docstring example)
    with pytest.raises(ValueError):
        nn.shared_scale_bn(0.5, 0.0, 0, 5)
    r = ib.lin_task(x_bits=4, n_cases=2, seed=1, k_max=0)
    assert set(r["k"].tolist()) <= {-1, 0}


# ------------------------------------------------------------------ Graham
def test_graham_theory_matches_numerical_integration():
    for k, clip in ((3, 4), (6, 4), (5, 8)):
        fmt = ib.graham_format(k, clip)
        step = 2.0 ** -fmt.frac
        lo, hi = fmt.int_min * step, fmt.int_max * step

        def sq_err(z):
            q = min(max(np.round(z / step) * step, lo), hi)
            return (q - z) ** 2 * norm.pdf(z)

        edges = np.arange(lo - step / 2, hi + step, step)
        inside = sum(integrate.quad(sq_err, a, b)[0] for a, b in zip(edges[:-1], edges[1:]))
        tails = (integrate.quad(sq_err, hi + step / 2, 40)[0]
                 + integrate.quad(sq_err, -40, lo - step / 2)[0])
        # the uniform model is approximate inside (a few % at these steps), exact in the tails
        assert ib.graham_theory_mse(k, clip) == pytest.approx(inside + tails, rel=0.05)


def test_graham_error_halves_per_bit():
    r = ib.graham_task(clip=8, n_channels=64, batch=512, seed=17)
    rms = np.sqrt(r["sse"] / r["n"])
    assert r["bits"].tolist() == list(ib.GRAHAM_KS)
    k0, k1 = ib.GRAHAM_FIT[8]
    ks = np.arange(k0, k1 + 1)
    slope = np.polyfit(ks, 20 * np.log10(rms[ks - 1]), 1)[0]
    assert slope == pytest.approx(-20 * math.log10(2), abs=0.25)  # -6.02 dB/bit
    for k in ks:  # granular region: step / sqrt(12)
        step = 2.0 ** -ib.graham_format(int(k), 8).frac
        assert rms[k - 1] == pytest.approx(step / math.sqrt(12), rel=0.05)


# ------------------------------------------------------------------ summary
def test_summarize_small(tmp_path):
    results = [ib.requant_task(octave=e, acc_range=rng, n_mult=2, n_acc=256, seed=i)
               for i, (e, rng) in enumerate([(-4, "int32"), (0, "int32"), (-4, "16-bit"),
                                             (0, "16-bit")])]
    results.append(ib.thresholds_task(n_channels=2, x_bits=7, seed=1))
    results.append(ib.shift_task(n_channels=16, batch=32, seed=1))
    results += [ib.lin_task(x_bits=b, n_cases=1, seed=b) for b in ib.LIN_BITS]
    results += [ib.graham_task(clip=c, n_channels=8, batch=64, seed=c) for c in ib.GRAHAM_CLIPS]
    sec = ib.summarize(results, tmp_path, quick=True)
    assert len(sec.figures) == 5 and all((tmp_path / f).exists() for f in sec.figures)
    n = sec.numbers
    assert n["requant_frac_single_ne_exact"] == 0 and n["requant_max_lsb_single"] == 0
    assert n["requant_max_lsb_double"] <= 1
    assert n["thr_threshold_mismatches"] == 0
    assert 0 <= n["lin_frac_no_k"] <= 1
    assert all(isinstance(v, float) for v in n.values())
