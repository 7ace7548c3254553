"""Binary ({-1, +1}) and bit-serial integer products by XOR/AND-popcount.

Layout (DESIGN.md): values pack into ``uint64`` words along the reduction
axis, element ``k`` at bit ``k % 64`` of word ``k // 64``; bit 1 means -1
(the sign bit, as in Larq Compute Engine); padding bits are 0.  A real value
binarizes by its sign with ``sign(0) = +1`` (Hubara et al.), so 0 and -0
are +1.  The dot product of two packed vectors of true length K is
``K - 2 * popcount(a XOR b)``.

Everything here is exact integer arithmetic: :func:`matmul` and
:func:`conv2d` equal numpy's integer matmul / a direct convolution of the
+-1 arrays, :func:`bitserial_matmul` equals the integer product of its
operands.  Results are int32 (binary; |result| <= K) or int64 (bit-serial).

Engine (``fxsim._kernels.popcount``): the operands are packed once per call
into panels (8 rows of A, 16 columns of B side by side per word index; all
bit planes of an integer operand in one pass) and each 8 x 16 (bit planes:
4 x 16) output tile is accumulated in vector registers across the words of
K, in blocks of :data:`K_BLOCK` words (partial sums kept in the output
between blocks).  Integer popcount sums do not depend on their order, so
every tiling, block size and thread count gives the same integers.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from ._kernels import popcount as kernels
from ._kernels.jit import threads_for
from .im2col import geometry

__all__ = ["PackedBits", "pack", "unpack", "matmul", "conv2d", "bitserial_matmul"]

#: words of K (64 bits each) per pass over the output: one pass for K up to
#: 32768 bits; beyond, partial sums wait in the output between passes
K_BLOCK = 512
#: word operations (64-bit AND/XOR + popcount) per thread worth waking it
_WORK_PER_THREAD = 1 << 18
#: elements per thread worth waking it for packing: packing is cheap beside
#: the product, and every parallel launch may wait for a busy core
_PACK_PER_THREAD = 1 << 22


@dataclass(frozen=True)
class PackedBits:
    """Signs of a real array, packed.

    ``words``: uint64, the packed axis moved last, ``ceil(length / 64)``
    words per vector; ``length``: the true number of values along the packed
    axis; ``axis``: where that axis was in the original array (negative);
    ``shape``: the original shape."""
    words: np.ndarray
    length: int
    axis: int
    shape: tuple

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (f"PackedBits(shape={self.shape}, axis={self.axis}, length={self.length}, "
                f"words={self.words.shape})")


def _index_str(flat, shape):
    return tuple(int(i) for i in np.unravel_index(int(flat), shape)) if shape else ()


def _real(x, name):
    """``x`` as a numeric numpy array (QArrays by their values)."""
    from .array import QArray
    if isinstance(x, QArray):
        x = x.to_float()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected real numbers (int or float), got dtype {arr.dtype}; "
                         "binary operands binarize by sign, sign(0) = +1")
    return arr


def _negative_bits(x, name):
    """Boolean array: True where ``x`` binarizes to -1 (x < 0)."""
    arr = _real(x, name)
    if arr.dtype.kind == "f":
        nan = np.isnan(arr)
        if nan.any():
            i = int(np.flatnonzero(nan)[0])
            raise ValueError(f"{name}: NaN at index {_index_str(i, arr.shape)} has no sign; "
                             "binary operands must be real numbers")
    return arr < 0


def _pack_bool(bits):
    """Pack a boolean array along its last axis into uint64 words (bit k of
    the vector at bit k % 64 of word k // 64; padding bits 0)."""
    k = bits.shape[-1]
    nwords = max(1, -(-k // 64))
    packed = np.packbits(bits, axis=-1, bitorder="little")
    pad = nwords * 8 - packed.shape[-1]
    if pad:
        packed = np.concatenate(
            [packed, np.zeros(packed.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def _pack_axis(neg, axis, c0=0, c1=None):
    """Pack the boolean ``neg`` along ``axis`` (entries ``c0:c1`` of it):
    the packed axis moves last, as words (see :func:`_pack_bool`)."""
    axis = normalize_axis_index(axis, neg.ndim)
    c1 = neg.shape[axis] if c1 is None else c1
    rows = int(np.prod(neg.shape[:axis], dtype=np.int64))
    inner = int(np.prod(neg.shape[axis + 1:], dtype=np.int64))
    if inner < 16:      # the last axis, or few values after it: numpy's packbits
        part = neg[(slice(None),) * axis + (slice(c0, c1),)]
        return _pack_bool(np.ascontiguousarray(np.moveaxis(part, axis, -1)))
    bits = np.ascontiguousarray(neg).view(np.uint8).reshape(rows, neg.shape[axis], inner)
    with threads_for(bits.size // _PACK_PER_THREAD):
        words = kernels.pack_axis(bits, c0, c1)
    return words.reshape(neg.shape[:axis] + neg.shape[axis + 1:] + (words.shape[-1],))


def pack(x, axis=-1) -> PackedBits:
    """Binarize ``x`` by sign (``x < 0`` -> -1, else +1) and pack it along
    ``axis`` (the reduction axis) into uint64 words; bit 1 means -1."""
    if isinstance(x, PackedBits):
        return x
    neg = _negative_bits(x, "binary.pack")
    if neg.ndim == 0:
        raise ValueError("binary.pack: need at least one axis to pack along, got a scalar")
    axis = normalize_axis_index(axis, neg.ndim) - neg.ndim
    return PackedBits(_pack_axis(neg, axis), int(neg.shape[axis]), axis, tuple(neg.shape))


def unpack(p: PackedBits) -> np.ndarray:
    """The +-1 values (int8) of a :class:`PackedBits`, in the original shape."""
    if not isinstance(p, PackedBits):
        raise TypeError(f"binary.unpack: expected PackedBits, got {type(p).__name__}")
    raw = np.ascontiguousarray(p.words).view(np.uint8)
    bits = np.unpackbits(raw, axis=-1, count=p.length, bitorder="little")
    values = (1 - 2 * bits.astype(np.int8)).astype(np.int8)
    return np.moveaxis(values, -1, p.axis)


def _words(x):
    return np.require(x, np.uint64, ["C", "W"])


def _panels(words, rows):
    """``kernels.panels`` of packed rows (R, W), or of G sets of them
    (G, R, W): (T, W, rows) or (G, T, W, rows)."""
    words = _words(words)
    with threads_for(words.size // _PACK_PER_THREAD):
        out = kernels.panels(words.reshape((-1,) + words.shape[-2:]), rows)
    return out if words.ndim == 3 else out[0]


def _blocks(nwords):
    """``(w0, w1, first, last)`` passes over the words of K."""
    starts = list(range(0, nwords, K_BLOCK))
    return [(w0, min(nwords, w0 + K_BLOCK), w0 == 0, w0 == starts[-1]) for w0 in starts]


def _run(kernel, ap, bp, base, scale, out):
    """Run a panel product on threads, in passes over K: ``ap`` panels of
    A, ``bp`` panels of the columns of G products (G, NT, ...); ``out``
    (G, M, N) C-contiguous, written in place."""
    g, m, n = out.shape
    units = g * ap.shape[0] * -(-bp.shape[1] // 8)
    nwords = ap.shape[1]
    planes = (ap.shape[2] if ap.ndim == 4 else 1) * (bp.shape[3] if bp.ndim == 5 else 1)
    work = g * m * n * nwords * planes
    base = np.require(base, np.int64, ["C", "W"])
    with threads_for(max(1, min(units, work // _WORK_PER_THREAD))):
        for w0, w1, first, last in _blocks(nwords):
            kernel(ap, bp, w0, w1, first, last, base, scale, out)
    return out


def _xor_product(a_words, b_words, k, out):
    """``out[i, j] = k - 2 * popcount(a_words[i] XOR b_words[j])``: the +-1
    dot products of packed rows (M, W) and columns (N, W), into int32 (M, N)."""
    ap = _panels(a_words, kernels.XOR_ROWS)
    bp = _panels(b_words[None], kernels.COLS)
    _run(kernels.xor_gemm, ap, bp, np.full(out.shape[0], k, np.int64), -2, out[None])
    return out


def _plane_product(ap, bp, a_signed, b_signed, base, scale, out):
    """``out = base[:, None] + scale * sum_pq w_p w_q popcount(a_p AND b_q)``
    for plane panels ``ap`` (MT, W, PA, 4) and ``bp`` (NT, W, PB, 16)."""
    a_signed, b_signed = bool(a_signed), bool(b_signed)

    def kernel(ap, bp, w0, w1, first, last, base, scale, out):
        kernels.plane_gemm(ap, bp, w0, w1, a_signed, b_signed, first, last, base, scale, out)
    _run(kernel, ap, bp[None], base, scale, out[None])
    return out


def _operands(a, b, name):
    """Packed operands of a numpy-style matmul: a (..., M, K), b (..., K, N).

    Returns (a words (..., M, W), b words (..., N, W), K, output shape)."""
    a_vec = (a.ndim if isinstance(a, PackedBits) else np.ndim(a)) == 1
    b_vec = (b.ndim if isinstance(b, PackedBits) else np.ndim(b)) == 1
    pa = pack(a, axis=-1)
    pb = pack(b, axis=-1 if b_vec else -2)
    if pa.axis != -1:
        raise ValueError(f"{name}: a must be packed along its last axis (binary.pack(a, axis=-1)), "
                         f"got axis={pa.axis}")
    if pb.axis != (-1 if b_vec else -2):
        raise ValueError(f"{name}: b must be packed along its second-to-last axis "
                         f"(binary.pack(b, axis=-2)), got axis={pb.axis}")
    if pa.length != pb.length:
        raise ValueError(f"{name}: reduction lengths differ: a has K={pa.length}, b has K={pb.length}")
    aw = pa.words[None, :] if a_vec else pa.words
    bw = pb.words[None, :] if b_vec else pb.words
    try:
        batch = np.broadcast_shapes(aw.shape[:-2], bw.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: batch shapes {pa.shape[:-2]} and {pb.shape[:-2]} do not broadcast") from None
    m, n = aw.shape[-2], bw.shape[-2]
    shape = batch + ((m,) if not a_vec else ()) + ((n,) if not b_vec else ())
    return aw, bw, pa.length, batch, shape


def _batched(aw, bw, batch, k):
    m, n = aw.shape[-2], bw.shape[-2]
    out = np.empty(batch + (m, n), np.int32)
    aw = np.broadcast_to(aw, batch + aw.shape[-2:])
    bw = np.broadcast_to(bw, batch + bw.shape[-2:])
    for idx in np.ndindex(*batch):
        _xor_product(aw[idx], bw[idx], k, out[idx])
    return out


def matmul(a, b) -> np.ndarray:
    """Exact product of +-1 matrices by XOR-popcount, with numpy's matmul
    shapes (1-d operands, broadcast batch axes).

    ``a`` and ``b`` are real arrays (binarized by sign, ``sign(0) = +1``) or
    :class:`PackedBits` (``a`` packed along its last axis, ``b`` along its
    second-to-last).  Each entry is ``K - 2 * popcount(a XOR b)``, an exact
    int32 equal to ``np.matmul`` of the +-1 arrays."""
    aw, bw, k, batch, shape = _operands(a, b, "binary.matmul")
    if k >= 2**31:
        raise ValueError(f"binary.matmul: K={k} does not fit the int32 result")
    return _batched(aw, bw, batch, k).reshape(shape)


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, pad_value=-1) -> np.ndarray:
    """Exact 2-d convolution (cross-correlation, as in deep-learning
    frameworks) of +-1 images with +-1 filters by XOR-popcount.

    ``x`` is (N, C, H, W), ``w`` is (O, C // groups, kh, kw), both real
    (binarized by sign, ``sign(0) = +1``).  Padding is not binary, so say
    what it is: ``pad_value=-1`` or ``+1`` pads with that value (binary all
    the way), ``pad_value=0`` is true zero padding -- computed with +1
    padding and then corrected exactly by subtracting, at each border
    output, the sum of the filter taps that fell on padding (as Larq Compute
    Engine does).  Returns int32 (N, O, Ho, Wo) with
    ``Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1``; each entry equals the
    direct sum over (c, kh, kw) of the +-1 (or zero-padded) products."""
    if pad_value not in (-1, 0, 1):
        raise ValueError(f"binary.conv2d: pad_value must be -1, +1 or 0 (true zeros), got {pad_value!r}")
    xneg = _negative_bits(x, "binary.conv2d (x)")
    wneg = _negative_bits(w, "binary.conv2d (w)")
    g = geometry("binary.conv2d", xneg.shape, wneg.shape, stride, padding, dilation, groups)
    og, cg = g.o // groups, g.cg
    k = cg * g.kh * g.kw
    out = np.empty((g.n, g.o, g.ho, g.wo), np.int32)
    for grp in range(groups):
        chans = slice(grp * cg, (grp + 1) * cg)
        outs = slice(grp * og, (grp + 1) * og)
        xg = _pack_axis(xneg, 1, chans.start, chans.stop)        # (N, H, W, Wc)
        wg = _pack_axis(wneg[outs], 1)                           # (O, kh, kw, Wc)
        nw = xg.shape[-1]
        fill = _pack_bool(np.ones((1, cg), bool))[0] if pad_value == -1 else np.zeros(nw, np.uint64)
        wp = _panels(wg.reshape(og, g.kh * g.kw * nw), kernels.XOR_ROWS)
        with threads_for(g.n * g.ho * g.wo * g.kh * g.kw * nw // _PACK_PER_THREAD):  # all images
            bp = kernels.patch_panels(_words(xg), _words(fill), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                                      g.dh, g.dw, g.ho, g.wo, kernels.COLS)
        res = out[:, outs].reshape(g.n, og, g.ho * g.wo) if groups == 1 else \
            np.empty((g.n, og, g.ho * g.wo), np.int32)
        _run(kernels.xor_gemm, wp, bp, np.full(og, k, np.int64), -2, res)
        if groups > 1:
            out[:, outs] = res.reshape(g.n, og, g.ho, g.wo)
        if pad_value == 0 and (g.ph or g.pw):
            out[:, outs] -= _padding_correction(wg, g)
    return out


def _padding_correction(wg, g):
    """(O, Ho, Wo) int32: at each output, the sum of the +-1 filter taps
    that lie on padding -- what +1 padding added and zero padding does not."""
    tap_sum = g.cg - 2 * np.bitwise_count(wg).sum(axis=-1, dtype=np.int64)  # (O, kh, kw)
    ys = np.arange(g.ho)[:, None] * g.sh - g.ph + np.arange(g.kh)[None, :] * g.dh  # (Ho, kh)
    xs = np.arange(g.wo)[:, None] * g.sw - g.pw + np.arange(g.kw)[None, :] * g.dw  # (Wo, kw)
    off_y = (ys < 0) | (ys >= g.h)
    off_x = (xs < 0) | (xs >= g.w)
    off = off_y[:, None, :, None] | off_x[None, :, None, :]                  # (Ho, Wo, kh, kw)
    return np.einsum("okl,yxkl->oyx", tap_sum, off.astype(np.int64)).astype(np.int32)


def _plane_panels(x, bits, signed, name, rows, transposed=False):
    """Bit planes of the integer array ``x`` (two's complement), of its rows
    or (``transposed``) of its columns, packed in one pass as panels of
    ``rows`` rows: ``(T, W, bits, rows)``; also the exact row sums."""
    orig = np.asarray(x)
    arr = orig.T if transposed else orig
    if arr.dtype.kind not in "iu":
        raise ValueError(f"binary.bitserial_matmul: {name} must be an integer array, got dtype {arr.dtype}")
    if not 1 <= bits <= 32:
        raise ValueError(f"binary.bitserial_matmul: {name}_bits must be 1..32, got {bits}")
    bits = operator.index(bits)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def out_of_range():
        bad = (orig < lo) | (orig > hi)
        i = int(np.flatnonzero(bad)[0])
        kind = "signed" if signed else "unsigned"
        return ValueError(f"binary.bitserial_matmul: {name} = {int(orig.flat[i])} at index "
                          f"{_index_str(i, orig.shape)} does not fit {bits}-bit {kind} [{lo}, {hi}]")

    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > hi:
        raise out_of_range()                     # would wrap in int64
    r, k = arr.shape
    kpad = max(64, -(-k // 64) * 64)
    if kpad == k:
        vals = np.require(arr, np.int64, ["C", "W"])
    else:
        vals = np.zeros((r, kpad), np.int64)     # zeros: no bits, in range, sum 0
        vals[:, :k] = arr
    with threads_for(vals.size // _PACK_PER_THREAD):
        packed, sums, bad = kernels.plane_panels(vals, bits, lo, hi, rows)
    if bad.any():
        raise out_of_range()
    return packed, sums


def _check_int64(a, b, k, a_bits, b_bits, a_signed, b_signed):
    """Raise if ``a @ b`` might not fit int64 (a bound from the bit widths,
    then, only if that one is too loose, from the values)."""
    def widest(bits, signed):
        return (1 << (bits - 1)) if signed else (1 << bits) - 1
    limit = (1 << 63) - 1
    if k * widest(a_bits, a_signed) * widest(b_bits, b_signed) <= limit:
        return
    amax = int(np.abs(np.asarray(a, np.int64)).max(initial=0))   # in range: |a| <= 2**32
    bmax = int(np.abs(np.asarray(b, np.int64)).max(initial=0))
    if k * amax * bmax > limit:
        raise ValueError(f"binary.bitserial_matmul: the exact product may not fit int64: "
                         f"K * max|a| * max|b| = {k} * {amax} * {bmax} >= 2**63")


def bitserial_matmul(a, b, a_bits, b_bits=None, a_signed=True, b_signed=True) -> np.ndarray:
    """Exact integer matmul by bit planes: ``a @ b`` as an int64 array.

    ``a`` (M, K) and ``b`` (K, N) are integer arrays of ``a_bits``/``b_bits``
    bits (two's complement when signed).  Each operand splits into planes of
    0/1 bits, plane p weighted ``2**p`` (the top plane of a signed operand
    ``-2**(bits-1)``), and ``a @ b = sum_pq w_p w_q popcount(a_p AND b_q)``.

    ``b`` may instead be binary weights, a :class:`PackedBits` of +-1 values
    packed along axis -2 (leave ``b_bits`` None); then each plane contributes
    ``w_p * (popcount(a_p) - 2 * popcount(a_p AND b_neg))``, i.e. the result
    is ``rowsum(a) - 2 * sum_p w_p popcount(a_p AND b_neg)``.  This is Hubara
    et al.'s first layer: an 8-bit input times binary weights,
    ``bitserial_matmul(x, binary.pack(w, axis=-2), a_bits=8, a_signed=False)``.

    Engine: the planes of each operand are packed once per call, all of
    them in one pass; each 4 x 16 output tile reads its words of B from
    memory once, in chunks that stay in L1 while every plane pair runs over
    them (AND, popcount, add), and adds each pair's count shifted by
    ``p + q`` (negated for a signed top plane) to one int64 accumulator per
    output.  Every step is exact integer arithmetic (modulo 2**64, so exact
    whenever the result fits int64): a product that might not fit int64
    (only possible for wide operands and long K) raises ValueError."""
    a_arr = np.asarray(a)
    if a_arr.ndim != 2:
        raise ValueError(f"binary.bitserial_matmul: a must be 2-d (M, K), got shape {a_arr.shape}")
    m, k = a_arr.shape
    ap, row_sums = _plane_panels(a_arr, a_bits, a_signed, "a", kernels.PLANE_ROWS)
    if isinstance(b, PackedBits):
        if b_bits is not None:
            raise ValueError("binary.bitserial_matmul: b is packed +-1 weights; leave b_bits None")
        if b.ndim != 2 or b.axis != -2 or b.length != k:
            raise ValueError(f"binary.bitserial_matmul: packed b must be (K={k}, N) packed along "
                             f"axis -2, got shape {b.shape} axis {b.axis}")
        bp = _panels(b.words, kernels.COLS)                # (NT, W, 16)
        bp = bp.reshape(bp.shape[0], bp.shape[1], 1, kernels.COLS)  # one plane: the -1s
        out = np.empty((m, b.words.shape[0]), np.int64)
        return _plane_product(ap, bp, a_signed, False, row_sums, -2, out)
    if b_bits is None:
        raise ValueError("binary.bitserial_matmul: give b_bits (or b as binary.pack(w, axis=-2))")
    b_arr = np.asarray(b)
    if b_arr.ndim != 2 or b_arr.shape[0] != k:
        raise ValueError(f"binary.bitserial_matmul: b must be 2-d (K={k}, N), got shape {b_arr.shape}")
    bp, _ = _plane_panels(b_arr, b_bits, b_signed, "b", kernels.COLS, transposed=True)
    _check_int64(a_arr, b_arr, k, a_bits, b_bits, a_signed, b_signed)
    out = np.empty((m, b_arr.shape[1]), np.int64)
    return _plane_product(ap, bp, a_signed, b_signed, np.zeros(m, np.int64), 1, out)
