"""fxsim.binary against independent oracles: numpy integer matmul of the
+-1 matrices, a direct convolution loop written here, and integer matmul
(numpy int64, or Python ints where int64 could overflow) for the bit-serial
product.  The shapes are chosen against the engine's tiling: 8 x 16 output
tiles (4 x 16 for bit planes), 64-bit words with padding bits, passes of
binary.K_BLOCK words, chunks of 64 words in the bit-plane product."""
import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

from fxsim import binary
from fxsim._kernels import jit, popcount
from fxsim.im2col import geometry, patches


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


# K around word and block boundaries, M and N around the 8 x 16 tile
ADVERSARIAL_K = [1, 2, 5, 63, 64, 65, 127, 128, 129, 511, 513, 4095, 4097]
ADVERSARIAL_MN = [(1, 1), (1, 17), (9, 1), (7, 15), (8, 16), (9, 17), (17, 33), (16, 48)]


@pytest.mark.parametrize("k", ADVERSARIAL_K)
def test_matmul_adversarial_shapes(k):
    rng = np.random.default_rng(k)
    for m, n in ADVERSARIAL_MN:
        a, b = real(rng, (m, k)), real(rng, (k, n))
        np.testing.assert_array_equal(binary.matmul(a, b), signs(a) @ signs(b), err_msg=f"{m}x{k}x{n}")


def test_matmul_extremes():
    """All agree (K), all disagree (-K), zeros (+1) against negatives, and
    -0.0 (+1): the padding bits of the last word must not count."""
    for k in (1, 63, 64, 65, 200):
        ones, minus = np.ones((9, k)), -np.ones((k, 17))
        np.testing.assert_array_equal(binary.matmul(ones, ones.T), np.full((9, 9), k))
        np.testing.assert_array_equal(binary.matmul(ones, minus), np.full((9, 17), -k))
        np.testing.assert_array_equal(binary.matmul(-ones, minus), np.full((9, 17), k))
        np.testing.assert_array_equal(binary.matmul(np.zeros((3, k)), -0.0 * minus), np.full((3, 17), k))


def test_matmul_large_k_and_word_blocks(monkeypatch):
    """K beyond one pass of K_BLOCK words: partial sums wait in the output
    between passes.  Any block size gives the same integers."""
    rng = np.random.default_rng(11)
    k = binary.K_BLOCK * 64 + 65
    a, b = real(rng, (9, k)), real(rng, (k, 18))
    expected = signs(a) @ signs(b)
    np.testing.assert_array_equal(binary.matmul(a, b), expected)
    a2, b2 = real(rng, (10, 1000)), real(rng, (1000, 19))
    x, y = rng.integers(-8, 8, (5, 1000)), rng.integers(0, 4, (1000, 17))
    for block in (1, 2, 3, 7):
        monkeypatch.setattr(binary, "K_BLOCK", block)
        np.testing.assert_array_equal(binary.matmul(a2, b2), signs(a2) @ signs(b2), err_msg=f"K_BLOCK={block}")
        np.testing.assert_array_equal(binary.bitserial_matmul(x, binary.pack(b2, axis=-2), 4),
                                      x @ signs(b2), err_msg=f"K_BLOCK={block}")
        np.testing.assert_array_equal(binary.bitserial_matmul(x, y, 4, 2, True, False), x @ y,
                                      err_msg=f"K_BLOCK={block}")


def test_pack_along_any_axis_equals_moved_packbits():
    """binary.pack's word layout along an inner axis (the strided packing
    kernel) is numpy's packbits of the moved axis."""
    rng = np.random.default_rng(12)
    for shape in [(3, 130, 5), (1, 1, 1), (2, 64, 3), (4, 65, 1), (70, 2)]:
        x = real(rng, shape)
        for axis in range(-len(shape), 0):
            moved = np.moveaxis(x < 0, axis, -1)
            want = np.packbits(moved, axis=-1, bitorder="little")
            nbytes = max(1, -(-moved.shape[-1] // 64)) * 8
            want = np.concatenate([want, np.zeros(want.shape[:-1] + (nbytes - want.shape[-1],), np.uint8)],
                                  axis=-1)
            got = binary.pack(x, axis=axis).words
            np.testing.assert_array_equal(got.view(np.uint8), want, err_msg=f"{shape} axis {axis}")


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


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (1, 1, 1), (2, 1, 1), (3, 2, 2), (1, 3, 1)])
def test_patch_panels_equal_im2col_then_panels(stride, padding, dilation):
    """The binary convolution's fused gather (packed patches straight into
    column panels) equals the general path: im2col.patches, then panels."""
    rng = np.random.default_rng(stride * 100 + padding * 10 + dilation)
    for n, c, h, w, kh, kw in [(2, 130, 5, 7, 3, 2), (1, 3, 1, 1, 1, 1), (3, 64, 6, 6, 3, 3)]:
        if (h + 2 * padding - dilation * (kh - 1) - 1) < 0 or (w + 2 * padding - dilation * (kw - 1) - 1) < 0:
            continue
        x = binary.pack(real(rng, (n, c, h, w)), axis=1).words                # (N, H, W, Wc)
        g = geometry("test", (n, c, h, w), (4, c, kh, kw), stride, padding, dilation, 1)
        fill = rng.integers(0, 2**63, x.shape[-1], dtype=np.uint64)
        want = popcount.panels(np.ascontiguousarray(patches(x, g, fill, channels_last=True)), popcount.COLS)
        got = popcount.patch_panels(x, fill, kh, kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ho, g.wo,
                                    popcount.COLS)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,wshape,stride,padding,dilation", [
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 1),          # 1x1 everything
    ((1, 3, 2, 2), (5, 3, 3, 3), 1, 1, 1),          # filter larger than the image
    ((2, 65, 9, 3), (17, 65, 2, 1), 3, 2, 2),       # stride beyond the filter, K = 130
    ((1, 200, 4, 5), (9, 200, 1, 1), 1, 0, 1),      # 1x1 filters, K = 200
])
def test_conv2d_adversarial_shapes(shape, wshape, stride, padding, dilation):
    rng = np.random.default_rng(sum(shape))
    x, w = real(rng, shape), real(rng, wshape)
    for pv in (-1, 0, 1):
        np.testing.assert_array_equal(binary.conv2d(x, w, stride, padding, dilation, 1, pv),
                                      direct_conv(x, w, stride, padding, dilation, 1, pv))


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


def object_matmul(a, b):
    """Exact integer matmul in Python ints (no int64 overflow)."""
    return np.asarray(a).astype(object) @ np.asarray(b).astype(object)


@pytest.mark.parametrize("bits,signed", [(12, True), (16, False), (31, True), (32, False), (32, True)])
def test_bitserial_wide_operands(bits, signed):
    """More than 8 planes, extremes of the range, K and shapes off the
    tile; checked in Python ints."""
    rng = np.random.default_rng(bits)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    for m, k, n in [(1, 1, 1), (5, 70, 17), (4, 130, 16)]:
        a = rng.integers(lo, hi, (m, k), endpoint=True)
        b = rng.integers(-4, 4, (k, n))
        a.flat[:2] = [lo, hi][:a.size]
        got = binary.bitserial_matmul(a, b, bits, 3, signed, True)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.astype(object), object_matmul(a, b))
        w = real(rng, (k, n))
        got = binary.bitserial_matmul(a, binary.pack(w, axis=-2), bits, a_signed=signed)
        np.testing.assert_array_equal(got.astype(object), object_matmul(a, signs(w)))


@pytest.mark.parametrize("k", [1, 2, 63, 64, 65, 129, 4096, 4097, 8193])
def test_bitserial_adversarial_shapes(k):
    """K around words and the 64-word chunks of the plane product, M and N
    around the 4 x 16 tile, every dtype of input."""
    rng = np.random.default_rng(k)
    for m, n, dtype in [(1, 1, np.uint8), (3, 17, np.int16), (4, 16, np.int64), (5, 33, np.uint64),
                        (9, 2, np.int32)]:
        lo = 0 if np.dtype(dtype).kind == "u" else -128
        a = rng.integers(lo, lo + 256, (m, k)).astype(dtype)
        w = real(rng, (k, n))
        got = binary.bitserial_matmul(a, binary.pack(w, axis=-2), 8, a_signed=lo < 0)
        np.testing.assert_array_equal(got, a.astype(np.int64) @ signs(w), err_msg=f"{m}x{k}x{n} {dtype}")
        b = rng.integers(-2, 2, (k, n)).astype(dtype if lo < 0 else np.int8)
        got = binary.bitserial_matmul(a, b, 8, 2, lo < 0, True)
        np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


def test_bitserial_extremes():
    """Every value at the bottom or top of its range: the signed top planes
    (negative weights) all set, or all other planes set."""
    for a_bits, b_bits in [(1, 1), (8, 8), (3, 5), (32, 2)]:
        for a_signed in (True, False):
            for b_signed in (True, False):
                alo, ahi = (-(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1) if a_signed else (0, (1 << a_bits) - 1)
                blo, bhi = (-(1 << (b_bits - 1)), (1 << (b_bits - 1)) - 1) if b_signed else (0, (1 << b_bits) - 1)
                for av in (alo, ahi):
                    for bv in (blo, bhi):
                        a, b = np.full((5, 67), av, np.int64), np.full((67, 18), bv, np.int64)
                        got = binary.bitserial_matmul(a, b, a_bits, b_bits, a_signed, b_signed)
                        np.testing.assert_array_equal(got, np.full((5, 18), 67 * av * bv),
                                                      err_msg=f"{a_bits} {a_signed} {av} x {b_bits} {b_signed} {bv}")


def test_bitserial_int64_overflow_is_an_error():
    """The exact product must fit int64: a bound from the widths, then from
    the values; wide operands with small values still compute."""
    big = np.full((1, 2), (1 << 32) - 1, np.uint64)
    with pytest.raises(ValueError, match="may not fit int64"):
        binary.bitserial_matmul(big, big.T, 32, 32, False, False)
    small = np.full((2, 3), 5, np.uint64)
    np.testing.assert_array_equal(binary.bitserial_matmul(small, small.T, 32, 32, False, False),
                                  np.full((2, 2), 75))
    with pytest.raises(ValueError, match=r"a = 18446744073709551615 at index \(0, 0\) does not fit 8-bit"):
        binary.bitserial_matmul(np.full((1, 2), 2**64 - 1, np.uint64), np.ones((2, 1), int), 8, 2)


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
    wide, long_k = rng.integers(-2**20, 2**20, (30, 5000)), real(rng, (5000, 40))
    runs = [("matmul", lambda: binary.matmul(a, b)),
            ("conv2d", lambda: binary.conv2d(x, w, padding=1, pad_value=0)),
            ("bitserial", lambda: binary.bitserial_matmul(ints, binary.pack(bits, axis=-2), 4)),
            ("bitserial int x int", lambda: binary.bitserial_matmul(ints, ints.T[:, :20], 4, 4)),
            ("bitserial long K", lambda: binary.bitserial_matmul(wide, binary.pack(long_k, axis=-2), 21)),
            ("pack along axis 0", lambda: binary.pack(x, axis=1).words)]
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
