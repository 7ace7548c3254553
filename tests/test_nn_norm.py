"""fxsim.nn.norm against direct computations written here (per-channel
loops, plain formulas), central finite differences in float64, and
fxsim.quantize for Graham's rounding."""
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim.nn import norm as N


def ap2_ref(v: float) -> float:
    """Nearest power of two in the log domain, exactly (Fractions)."""
    if v == 0:
        return 0.0
    a = abs(Fraction(v))
    e = math.floor(math.log2(a))            # may be off by one near powers of two
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    k = e + 1 if a * a > Fraction(2) ** (2 * e + 1) else e
    return math.copysign(math.ldexp(1.0, k), v)


def channels(x):
    """Per-channel value vectors of an (N, C, ...) array, C order of the
    other axes (batch, then spatial)."""
    return [np.moveaxis(x, 1, 0)[c].ravel() for c in range(x.shape[1])]


def nchw(seed, shape=(8, 3, 4, 4), scale=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    if scale is not None:
        x = x * np.asarray(scale).reshape((1, -1) + (1,) * (len(shape) - 2))
    return x + rng.normal(size=(1, shape[1]) + (1,) * (len(shape) - 2))


# ---------------------------------------------------------------- shift BN
def test_shift_bn_against_the_direct_formula():
    x = nchw(0, scale=[0.5, 3.0, 0.01])
    gamma = np.array([0.7, -1.45, 3.0])
    beta = np.array([0.1, -0.2, 0.0])
    y = N.shift_bn(x, gamma, beta, 1e-5)
    for c, v in enumerate(channels(x)):
        C = v - sum(v) / len(v)
        var = sum(ci * ap2_ref(ci) for ci in C) / len(C)
        s = ap2_ref(1 / math.sqrt(var + 1e-5))
        expected = ap2_ref(gamma[c]) * (C * s) + beta[c]
        np.testing.assert_allclose(channels(y)[c], expected, rtol=1e-12, atol=1e-12)
    # gamma is used as AP2(gamma): 0.7 -> 0.5, -1.45 -> -2, 3 -> 4
    assert [ap2_ref(g) for g in gamma] == [0.5, -2.0, 4.0]


def test_shift_bn_multiplies_by_powers_of_two_only():
    x = nchw(1, shape=(16, 2))
    y = N.shift_bn(x, 1.0, 0.0, 1e-5)
    c = x - x.mean(axis=0)
    ratio = y / c
    for j in range(2):
        r = ratio[:, j]
        assert np.all(r == r[0])
        m, _ = np.frexp(r[0])
        assert m == 0.5          # a power of two


def test_shift_bn_axis_and_errors():
    x = nchw(2, shape=(6, 5))
    np.testing.assert_array_equal(N.shift_bn(x), N.shift_bn(x, axis=0))
    np.testing.assert_array_equal(N.shift_bn(x.T, axis=1).T, N.shift_bn(x))
    const = np.ones((4, 2))
    np.testing.assert_array_equal(N.shift_bn(const, 2.0, 0.5), 0.5)
    with pytest.raises(ValueError, match=r"channel index \(1,\)"):
        N.shift_bn(np.stack([np.arange(4.0), np.ones(4)], axis=1), eps=0.0)
    with pytest.raises(ValueError, match=r"index \(1, 0\)"):
        N.shift_bn(np.array([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="gamma of shape"):
        N.shift_bn(x, np.ones(3))


# ---------------------------------------------------------------- Range BN
def range_bn_ref(x, gamma, beta, variant, eps=1e-5, num_chunks=16, run_m=None, run_s=None,
                 momentum=0.1):
    """Per channel with loops and plain formulas."""
    y = np.empty_like(x)
    yc = np.moveaxis(y, 1, 0)
    new_m, new_s = [], []
    for c, v in enumerate(channels(x)):
        n = len(v)
        mean = sum(v) / n
        if variant == "paper":
            R = max(v - mean) - min(v - mean)
            K = 1 / math.sqrt(2 * math.log(n))
        else:
            size = n // num_chunks
            parts = [v[j * size:(j + 1) * size] for j in range(num_chunks)]
            R = sum(max(p) - min(p) for p in parts) / num_chunks
            K = 0.5 * 0.35 * (1 + math.sqrt(math.pi * math.log(4))) / math.sqrt(2 * math.log(size))
        inv = 1 / (K * R + eps)
        yc[c] = (((v - mean) * inv) * gamma[c] + beta[c]).reshape(yc[c].shape)
        m0 = 0.0 if run_m is None else run_m[c]
        s0 = 0.0 if run_s is None else run_s[c]
        new_m.append(momentum * m0 + (1 - momentum) * mean)
        new_s.append(momentum * s0 + (1 - momentum) * inv)
    return y, np.array(new_m), np.array(new_s)


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_range_bn_forward_and_running_stats_against_loops(variant):
    x = nchw(3, shape=(8, 3, 4, 4), scale=[1.0, 5.0, 0.1])
    gamma = np.array([1.0, 0.5, -2.0])
    beta = np.array([0.0, 1.0, 0.25])
    run_m = np.array([0.3, -0.1, 2.0])
    run_s = np.array([1.0, 0.2, 7.0])
    y, cache = N.range_bn(x, gamma, beta, variant=variant, running_mean=run_m,
                          running_inv_scale=run_s)
    y_ref, m_ref, s_ref = range_bn_ref(x, gamma, beta, variant, run_m=run_m, run_s=run_s)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.running_mean, m_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cache.running_inv_scale, s_ref, rtol=1e-12)
    np.testing.assert_array_equal(run_m, [0.3, -0.1, 2.0])     # inputs not modified
    # momentum weights the OLD value: 0.1 * old + 0.9 * new
    means = np.array([v.mean() for v in channels(x)])
    np.testing.assert_allclose(cache.running_mean, 0.1 * run_m + 0.9 * means, rtol=1e-12)
    # default: running statistics start at zero (the code's buffers)
    _, c0 = N.range_bn(x, gamma, beta, variant=variant)
    np.testing.assert_allclose(c0.running_mean, 0.9 * means, rtol=1e-12)
    # inference with the running statistics
    y_eval, _ = N.range_bn(x, gamma, beta, variant=variant, running_mean=cache.running_mean,
                           running_inv_scale=cache.running_inv_scale, training=False)
    expect = ((x - cache.running_mean[None, :, None, None])
              * cache.running_inv_scale[None, :, None, None]) * gamma[None, :, None, None] \
        + beta[None, :, None, None]
    np.testing.assert_allclose(y_eval, expect, rtol=1e-13)


def test_range_bn_scale_constants():
    assert N.range_bn_scale(8) == pytest.approx(1 / math.sqrt(2 * math.log(8)), rel=1e-15)
    code = 0.5 * 0.35 * (1 + math.sqrt(math.pi * math.log(4)))
    assert N.range_bn_scale(64, "code") == pytest.approx(code / math.sqrt(2 * math.log(64)),
                                                         rel=1e-15)
    # Gaussian data, n = 2**16, sigma = 3: E[range] = 8.582 sigma = 0.91 * 2 sigma sqrt(2 ln n),
    # so the paper's C(n) * range is about 1.82 sigma (it estimates 2 sigma, asymptotically);
    # the code's constant (0.54 / sqrt(2 ln n_chunk), chunks of 4096) gives about sigma
    x = np.random.default_rng(0).normal(size=(2 ** 16, 1)) * 3.0
    _, c = N.range_bn(x, eps=0.0)
    assert 1.6 * 3.0 < 1 / c.inv_scale[0] < 2.1 * 3.0
    assert 1 / c.inv_scale[0] == pytest.approx(np.ptp(x) / math.sqrt(2 * math.log(2 ** 16)),
                                               rel=1e-14)
    _, d = N.range_bn(x, eps=0.0, variant="code")
    assert 0.9 * 3.0 < 1 / d.inv_scale[0] < 1.05 * 3.0
    with pytest.raises(ValueError, match="n must"):
        N.range_bn_scale(1)


def test_range_bn_code_chunks_follow_c_order_of_batch_and_space():
    # one channel, values 0..63 in (N, H, W) C order: chunk j = 4j .. 4j+3
    x = np.arange(64.0).reshape(4, 1, 4, 4)
    _, cache = N.range_bn(x, variant="code", eps=0.0)
    assert cache.range[0] == 3.0        # every chunk spans 3
    # the same values in another order: chunk ranges change
    xt = np.arange(64.0).reshape(4, 4, 4).transpose(2, 1, 0).reshape(4, 1, 4, 4).copy()
    _, ct = N.range_bn(xt, variant="code", eps=0.0)
    assert ct.range[0] == sum(max(p) - min(p) for p in np.split(channels(xt)[0], 16)) / 16


def test_range_bn_errors():
    x = nchw(4, shape=(6, 2, 2, 2))      # 24 values per channel
    with pytest.raises(ValueError, match="16 equal chunks"):
        N.range_bn(x, variant="code")
    N.range_bn(x, variant="code", num_chunks=12)
    with pytest.raises(ValueError, match="at least 2 values"):
        N.range_bn(x, variant="code", num_chunks=24)
    with pytest.raises(ValueError, match="variant"):
        N.range_bn(x, variant="torch")
    with pytest.raises(ValueError, match="running_mean"):
        N.range_bn(x, training=False)
    const = np.ones((8, 2))
    with pytest.raises(ValueError, match=r"channel index \(0,\)"):
        N.range_bn(const, eps=0.0)
    y, _ = N.range_bn(const)                # eps > 0: a constant channel gives beta
    np.testing.assert_array_equal(y, 0.0)


def loss_grad_fd(f, x, h=1e-6):
    g = np.empty_like(x)
    flat = x.reshape(-1)
    gf = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        gf[i] = (up - down) / (2 * h)
    return g


def min_gap(x):
    v = np.sort(x.ravel())
    return np.min(np.diff(v))


@pytest.mark.parametrize("variant, chunks", [("paper", 16), ("code", 16), ("code", 4)])
def test_range_bn_backward_matches_finite_differences(variant, chunks):
    x = nchw(5, shape=(8, 2, 2, 2), scale=[1.0, 4.0])    # 32 values per channel
    assert min_gap(x) > 1e-4                               # no ties within 100 h
    gamma = np.array([1.5, -0.5])
    beta = np.array([0.2, 0.3])
    dy = np.random.default_rng(6).normal(size=x.shape)

    def loss(xx):
        return float(np.sum(dy * N.range_bn(xx, gamma, beta, variant=variant,
                                            num_chunks=chunks)[0]))

    y, cache = N.range_bn(x, gamma, beta, variant=variant, num_chunks=chunks)
    dx, dgamma, dbeta = N.range_bn_backward(dy, cache)
    np.testing.assert_allclose(dx, loss_grad_fd(loss, x.copy()), rtol=1e-5, atol=1e-6)
    # closed forms for gamma and beta
    xhat = (y - beta[None, :, None, None]) / gamma[None, :, None, None]
    for c in range(2):
        assert dbeta[c] == pytest.approx(sum(channels(dy)[c]), rel=1e-12)
        assert dgamma[c] == pytest.approx(float(np.dot(channels(dy)[c], channels(xhat)[c])),
                                          rel=1e-10)
    # the range path matters: without it the gradient would differ
    dc = dy * gamma[None, :, None, None] * cache.inv_scale[None, :, None, None]
    assert np.abs(dx - (dc - dc.mean(axis=(0, 2, 3), keepdims=True))).max() > 1e-3


def test_range_bn_backward_tie_goes_to_the_first_extreme():
    # one channel, 8 values, paper variant: two tied maxima, two tied minima
    v = np.array([0.5, 3.0, -1.0, 3.0, 0.0, -1.0, 1.0, 2.0])
    x = v.reshape(8, 1)
    dy = np.zeros_like(x)
    dy[0, 0] = 1.0
    y, cache = N.range_bn(x, eps=0.0)
    dx, _, _ = N.range_bn_backward(dy, cache)
    n = 8
    K = 1 / math.sqrt(2 * math.log(n))
    R = 4.0
    inv = 1 / (K * R)
    c = v - v.mean()
    dR = -K * inv * inv * c[0]
    expected = np.full(n, -inv / n)
    expected[0] += inv
    expected[1] += dR          # first maximum (index 1, not 3)
    expected[2] -= dR          # first minimum (index 2, not 5)
    np.testing.assert_allclose(dx[:, 0], expected, rtol=1e-13, atol=1e-15)


def test_range_bn_backward_in_inference_is_linear():
    x = nchw(7, shape=(4, 3, 2, 2))
    rm, rs = np.array([0.1, 0.2, 0.3]), np.array([2.0, 0.5, 1.0])
    gamma = np.array([1.0, 2.0, -1.0])
    dy = np.random.default_rng(8).normal(size=x.shape)
    _, cache = N.range_bn(x, gamma, 0.0, running_mean=rm, running_inv_scale=rs, training=False)
    dx, _, dbeta = N.range_bn_backward(dy, cache)
    np.testing.assert_allclose(dx, dy * (gamma * rs)[None, :, None, None], rtol=1e-15)
    np.testing.assert_allclose(dbeta, dy.sum(axis=(0, 2, 3)), rtol=1e-13)


# ---------------------------------------------------------------- Graham BN
def graham_z_ref(x, eps=1e-5):
    z = np.empty_like(x)
    zc = np.moveaxis(z, 1, 0)
    for c, v in enumerate(channels(x)):
        mean = sum(v) / len(v)
        var = sum((v - mean) ** 2) / len(v)
        zc[c] = ((v - mean) / math.sqrt(var + eps)).reshape(zc[c].shape)
    return z


@pytest.mark.parametrize("fmt, rounding", [(fxsim.FixedFormat(4, 2), "nearest_even"),
                                           (fxsim.FixedFormat(2, 0), "down"),
                                           ("float8_e4m3fn", "nearest_even"),
                                           ("float4_e2m1fn", "toward_zero"),
                                           ("float64", "nearest_even")])
def test_graham_zq_is_fxsim_quantize_of_z(fmt, rounding):
    x = nchw(9, scale=[1.0, 10.0, 0.1])
    gamma, beta = np.array([2.0, 0.5, -1.0]), np.array([0.0, 1.0, -3.0])
    y, cache = N.graham_bn(x, fmt, gamma, beta, rounding=rounding)
    z = graham_z_ref(x)
    np.testing.assert_allclose(cache.z, z, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(cache.z_q, fxsim.quantize(cache.z, fmt, rounding))
    np.testing.assert_array_equal(cache.codes, fxsim.encode(cache.z, fmt, rounding))
    np.testing.assert_array_equal(y, gamma[None, :, None, None] * cache.z_q
                                  + beta[None, :, None, None])


def test_graham_fixed_point_clips_through_saturation():
    x = nchw(10, shape=(64, 2))
    _, cache = N.graham_bn(x, fxsim.FixedFormat(4, 2))        # s4.2: [-2, 1.75], step 1/4
    expected = np.clip(np.round(cache.z * 4) / 4, -2.0, 1.75)  # numpy rounds half to even
    np.testing.assert_array_equal(cache.z_q, expected)
    assert (cache.z > 1.75).any() and (cache.z < -2).any()     # the clip was exercised


def test_graham_memory_per_activation():
    x = nchw(11)
    for fmt, bits in ((fxsim.FixedFormat(4, 2), 4), ("float8_e4m3fn", 8), ("bfloat16", 16),
                      (fxsim.FixedFormat(1, 0), 1), ("float4_e2m1fn", 4)):
        _, cache = N.graham_bn(x, fmt)
        assert cache.bits_per_activation == bits
        assert cache.memory_bits == bits * x.size


def test_graham_stochastic_rounding_is_seeded():
    x = nchw(12)
    fmt = fxsim.FixedFormat(3, 1)
    _, a = N.graham_bn(x, fmt, rounding="stochastic", rng=5)
    _, b = N.graham_bn(x, fmt, rounding="stochastic", rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.z_q, b.z_q)
    np.testing.assert_array_equal(a.z_q, fxsim.quantize(a.z, fmt, "stochastic", rng=5))
    _, c = N.graham_bn(x, fmt, rounding="stochastic", rng=6)
    assert not np.array_equal(a.z_q, c.z_q)


def test_graham_backward_exact_format_matches_finite_differences():
    x = nchw(13, shape=(6, 2, 2, 2), scale=[1.0, 3.0])
    gamma, beta = np.array([1.5, -0.7]), np.array([0.1, 0.0])
    dy = np.random.default_rng(14).normal(size=x.shape)

    def loss(xx):
        return float(np.sum(dy * N.graham_bn(xx, "float64", gamma, beta)[0]))

    _, cache = N.graham_bn(x, "float64", gamma, beta)
    dx, dgamma, dbeta = N.graham_bn_backward(dy, cache)
    np.testing.assert_allclose(dx, loss_grad_fd(loss, x.copy()), rtol=1e-5, atol=1e-7)
    z = graham_z_ref(x)
    for c in range(2):
        assert dgamma[c] == pytest.approx(float(np.dot(channels(dy)[c], channels(z)[c])),
                                          rel=1e-10)
        assert dbeta[c] == pytest.approx(sum(channels(dy)[c]), rel=1e-12)


def test_graham_backward_uses_zq_straight_through():
    x = nchw(15, shape=(16, 3))
    gamma, beta = np.array([1.0, 2.0, -0.5]), np.zeros(3)
    dy = np.random.default_rng(16).normal(size=x.shape)
    fmt = fxsim.FixedFormat(3, 1)                              # coarse: z_q != z
    _, cache = N.graham_bn(x, fmt, gamma, beta)
    assert not np.array_equal(cache.z_q, cache.z)
    dx, dgamma, dbeta = N.graham_bn_backward(dy, cache)
    eps = 1e-5
    for c in range(3):
        v, g, zq = x[:, c], dy[:, c], cache.z_q[:, c]
        n = len(v)
        sigma = math.sqrt(sum((v - sum(v) / n) ** 2) / n + eps)
        dz = g * gamma[c]
        expected = [(dz[i] - sum(dz) / n - zq[i] * sum(dz * zq) / n) / sigma for i in range(n)]
        np.testing.assert_allclose(dx[:, c], expected, rtol=1e-11, atol=1e-13)
        assert dgamma[c] == pytest.approx(float(np.dot(g, zq)), rel=1e-12)
        assert dbeta[c] == pytest.approx(float(np.sum(g)), rel=1e-12)


def test_graham_inference_with_given_statistics():
    x = nchw(17, shape=(5, 2))
    mean, var = np.array([0.5, -1.0]), np.array([4.0, 0.25])
    y, cache = N.graham_bn(x, "float64", 2.0, 1.0, mean=mean, var=var, eps=0.0)
    np.testing.assert_array_equal(cache.z, (x - mean) / np.sqrt(var))
    dy = np.ones_like(x)
    dx, _, _ = N.graham_bn_backward(dy, cache)
    np.testing.assert_array_equal(dx, np.broadcast_to(2.0 / np.sqrt(var), x.shape))
    with pytest.raises(ValueError, match="both mean and var"):
        N.graham_bn(x, "float64", mean=mean)


def test_graham_errors_name_format_mode_and_index():
    x = nchw(18, shape=(4, 2))
    x[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"index \(2, 1\)"):
        N.graham_bn(x, "int8")
    with pytest.raises(ValueError, match="e4m3fn.*stochastic|stochastic.*e4m3fn"):
        N.graham_bn(nchw(18, shape=(4, 2)), "float8_e4m3fn", rounding="stochastic")
    with pytest.raises(ValueError, match=r"channel index \(1,\)"):
        N.graham_bn(np.stack([np.arange(3.0), np.ones(3)], 1), "float64", eps=0.0)
