"""fxsim.nn.requant against reference/requant.py (a literal transcription of
gemmlowp's and TFLite's C++ on Python ints), hard-coded values from the
TFLite sources and TensorFlow issue 25087, and the error contract."""
import math

import numpy as np
import pytest

from fxsim.nn import requant as fx
from reference import requant as ref

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
SPECIAL_X = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30,
             INT32_MAX - 1, INT32_MAX]
SPECIAL_M0 = [0, 1, 2, 3, 12345, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX]
N = 100_000


# ---------------------------------------------------------------- case generation
def x_range(shift):
    """x where "double" is defined: x * 2**max(shift, 0) stays in int32.
    (There "single" is defined too: |result| <= INT32_MAX.)"""
    ls = max(shift, 0)
    return INT32_MIN >> ls, INT32_MAX >> ls


def random_m0(rng):
    r = rng.random()
    if r < 0.75:
        return int(rng.integers(1 << 30, 1 << 31))  # what quantize_multiplier makes
    if r < 0.9:
        return int(rng.integers(0, 1 << int(rng.integers(1, 31))))  # small m0
    return SPECIAL_M0[rng.integers(len(SPECIAL_M0))]


def random_x(rng, shift):
    lo, hi = x_range(shift)
    r = rng.random()
    if r < 0.4:
        return int(rng.integers(lo, hi, endpoint=True))
    if r < 0.8:  # log-uniform magnitude
        v = int(rng.integers(0, 1 << int(rng.integers(0, 32)), endpoint=True))
        v = -v if rng.random() < 0.5 else v
    else:
        v = SPECIAL_X[rng.integers(len(SPECIAL_X))]
    return min(max(v, lo), hi)


def odd_in(rng, lo, hi):
    """A random odd integer in [lo, hi) (hi - lo >= 2 or lo odd)."""
    v = int(rng.integers(lo, hi)) | 1
    return v if v < hi else v - 2


def tie_case(rng, shift, d):
    """x, m0 with x * m0 = an odd multiple of 2**(s-1), plus d, s = 31 - shift:
    a tie (d = 0) or near-tie (d = +-1) of the single rounding -- and, for
    shift > 0, of gemmlowp's high-mul (the same condition on x * 2**shift * m0)."""
    s = 31 - shift
    lo, hi = x_range(shift)
    if s <= 31:  # solve x * m0 = 2**(s-1) + d (mod 2**s) for an odd m0
        m0 = odd_in(rng, 1 << 30, 1 << 31)
        x0 = ((1 << (s - 1)) + d) * pow(m0, -1, 1 << s) % (1 << s)
        kmin, kmax = -((x0 - lo) // (1 << s)), (hi - x0) // (1 << s)
        return x0 + int(rng.integers(kmin, kmax, endpoint=True)) * (1 << s), m0
    # s in 32..62: x = +-odd * 2**q, m0 = odd * 2**p, p + q = s - 1; d moves x by one
    p = int(rng.integers(max(0, s - 1 - 31), min(30, s - 1), endpoint=True))
    q = s - 1 - p
    m0 = odd_in(rng, 1 << (30 - p), 1 << (31 - p)) << p if p < 30 else 1 << 30
    if q == 31:
        x = INT32_MIN
    else:
        x = odd_in(rng, 1, 1 << (31 - q)) << q
        x = -x if rng.random() < 0.5 else x
    return min(max(x + d, lo), hi), m0


def high_mul_tie_case(rng, d):
    """shift <= 0: x * m0 = 2**30 + d (mod 2**31), a (near-)tie of the high-mul."""
    shift = int(rng.integers(-31, 0, endpoint=True))
    m0 = odd_in(rng, 1 << 30, 1 << 31)
    x0 = ((1 << 30) + d) * pow(m0, -1, 1 << 31) % (1 << 31)
    return x0 - (1 << 31) * int(rng.integers(0, 2)), m0, shift


def divide_tie_case(rng, d):
    """shift < 0: x * m0 / 2**31 close to h, h / 2**-shift exactly half-way
    between integers: a (near-)tie of the second rounding (issue 25087)."""
    shift = int(rng.integers(-31, -1, endpoint=True))
    r = -shift
    m0 = int(rng.integers(1 << 30, 1 << 31))
    h = int(rng.integers(-(m0 >> 1), m0 >> 1))
    h = (h >> r << r) + (1 << (r - 1))
    x = h * (1 << 31) // m0 + d
    return min(max(x, INT32_MIN), INT32_MAX), m0, shift


def make_cases(seed, n=N):
    """(x, m0, shift) int64 arrays: every shift, random and special values,
    ties and near-ties of each rounding step; all defined for both roundings."""
    rng = np.random.default_rng(seed)
    xs, ms, ss = [], [], []

    def add(x, m0, shift):
        xs.append(x)
        ms.append(m0)
        ss.append(shift)

    for shift in range(-31, 31):  # the extremes at every shift
        lo, hi = x_range(shift)
        for x in (lo, hi, 0, 1, -1):
            for m0 in (1 << 30, INT32_MAX, 0, 1):
                add(x, m0, shift)
    while len(xs) < n:
        kind = rng.random()
        d = int(rng.integers(-1, 1, endpoint=True))
        if kind < 0.4:
            shift = int(rng.integers(-31, 30, endpoint=True))
            add(random_x(rng, shift), random_m0(rng), shift)
        elif kind < 0.6:
            shift = int(rng.integers(-31, 30, endpoint=True))
            add(*tie_case(rng, shift, d), shift)
        elif kind < 0.8:
            add(*high_mul_tie_case(rng, d))
        else:
            add(*divide_tie_case(rng, int(rng.integers(-2, 2, endpoint=True))))
    return np.array(xs, np.int64), np.array(ms, np.int64), np.array(ss, np.int64)


@pytest.fixture(scope="module")
def cases():
    x, m0, shift = make_cases(20250101)
    double = np.array([ref.multiply_by_quantized_multiplier_double(int(a), int(b), int(c))
                       for a, b, c in zip(x, m0, shift)], np.int64)
    single = np.array([ref.multiply_by_quantized_multiplier_single(int(a), int(b), int(c))
                       for a, b, c in zip(x, m0, shift)], np.int64)
    return x, m0, shift, double, single


# ---------------------------------------------------------------- the generator covers its claims
def test_cases_cover_shifts_ties_and_specials(cases):
    x, m0, shift, double, single = cases
    assert len(x) >= N
    assert set(shift.tolist()) == set(range(-31, 31))
    assert {INT32_MIN, INT32_MAX, 0, 1, -1} <= set(x.tolist())
    assert (m0 >= 1 << 30).sum() > N // 2 and (m0 < 1 << 30).sum() > N // 20
    xi, mi, si = (v.tolist() for v in (x, m0, shift))
    single_ties = sum((a * b) % (1 << (31 - s)) == 1 << (30 - s) for a, b, s in zip(xi, mi, si))
    high_ties = sum(((a << max(s, 0)) * b) % (1 << 31) == 1 << 30 for a, b, s in zip(xi, mi, si))
    negative_high_ties = sum(((a << max(s, 0)) * b) % (1 << 31) == 1 << 30 and a < 0
                             for a, b, s in zip(xi, mi, si))
    divide_ties = 0
    for a, b, s in zip(xi, mi, si):
        if s < 0:
            h = ref.saturating_rounding_doubling_high_mul(a, b)
            divide_ties += h % (1 << -s) == 1 << (-s - 1)
    assert single_ties > 5000 and high_ties > 5000 and negative_high_ties > 2000
    assert divide_ties > 5000
    # the two roundings differ often enough that confusing them fails
    assert (double != single).sum() > 1000
    # ... but not for shift > 0, where the divide is exact and the high-mul
    # rounds the same product as single rounding, with the same ties (up)
    assert (double[shift > 0] == single[shift > 0]).all() and (shift > 0).sum() > N // 4


# ---------------------------------------------------------------- fxsim vs reference
@pytest.mark.parametrize("rounding", ["double", "single"])
def test_multiply_by_quantized_multiplier_vs_reference(cases, rounding):
    x, m0, shift, double, single = cases
    expected = double if rounding == "double" else single
    got = fx.multiply_by_quantized_multiplier(x.astype(np.int32), m0, shift, rounding)
    assert got.dtype == np.int32 and got.shape == x.shape
    bad = np.flatnonzero(got != expected)
    assert not bad.size, [(int(x[i]), int(m0[i]), int(shift[i]), int(got[i]), int(expected[i]))
                          for i in bad[:5]]


def test_single_rounding_beyond_the_double_range():
    """Single rounding is defined for larger x when m0 is small (positive
    shifts): every defined case against the reference."""
    rng = np.random.default_rng(7)
    x = rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)
    shift = rng.integers(1, 30, 20000, endpoint=True)
    m0 = np.array([int(rng.integers(0, 1 << int(31 - s))) for s in shift])
    keep, want = [], []
    for i, (a, b, c) in enumerate(zip(x.tolist(), m0.tolist(), shift.tolist())):
        try:
            want.append(ref.multiply_by_quantized_multiplier_single(a, b, c))
            keep.append(i)
        except ValueError:
            pass
    assert len(keep) > 10000
    got = fx.multiply_by_quantized_multiplier(x[keep], m0[keep], shift[keep], "single")
    np.testing.assert_array_equal(got, want)


def test_per_channel_broadcasting(cases):
    """m0 and shift per channel (C, 1), x (C, K): same as elementwise."""
    x, m0, shift, double, single = cases
    c = 62
    rng = np.random.default_rng(3)
    ms = np.array([random_m0(rng) for _ in range(c)])
    ss = np.arange(-31, 31)
    xs = np.array([[random_x(rng, int(s)) for _ in range(50)] for s in ss])
    for rounding, f in (("double", ref.multiply_by_quantized_multiplier_double),
                        ("single", ref.multiply_by_quantized_multiplier_single)):
        got = fx.multiply_by_quantized_multiplier(xs, ms[:, None], ss[:, None], rounding)
        want = [[f(int(v), int(ms[i]), int(ss[i])) for v in row] for i, row in enumerate(xs)]
        np.testing.assert_array_equal(got, want)
    # a scalar in, a numpy scalar out
    assert fx.multiply_by_quantized_multiplier(int(x[0]), int(m0[0]), int(shift[0])) == double[0]


def test_tensorflow_issue_25087():
    """x = 7984, M = 1583594044 * 2**-40 = 0.00144..., x * M = 11.4991...:
    TFLite's double rounding gives 12 (5887.55 -> 5888, then 5888 / 512 =
    11.5 -> 12), single rounding gives 11."""
    assert fx.multiply_by_quantized_multiplier(7984, 1583594044, -9, "double") == 12
    assert fx.multiply_by_quantized_multiplier(7984, 1583594044, -9, "single") == 11
    assert fx.multiply_by_quantized_multiplier(7984, 1583594044, -9) == 12  # the default
    assert ref.multiply_by_quantized_multiplier_double(7984, 1583594044, -9) == 12
    assert ref.multiply_by_quantized_multiplier_single(7984, 1583594044, -9) == 11


def test_gemmlowp_steps_hard_coded():
    """What the C++ gives, worked out by hand from its source: the high-mul's
    ties go toward +inf (C++ division truncates: (-2**30 + 1 - 2**30) / 2**31
    == 0), the divide's ties away from zero."""
    a = [1 << 30, -(1 << 30), 3 << 29, -(3 << 29), (1 << 30) + 1, -(1 << 30) - 1, INT32_MIN,
         INT32_MIN, INT32_MAX]
    b = [1, 1, 2, 2, 1, 1, INT32_MIN, INT32_MAX, INT32_MAX]
    want = [1, 0, 2, -1, 1, -1, INT32_MAX, -INT32_MAX, INT32_MAX - 1]
    np.testing.assert_array_equal(fx.saturating_rounding_doubling_high_mul(a, b), want)
    assert [ref.saturating_rounding_doubling_high_mul(p, q) for p, q in zip(a, b)] == want
    x = [3, -3, 5, -5, 6, -6, 2, -2, INT32_MIN, INT32_MAX, INT32_MIN, 7]
    e = [1, 1, 1, 1, 2, 2, 2, 2, 31, 31, 0, 0]
    want = [2, -2, 3, -3, 2, -2, 1, -1, -1, 1, INT32_MIN, 7]
    np.testing.assert_array_equal(fx.rounding_divide_by_pot(x, e), want)
    assert [ref.rounding_divide_by_pot(p, q) for p, q in zip(x, e)] == want
    assert ref.c_divide(-7, 2) == -3 and ref.c_divide(7, -2) == -3 and ref.c_divide(7, 2) == 3


def test_gemmlowp_steps_vs_reference():
    rng = np.random.default_rng(11)
    n = 20000
    a = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    b = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    a[:4] = [INT32_MIN, INT32_MIN, INT32_MAX, -1]
    b[:4] = [INT32_MIN, INT32_MAX, INT32_MIN, INT32_MIN]
    half = n // 2  # ties: b odd, a * b = 2**30 + d (mod 2**31)
    for i in range(4, half):
        bi = int(b[i]) | 1
        d = int(rng.integers(-1, 1, endpoint=True))
        ai = ((1 << 30) + d) * pow(bi, -1, 1 << 31) % (1 << 31)
        a[i], b[i] = ai - (1 << 31) * int(rng.integers(0, 2)), bi
    got = fx.saturating_rounding_doubling_high_mul(a, b)
    want = [ref.saturating_rounding_doubling_high_mul(int(p), int(q)) for p, q in zip(a, b)]
    np.testing.assert_array_equal(got, want)
    e = rng.integers(0, 31, n, endpoint=True)
    x = a.copy()
    x[:half] = [(int(v) >> int(k) << int(k)) + (1 << int(k) >> 1) + int(d)  # ties, neighbours
                for v, k, d in zip(x[:half], e[:half], rng.integers(-1, 1, half, endpoint=True))]
    x = np.clip(x, INT32_MIN, INT32_MAX)
    got = fx.rounding_divide_by_pot(x, e)
    want = [ref.rounding_divide_by_pot(int(p), int(k)) for p, k in zip(x, e)]
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- quantize_multiplier
def quantize_cases(seed, n=20000):
    rng = np.random.default_rng(seed)
    e = rng.integers(-45, 30, n)
    reals = list(np.ldexp(rng.random(n) + 0.5, e))  # random doubles, [2**-46, 2**30)
    for k in range(-34, 30):  # ties of q * 2**31, the carry, powers of two
        m = int(rng.integers(1 << 30, 1 << 31))
        reals += [math.ldexp(2 * m + 1, k - 32), math.ldexp(2 * (1 << 31) - 1, k - 32),
                  math.ldexp(1 - 2 ** -53, k), math.ldexp(1, k), math.ldexp(1 - 2 ** -40, k)]
    reals += [0.0, -0.0, 5e-324, 2.0 ** -1074 * 12345, 2.0 ** -32, 2.0 ** -33, 0.3, 1.0, 0.5,
              2.0 ** 30 * (1 - 2 ** -20)]
    return np.array([r for r in reals if r < 2.0 ** 30 * (1 - 2 ** -32)])


def test_quantize_multiplier_vs_reference():
    reals = quantize_cases(5)
    m0, shift = fx.quantize_multiplier(reals)
    assert m0.shape == shift.shape == reals.shape
    want = [ref.quantize_multiplier(float(r)) for r in reals]
    assert list(zip(m0.tolist(), shift.tolist())) == want
    # scalars give Python ints, equal to the array path
    for r in reals[-40:]:
        got = fx.quantize_multiplier(float(r))
        assert type(got[0]) is int and type(got[1]) is int
        assert got == ref.quantize_multiplier(float(r))
    # float32 input is read exactly
    f32 = reals[:500].astype(np.float32)
    got = fx.quantize_multiplier(f32)
    assert list(zip(*(v.tolist() for v in got))) == [ref.quantize_multiplier(float(r)) for r in f32]


def test_quantize_multiplier_properties():
    from fractions import Fraction
    reals = quantize_cases(6)
    m0, shift = fx.quantize_multiplier(reals)
    for r, m, s in zip(reals.tolist(), m0.tolist(), shift.tolist()):
        if m == 0:
            assert s == 0 and r < 2.0 ** -32
            continue
        assert (1 << 30) <= m < (1 << 31) and -31 <= s <= 30
        approx = Fraction(m) * Fraction(2) ** (s - 31)
        assert abs(approx - Fraction(r)) <= Fraction(r) * Fraction(1, 1 << 31)
    assert (m0 == 0).sum() > 10  # the flush to zero was exercised


def test_quantize_multiplier_hard_coded():
    assert fx.quantize_multiplier(0.5) == (1 << 30, 0)
    assert fx.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fx.quantize_multiplier(0.3) == (1288490189, -1)  # 0.3 * 2**32 = 1288490188.8
    # the carry: q * 2**31 = 2**31 - 2**-9 rounds to 2**31 -> (2**30, shift + 1)
    assert fx.quantize_multiplier(1 - 2 ** -40) == (1 << 30, 1)
    assert fx.quantize_multiplier(2.0 ** -20 * (1 - 2 ** -40)) == (1 << 30, -19)
    # a tie of q * 2**31 goes away from zero (std::round): 2**30 + 0.5 -> 2**30 + 1
    assert fx.quantize_multiplier(((1 << 31) + 1) * 2.0 ** -32) == ((1 << 30) + 1, 0)
    assert fx.quantize_multiplier(((1 << 31) + 3) * 2.0 ** -32) == ((1 << 30) + 2, 0)
    # tiny reals flush to (0, 0); 2**-32 still has shift -31
    assert fx.quantize_multiplier(2.0 ** -32) == (1 << 30, -31)
    assert fx.quantize_multiplier(2.0 ** -33) == (0, 0)
    assert fx.quantize_multiplier(2.0 ** -32 * (1 - 2 ** -40)) == (1 << 30, -31)  # carried in
    assert fx.quantize_multiplier(5e-324) == (0, 0)
    assert fx.quantize_multiplier(0.0) == (0, 0) and fx.quantize_multiplier(-0.0) == (0, 0)
    assert fx.quantize_multiplier(2.0 ** 29) == (1 << 30, 30)
    np.testing.assert_array_equal(fx.quantize_multiplier(np.array([[0.5, 0.0]]))[0], [[1 << 30, 0]])


# ---------------------------------------------------------------- requantize and conv
def ref_requantize_array(acc, bias, m0, shift, zp, lo, hi, rounding, axis):
    """The loop over every element, with the reference per channel."""
    out = np.empty(acc.shape, np.int64)
    for idx in np.ndindex(*acc.shape):
        c = idx[axis]
        out[idx] = ref.requantize(int(acc[idx]), None if bias is None else int(bias[c]),
                                  int(m0[c]), int(shift[c]), zp, lo, hi, rounding)
    return out


def channel_multipliers(rng, c):
    """m0, shift per channel from realistic scales (and a few extremes)."""
    scales = np.ldexp(rng.random(c) + 0.5, rng.integers(-20, 2, c))
    pairs = [ref.quantize_multiplier(float(s)) for s in scales]
    m0 = np.array([p[0] for p in pairs])
    shift = np.array([p[1] for p in pairs])
    m0[0], shift[0] = INT32_MAX, -31
    if c > 1:
        m0[1], shift[1] = 1 << 30, 1
    return m0, shift


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_requantize_vs_reference(rounding):
    rng = np.random.default_rng(21)
    acc = rng.integers(-(1 << 22), 1 << 22, (2, 6, 5, 7))
    acc[0, 0, 0, :3] = [INT32_MIN // 2, INT32_MAX // 2, 0]
    bias = rng.integers(-(1 << 20), 1 << 20, 6)
    m0, shift = channel_multipliers(rng, 6)
    for zp, lo, hi in ((-3, -128, 127), (5, 0, 127), (0, -128, 6), (100, 0, 255),
                       (-7, -30000, 30000)):
        got = fx.requantize(acc, bias, m0, shift, zp, lo, hi, rounding)
        want = ref_requantize_array(acc, bias, m0, shift, zp, lo, hi, rounding, 1)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == {255: np.uint8, 30000: np.int16}.get(hi, np.int8)
        assert (got == lo).any() and (got == hi).any()  # the clamp was exercised
    # channels last (a matmul), no bias
    acc2 = acc.reshape(-1, 6)
    got = fx.requantize(acc2, None, m0, shift, -1, rounding=rounding, channel_axis=-1)
    want = ref_requantize_array(acc2, None, m0, shift, -1, -128, 127, rounding, 1)
    np.testing.assert_array_equal(got, want)
    # a per-tensor multiplier (scalars)
    got = fx.requantize(acc, 17, int(m0[3]), int(shift[3]), 2, rounding=rounding)
    want = ref_requantize_array(acc, [17] * 6, [m0[3]] * 6, [shift[3]] * 6, 2, -128, 127,
                                rounding, 1)
    np.testing.assert_array_equal(got, want)


def ref_conv_acc(x, w, xz, wz, stride, padding, dilation, groups):
    """TFLite's ConvPerChannel loop: taps outside the image are skipped
    (that is padding with the code x_zero_point), the int32 sum of
    (x - x_zero_point) * (w - w_zero_point)."""
    n, cin, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    og = o // groups
    acc = np.zeros((n, o, ho, wo), np.int64)
    for b in range(n):
        for oc in range(o):
            g = oc // og
            wzc = wz[oc] if np.ndim(wz) else wz
            for oy in range(ho):
                for ox in range(wo):
                    s = 0
                    for ic in range(cg):
                        for ky in range(kh):
                            for kx in range(kw):
                                iy = oy * stride - padding + ky * dilation
                                ix = ox * stride - padding + kx * dilation
                                inside = 0 <= iy < h and 0 <= ix < wd
                                xv = int(x[b, g * cg + ic, iy, ix]) if inside else xz
                                s += (xv - xz) * (int(w[oc, ic, ky, kx]) - int(wzc))
                    acc[b, oc, oy, ox] = s
    return acc


@pytest.mark.parametrize("rounding", ["double", "single"])
@pytest.mark.parametrize("stride, padding, dilation, groups, wz", [
    (1, 0, 1, 1, 0), (1, 1, 1, 1, 3), (2, 2, 1, 2, "per-channel"), (1, 1, 2, 4, 0)])
def test_quantized_conv2d_vs_reference(rounding, stride, padding, dilation, groups, wz):
    rng = np.random.default_rng(stride * 100 + padding * 10 + groups)
    x = rng.integers(-128, 127, (2, 4, 7, 6), endpoint=True).astype(np.int8)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = -128, 127
    o = 8
    w = rng.integers(-127, 127, (o, 4 // groups, 3, 3), endpoint=True).astype(np.int8)
    xz = -5 if padding else 3
    if wz == "per-channel":
        wz = rng.integers(-3, 3, o, endpoint=True)
    bias = rng.integers(-2000, 2000, o)
    m0, shift = channel_multipliers(rng, o)
    shift[0] = -12  # keep channel 0 interesting rather than all zero
    zp = -4
    got = fx.quantized_conv2d(x, w, bias, xz, wz, m0, shift, zp, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, rounding=rounding)
    acc = ref_conv_acc(x, w, xz, wz, stride, padding, dilation, groups)
    want = ref_requantize_array(acc, bias, m0, shift, zp, -128, 127, rounding, 1)
    assert got.dtype == np.int8 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 20  # not a constant output
    # uint8 activations, ReLU range
    xu = (x.astype(np.int64) + 128).astype(np.uint8)
    got = fx.quantized_conv2d(xu, w, bias, xz + 128, wz, m0, shift, 128, stride=stride,
                              padding=padding, dilation=dilation, groups=groups, out_min=128,
                              out_max=255, rounding=rounding)
    want = ref_requantize_array(acc, bias, m0, shift, 128, 128, 255, rounding, 1)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def test_padding_is_the_zero_point():
    """A constant image of code x_zero_point is the real value 0: with
    padding, every output is the bias alone (not a padding artefact)."""
    x = np.full((1, 2, 4, 4), 9, np.int8)
    w = np.ones((3, 2, 3, 3), np.int8)
    got = fx.quantized_conv2d(x, w, [1 << 20, -(1 << 20), 0], 9, 0, [1 << 30] * 3, [-20] * 3, 0,
                              padding=1)
    np.testing.assert_array_equal(got[0, :, 0, 0], [1, -1, 0])
    assert (got[0] == got[0, :, :1, :1]).all()


# ---------------------------------------------------------------- errors
def raises(match_all, f, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        f(*args, **kwargs)
    msg = str(info.value)
    for part in match_all:
        assert part in msg, (part, msg)
    return msg


def test_errors_multiply_by_quantized_multiplier():
    f = fx.multiply_by_quantized_multiplier
    name = "multiply_by_quantized_multiplier"
    raises([name, "x = 2147483648", "(1,)"], f, np.array([0, 1 << 31]), 1 << 30, 0)
    raises([name, "x", "float64"], f, np.array([1.0, 2.0]), 1 << 30, 0)
    raises([name, "m0 = -1", "(0, 1)"], f, 5, np.array([[1 << 30, -1]]), 0)
    raises([name, "m0 = 2147483648", "(0,)"], f, 5, [1 << 31], 0)
    raises([name, "shift = 31", "(2,)"], f, 5, 1 << 30, [0, 30, 31])
    raises([name, "shift = -32", "()"], f, 5, 1 << 30, -32)
    raises([name, "'nearest'"], f, 5, 1 << 30, 0, "nearest")
    raises([name, "do not broadcast"], f, [1, 2, 3], [1, 2], 0)
    # double: x * 2**shift leaves int32 (undefined in C++): the first such index
    x = np.array([[1, 2], [1 << 20, 1 << 21]])
    msg = raises([name, "(1, 0)", "1048576 * 2**11", "rounding='double'"], f, x, 1 << 30, 11)
    assert "(1, 1)" not in msg
    assert ref_raises(ref.multiply_by_quantized_multiplier_double, 1 << 20, 1 << 30, 11)
    assert f(x[0], 1 << 30, 11).tolist() == [1024, 2048]
    # single: a result outside int32 (a failed DCHECK)
    raises([name, "(2,)", "rounding='single'", "2305843007066210305"],
           f, [1, 2, INT32_MAX], INT32_MAX, 30, "single")
    assert ref_raises(ref.multiply_by_quantized_multiplier_single, INT32_MAX, INT32_MAX, 30)
    assert f([1, 2, INT32_MAX], 1 << 30, 1, "single").tolist() == [1, 2, INT32_MAX]


def ref_raises(f, *args):
    try:
        f(*args)
    except ValueError:
        return True
    return False


def test_errors_gemmlowp_steps_and_quantize_multiplier():
    raises(["saturating_rounding_doubling_high_mul", "b = -2147483649", "(1,)"],
           fx.saturating_rounding_doubling_high_mul, 3, [1, INT32_MIN - 1])
    raises(["rounding_divide_by_pot", "exponent = 32", "(0,)"], fx.rounding_divide_by_pot, 3, [32])
    raises(["rounding_divide_by_pot", "exponent = -1"], fx.rounding_divide_by_pot, 3, -1)
    name = "quantize_multiplier"
    raises([name, "-0.5", "(1,)", "non-negative"], fx.quantize_multiplier, [0.5, -0.5])
    raises([name, "nan", "(0, 1)"], fx.quantize_multiplier, [[0.5, np.nan]])
    raises([name, "inf", "()"], fx.quantize_multiplier, np.inf)
    raises([name, "shift = 31", "(1,)"], fx.quantize_multiplier, [0.5, 2.0 ** 30])
    raises([name, "shift = 31"], fx.quantize_multiplier, 2.0 ** 30 * (1 - 2 ** -40))  # carried
    raises([name, "dtype"], fx.quantize_multiplier, np.array(["0.5"]))
    for bad in (-0.5, math.nan, 2.0 ** 30, 2.0 ** 30 * (1 - 2 ** -40)):
        assert ref_raises(ref.quantize_multiplier, bad)


def test_errors_requantize_and_conv():
    name = "requantize"
    acc = np.zeros((1, 2, 2, 2), np.int64)
    acc[0, 1, 1, 0] = INT32_MAX - 5
    raises([name, "acc + bias", "(0, 1, 1, 0)", "2147483642 + 10"],
           fx.requantize, acc, [0, 10], 1 << 30, 1, 0)
    assert ref_raises(ref.requantize, INT32_MAX - 5, 10, 1 << 30, 1, 0)
    raises([name, "out_zero_point", "(0, 1, 1, 0)", "2147483641 + 100"],
           fx.requantize, acc, None, INT32_MAX, 0, 100)
    assert ref_raises(ref.requantize, INT32_MAX - 5, None, INT32_MAX, 0, 100)
    raises([name, "x * 2**left_shift", "(0, 1, 1, 0)"],
           fx.requantize, acc, None, 1 << 30, [0, 1], 0)
    raises([name, "one value per channel", "(3,)"], fx.requantize, acc, None, [1 << 30] * 3, 0, 0)
    raises([name, "bias = 2147483648", "(1,)"], fx.requantize, acc, [0, 1 << 31], 1 << 30, 0, 0)
    raises([name, "out_min"], fx.requantize, acc, None, 1 << 30, 0, 0, 5, 4)
    raises([name, "channel_axis"], fx.requantize, acc, None, 1 << 30, 0, 0, channel_axis=4)
    raises([name, "'half'"], fx.requantize, acc, None, 1 << 30, 0, 0, rounding="half")
    name = "quantized_conv2d"
    x = np.full((1, 3, 2, 1), 30000, np.int32)
    w = np.full((2, 3, 1, 1), 30000, np.int32)
    raises([name, "accumulator", "2700000000", "(0, 0, 0, 0)"],
           fx.quantized_conv2d, x, w, None, 0, 0, 1 << 30, -1, 0)
    raises([name, "x - x_zero_point", "(0, 0, 0, 0)"],
           fx.quantized_conv2d, np.full((1, 1, 1, 1), INT32_MIN), w[:, :1], None, 1, 0, 1 << 30,
           0, 0)
    raises([name, "x", "float"], fx.quantized_conv2d, x.astype(float), w, None, 0, 0, 1 << 30, 0, 0)
    raises([name, "w_zero_point", "one value per channel"],
           fx.quantized_conv2d, x, w, None, 0, [1, 2, 3], 1 << 30, 0, 0)
    raises([name, "acc + bias", "(0, 1, 0, 0)"],
           fx.quantized_conv2d, np.ones((1, 1, 1, 1), np.int8), np.ones((2, 1, 1, 1), np.int8),
           [0, INT32_MAX], 0, 0, 1 << 30, 0, 0)
