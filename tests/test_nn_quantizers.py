"""fxsim.nn.quantizers against oracles written here: Fractions (exact
rationals, Python's half-to-even ``round``), plain loops, and the papers'
numbers."""
import math
from fractions import Fraction

import numpy as np
import pytest

from fxsim.nn import quantizers as Q


# ---------------------------------------------------------------- oracles
def ap2_oracle(x: float) -> Fraction:
    """sign(x) * 2**k, k the integer nearest log2|x|, decided exactly:
    with 2**e <= |x| < 2**(e+1), k = e+1 iff |x| > 2**(e + 1/2) iff
    |x|**2 > 2**(2e+1)."""
    if x == 0:
        return Fraction(0)
    a = abs(Fraction(x))
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    k = e + 1 if a * a > Fraction(2) ** (2 * e + 1) else e
    v = Fraction(2) ** k
    return v if x > 0 else -v


def round_half_away(t: Fraction) -> int:
    n = math.floor(abs(t) + Fraction(1, 2))
    return n if t >= 0 else -n


def rnd(t: Fraction, mode: str) -> int:
    if mode == "nearest_even":
        return round(t)          # Python rounds Fractions half to even
    if mode == "nearest_away":
        return round_half_away(t)
    if mode == "down":
        return math.floor(t)
    if mode == "up":
        return math.ceil(t)
    raise AssertionError(mode)


# ---------------------------------------------------------------- McDonnell
@pytest.mark.parametrize("F, C_in, expected", [(3, 3, 0.27217), (3, 16, 0.11785),
                                               (1, 640, 0.05590)])
def test_mcdonnell_scales_of_the_paper(F, C_in, expected):
    s = Q.mcdonnell_scale(F, C_in)
    assert round(s, 5) == expected
    assert abs(s * s - 2 / (F * F * C_in)) < 1e-15


def test_scaled_sign():
    w = np.array([-2.0, -0.0, 0.0, 1e-300, -1e-300, 3.0])
    s = Q.mcdonnell_scale(3, 16)
    np.testing.assert_array_equal(Q.scaled_sign(w, 3, 16), [-s, s, s, s, -s, s])
    with pytest.raises(ValueError, match="C_in"):
        Q.mcdonnell_scale(3, 0)


# ---------------------------------------------------------------- AP2
def test_ap2_examples_of_the_paper():
    x = np.array([0.3, 0.7, 1.45, 3.0, -5.0])
    np.testing.assert_array_equal(Q.ap2(x), [0.25, 0.5, 2.0, 4.0, -4.0])
    assert Q.ap2(0.0) == 0.0 and not np.signbit(Q.ap2(0.0))
    assert Q.ap2(-0.0) == 0.0 and np.signbit(Q.ap2(-0.0))
    assert Q.ap2(1.45) == 2.0  # the arithmetic midpoint 1.5 would give 1


def test_ap2_exact_powers_of_two_are_fixed_points():
    k = np.arange(-1074, 1024)
    p = np.ldexp(1.0, k)
    np.testing.assert_array_equal(Q.ap2(p), p)
    np.testing.assert_array_equal(Q.ap2(-p), -p)


def test_ap2_at_the_tie_points_of_the_rule_against_fractions():
    """The rule's ties are 2**(e + 1/2): check the float64s nearest to them,
    on both sides, in every binade (subnormals included)."""
    xs = []
    for e in range(-1074, 1023):
        t = math.ldexp(math.sqrt(2.0), e)
        if t == 0:
            continue
        a = t
        for _ in range(3):
            a = math.nextafter(a, 0.0)
        for _ in range(7):
            xs.append(a)
            a = math.nextafter(a, math.inf)
    xs = np.array(xs)
    got = Q.ap2(xs)
    bad = [x for x, g in zip(xs, got) if Fraction(g) != ap2_oracle(x)]
    assert not bad, bad[:5]
    got = Q.ap2(-xs)
    assert all(Fraction(g) == ap2_oracle(-x) for x, g in zip(xs, got))


def test_ap2_random_bit_patterns_against_fractions():
    bits = np.random.default_rng(7).integers(0, 2**63 - 1, size=4000, dtype=np.uint64)
    x = bits.view(np.float64)
    x = x[np.isfinite(x) & (np.abs(x) < 2.0 ** 1023)]
    got = Q.ap2(x)
    assert all(Fraction(g) == ap2_oracle(v) for v, g in zip(x, got))


def test_ap2_overflow_and_bad_input_name_the_index():
    assert Q.ap2(math.ldexp(1.414, 1023)) == math.ldexp(1.0, 1023)
    with pytest.raises(OverflowError, match=r"index \(1,\)"):
        Q.ap2(np.array([1.0, math.ldexp(1.5, 1023)]))
    with pytest.raises(ValueError, match=r"index \(0, 1\) is NaN"):
        Q.ap2(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"index \(0,\) is not finite"):
        Q.ap2(np.array([np.inf]))


# ---------------------------------------------------------------- binarization
def test_sign_zero_is_plus_one():
    x = np.array([-1.0, -1e-320, -0.0, 0.0, 1e-320, 2.0, -np.inf, np.inf])
    np.testing.assert_array_equal(Q.sign(x), [-1, -1, 1, 1, 1, 1, -1, 1])
    with pytest.raises(ValueError, match=r"index \(2,\)"):
        Q.sign([1.0, 2.0, np.nan])


def test_ste_mask_exactly_at_the_boundaries():
    one_up, one_down = math.nextafter(1.0, 2.0), math.nextafter(1.0, 0.0)
    x = np.array([-one_up, -1.0, -one_down, 0.0, one_down, 1.0, one_up, 5.0])
    dy = np.arange(1.0, 9.0)
    np.testing.assert_array_equal(Q.ste_grad(x, dy), [0, 2, 3, 4, 5, 6, 0, 0])
    # a masked NaN/inf gradient becomes 0, not NaN
    np.testing.assert_array_equal(Q.ste_grad([2.0, 0.5], [np.nan, np.inf]), [0.0, np.inf])


def test_stochastic_sign_frequency_within_5_sigma():
    n = 200_000
    for x in (-0.9, -0.3, 0.0, 0.25, 0.8):
        s = Q.stochastic_sign(np.full(n, x), np.random.default_rng(123))
        p = (x + 1) / 2
        freq = np.mean(s == 1)
        assert abs(freq - p) < 5 * math.sqrt(p * (1 - p) / n), (x, freq, p)
        assert set(np.unique(s)) <= {-1.0, 1.0}


def test_stochastic_sign_clip_ends_and_reproducibility():
    x = np.array([-5.0, -1.0, 1.0, 7.0] * 1000)
    s = Q.stochastic_sign(x, 0)
    np.testing.assert_array_equal(s, np.where(x >= 1, 1.0, -1.0))
    y = np.random.default_rng(5).uniform(-1.5, 1.5, size=1000)
    a = Q.stochastic_sign(y, 99)
    b = Q.stochastic_sign(y, np.random.default_rng(99))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Q.stochastic_sign(y, 100))
    with pytest.raises(ValueError, match="rng"):
        Q.stochastic_sign(y, None)


def test_stochastic_sign_is_the_exact_comparison_u_below_p():
    """+1 iff u < (x + 1)/2 in exact arithmetic, u the Generator's float64."""
    rng = np.random.default_rng(2024)
    base = rng.uniform(-1, 1, size=300)
    # values whose (x+1)/2 is exactly one of the Generator's draws, and
    # its neighbours: where a rounded p would decide wrongly
    u = np.random.default_rng(11).random(300)
    x = np.concatenate([base, 2 * u - 1, np.nextafter(2 * u - 1, 2), np.nextafter(2 * u - 1, -2)])
    s = Q.stochastic_sign(x, np.random.default_rng(77))
    draws = np.random.default_rng(77).random(x.shape)
    expected = [1.0 if Fraction(d) < (Fraction(v) + 1) / 2 else -1.0 for d, v in zip(draws, x)]
    np.testing.assert_array_equal(s, expected)
    # with the same stream as the constructed x: u == p exactly gives -1
    x2 = 2 * u - 1
    s2 = Q.stochastic_sign(x2, np.random.default_rng(11))
    np.testing.assert_array_equal(s2, -1.0)
    s3 = Q.stochastic_sign(np.nextafter(x2, 2), np.random.default_rng(11))
    np.testing.assert_array_equal(s3, 1.0)


# ---------------------------------------------------------------- DoReFa
def quantize_k_oracle(x, k, mode="nearest_even"):
    m = 2 ** k - 1
    q = rnd(Fraction(float(x)) * m, mode)
    return q, float(Fraction(q, m))   # float(Fraction) is correctly rounded


def double_rounding_cases(k, count=40):
    """float64 x in [0, 1] whose *float64* product (2**k - 1)*x is a
    half-integer while the exact product is not (a two-rounding quantizer
    gets these wrong)."""
    m = 2 ** k - 1
    found = []
    for n in range(m):
        c = (n + 0.5) / m
        for d in range(-6, 7):
            x = c
            step = math.inf if d > 0 else 0.0
            for _ in range(abs(d)):
                x = math.nextafter(x, step)
            if 0 <= x <= 1 and (m * x) % 1 == 0.5 and Fraction(x) * m != Fraction(2 * n + 1, 2):
                found.append(x)
        if len(found) >= count:
            break
    return found


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8, 12, 20])
def test_quantize_k_against_fractions(k):
    rng = np.random.default_rng(k)
    m = 2 ** k - 1
    x = np.concatenate([rng.random(300), [0.0, 1.0, 0.5, -0.0],
                        (np.arange(m + 1) + 0.5)[:50] / m, double_rounding_cases(k)])
    x = x[(x >= 0) & (x <= 1)]
    for mode in ("nearest_even", "nearest_away", "down", "up"):
        values, codes = Q.quantize_k(x, k, mode, return_codes=True)
        for v, c, xi in zip(values, codes, x):
            q, val = quantize_k_oracle(xi, k, mode)
            assert (int(c), v) == (q, val), (k, mode, xi)


def test_quantize_k_ties_and_double_rounding_trap():
    # x = 1/2: (2**k - 1)/2 is a tie for every k; half-even goes to the even code
    for k in range(1, 9):
        m = 2 ** k - 1
        below, above = (m - 1) // 2, (m + 1) // 2
        _, c = Q.quantize_k(0.5, k, return_codes=True)
        assert int(c) == (above if above % 2 == 0 else below)
        _, c = Q.quantize_k(0.5, k, "nearest_away", return_codes=True)
        assert int(c) == (m + 1) // 2
    cases = double_rounding_cases(12)
    assert cases, "no double-rounding case found"
    m = 2 ** 12 - 1
    _, codes = Q.quantize_k(np.array(cases), 12, return_codes=True)
    naive = np.round(m * np.array(cases))          # rounds the rounded product
    exact = [round(Fraction(x) * m) for x in cases]
    np.testing.assert_array_equal(codes.astype(np.int64), exact)
    assert (naive != np.array(exact)).any()


def test_quantize_k_domain_errors():
    with pytest.raises(ValueError, match=r"index \(1,\)"):
        Q.quantize_k(np.array([0.5, 1.0000000000000002]), 3)
    with pytest.raises(ValueError, match=r"index \(0,\)"):
        Q.quantize_k(np.array([np.nan]), 3)
    with pytest.raises(ValueError, match="k must"):
        Q.quantize_k(0.5, 0)


def test_quantize_k_stochastic_unbiased():
    x = np.full(100_000, 0.3)
    k = 3
    values = Q.quantize_k(x, k, "stochastic", rng=4)
    t = 0.3 * 7
    f = t - math.floor(t)
    sd = math.sqrt(f * (1 - f) / x.size) / 7
    assert abs(values.mean() - 0.3) < 5 * sd
    assert set(np.round(values * 7)) == {2.0, 3.0}


def test_dorefa_weights_against_fractions():
    rng = np.random.default_rng(3)
    w = rng.normal(scale=0.7, size=(6, 5))
    for k in (1, 2, 3, 8):
        values, codes = Q.dorefa_weights(w, k, return_codes=True)
        t = np.tanh(w)
        x = t / (2 * np.max(np.abs(t))) + 0.5
        m = 2 ** k - 1
        for v, c, xi in zip(values.ravel(), codes.ravel(), x.ravel()):
            q = round(Fraction(float(xi)) * m)
            assert int(c) == q
            assert v == float(Fraction(2 * q - m, m))
        assert np.all(np.abs(values) <= 1)
        assert len(np.unique(values)) <= 2 ** k
    # the extreme weight maps to +-1 exactly
    values = Q.dorefa_weights(np.array([-3.0, 0.1, 3.0]), 4)
    assert values[0] == -1.0 and values[2] == 1.0


def test_dorefa_weights_all_zero_is_x_one_half():
    v = Q.dorefa_weights(np.zeros(4), 3)
    np.testing.assert_array_equal(v, 1 / 7)   # x = 1/2 -> 3.5 -> 4 (even) -> (8 - 7)/7
    v = Q.dorefa_weights(np.zeros(4), 1)
    np.testing.assert_array_equal(v, -1.0)    # 0.5 -> 0 (even) -> -1


def test_dorefa_activations_clip_then_quantize():
    x = np.array([-2.0, -0.0, 0.2, 0.5, 0.99, 1.0, 4.0, np.inf, -np.inf])
    v = Q.dorefa_activations(x, 2)
    expected = [float(Fraction(round(Fraction(min(max(xi, 0.0), 1.0)) * 3), 3)) for xi in x]
    np.testing.assert_array_equal(v, expected)
    with pytest.raises(ValueError, match=r"index \(1,\) is NaN"):
        Q.dorefa_activations([0.1, np.nan], 2)


# ---------------------------------------------------------------- GEMMLOWP
def gemmlowp_oracle(x, lo, hi, b, mode="nearest_even"):
    """Loops and Fractions: delta and d = x - min as float64, the quotient
    exact, rounded once, clamped; value = q*delta + min rounded once."""
    m = 2 ** b - 1
    delta = (hi - lo) / m
    codes, values = [], []
    for xi in np.ravel(x):
        if delta == 0:
            q = 0
        else:
            t = Fraction(float(xi - lo)) / Fraction(delta)
            q = min(max(rnd(t, mode), 0), m)
        codes.append(q)
        values.append(float(q * Fraction(delta) + Fraction(lo)))
    return np.array(codes).reshape(np.shape(x)), np.array(values).reshape(np.shape(x))


@pytest.mark.parametrize("b", [1, 2, 4, 8])
def test_gemmlowp_per_tensor_against_fractions(b):
    rng = np.random.default_rng(b)
    x = rng.normal(size=(7, 9)) * 3
    for mode in ("nearest_even", "nearest_away", "down"):
        r = Q.gemmlowp_quantize(x, b, rounding=mode)
        codes, values = gemmlowp_oracle(x, x.min(), x.max(), b, mode)
        np.testing.assert_array_equal(r.code.astype(np.int64), codes)
        np.testing.assert_array_equal(r.value, values)
        assert r.min.shape == (1, 1) and r.delta[0, 0] == (x.max() - x.min()) / (2 ** b - 1)
    r = Q.gemmlowp_quantize(x, b)
    # code 0 is min exactly; the top code is (2**b - 1) * delta + min with a
    # rounded delta, within a few ulps of max
    assert r.value.min() == x.min()
    assert abs(r.value.max() - x.max()) <= 4 * np.spacing(x.max() - x.min())


def test_gemmlowp_ties_go_to_even():
    x = np.array([0.0, 0.5, 1.5, 2.5, 3.0])      # delta = 1 with b = 2
    r = Q.gemmlowp_quantize(x, 2)
    np.testing.assert_array_equal(r.code, [0, 0, 2, 2, 3])
    r = Q.gemmlowp_quantize(x, 2, rounding="nearest_away")
    np.testing.assert_array_equal(r.code, [0, 1, 2, 3, 3])


def false_ties(den, lo, n_max, count=30):
    """float64 x whose float64 quotient (x - lo)/den is a half-integer while
    the exact quotient of the float64s (x - lo) and den is not: rounding the
    rounded quotient would break a tie that is not there."""
    found = []
    for n in range(n_max):
        x = lo + (n + 0.5) * den
        for _ in range(6):
            x = math.nextafter(x, -math.inf)
        for _ in range(13):
            d = x - lo
            if ((d / den) % 1 == 0.5 and Fraction(d) / Fraction(den) != n + Fraction(1, 2)):
                found.append(x)
            x = math.nextafter(x, math.inf)
        if len(found) >= count:
            break
    return found


def test_gemmlowp_rounds_the_exact_quotient_once():
    lo, hi, b = -0.3, 25.2, 8
    delta = (hi - lo) / 255
    cases = false_ties(delta, lo, 255)
    assert len(cases) >= 10
    x = np.array([lo, hi] + cases)
    r = Q.gemmlowp_quantize(x, b)
    codes, values = gemmlowp_oracle(x, lo, hi, b)
    np.testing.assert_array_equal(r.code.astype(np.int64), codes)
    np.testing.assert_array_equal(r.value, values)
    naive = np.clip(np.round((x - lo) / delta), 0, 255)     # two roundings
    assert (naive != codes).any()


def test_gemmlowp_per_channel_equals_per_slice():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 5)) * np.array([1.0, 10.0, 0.01])[None, :, None]
    r = Q.gemmlowp_quantize(x, 4, channel_axis=1)
    assert r.min.shape == (1, 3, 1)
    for c in range(3):
        s = x[:, c, :]
        codes, values = gemmlowp_oracle(s, s.min(), s.max(), 4)
        np.testing.assert_array_equal(r.code[:, c, :].astype(np.int64), codes)
        np.testing.assert_array_equal(r.value[:, c, :], values)
        assert r.min[0, c, 0] == s.min() and r.max[0, c, 0] == s.max()
    r2 = Q.gemmlowp_quantize(x, 4, channel_axis=-2)
    np.testing.assert_array_equal(r2.value, r.value)


def test_gemmlowp_constant_tensor_and_channel_without_division_by_zero():
    x = np.full((3, 4), 2.5)
    with np.errstate(all="raise"):
        r = Q.gemmlowp_quantize(x, 8)
    np.testing.assert_array_equal(r.code, 0)
    np.testing.assert_array_equal(r.value, 2.5)
    assert r.delta.item() == 0.0
    y = np.stack([np.full(5, -1.25), np.linspace(0, 1, 5)])
    with np.errstate(all="raise"):
        r = Q.gemmlowp_quantize(y, 2, channel_axis=0)
    np.testing.assert_array_equal(r.value[0], -1.25)
    np.testing.assert_array_equal(r.code[0], 0)
    codes, values = gemmlowp_oracle(y[1], 0.0, 1.0, 2)
    np.testing.assert_array_equal(r.value[1], values)
    # given min == max: the grid is the single point min
    r = Q.gemmlowp_quantize(np.array([-1.0, 0.0, 7.0]), 4, min_value=0.5, max_value=0.5)
    np.testing.assert_array_equal(r.value, 0.5)


def test_gemmlowp_given_range_clamps_and_errors():
    x = np.array([-3.0, -1.0, 0.0, 0.4, 1.0, 9.0])
    r = Q.gemmlowp_quantize(x, 3, min_value=-1.0, max_value=1.0)
    codes, values = gemmlowp_oracle(x, -1.0, 1.0, 3)
    np.testing.assert_array_equal(r.code.astype(np.int64), codes)
    np.testing.assert_array_equal(r.value, values)
    assert r.value[0] == -1.0 and abs(r.value[-1] - 1.0) < 1e-15
    with pytest.raises(ValueError, match="min .* > max"):
        Q.gemmlowp_quantize(x, 3, min_value=1.0, max_value=0.0)
    with pytest.raises(ValueError, match=r"index \(1,\)"):
        Q.gemmlowp_quantize(np.array([0.0, np.nan]), 3)


def test_gemmlowp_stochastic_is_floor_of_t_plus_u():
    """fxsim's stochastic mode with R random bits r is floor(t + r/2**R)."""
    rng = np.random.default_rng(9)
    x = rng.uniform(-2, 2, size=500)
    R = 8
    r_ints = rng.integers(0, 2 ** R, size=x.size)
    res = Q.gemmlowp_quantize(x, 3, rounding="stochastic", random=r_ints, random_bits=R)
    lo, hi = x.min(), x.max()
    delta = (hi - lo) / 7
    for xi, ri, q in zip(x, r_ints, res.code):
        t = Fraction(float(xi - lo)) / Fraction(delta)
        assert int(q) == min(max(math.floor(t + Fraction(int(ri), 2 ** R)), 0), 7)


def test_gemmlowp_stochastic_unbiased_and_reproducible():
    n = 200_000
    x = np.concatenate([[0.0, 1.0], np.full(n, 0.37)])   # min 0, max 1, b = 2: t = 1.11
    r = Q.gemmlowp_quantize(x, 2, rounding="stochastic", rng=31)
    v = r.value[2:]
    t = 0.37 * 3
    f = t - math.floor(t)
    sd = math.sqrt(f * (1 - f) / n) / 3
    assert abs(v.mean() - 0.37) < 5 * sd
    assert set(np.unique(r.code[2:])) == {1, 2}
    again = Q.gemmlowp_quantize(x, 2, rounding="stochastic", rng=np.random.default_rng(31))
    np.testing.assert_array_equal(again.code, r.code)
    # the exact integer codes (t = 0 and t = 3) never move
    assert r.code[0] == 0 and r.code[1] == 3


# ---------------------------------------------------------------- QNN linear / log
def test_linear_quant_against_fractions():
    rng = np.random.default_rng(12)
    x = np.concatenate([rng.uniform(-3, 3, 400), [0.0, -0.0, 0.125, -0.375, 0.625, 2.0]])
    for step, lo, hi in ((0.25, -1.0, 1.0), (0.1, -0.55, 2.0), (1 / 3, -1.0, 1.0),
                         (2.0 ** -6, -0.5, 0.75)):
        for mode in ("nearest_even", "nearest_away"):
            got = Q.linear_quant(x, step, lo, hi, mode)
            for xi, g in zip(x, got):
                n = rnd(Fraction(float(xi)) / Fraction(step), mode)
                v = float(n * Fraction(step))
                assert g == min(max(v, lo), hi), (xi, step, mode)
    # ties: 0.125/0.25 = 0.5 -> 0 (even), -0.375/0.25 = -1.5 -> -2 (even)
    np.testing.assert_array_equal(Q.linear_quant([0.125, -0.375, 0.625], 0.25, -1, 1),
                                  [0.0, -0.5, 0.5])


def test_linear_quant_rounds_the_exact_quotient_once():
    step = 0.1
    cases = false_ties(step, 0.0, 100)
    assert len(cases) >= 10
    got = Q.linear_quant(np.array(cases), step, -100.0, 100.0)
    expected = [float(round(Fraction(x) / Fraction(step)) * Fraction(step)) for x in cases]
    np.testing.assert_array_equal(got, expected)
    naive = np.round(np.array(cases) / step) * step
    assert (naive != np.array(expected)).any()


def test_linear_quant_far_outside_the_range_saturates_to_the_clip():
    x = np.array([-1e300, -7.0, 7.0, 1e300])
    np.testing.assert_array_equal(Q.linear_quant(x, 0.5, -1.0, 1.25), [-1.0, -1.0, 1.25, 1.25])
    with pytest.raises(ValueError, match="step"):
        Q.linear_quant(x, 0.0, -1, 1)


def test_log_quant_is_clipped_ap2():
    x = np.array([0.0, 0.3, -0.7, 1.45, 3.0, -5.0, 100.0, 1e-9])
    expected = [float(min(max(ap2_oracle(v), Fraction(-4)), Fraction(2))) for v in x]
    np.testing.assert_array_equal(Q.log_quant(x, -4.0, 2.0), expected)
