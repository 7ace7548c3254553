"""fxsim.binary against independent oracles: numpy integer matmul of the
+-1 matrices, a direct convolution loop written here, and integer matmul
for the bit-serial product."""
import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

from fxsim import binary
from fxsim._kernels import jit


def signs(x):
    """The +-1 values of Hubara et al.'s sign: sign(0) = +1."""
    return np.where(np.asarray(x) < 0, -1, 1).astype(np.int64)


def real(rng, shape):
    """Normal values with exact zeros and negative zeros mixed in."""
    x = rng.standard_normal(shape)
    x.flat[::7] = 0.0
    x.flat[3::11] = -0.0
    return x


@pytest.mark.parametrize("k", [1, 63, 64, 65, 129, 1000])
@pytest.mark.parametrize("m,n", [(1, 1), (3, 5), (7, 2), (8, 9)])
def test_matmul_equals_integer_matmul(k, m, n):
    rng = np.random.default_rng(k * 100 + m * 10 + n)
    a, b = real(rng, (m, k)), real(rng, (k, n))
    expected = signs(a) @ signs(b)
    got = binary.matmul(a, b)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(binary.matmul(binary.pack(a), binary.pack(b, axis=-2)), expected)


def test_matmul_numpy_shapes():
    rng = np.random.default_rng(1)
    a, b, v = real(rng, (2, 3, 4, 70)), real(rng, (3, 70, 5)), real(rng, 70)
    for x, y in ((a, b), (v, b), (a, v), (v, v), (b[0].T, b)):
        np.testing.assert_array_equal(binary.matmul(x, y), np.matmul(signs(x), signs(y)))


def test_integer_and_unsigned_inputs():
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, (5, 77)).astype(np.int8)
    b = rng.integers(0, 4, (77, 6)).astype(np.uint16)  # all +1
    np.testing.assert_array_equal(binary.matmul(a, b), signs(a) @ signs(b))


def test_pack_layout():
    """Element k at bit k % 64 of word k // 64, bit 1 = -1, padding 0."""
    x = np.ones(130)
    x[[1, 64, 129]] = -1
    p = binary.pack(x)
    assert p.words.dtype == np.uint64 and p.words.shape == (3,) and p.length == 130
    assert [int(w) for w in p.words] == [1 << 1, 1 << 0, 1 << 1]
    p = binary.pack(-np.ones(65))
    assert [int(w) for w in p.words] == [2**64 - 1, 1]  # padding bits stay 0


@given(st.integers(1, 4), st.integers(1, 140), st.integers(0, 2), st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip(rows, k, axis, seed):
    rng = np.random.default_rng(seed)
    x = real(rng, (rows, k, 3))
    p = binary.pack(x, axis=axis)
    np.testing.assert_array_equal(binary.unpack(p), signs(x))
    assert p.shape == x.shape and p.axis == axis - 3


def direct_conv(x, w, stride, padding, dilation, groups, pad_value):
    """Cross-correlation of the +-1 (or zero-padded) arrays, loop by loop."""
    sx, sw = signs(x), signs(w)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    p = padding
    xp = np.full((n, c, h + 2 * p, wd + 2 * p), pad_value, np.int64)
    xp[:, :, p:p + h, p:p + wd] = sx
    ho = (h + 2 * p - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * p - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, ho, wo), np.int64)
    og = o // groups
    for b in range(n):
        for f in range(o):
            g = f // og
            for y in range(ho):
                for xx in range(wo):
                    total = 0
                    for ch in range(cg):
                        for ky in range(kh):
                            for kx in range(kw):
                                total += xp[b, g * cg + ch, y * stride + ky * dilation,
                                            xx * stride + kx * dilation] * sw[f, ch, ky, kx]
                    out[b, f, y, xx] = total
    return out


@pytest.mark.parametrize("pad_value", [-1, 0, 1])
@pytest.mark.parametrize("stride,padding,dilation,groups",
                         [(1, 0, 1, 1), (1, 1, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (2, 0, 1, 2),
                          (3, 2, 1, 1)])
def test_conv2d_equals_direct_loop(pad_value, stride, padding, dilation, groups):
    rng = np.random.default_rng(stride * 1000 + padding * 100 + dilation * 10 + groups)
    x = real(rng, (2, 4, 7, 6))
    w = real(rng, (6, 4 // groups, 3, 2))
    got = binary.conv2d(x, w, stride, padding, dilation, groups, pad_value)
    np.testing.assert_array_equal(got, direct_conv(x, w, stride, padding, dilation, groups, pad_value))


def test_conv2d_many_channels():
    """C = 130: three words per tap, padding bits in the last."""
    rng = np.random.default_rng(5)
    x, w = real(rng, (1, 130, 5, 5)), real(rng, (3, 130, 3, 3))
    for pv in (-1, 0, 1):
        np.testing.assert_array_equal(binary.conv2d(x, w, padding=1, pad_value=pv),
                                      direct_conv(x, w, 1, 1, 1, 1, pv))


@pytest.mark.parametrize("a_bits", range(1, 9))
@pytest.mark.parametrize("a_signed", [True, False])
def test_bitserial_equals_integer_matmul(a_bits, a_signed):
    rng = np.random.default_rng(a_bits)
    for b_bits, b_signed in ((1, False), (3, True), (8, True), (8, False)):
        lo, hi = (-(1 << (a_bits - 1)), 1 << (a_bits - 1)) if a_signed else (0, 1 << a_bits)
        blo, bhi = (-(1 << (b_bits - 1)), 1 << (b_bits - 1)) if b_signed else (0, 1 << b_bits)
        a = rng.integers(lo, hi, (5, 70))
        b = rng.integers(blo, bhi, (70, 4))
        a[0, :3] = [lo, hi - 1, 0]
        b[:3, 0] = [blo, bhi - 1, 0]
        got = binary.bitserial_matmul(a, b, a_bits, b_bits, a_signed, b_signed)
        np.testing.assert_array_equal(got, a @ b)


def test_first_layer_bit_planes_times_binary_weights():
    """Hubara et al.: an 8-bit input times +-1 weights by bit planes."""
    rng = np.random.default_rng(8)
    x = rng.integers(0, 256, (6, 300))
    w = real(rng, (300, 5))
    got = binary.bitserial_matmul(x, binary.pack(w, axis=-2), 8, a_signed=False)
    np.testing.assert_array_equal(got, x @ signs(w))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                    reason="needs a Numba thread pool of 2 (NUMBA_NUM_THREADS >= 2; it defaults "
                           "to the number of CPU cores)")
def test_same_results_on_one_and_two_threads():
    """The popcount kernel really runs on 1 and on 2 threads (jit.last_threads
    says so), with bit-identical results: many row pairs per thread."""
    rng = np.random.default_rng(9)
    a, b = real(rng, (151, 200)), real(rng, (200, 41))
    x, w = real(rng, (2, 70, 9, 9)), real(rng, (40, 70, 3, 3))
    ints, bits = rng.integers(-8, 8, (90, 130)), real(rng, (130, 33))
    runs = [("matmul", lambda: binary.matmul(a, b)),
            ("conv2d", lambda: binary.conv2d(x, w, padding=1, pad_value=0)),
            ("bitserial", lambda: binary.bitserial_matmul(ints, binary.pack(bits, axis=-2), 4))]
    for name, run in runs:
        results = []
        for threads in (1, 2):
            with jit.exact_threads(threads):
                results.append(run())
                assert jit.last_threads() == threads, (name, threads)
        np.testing.assert_array_equal(results[0], results[1], err_msg=name)


def test_thread_record_follows_the_override():
    # the check of the check: with one thread forced, the record says 1
    with jit.exact_threads(1):
        assert jit.last_threads() == 0
        binary.matmul(np.ones((300, 64)), np.ones((64, 300)))  # big enough for 2 threads
        assert jit.last_threads() == 1


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"NaN at index \(1, 2\)"):
        binary.pack(np.array([[0, 0, 0], [1, 1, np.nan]]))
    with pytest.raises(ValueError, match="reduction lengths differ"):
        binary.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="packed along its second-to-last axis"):
        binary.matmul(np.ones((2, 3)), binary.pack(np.ones((3, 2)), axis=-1))
    with pytest.raises(ValueError, match=r"b = 9 at index \(0, 1\) does not fit 4-bit signed"):
        binary.bitserial_matmul(np.ones((1, 2), int), np.array([[0, 9], [0, 0]]), 2, 4)
    with pytest.raises(ValueError, match="pad_value"):
        binary.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), pad_value=2)
    with pytest.raises(ValueError, match="groups"):
        binary.conv2d(np.ones((1, 3, 3, 3)), np.ones((2, 2, 1, 1)), groups=2)
