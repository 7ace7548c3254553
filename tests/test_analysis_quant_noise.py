"""The quantization-noise study against theory.

Monte Carlo estimates are checked against closed forms derived by hand (in
the comments), against scipy integration, or against published numbers.
Confidence intervals: the study reports 95 % half-widths; the tests widen
them to 99.9 % (``WIDEN``), so a fixed seed passes on the theory, not by luck
of the draw.
"""
import math

import numpy as np
import pytest
from scipy import integrate, stats

import fxsim
from fxsim.studies import quant_noise as qn

WIDEN = 3.2905267314919255 / qn.Z95       # 99.9 % half-width from a 95 % one


def sqnr(kind, bits, stats_of_mode):
    return 10 * math.log10(qn.input_power(kind, bits) / stats_of_mode["mse"])


@pytest.fixture(scope="module")
def uniform_b8():
    return qn.sqnr_task("uniform", 8, 1 << 17, seed=11)


@pytest.mark.parametrize("mode", ["nearest_even", "nearest_away", "nearest_odd"])
def test_uniform_sqnr_at_8_bits_within_0p1_db_of_theory(uniform_b8, mode):
    # Full-scale uniform input, D^2/12 model: SQNR = (1/3) / (D^2/12) = 4 / D^2 = 2^(2b).
    assert abs(sqnr("uniform", 8, uniform_b8[mode]) - 20 * 8 * math.log10(2)) < 0.1
    # Exactly: the top cell saturates (every x in [1 - D, 1) goes to 1 - D, e = -f,
    # mean square D^2/3 instead of D^2/12) and holds 1/2^b of the input:
    # MSE = D^2 (1/12 + (1/3 - 1/12) / 2^b).
    d = 2.0 ** -7
    exact = d * d * (1 / 12 + (1 / 3 - 1 / 12) / 256)
    r = uniform_b8[mode]
    assert abs(r["mse"] - exact) <= WIDEN * r["mse_hw"]
    assert qn.uniform_sqnr_theory(mode, 8) == pytest.approx(10 * math.log10((1 / 3) / exact), abs=1e-12)


def test_uniform_sqnr_shifts_by_half_a_bit_and_a_bit(uniform_b8):
    # Stochastic: D^2/6, 10 log10(2) = 3.01 dB below nearest; directed modes: D^2/3,
    # 10 log10(4) = 6.02 dB below.  Exactly, with the saturating top cell (1/256 of the
    # input, mean square D^2/3 for every mode): nearest 1/12 + (1/3 - 1/12)/256,
    # stochastic 1/6 + (1/3 - 1/6)/256, directed 1/3.
    near = sqnr("uniform", 8, uniform_b8["nearest_even"])
    exact_near = 1 / 12 + (1 / 3 - 1 / 12) / 256
    shift_st = 10 * math.log10((1 / 6 + (1 / 3 - 1 / 6) / 256) / exact_near)
    shift_dir = 10 * math.log10((1 / 3) / exact_near)
    assert shift_st == pytest.approx(10 * math.log10(2), abs=0.04)
    assert shift_dir == pytest.approx(10 * math.log10(4), abs=0.06)
    assert near - sqnr("uniform", 8, uniform_b8["stochastic"]) == pytest.approx(shift_st, abs=0.05)
    for mode in ("down", "up", "toward_zero", "jam", "stochastic_equal"):
        assert near - sqnr("uniform", 8, uniform_b8[mode]) == pytest.approx(shift_dir, abs=0.05)


def test_every_mode_matches_the_exact_cell_theory_at_4_bits():
    res = qn.sqnr_task("uniform", 4, 1 << 16, seed=12)
    d = qn.step(4)
    for mode in qn.MODES:
        th = qn.uniform_cells_theory(mode, 4, -8, 7)
        r = res[mode]
        assert abs(r["mse"] - th["mse"] * d * d) <= WIDEN * r["mse_hw"], mode
        assert abs(r["mean"] - th["mean"] * d) <= WIDEN * r["mean_hw"], mode


def test_cell_theory_closed_forms():
    # U[-1, 1) at b bits, 2^b cells, the top one saturating (every mode rounds down there).
    b = 6
    half = 1 << (b - 1)
    up = qn.uniform_cells_theory("up", b, -half, half - 1)
    assert up["mean"] == pytest.approx(0.5 - 1 / 2 ** b)      # 1/2 except the top cell's -1/2
    assert up["mse"] == pytest.approx(1 / 3)
    down = qn.uniform_cells_theory("down", b, -half, half - 1)
    assert (down["mean"], down["mse"], down["var"]) == pytest.approx((-0.5, 1 / 3, 1 / 12))
    st = qn.uniform_cells_theory("stochastic", b, -half, half - 1)
    assert st["mse"] == pytest.approx(1 / 6 + (1 / 3 - 1 / 6) / 2 ** b)
    # The bias-table input: cells -half+1 .. half-2, no saturation; positive cells 0..half-2
    # (half - 1 of them, an odd count: one more even than odd). Odd/jam go up from an even
    # cell (+1/2) and down from an odd one (-1/2): mean over x > 0 = 1 / (2 (half - 1)).
    lo, hi = qn.table_input_range(b)
    assert (lo, hi) == (-half + 1, half - 2)
    for mode in ("odd", "jam"):
        th = qn.uniform_cells_theory(mode, b, lo, hi)
        assert th["mean"] == pytest.approx(0.0, abs=1e-15)
        assert th["mean_pos"] == pytest.approx(1 / (2 * (half - 1)))
    assert qn.uniform_cells_theory("toward_zero", b, lo, hi)["mean_pos"] == -0.5


@pytest.fixture(scope="module")
def bias_b8():
    return {m: qn.bias_task(m, 8, 1 << 20, seed=13) for m in ("stochastic", "down", "up", "toward_zero")}


def test_stochastic_rounding_is_unbiased_with_variance_d2_over_6(bias_b8):
    s = bias_b8["stochastic"]
    # E[e | f] = f (1 - f) - (1 - f) f = 0; E[e^2 | f] = f (1 - f)^2 + (1 - f) f^2 = f (1 - f),
    # averaged over a uniform f: 1/2 - 1/3 = 1/6 (units of D). fxsim's 32 random bits
    # bias the mean by -2^-33, far inside the interval.
    assert abs(s["mean"]) <= WIDEN * s["mean_hw"]
    assert abs(s["mse"] - 1 / 6) <= WIDEN * s["mse_hw"]
    assert abs(s["var"] - 1 / 6) <= WIDEN * s["var_hw"]
    assert s["mean_hw"] < 2e-3


def test_stochastic_rounding_is_unbiased_at_a_single_value():
    # One x with fractional part f = 0.3 (in units of D = 2^-3): E[q] = x,
    # Var[q] = D^2 f (1 - f), independently of the study's code.
    d, f, n = 2.0 ** -3, 0.3, 1 << 18
    x = np.full(n, (2 + f) * d)
    q = fxsim.quantize(x, "s4.3", "stochastic", rng=14)
    half_width = 3.2905 * math.sqrt(f * (1 - f) / n) * d
    assert abs(q.mean() - x[0]) <= half_width
    assert q.var() == pytest.approx(d * d * f * (1 - f), rel=0.02)


def test_directed_modes_bias(bias_b8):
    # down: e = -f, mean -1/2, variance 1/12, mean square 1/3; up: the mirror image.
    for mode, mean in (("down", -0.5), ("up", 0.5)):
        s = bias_b8[mode]
        assert abs(s["mean"] - mean) <= WIDEN * s["mean_hw"]
        assert abs(s["var"] - 1 / 12) <= WIDEN * s["var_hw"]
        assert abs(s["mse"] - 1 / 3) <= WIDEN * s["mse_hw"]
    # toward_zero: unbiased on a symmetric input, but rounds down every positive x.
    tz = bias_b8["toward_zero"]
    assert abs(tz["mean"]) <= WIDEN * tz["mean_hw"]
    assert abs(tz["mean_pos"] + 0.5) <= WIDEN * tz["mean_pos_hw"]


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_stratified_sampling_and_the_clipping_model(kind):
    sigma = qn.input_sigma(kind)
    tau = 1.0 - qn.step(8)
    dist = stats.norm(scale=sigma) if kind == "gaussian" else stats.laplace(scale=sigma / math.sqrt(2))
    assert qn.tail_probability(kind, sigma, tau) == pytest.approx(2 * dist.sf(tau), rel=1e-12)
    strata = qn.draw_input(kind, 8, 1 << 14, np.random.default_rng(15))
    assert sum(w for w, _ in strata) == pytest.approx(1.0)
    assert np.all(np.abs(strata[0][1]) <= tau) and np.all(np.abs(strata[1][1]) > tau)
    # The tail stratum's |x| follows the conditional law: compare its mean with quad.
    cond_mean = integrate.quad(lambda x: x * dist.pdf(x), tau, np.inf)[0] / dist.sf(tau)
    assert np.abs(strata[1][1]).mean() == pytest.approx(cond_mean, rel=0.02)
    # Clipping part of the model against scipy integration.
    _, _, e2 = qn._tail(kind, 1.0)
    assert e2 == pytest.approx(integrate.quad(lambda x: (x - 1) ** 2 * dist.pdf(x), 1, np.inf,
                                              epsabs=0, epsrel=1e-10)[0], rel=1e-7)


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_gaussian_and_laplace_sqnr_follow_the_model(kind):
    # b = 8: granular noise dominates; b = 16: clipping noise does (the SQNR floor).
    for b in (8, 16):
        res = qn.sqnr_task(kind, b, 1 << 16, seed=16 + b)
        for mode in ("nearest_even", "down", "stochastic"):
            model = qn.model_sqnr_db(kind, b, mode)
            assert sqnr(kind, b, res[mode]) == pytest.approx(model, abs=0.1 if b == 8 else 0.4)


def test_clip_noise_and_exact_midrise_against_quad():
    for alpha in (1.0, 2.5, 4.0):
        quad = 2 * integrate.quad(lambda x: (x - alpha) ** 2 * stats.norm.pdf(x), alpha, np.inf,
                                  epsabs=0, epsrel=1e-11)[0]
        assert qn.gaussian_clip_noise(alpha) == pytest.approx(quad, rel=1e-8)
    for bits, alpha in ((2, 1.7), (3, 2.3)):
        d, half = 2 * alpha / 2 ** bits, 1 << (bits - 1)
        total = 0.0
        for k in range(-half, half):
            lo = -np.inf if k == -half else k * d
            hi = np.inf if k == half - 1 else (k + 1) * d
            y = (k + 0.5) * d
            total += integrate.quad(lambda x: (x - y) ** 2 * stats.norm.pdf(x), lo, hi,
                                    epsabs=0, epsrel=1e-11)[0]
        assert qn.midrise_mse(alpha, bits) == pytest.approx(total, rel=1e-8)


def test_optimal_alpha_matches_aciq_and_grows_with_bits():
    # The ACIQ authors' published optima (alpha / sigma) for Gaussian inputs.
    published = {2: 1.71063519, 3: 2.15159277, 4: 2.55913646, 8: 3.92403714}
    for bits, alpha in published.items():
        assert qn.optimal_alpha(qn.aciq_mse, bits) == pytest.approx(alpha, abs=1e-4)
    for mse in (qn.aciq_mse, qn.midrise_mse):
        optima = [qn.optimal_alpha(mse, b) for b in range(2, 9)]
        assert all(a < b for a, b in zip(optima, optima[1:]))
    # The b-bit quantizer's outer levels sit D/2 inside alpha: it wants more range.
    for b in (2, 3, 4, 8):
        assert qn.optimal_alpha(qn.midrise_mse, b) > qn.optimal_alpha(qn.aciq_mse, b)


def test_clipping_monte_carlo_matches_the_analytic_mse():
    for bits in (2, 3, 4, 8):
        a_star = qn.optimal_alpha(qn.aciq_mse, bits)
        alphas = (round(a_star, 2), 5.0)
        mc = qn.clipping_task(bits, alphas, 1 << 17, seed=17 + bits)
        for i, alpha in enumerate(alphas):
            exact = qn.midrise_mse(alpha, bits)
            assert abs(mc["midrise"][i] - exact) <= WIDEN * mc["midrise_hw"][i]
            assert mc["midrise"][i] == pytest.approx(exact, rel=0.02)
        if bits >= 4:
            # The ACIQ model against the quantizer it describes (2^b + 1 levels), near alpha*.
            assert mc["aciq_sim"][0] == pytest.approx(qn.aciq_mse(alphas[0], bits), rel=0.02)
        if bits == 8:
            # At 8 bits the model also fits the real b-bit quantizer within a few percent.
            assert mc["midrise"][0] == pytest.approx(qn.aciq_mse(alphas[0], bits), rel=0.03)
