"""fxsim.nn.bn against reference/bn.py (exact Fractions, brute force over x),
gemmlowp's integer formulas written out here, and Larq Compute Engine's own
threshold formula.

The oracle decides every BN output element by element: y(x) is never
computed, its sign against a rational is decided by comparing squares.
fxsim instead solves for the thresholds (integer square roots) and for the
shared scale (a convex search over A): different algorithms, same answers.
"""
import math
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fxsim
from fxsim.nn import bn
import reference.bn as rb
from reference.rounding import round_to_integer

INT8 = (-128, 127)
ACC10 = (-512, 511)
DETERMINISTIC = ("nearest_even", "nearest_odd", "nearest_away", "nearest_zero", "nearest_up",
                 "nearest_down", "down", "up", "toward_zero", "away", "odd", "jam")

# Channels that stress the edges: (gamma, beta, mean, var, eps).
EDGE_CHANNELS = [
    (1.0, 0.5, 3.0, 2.0, 1e-5),          # plain
    (-2.0, 0.25, -7.0, 3.0, 1e-5),       # negative gamma
    (0.0, -1.0, 0.0, 1.0, 0.0),          # zero gamma, beta < 0: constant -1
    (0.0, 0.0, 5.0, 1.0, 0.0),           # zero gamma, beta == 0: sign(0) = +1
    (1.0, 0.0, 3.0, 3.0, 1.0),           # var + eps = 4: y(3) == 0 exactly
    (-1.0, 0.0, -3.0, 0.0, 4.0),         # var = 0, eps = 4: y(-3) == 0, gamma < 0
    (2.0**-60, -(2.0**-60) * 3.5, 1.0, 1.0, 0.0),   # tiny gamma, step inside the range
    (2.0**-60, 0.75, 0.0, 1.0, 0.0),     # tiny gamma: the step is far outside,
    (-(2.0**-70), 0.75, 0.0, 1.0, 0.0),  # ... and beyond int64
    (3.0, -1.25, 100.0, 0.0, 2.0**-40),  # var = 0, tiny eps: a huge slope
    (F(1, 3), F(-2, 7), F(-50, 3), F(5, 11), F(1, 1000)),
    (-5.0, 4.0, 126.5, 7.0, 1e-3),       # step at the top end of int8
    (1.0, 100.0, 0.0, 1.0, 0.0),         # always +1 on the range
]


def cols(channels):
    """Per-channel lists (gamma, beta, mean, var, eps) from rows."""
    return [list(c) for c in zip(*channels)]


def xs(lo, hi):
    return np.arange(lo, hi + 1, dtype=np.int64)


def signs_ref(channels, lo, hi, in_scale=1):
    """(n, C) levels 0/1 (1 = +1) of the exact sign, by the oracle."""
    return np.array([[int(rb.sign_activation(x, *ch, in_scale=in_scale) > 0) for ch in channels]
                     for x in range(lo, hi + 1)])


# ---------------------------------------------------------------- sign
@pytest.mark.parametrize("lo,hi", [INT8, ACC10])
def test_sign_thresholds_exhaustive(lo, hi):
    """FINN convention, flipped comparison for negative gamma: every x of
    the range, and the thresholds themselves (the only ones that work)."""
    th = bn.thresholds_sign(*cols(EDGE_CHANNELS))
    x = xs(lo, hi)
    expected = signs_ref(EDGE_CHANNELS, lo, hi)
    got = bn.apply_thresholds(np.repeat(x[:, None], len(EDGE_CHANNELS), 1), th)
    np.testing.assert_array_equal(got, expected)
    assert th.thresholds.dtype == np.int64 and th.thresholds.shape == (len(EDGE_CHANNELS), 1)
    for c, ch in enumerate(EDGE_CHANNELS):
        orient = "le" if ch[0] < 0 else "ge"
        assert th.ge[c] == (orient == "ge") and not th.negate[c]
        (T,) = rb.thresholds_from_levels(list(expected[:, c]), lo, 1, orient)
        clamp = (lo, hi + 1) if orient == "ge" else (lo - 1, hi)
        assert min(max(int(th.thresholds[c, 0]), clamp[0]), clamp[1]) == T, c
    assert th.out_scale == 2 and th.out_bias == -1


def test_sign_known_thresholds_and_sentinels():
    th = bn.thresholds_sign(*cols(EDGE_CHANNELS))
    T = th.thresholds[:, 0]
    assert T[2] == bn.INT64_MAX       # gamma 0, beta < 0: never +1
    assert T[3] == bn.INT64_MIN       # gamma 0, beta 0: sign(0) = +1, always
    assert T[4] == 3                  # y(3) == 0 -> +1 from x = 3 on
    assert T[5] == -3 and not th.ge[5]  # gamma < 0: +1 for x <= -3
    assert T[6] == 5                  # x - 1 - 3.5 >= 0 from x = 5
    assert T[7] == -(3 << 58)         # -0.75 * 2**60, exactly
    assert T[8] == bn.INT64_MAX and not th.ge[8]   # x <= 0.75 * 2**70: always (clamped)


def test_sign_fold_equals_flip():
    """Folding the sign of gamma into the weights (the accumulator becomes
    -x) gives the same outputs as the flipped comparison."""
    flip = bn.thresholds_sign(*cols(EDGE_CHANNELS), negative="flip")
    fold = bn.thresholds_sign(*cols(EDGE_CHANNELS), negative="fold")
    assert list(fold.negate) == [ch[0] < 0 for ch in EDGE_CHANNELS]
    assert fold.ge.all()
    x = np.repeat(xs(*ACC10)[:, None], len(EDGE_CHANNELS), 1)
    acc = np.where(fold.negate, -x, x)
    np.testing.assert_array_equal(bn.apply_thresholds(acc, fold), bn.apply_thresholds(x, flip))
    np.testing.assert_array_equal(bn.apply_thresholds(acc, fold), signs_ref(EDGE_CHANNELS, *ACC10))


def test_sign_in_scale_and_axis():
    """in_scale per channel; channels on another axis."""
    chans = EDGE_CHANNELS[:6]
    scales = [F(1, 4), 3, 0.1, 1, F(2, 3), 7]
    th = bn.thresholds_sign(*cols(chans), in_scale=scales)
    x = xs(*INT8)
    exp = np.array([[int(rb.sign_activation(int(v), *ch, in_scale=s) > 0)
                     for ch, s in zip(chans, scales)] for v in x])
    got = bn.apply_thresholds(np.broadcast_to(x[None, :, None], (len(chans), x.size, 2)), th,
                              axis=0)
    np.testing.assert_array_equal(got[:, :, 0].T, exp)
    np.testing.assert_array_equal(got[:, :, 1].T, exp)


def test_sign_closer_than_float64():
    """beta = -p/q with p/q a Pell convergent just below sqrt(2): y(2) =
    sqrt(2) - p/q is about +1e-21, so sign(y(2)) = +1.  Float64 BN computes
    y(2) = -2.2e-16 (so -1); fxsim's threshold is the exact one."""
    p, q = 1, 1
    while q < 10**10 or p * p - 2 * q * q != -1:
        p, q = p + 2 * q, p + q
    ch = (1, F(-p, q), 0, 2, 0)
    assert rb.sign_activation(2, *ch) == 1 and rb.sign_activation(1, *ch) == -1
    y_float = 1.0 * (2 - 0.0) / np.sqrt(2.0) + float(F(-p, q))
    assert y_float < 0  # the float64 BN is wrong here
    th = bn.thresholds_sign(*cols([ch]))
    assert th.thresholds[0, 0] == 2


# ---------------------------------------------------------------- k-bit
KBIT_CHANNELS = EDGE_CHANNELS + [
    (0.0, 2.5, 0.0, 1.0, 0.0),     # zero gamma: constant level of beta (a tie under /0.5)
    (0.5, 1.5, 0.0, 4.0, 0.0),     # y = x/4 + 1.5: lands on grid points and ties
    (-0.5, 1.0, 4.0, 1.0, 0.0),    # y = -(x-4)/2 + 1: ties, decreasing
]


@pytest.mark.parametrize("fmt", [fxsim.FixedFormat(2, 0, signed=False),
                                 fxsim.FixedFormat(3, 1), fxsim.FixedFormat(3, -1, signed=False)])
def test_kbit_thresholds_every_mode_int8(fmt):
    """k-bit fixed-point activations (encode, saturate) in every deterministic
    mode: the level of every int8 x against the oracle's exact rounding."""
    x = xs(*INT8)
    ulp = F(2) ** -fmt.frac
    located = [[rb.bn_locate(int(v), *ch, ulp) for v in x] for ch in KBIT_CHANNELS]
    for rounding in DETERMINISTIC:
        th = bn.thresholds_kbit(*cols(KBIT_CHANNELS), fmt, rounding=rounding)
        assert th.thresholds.shape == (len(KBIT_CHANNELS), (1 << fmt.word) - 1)
        assert (th.thresholds[:, 1:] >= th.thresholds[:, :-1]).all()  # sorted rows
        got = bn.apply_thresholds(np.repeat(x[:, None], len(KBIT_CHANNELS), 1), th)
        for c, ch in enumerate(KBIT_CHANNELS):
            exp = [rb.saturate(round_to_integer(t, rounding, True), fmt.word, fmt.signed)
                   - fmt.int_min for t in located[c]]
            assert list(got[:, c]) == exp, (rounding, c, ch)
        assert th.out_scale == ulp and th.out_bias == fmt.int_min * ulp


def test_kbit_ties_follow_the_mode():
    """y = x/4 + 1.5 into u2.0: x = -4 gives y = 0.5, a tie between codes 0
    and 1; x = 4 gives 2.5 (tie 2|3).  nearest_even: 0 and 2; nearest_up: 1, 3."""
    ch = [(0.5, 1.5, 0.0, 4.0, 0.0)]
    x = np.array([[-4], [4]])
    even = bn.thresholds_kbit(*cols(ch), "u2.0", rounding="nearest_even")
    up = bn.thresholds_kbit(*cols(ch), "u2.0", rounding="nearest_up")
    assert bn.apply_thresholds(x, even).ravel().tolist() == [0, 2]
    assert bn.apply_thresholds(x, up).ravel().tolist() == [1, 3]


@pytest.mark.parametrize("lo,hi,chans", [INT8 + (KBIT_CHANNELS,), ACC10 + (KBIT_CHANNELS[1::2],)])
def test_kbit_fold_equals_flip_and_thresholds(lo, hi, chans):
    """Fold and flip agree; the levels and the thresholds are the oracle's."""
    fmt = fxsim.FixedFormat(3, 1)
    flip = bn.thresholds_kbit(*cols(chans), fmt, negative="flip")
    fold = bn.thresholds_kbit(*cols(chans), fmt, negative="fold")
    x = np.repeat(xs(lo, hi)[:, None], len(chans), 1)
    a = bn.apply_thresholds(x, flip)
    np.testing.assert_array_equal(bn.apply_thresholds(np.where(fold.negate, -x, x), fold), a)
    for c, ch in enumerate(chans):
        levels = [rb.fixed_activation(v, *ch, 3, 1, True, "nearest_even") + 4
                  for v in range(lo, hi + 1)]
        assert list(a[:, c]) == levels
        orient = "le" if ch[0] < 0 else "ge"
        T = rb.thresholds_from_levels(levels, lo, 7, orient)
        clamp = (lo, hi + 1) if orient == "ge" else (lo - 1, hi)
        mine = sorted(min(max(int(t), clamp[0]), clamp[1]) for t in flip.thresholds[c])
        assert mine == sorted(T), c


def test_kbit_explicit_boundaries():
    bounds = [F(-3, 2), 0, 0, 0.75, F(22, 7)]   # a repeated boundary counts twice
    th = bn.thresholds_kbit(*cols(KBIT_CHANNELS), bounds)
    assert th.out_scale is None and th.out_bias is None
    x = xs(*INT8)
    got = bn.apply_thresholds(np.repeat(x[:, None], len(KBIT_CHANNELS), 1), th)
    for c, ch in enumerate(KBIT_CHANNELS):
        assert list(got[:, c]) == [rb.level_from_boundaries(int(v), *ch, bounds) for v in x]


def test_kbit_zero_gamma_is_the_level_of_beta():
    th = bn.thresholds_kbit([0, 0, 0], [-7, 1.25, 100], 0, 1, 0, "s3.1")
    # s3.1: codes -4..3, values -2..1.5; beta -7 -> level 0, 1.25 -> 1.0 (even), 100 -> 1.5
    x = np.array([[bn.INT64_MIN + 1, 0, 12345], [7, bn.INT64_MAX - 1, -5]])
    x = np.stack([x] * 3, axis=1)  # channels on axis 1
    got = bn.apply_thresholds(x, th)
    assert (got[:, 0] == 0).all() and (got[:, 1] == 6).all() and (got[:, 2] == 7).all()
    assert set(np.unique(th.thresholds)) <= {bn.INT64_MIN, bn.INT64_MAX}


# ---------------------------------------------------------------- LCE
def lce_converter_threshold(gamma, beta, mean, var, eps, K):
    """Larq Compute Engine's converter (ComputeWriteBitpackedOutputThresholds,
    float; no clamping activation): mult = gamma/sqrt(var+eps), bias = beta -
    mult*mean; filter negated when mult < 0; threshold = floor((bias/|mult| +
    K)/2).  Returns (threshold, negate) in float64."""
    mult = gamma / math.sqrt(var + eps)
    bias = beta - mult * mean
    if mult == 0:
        return (bn.INT32_MIN if bias < 0 else bn.INT32_MAX), False
    return math.floor(0.5 * (bias / abs(mult) + K)), mult < 0


@pytest.mark.parametrize("K", [0, 27, 64, 576])
def test_lce_bits_exhaustive(K):
    """Every popcount 0..K; negative gamma folded into the weights, which
    turns the popcount into K - accum."""
    th = bn.thresholds_sign(*cols(EDGE_CHANNELS), convention="lce", K=K)
    assert th.thresholds.dtype == np.int32 and th.K == K
    accum = np.arange(K + 1)
    acc = np.repeat(accum[:, None], len(EDGE_CHANNELS), 1)
    got = bn.apply_thresholds(np.where(th.negate, K - acc, acc), th)
    exp = np.array([[rb.lce_bit(int(a), K, *ch) for ch in EDGE_CHANNELS] for a in accum])
    np.testing.assert_array_equal(got, exp)
    # bit 1 means -1: consistent with the FINN sign levels of x = K - 2*accum
    finn = bn.apply_thresholds(np.repeat((K - 2 * accum)[:, None], len(EDGE_CHANNELS), 1),
                               bn.thresholds_sign(*cols(EDGE_CHANNELS)))
    np.testing.assert_array_equal(got, 1 - finn)


def test_lce_matches_the_converter_formula():
    """Away from ties, LCE's own float formula gives our thresholds (this
    pins the convention: accum > T, bit 1 = negative, sign folded)."""
    rng = np.random.default_rng(5)
    K, compared = 576, 0
    for _ in range(300):
        ch = (float(rng.normal()) * (rng.random() < 0.9), float(rng.normal() * 3),
              float(rng.normal() * 40), float(rng.random() * 30), 1e-3)
        mine = bn.thresholds_sign(*cols([ch]), convention="lce", K=K)
        theirs, negate = lce_converter_threshold(*ch, K)
        if ch[0] != 0:
            mult = ch[0] / math.sqrt(ch[3] + ch[4])
            half = 0.5 * ((ch[1] - mult * ch[2]) / abs(mult) + K)
            if abs(half - round(half)) < 1e-6:
                continue
        # On popcounts 0..K only the threshold clamped to [-1, K] matters
        # (LCE also writes sentinels when the output range misses zero).
        assert min(max(int(mine.thresholds[0]), -1), K) == min(max(theirs, -1), K), ch
        assert bool(mine.negate[0]) == negate, ch
        compared += 1
    assert compared > 250


def test_lce_zero_gamma_sentinels():
    th = bn.thresholds_sign([0, 0, 0], [-0.5, 0, 2], 0, 1, 0, convention="lce", K=64)
    assert th.thresholds.tolist() == [bn.INT32_MIN, bn.INT32_MAX, bn.INT32_MAX]


# ---------------------------------------------------------------- hypothesis
rationals = st.one_of(
    st.fractions(min_value=-8, max_value=8, max_denominator=64),
    st.floats(min_value=-8, max_value=8, allow_nan=False, width=32).map(float),
)
gammas = st.one_of(rationals, st.just(0), st.sampled_from([2.0**-50, -(2.0**-50), 1e-30, -7.5]))
means = st.one_of(st.fractions(min_value=-150, max_value=150, max_denominator=16),
                  st.integers(-130, 130))
variances = st.one_of(st.just(0), st.fractions(min_value=0, max_value=64, max_denominator=32),
                      st.floats(min_value=0, max_value=64, width=32).map(float))
epsilons = st.sampled_from([0, 1e-5, 2.0**-20, 1e-3, F(1, 3)])
channel = st.tuples(gammas, rationals, means, variances, epsilons).filter(
    lambda ch: F(ch[3]) + F(ch[4]) > 0)


@settings(max_examples=40, deadline=None)
@given(chs=st.lists(channel, min_size=1, max_size=3),
       negative=st.sampled_from(["flip", "fold"]),
       in_scale=st.sampled_from([1, F(1, 8), 3, 0.1]))
def test_hypothesis_sign_int8(chs, negative, in_scale):
    th = bn.thresholds_sign(*cols(chs), negative=negative, in_scale=in_scale)
    x = np.repeat(xs(*INT8)[:, None], len(chs), 1)
    got = bn.apply_thresholds(np.where(th.negate, -x, x), th)
    np.testing.assert_array_equal(got, signs_ref(chs, *INT8, in_scale=in_scale))


@settings(max_examples=30, deadline=None)
@given(ch=channel, rounding=st.sampled_from(DETERMINISTIC),
       fmt=st.sampled_from([fxsim.FixedFormat(2, 0, signed=False), fxsim.FixedFormat(2, 1),
                            fxsim.FixedFormat(3, 0, signed=False), fxsim.FixedFormat(4, 2)]))
def test_hypothesis_kbit_int8(ch, rounding, fmt):
    th = bn.thresholds_kbit(*cols([ch]), fmt, rounding=rounding)
    x = xs(*INT8)
    got = bn.apply_thresholds(x[:, None], th)[:, 0]
    exp = [rb.fixed_activation(int(v), *ch, fmt.word, fmt.frac, fmt.signed, rounding) - fmt.int_min
           for v in x]
    assert list(got) == exp


@settings(max_examples=30, deadline=None)
@given(ch=channel, K=st.integers(0, 300))
def test_hypothesis_lce(ch, K):
    th = bn.thresholds_sign(*cols([ch]), convention="lce", K=K)
    accum = np.arange(K + 1)
    acc = K - accum if th.negate[0] else accum
    got = bn.apply_thresholds(acc[:, None], th)[:, 0]
    assert list(got) == [rb.lce_bit(int(a), K, *ch) for a in accum]


# ---------------------------------------------------------------- errors
def test_threshold_errors_name_the_channel():
    with pytest.raises(ValueError, match="var \\+ eps = 0 .* at channel 2"):
        bn.thresholds_sign([1, 1, 1], 0, 0, [1, 1, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="at channel 1"):
        bn.thresholds_sign([1, 1], 0, 0, [1, -2], 1)         # var + eps < 0
    with pytest.raises(ValueError, match="gamma at channel 1 is nan"):
        bn.thresholds_sign([1, float("nan")], 0, 0, 1, 0)
    with pytest.raises(ValueError, match="in_scale = 0 at channel 0"):
        bn.thresholds_kbit(1, 0, 0, 1, 0, "u2.0", in_scale=0)
    with pytest.raises(ValueError, match="boundary 2"):
        bn.thresholds_kbit(1, 0, 0, 1, 0, [0, 1, 0.5])
    with pytest.raises(ValueError, match="stochastic"):
        bn.thresholds_kbit(1, 0, 0, 1, 0, "u2.0", rounding="stochastic")
    with pytest.raises(ValueError, match="fixed-point"):
        bn.thresholds_kbit(1, 0, 0, 1, 0, "float8_e4m3fn")
    with pytest.raises(ValueError, match="needs K"):
        bn.thresholds_sign(1, 0, 0, 1, 0, convention="lce")
    with pytest.raises(ValueError, match="fold"):
        bn.thresholds_sign(1, 0, 0, 1, 0, convention="lce", K=8, negative="flip")
    with pytest.raises(ValueError, match="do not broadcast"):
        bn.thresholds_sign([1, 2], [0, 0, 0], 0, 1, 0)
    with pytest.raises(ValueError, match="3 channels on axis 1"):
        bn.apply_thresholds(np.zeros((4, 3), np.int64), bn.thresholds_sign([1, 2], 0, 0, 1, 0))


# ---------------------------------------------------------------- shared scale
SHARED_CASES = [
    (F(3, 7), F(1, 3), INT8, "nearest_even"),
    (0.3, -2.5, INT8, "nearest_even"),
    (-1.7, 12.25, INT8, "nearest_away"),
    (F(1, 3), 0, INT8, "down"),
    (F(-5, 9), F(1, 2), INT8, "up"),
    (F(-2, 3), F(-1, 3), (0, 255), "away"),        # away/toward_zero: a double-width
    (F(2, 3), F(1, 3), (0, 255), "toward_zero"),   # bin at 0, so a range off zero
    (3, 0, INT8, "nearest_even"),            # integer: k = 0, A = 3, B = 0
    (0, F(7, 2), INT8, "nearest_even"),      # constant 4 (tie to even)
    (F(1, 2), F(1, 4), INT8, "nearest_up"),  # never a tie
    (F(1, 2), 0, INT8, "nearest_up"),        # ties, all up: a floor of a line
    (F(100, 3), F(-7, 5), (-64, 63), "nearest_even"),   # |a| > 1
    (0.0123, 0.5, ACC10, "nearest_even"),
]


def check_against_reference(r, a, b, lo, hi, rounding):
    assert r.verified and r.checked == hi - lo + 1
    for shift in ("floor", "half_up"):
        offset = (1 << r.k) >> 1 if shift == "half_up" else 0
        assert rb.shared_scale_ok(a, b, r.k, r.A, r.B + r.offset - offset, lo, hi, rounding,
                                  shift) is None
    interval = rb.shared_scale_A_interval(a, b, r.k, lo, hi, rounding)
    assert interval is not None and r.A_range == interval
    B_lo, B_hi = rb.shared_scale_B_interval(a, b, r.k, r.A, lo, hi, rounding)
    assert r.B_range == (B_lo - r.offset, B_hi - r.offset)
    if r.k > 0:  # minimal: the reference finds no A at k - 1
        assert rb.shared_scale_A_interval(a, b, r.k - 1, lo, hi, rounding) is None


@pytest.mark.parametrize("a,b,rng,rounding", SHARED_CASES)
def test_shared_scale_against_reference(a, b, rng, rounding):
    lo, hi = rng
    for shift in ("floor", "half_up"):
        r = bn.shared_scale_bn(a, b, lo, hi, rounding=rounding, shift=shift)
        assert r.shift == shift and r.rounding == rounding
        check_against_reference(r, F(a), F(b), lo, hi, rounding)
        x = xs(lo, hi)
        got = bn.apply_shared_scale_bn(x, r)
        assert list(got) == [rb.shared_scale_target(a, b, int(v), rounding) for v in x]
        assert list(r(x)) == list(got)


def test_shared_scale_known_values():
    r = bn.shared_scale_bn(3, 0, -128, 127)
    assert (r.k, r.A, r.B) == (0, 3, 0)
    r = bn.shared_scale_bn(F(3, 7), F(1, 3), -128, 127)
    assert r.k == 10 and r.A == 439 and r.A_range == (439, 439)


def test_shared_scale_no_k_is_reported():
    """round_half_even(x/2) on 0..5 is 0, 0, 1, 2, 2, 2: its steps 0,1,1,0,0
    are not balanced, so it is no floor of a line: no k at all."""
    with pytest.raises(ValueError, match=r"no k in 0\.\.32 .* \[0, 5\]"):
        bn.shared_scale_bn(F(1, 2), 0, 0, 5)
    assert rb.shared_scale_min_k(F(1, 2), 0, 0, 5, "nearest_even", 32) is None
    # 0..4 still works (the steps 0,1,1,0 are balanced)
    r = bn.shared_scale_bn(F(1, 2), 0, 0, 4)
    check_against_reference(r, F(1, 2), F(0), 0, 4, "nearest_even")


@pytest.mark.parametrize("a,b,lo,hi,rounding", [
    (F(1, 2), 0, -8, 8, "nearest_even"),
    (F(2, 3), F(-1, 3), -8, 8, "toward_zero"),  # a double-width bin at 0
    (F(1, 2), 0, -8, 8, "odd"),
    (F(2**70) + F(1, 3), F(-5, 2), -20, 20, "nearest_even"),  # ties every third x
])
def test_shared_scale_infeasible_like_reference(a, b, lo, hi, rounding):
    with pytest.raises(ValueError, match=r"no k in 0\.\.32"):
        bn.shared_scale_bn(a, b, lo, hi, rounding=rounding)
    assert rb.shared_scale_min_k(a, b, lo, hi, rounding, 32) is None


def test_shared_scale_k_max_too_small():
    k = rb.shared_scale_min_k(F(3, 7), F(1, 3), -128, 127, "nearest_even", 32)
    assert k == 10
    with pytest.raises(ValueError, match=r"no k in 0\.\.9 "):
        bn.shared_scale_bn(F(3, 7), F(1, 3), -128, 127, k_max=9)
    assert bn.shared_scale_bn(F(3, 7), F(1, 3), -128, 127, k_max=10).k == 10


def test_shared_scale_wide_values_stay_exact():
    """|a*x| beyond int64: the exact (object) path, still proven."""
    a, b = F(2**70) + F(1, 3), F(-5, 7)
    r = bn.shared_scale_bn(a, b, -20, 20)
    x = xs(-20, 20)
    got = bn.apply_shared_scale_bn(x, r)
    assert [int(v) for v in got] == [rb.shared_scale_target(a, b, int(v), "nearest_even")
                                     for v in x]
    assert rb.shared_scale_ok(a, b, r.k, r.A, r.B, -20, 20, "nearest_even") is None
    assert r.k == rb.shared_scale_min_k(a, b, -20, 20, "nearest_even", 32)


def test_shared_scale_single_point():
    r = bn.shared_scale_bn(F(5, 3), F(1, 7), 9, 9)
    assert r.k == 0 and r.A_range is None
    assert int(bn.apply_shared_scale_bn([9], r)[0]) == rb.shared_scale_target(F(5, 3), F(1, 7), 9,
                                                                               "nearest_even")


@settings(max_examples=40, deadline=None)
@given(a=st.one_of(st.fractions(min_value=-4, max_value=4, max_denominator=50),
                   st.floats(min_value=-4, max_value=4, width=16).map(float)),
       b=st.fractions(min_value=-20, max_value=20, max_denominator=12),
       lo=st.integers(-40, 40), width=st.integers(0, 40),
       rounding=st.sampled_from(DETERMINISTIC), shift=st.sampled_from(["floor", "half_up"]))
def test_hypothesis_shared_scale(a, b, lo, width, rounding, shift):
    hi = lo + width
    k_ref = rb.shared_scale_min_k(a, b, lo, hi, rounding, 20)
    try:
        r = bn.shared_scale_bn(a, b, lo, hi, rounding=rounding, shift=shift, k_max=20)
    except ValueError as err:
        assert "no k in 0..20" in str(err)
        assert k_ref is None
        return
    assert r.k == k_ref
    assert rb.shared_scale_ok(a, b, r.k, r.A, r.B, lo, hi, rounding, shift) is None
    if width:
        assert r.A_range == rb.shared_scale_A_interval(a, b, r.k, lo, hi, rounding)


def test_shared_scale_errors():
    with pytest.raises(ValueError, match="stochastic"):
        bn.shared_scale_bn(0.5, 0, 0, 10, rounding="stochastic")
    with pytest.raises(ValueError, match="x_min=5 > x_max=4"):
        bn.shared_scale_bn(0.5, 0, 5, 4)
    with pytest.raises(ValueError, match="shift must be"):
        bn.shared_scale_bn(0.5, 0, 0, 4, shift="ceil")
    with pytest.raises(ValueError, match="a is nan"):
        bn.shared_scale_bn(float("nan"), 0, 0, 4)
    with pytest.raises(ValueError, match="unknown rounding|rounding"):
        bn.shared_scale_bn(0.5, 0, 0, 4, rounding="banker")
    with pytest.raises(ValueError, match="2\\*\\*24"):
        bn.shared_scale_bn(0.5, 0, 0, 1 << 24)


# ---------------------------------------------------------------- fold_bn
def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul, transcribed with ints."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) >> 31  # C's division truncates toward zero
    return q if ab + nudge >= 0 else -q


def rdbpot(x, exponent):
    """gemmlowp RoundingDivideByPOT, transcribed with ints."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def tflite_output(x, m0, shift, bias, zp, lo, hi):
    """TFLite's MultiplyByQuantizedMultiplier (double rounding) + clamp."""
    left, right = max(shift, 0), max(-shift, 0)
    v = rdbpot(srdhm((x + bias) * (1 << left), m0), right)
    return min(max(v + zp, lo), hi)


def single_output(x, m0, shift, bias, zp, lo, hi):
    """TFLITE_SINGLE_ROUNDING: (x*m0 + 2**(s-1)) >> s with s = 31 - shift."""
    s = 31 - shift
    v = ((x + bias) * m0 + (1 << (s - 1))) >> s
    return min(max(v + zp, lo), hi)


def random_channels(rng, n):
    return [(float(rng.normal() * 2 + 0.5 * np.sign(rng.normal())), float(rng.normal() * 3),
             float(rng.normal() * 4), float(rng.random() * 9 + 0.1), 1e-3) for _ in range(n)]


def test_fold_bn_pipeline_is_tflite_bit_exact():
    """apply_folded_bn equals gemmlowp's integer formulas, written out here,
    for both rounding variants (negative multipliers included)."""
    rng = np.random.default_rng(11)
    chans = random_channels(rng, 6)
    f = bn.fold_bn(*cols(chans), 0.02, "s8.0", out_scale=0.05, out_zero_point=3)
    x = rng.integers(-3000, 3000, size=(200, 6))
    x[:4] = [[-3000], [2999], [0], [1]]
    for rounding, oracle in (("double", tflite_output), ("single", single_output)):
        got = bn.apply_folded_bn(x, f, rounding=rounding)
        exp = [[oracle(int(x[i, c]), int(f.m0[c]), int(f.shift[c]), int(f.bias[c]), 3, -128, 127)
                for c in range(6)] for i in range(x.shape[0])]
        np.testing.assert_array_equal(got, exp)


def test_srdhm_is_nearest_up():
    """The transcription agrees with its definition on ties: -0.5 -> 0, 0.5 -> 1."""
    assert srdhm(-(1 << 30), 1) == 0 and srdhm(1 << 30, 1) == 1 and srdhm(-(3 << 30), 1) == -1
    assert rdbpot(-3, 1) == -2 and rdbpot(3, 1) == 2 and rdbpot(-5, 2) == -1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fold_bn_within_one_code(seed):
    """With |M| < 1 the folded output is at most one code from the exactly
    rounded RATIONAL BN, and from a float64 BN: the bias rounding moves the
    pre-rounding value by at most |M|/2, the 31-bit multiplier by
    |M| 2**-31 |x + bias| (tiny here), and the requantization rounds by at
    most 1/2 (shift >= 0, |M| >= 1/2) or 1/2 + 2**-(r+1) <= 3/4 (r = -shift
    >= 1, |M| < 1/2): the code is within 1 of y/out_scale, the reference
    within 1/2, so they differ by less than 3/2, i.e. at most one integer;
    clamping cannot add to it.  The bound is reached (worst == 1)."""
    rng = np.random.default_rng(seed)
    chans = [ch for ch in random_channels(rng, 12)]
    in_scale, out_scale, zp = 0.03, 0.25, -2
    f = bn.fold_bn(*cols(chans), in_scale, "s8.0", out_scale=out_scale, out_zero_point=zp)
    keep = np.abs(f.multiplier) < 1
    assert keep.sum() >= 6
    x = xs(-600, 600)
    xx = np.repeat(x[:, None], len(chans), 1)
    worst = 0
    sample = x[::5]
    exact = {c: np.array([min(max(rb.bn_round(int(v), *ch, F(out_scale), "nearest_even",
                                                in_scale=F(in_scale)) + zp, -128), 127)
                          for v in sample]) for c, ch in enumerate(chans) if keep[c]}
    for rounding in ("double", "single"):
        got = bn.apply_folded_bn(xx, f, rounding=rounding)
        for c, (g, b, m, v, e) in enumerate(chans):
            if not keep[c]:
                continue
            y = g * (x * in_scale - m) / math.sqrt(v + e) + b
            ref_float = np.clip(np.rint(y / out_scale) + zp, -128, 127)
            assert np.abs(got[:, c] - ref_float).max() <= 1
            d = np.abs(got[::5, c] - exact[c])
            assert d.max() <= 1, (c, int(sample[np.argmax(d)]))
            worst = max(worst, int(d.max()))
    assert worst == 1  # the bound is reached: it is not an exact method


@pytest.mark.parametrize("M_exp", [-1, 0, 1, 3])
def test_fold_bn_exact_with_powers_of_two(M_exp):
    """gamma, sqrt(var+eps), in_scale, out_scale powers of two and mean, beta
    on the input grid: M = 2**M_exp and the bias are exact, so single
    rounding gives exactly nearest_up(y / out_scale), and so does double
    rounding when M >= 1/2 (SRDHM is then the only rounding)."""
    gamma, s, in_scale = 2.0, 2.0, 2.0**-3
    out_scale = gamma * in_scale / s / 2.0**M_exp
    mean, beta = 5 * in_scale, -3 * in_scale
    f = bn.fold_bn(gamma, beta, mean, s * s - 2.0**-4, 2.0**-4, in_scale, "s16.0",
                   out_scale=out_scale)
    assert f.m0[0] == 1 << 30 and f.shift[0] == M_exp + 1 and f.bias[0] == -8
    x = xs(-2000, 2000)
    exact = [min(max(rb.bn_round(int(v), gamma, beta, mean, s * s - 2.0**-4, 2.0**-4, out_scale,
                                 "nearest_up", in_scale=in_scale), -2**15), 2**15 - 1) for v in x]
    for rounding in ("single", "double"):
        got = bn.apply_folded_bn(x[:, None], f, rounding=rounding)[:, 0]
        assert list(got) == exact, rounding


def test_fold_bn_double_rounding_trap():
    """M = 1/4 (shift -1): TFLite's double rounding takes 1/4 * 1 to
    round(round(1/2)/2) = round(1/2) = 1 where the exact value rounds to 0,
    and -2/4 to round_away(-1/2) = -1 where nearest_up gives 0 (TensorFlow
    issue 25087); single rounding gives 0 for both."""
    f = bn.fold_bn(1.0, 0.0, 0.0, 1.0, 0.0, 0.25, "s8.0", out_scale=1.0)
    assert (int(f.m0[0]), int(f.shift[0]), int(f.bias[0])) == (1 << 30, -1, 0)
    x = np.array([[1], [-1], [2], [-2], [6]])
    assert bn.apply_folded_bn(x, f, rounding="double")[:, 0].tolist() == [1, 0, 1, -1, 2]
    assert bn.apply_folded_bn(x, f, rounding="single")[:, 0].tolist() == [0, 0, 1, 0, 2]


def test_fold_bn_zero_gamma_and_out_fmt():
    f = bn.fold_bn([0.0, 0.0, 1.0], [0.75, -100.0, 0.0], 0, 1, 0, 1.0, "u8.0", out_scale=0.5,
                   out_zero_point=128)
    assert f.m0.tolist()[:2] == [0, 0] and f.zero_point.tolist() == [130, -72, 128]
    out = bn.apply_folded_bn(np.array([[5, -7, 3], [-9, 4, -300]]), f)
    assert out.tolist() == [[130, 0, 134], [130, 0, 0]]
    # Without out_scale the output grid is out_fmt's: s8.2 -> steps of 1/4
    g = bn.fold_bn(1.0, 0.0, 0.0, 1.0, 0.0, 0.25, "s8.2")
    assert (int(g.m0[0]), int(g.shift[0])) == (1 << 30, 1)
    assert bn.apply_folded_bn(np.array([[3], [-1000]]), g)[:, 0].tolist() == [3, -128]


def test_quantize_multiplier_like_tflite():
    q = bn._quantize_multiplier
    assert q(0.5) == (1 << 30, 0) and q(1.0) == (1 << 30, 1) and q(0.75) == (3 << 29, 0)
    assert q(1 - 2.0**-40) == (1 << 30, 1)           # rounds up to 2**31: renormalized
    assert q(2.0**-32) == (1 << 30, -31) and q(2.0**-33) == (0, 0)   # flushed below -31
    assert q(-0.75) == (-(3 << 29), 0)
    # q * 2**31 exactly halfway: TfLiteRound (std::round) goes away from zero
    assert q(0.5 + 2.0**-32) == ((1 << 30) + 1, 0)
    assert q(-(0.5 + 2.0**-32)) == (-(1 << 30) - 1, 0)
    assert q(0.1) == (round(0.1 * 2**34), -3)


def test_fold_bn_errors_name_the_channel():
    with pytest.raises(ValueError, match="at channel 1"):
        bn.fold_bn([1, 1], 0, 0, [1, 0], [0, 0], 0.1, out_scale=0.1)
    with pytest.raises(OverflowError, match="channel 2"):
        bn.fold_bn([1, 1, 1e-12], [0, 0, 5], 0, 1, 0, 0.1, out_scale=0.1)
    with pytest.raises(ValueError, match="frac 0"):
        bn.fold_bn(1, 0, 0, 1, 0, 0.1, "s8.2", out_scale=0.1)
    with pytest.raises(ValueError, match="out_scale = 0"):
        bn.fold_bn(1, 0, 0, 1, 0, 0.1, out_scale=0)
    with pytest.raises(OverflowError, match="channel 0.*shift = 41"):  # beyond TFLite's [-31, 30]
        bn.fold_bn([1.0, 1.0], 0, 0, 1, 0, 1.0, "s32.0", out_scale=2.0**-40)
    f = bn.fold_bn([1.0, 1.0], 0, 0, 1, 0, 1.0, "s32.0", out_scale=2.0**-20)  # shift 21
    with pytest.raises(OverflowError, match=r"index \(1, 0\)|channel 0"):
        bn.apply_folded_bn(np.array([[0, 0], [4096, 0]]), f)  # 4096 * 2**21 leaves int32
    with pytest.raises(OverflowError, match=r"index \(0, 1\)"):
        bn.apply_folded_bn(np.array([[0, 2**31 - 1]]), bn.fold_bn([1, 1], [0, 0.5], 0, 1, 0, 1.0))
