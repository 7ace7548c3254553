"""Popcount kernels over packed bit words (argument checking lives in binary.py).

Every result is an exact integer: a sum of popcounts (weighted by powers of
two for bit planes, modulo 2**64, which is exact whenever the true value
fits int64), no rounding anywhere.  Each output is computed whole by one
thread, and integer sums do not depend on their order, so results never
depend on the number of threads, the tiling or the blocking over K.

Layout.  The products read operands in *panels*: ``panels(words, nr)`` turns
``(G, R, W)`` packed rows into ``(G, ceil(R / nr), W, nr)``, so the ``nr``
words of one word index ``w`` of ``nr`` consecutive rows lie side by side
(rows past ``R`` are zero words; their outputs are never stored).
``plane_panels`` does the same for all the bit planes of integers in one
pass, ``(T, W, bits, nr)``.  ``pack_axis`` packs signs along an inner axis.

Vectors.  The products keep an output tile of 8 rows (4 for bit planes) by
16 columns in registers: per word index, two 8-lane vectors of B's words
(16 columns), each A word broadcast against them, ``acc += popcount(a OP
b)``.  The lanes run across output columns, so there are no horizontal sums
and short reductions (K of a few hundred bits, as in binary convolutions)
run at full width.  These loops are written with an 8 x 64-bit vector value
(``U64x8``, LLVM ``<8 x i64>``) and target-independent LLVM operations on it
(``xor``/``and``, ``llvm.ctpop``, ``shl``, ``add``), not left to the
auto-vectorizer: it vectorizes only the innermost loop (over words), whose
per-output horizontal sums cost as much as the popcounts at K = 2048 (the
best auto-vectorized tile ran 2048^3 at 11 Gword/s on one core here, this
one at 17.5) and leave short K scalar.  LLVM lowers the operations for the
host CPU: with AVX-512 VPOPCNTDQ to ``vpopcntq`` on zmm registers, with AVX2
to two ymm halves counted by nibble table (``vpshufb`` + ``vpsadbw``), with
bare SSE2 to bit arithmetic.  No target feature is forced; every lowering
computes the same integers (the tests pass compiled for each of the three).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_VEC = ir.VectorType(_I64, 8)
LANES = 8
#: output tile of the XOR product (rows of A by columns of B) and of the
#: bit-plane product; the panels are packed with these widths
XOR_ROWS, PLANE_ROWS, COLS = 8, 4, 16
#: words per chunk of the bit-plane product (a 16-column B chunk of 8 KiB
#: and the 4 rows' A planes stay in L1 while every plane pair passes)
PLANE_CHUNK = 64


class U64x8(types.Type):
    """Eight 64-bit integer lanes in one register value (LLVM ``<8 x i64>``)."""

    def __init__(self):
        super().__init__(name="fxsim.U64x8")


u64x8 = U64x8()


@register_model(U64x8)
class _U64x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _is_int(t):
    return isinstance(t, types.Integer)


def _c_array(t, bitwidths=(64,)):
    return isinstance(t, types.Array) and t.layout == "C" and _is_int(t.dtype) \
        and t.dtype.bitwidth in bitwidths


def _splat(builder, value, vtype=_VEC):
    lane0 = builder.insert_element(ir.Constant(vtype, None), value, ir.Constant(_I32, 0))
    mask = ir.Constant(ir.VectorType(_I32, vtype.count), [0] * vtype.count)
    return builder.shuffle_vector(lane0, ir.Constant(vtype, None), mask)


def _ctpop(builder, v):
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v.type, [v.type]),
                                        f"llvm.ctpop.v{v.type.count}i64")
    return builder.call(fn, [v])


def _element_ptr(context, builder, aty, arr, off, vtype):
    """Pointer to ``vtype`` at flat element offset ``off`` of a C array."""
    data = context.make_array(aty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [off]), vtype.as_pointer())


@intrinsic
def vzero(typingctx):
    """Eight zero lanes."""
    def codegen(context, builder, sig, args):
        return ir.Constant(_VEC, None)
    return u64x8(), codegen


@intrinsic
def vload(typingctx, arr, off):
    """Lanes ``arr.flat[off:off + 8]`` of a C-contiguous 64-bit array."""
    if not (_c_array(arr) and _is_int(off)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1], _VEC)
        return builder.load(ptr, align=8)
    return u64x8(arr, off), codegen


@intrinsic
def xor_count(typingctx, acc, s, v):
    """``acc + popcount(s XOR v)`` lane by lane (``s`` broadcast)."""
    if not (acc == u64x8 and v == u64x8 and _is_int(s) and s.bitwidth == 64):
        return None

    def codegen(context, builder, sig, args):
        acc, s, v = args
        return builder.add(acc, _ctpop(builder, builder.xor(_splat(builder, s), v)))
    return u64x8(acc, s, v), codegen


@intrinsic
def and_count_shl(typingctx, acc, s, v, shift):
    """``acc + (popcount(s AND v) << shift)`` lane by lane (``s`` broadcast)."""
    if not (acc == u64x8 and v == u64x8 and _is_int(s) and s.bitwidth == 64 and _is_int(shift)):
        return None

    def codegen(context, builder, sig, args):
        acc, s, v, shift = args
        shift = context.cast(builder, shift, sig.args[3], types.int64)
        count = _ctpop(builder, builder.and_(_splat(builder, s), v))
        return builder.add(acc, builder.shl(count, _splat(builder, shift)))
    return u64x8(acc, s, v, shift), codegen


@intrinsic
def vadd(typingctx, x, y):
    """Lane sums (modulo 2**64)."""
    if not (x == u64x8 and y == u64x8):
        return None

    def codegen(context, builder, sig, args):
        return builder.add(args[0], args[1])
    return u64x8(x, y), codegen


@intrinsic
def vshl(typingctx, x, shift):
    """Lanes shifted left by ``shift`` bits (modulo 2**64)."""
    if not (x == u64x8 and _is_int(shift)):
        return None

    def codegen(context, builder, sig, args):
        shift = context.cast(builder, args[1], sig.args[1], types.int64)
        return builder.shl(args[0], _splat(builder, shift))
    return u64x8(x, shift), codegen


@intrinsic
def vsub(typingctx, x, y):
    """Lane differences (modulo 2**64)."""
    if not (x == u64x8 and y == u64x8):
        return None

    def codegen(context, builder, sig, args):
        return builder.sub(args[0], args[1])
    return u64x8(x, y), codegen


@intrinsic
def lane(typingctx, v, i):
    """Lane ``i`` of ``v`` as int64."""
    if not (v == u64x8 and _is_int(i)):
        return None

    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], args[1])
    return types.int64(v, i), codegen


@intrinsic
def vload_out(typingctx, out, off):
    """``out.flat[off:off + 8]`` of an int32 or int64 C array, as int64 lanes."""
    if not (_c_array(out, (32, 64)) and _is_int(off)):
        return None

    def codegen(context, builder, sig, args):
        width = sig.args[0].dtype.bitwidth
        vtype = ir.VectorType(ir.IntType(width), LANES)
        v = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1], vtype), align=width // 8)
        return builder.sext(v, _VEC) if width < 64 else v
    return u64x8(out, off), codegen


@intrinsic
def vstore_out(typingctx, out, off, v):
    """``out.flat[off:off + 8] = v`` (int32 outputs keep the low 32 bits;
    callers store only values that fit)."""
    if not (_c_array(out, (32, 64)) and _is_int(off) and v == u64x8):
        return None

    def codegen(context, builder, sig, args):
        width = sig.args[0].dtype.bitwidth
        vtype = ir.VectorType(ir.IntType(width), LANES)
        value = builder.trunc(args[2], vtype) if width < 64 else args[2]
        builder.store(value, _element_ptr(context, builder, sig.args[0], args[0], args[1], vtype),
                      align=width // 8)
        return context.get_dummy_value()
    return types.none(out, off, v), codegen


@intrinsic
def vaffine(typingctx, v, base, scale):
    """``base + scale * v`` lane by lane (modulo 2**64)."""
    if not (v == u64x8 and _is_int(base) and _is_int(scale)):
        return None

    def codegen(context, builder, sig, args):
        base = context.cast(builder, args[1], sig.args[1], types.int64)
        scale = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.add(_splat(builder, base), builder.mul(_splat(builder, scale), args[0]))
    return u64x8(v, base, scale), codegen


_V64 = ir.VectorType(_I64, 64)


@intrinsic
def plane_word(typingctx, vals, off, p):
    """Bit ``p`` of each of the 64 int64 values ``vals.flat[off:off + 64]``,
    value ``k`` at bit ``k`` of the returned word."""
    if not (_c_array(vals) and _is_int(off) and _is_int(p)):
        return None

    def codegen(context, builder, sig, args):
        v = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1], _V64), align=8)
        bit = builder.shl(ir.Constant(_I64, 1), context.cast(builder, args[2], sig.args[2], types.int64))
        on = builder.icmp_unsigned("!=", builder.and_(v, _splat(builder, bit, _V64)), ir.Constant(_V64, None))
        return builder.bitcast(on, _I64)
    return types.uint64(vals, off, p), codegen


@intrinsic
def outside_word(typingctx, vals, off, lo, hi):
    """Bit ``k`` set where ``vals.flat[off + k]`` (64 int64 values) is
    outside ``[lo, hi]``."""
    if not (_c_array(vals) and _is_int(off) and _is_int(lo) and _is_int(hi)):
        return None

    def codegen(context, builder, sig, args):
        v = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1], _V64), align=8)
        lo = _splat(builder, context.cast(builder, args[2], sig.args[2], types.int64), _V64)
        hi = _splat(builder, context.cast(builder, args[3], sig.args[3], types.int64), _V64)
        out = builder.or_(builder.icmp_signed("<", v, lo), builder.icmp_signed(">", v, hi))
        return builder.bitcast(out, _I64)
    return types.uint64(vals, off, lo, hi), codegen


@intrinsic
def sum_word(typingctx, vals, off):
    """Sum of the 64 int64 values ``vals.flat[off:off + 64]`` (modulo 2**64)."""
    if not (_c_array(vals) and _is_int(off)):
        return None

    def codegen(context, builder, sig, args):
        v = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1], _V64), align=8)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_V64]),
                                            "llvm.vector.reduce.add.v64i64")
        return builder.call(fn, [v])
    return types.int64(vals, off), codegen


# ---------------------------------------------------------------- packing


@njit(parallel=True, cache=True)
def panels(words, nr):
    """``(G, R, W)`` uint64 rows -> ``(G, ceil(R / nr), W, nr)`` panels
    (each of the G sets of rows apart), zero padded."""
    G, R, W = words.shape
    T = (R + nr - 1) // nr
    out = np.empty((G, T, W, nr), np.uint64)
    for u in prange(G * T):
        g, t = u // T, u % T
        for r in range(nr):
            row = t * nr + r
            if row < R:
                for w in range(W):
                    out[g, t, w, r] = words[g, row, w]
            else:
                for w in range(W):
                    out[g, t, w, r] = np.uint64(0)
    return out


@njit(parallel=True, cache=True)
def pack_axis(bits, c0, c1):
    """Pack ``bits[:, c0:c1, :]`` (uint8 0/1, shape (A, C, B)) along its
    middle axis: ``(A, B, max(1, ceil((c1 - c0) / 64)))`` uint64 words, bit
    ``c % 64`` of word ``c // 64`` (c counted from c0), padding bits 0.
    The loop runs along B (contiguous), so B should not be tiny."""
    A, _, B = bits.shape
    nw = max(1, (c1 - c0 + 63) // 64)
    out = np.empty((A, B, nw), np.uint64)
    for a in prange(A):
        acc = np.zeros((nw, B), np.uint64)
        for c in range(c1 - c0):
            wd = c // 64
            sh = np.uint64(c % 64)
            for b in range(B):
                acc[wd, b] |= np.uint64(bits[a, c0 + c, b]) << sh
        for b in range(B):
            for wd in range(nw):
                out[a, b, wd] = acc[wd, b]
    return out


@njit(parallel=True, cache=True)
def patch_panels(x, fill, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, nr):
    """im2col straight into column panels: the patches of the packed images
    ``x`` (N, H, W, Wc) as ``(N, ceil(Ho * Wo / nr), kh * kw * Wc, nr)``.
    Output position ``p = y * Wo + x`` is lane ``p % nr`` of panel
    ``p // nr``; its words run over (ky, kx, channel word), reading input
    row ``y * sh - ph + ky * dh`` and column ``x * sw - pw + kx * dw``, or
    ``fill`` (one word per channel word) outside the image; lanes past the
    last position are zero."""
    N, H, W, nw = x.shape
    P = ho * wo
    T = (P + nr - 1) // nr
    out = np.zeros((N, T, kh * kw * nw, nr), np.uint64)
    for u in prange(N * T):
        n, t = u // T, u % T
        for lane_ in range(min(nr, P - t * nr)):
            pos = t * nr + lane_
            y, xo = pos // wo, pos % wo
            for ky in range(kh):
                iy = y * sh - ph + ky * dh
                for kx in range(kw):
                    ix = xo * sw - pw + kx * dw
                    word0 = (ky * kw + kx) * nw
                    if 0 <= iy < H and 0 <= ix < W:
                        for c in range(nw):
                            out[n, t, word0 + c, lane_] = x[n, iy, ix, c]
                    else:
                        for c in range(nw):
                            out[n, t, word0 + c, lane_] = fill[c]
    return out


@njit(parallel=True, cache=True)
def plane_panels(vals, bits, lo, hi, nr):
    """Bit planes 0..bits-1 of the int64 ``vals`` ``(R, K)`` (K a multiple of
    64; two's complement bits, so signed values in range give their signed
    planes) packed as ``(ceil(R / nr), K // 64, bits, nr)`` panels: bit
    ``k % 64`` of word ``k // 64`` of plane ``p`` is bit ``p`` of
    ``vals[row, k]``; rows past R are zero.  Also returns, per row, the sum
    of its values and whether any lies outside ``[lo, hi]``."""
    R, K = vals.shape
    W = K // 64
    T = (R + nr - 1) // nr
    out = np.zeros((T, W, bits, nr), np.uint64)
    sums = np.zeros(R, np.int64)
    bad = np.zeros(R, np.bool_)
    for row in prange(R):
        t, r = row // nr, row % nr
        flag = np.uint64(0)
        total = 0
        for w in range(W):
            off = row * K + w * 64
            flag |= outside_word(vals, off, lo, hi)
            total += sum_word(vals, off)
            # the first eight planes before any store, so the 64 values load once
            p0 = plane_word(vals, off, 0); p1 = plane_word(vals, off, 1)
            p2 = plane_word(vals, off, 2); p3 = plane_word(vals, off, 3)
            p4 = plane_word(vals, off, 4); p5 = plane_word(vals, off, 5)
            p6 = plane_word(vals, off, 6); p7 = plane_word(vals, off, 7)
            out[t, w, 0, r] = p0
            if bits > 1:
                out[t, w, 1, r] = p1
            if bits > 2:
                out[t, w, 2, r] = p2
            if bits > 3:
                out[t, w, 3, r] = p3
            if bits > 4:
                out[t, w, 4, r] = p4
            if bits > 5:
                out[t, w, 5, r] = p5
            if bits > 6:
                out[t, w, 6, r] = p6
            if bits > 7:
                out[t, w, 7, r] = p7
            for p in range(8, bits):
                out[t, w, p, r] = plane_word(vals, off, p)
        sums[row] = total
        bad[row] = flag != 0
    return out, sums, bad


# ---------------------------------------------------------------- products


@njit(inline="always")
def _put(out, i, j, acc, first, last, base, scale):
    """Store one 8-lane piece of an output tile: add the partial sums of
    earlier word blocks unless ``first``; apply ``base[i] + scale * s`` if
    ``last``.  Rows and columns past ``out``'s are dropped."""
    M, N = out.shape
    if i >= M:
        return
    if j + LANES <= N:
        off = i * N + j
        if not first:
            acc = vadd(acc, vload_out(out, off))
        if last:
            acc = vaffine(acc, base[i], scale)
        vstore_out(out, off, acc)
    else:
        for l in range(N - j):
            s = lane(acc, l)
            if not first:
                s += out[i, j + l]
            out[i, j + l] = base[i] + scale * s if last else s


@njit(parallel=True, cache=True)
def xor_gemm(ap, bp, w0, w1, first, last, base, scale, out):
    """``out[g, i, j] = base[i] + scale * sum_w popcount(a[i, w] XOR b_g[j, w])``
    over words ``w0 <= w < w1`` (partial sums: see :func:`_put`).

    ``ap`` is ``(MT, W, 8)`` panels of A's rows, ``bp`` ``(G, NT, W, 16)``
    panels of the columns of G products with the same A (the images of a
    convolution), ``out`` ``(G, M, N)``; see the module docstring.  Each
    tile of 8 x 16 outputs lives in 16 vector registers; threads take
    (product, row panel, block of 8 column panels) units."""
    MT, W, _ = ap.shape
    G, NT = bp.shape[0], bp.shape[1]
    nblk = (NT + 7) // 8
    for u in prange(G * MT * nblk):
        g = u // (MT * nblk)
        ti = (u // nblk) % MT
        tb = u % nblk
        o = out[g]
        i = ti * XOR_ROWS
        for tj in range(tb * 8, min(NT, tb * 8 + 8)):
            j = tj * COLS
            c00 = vzero(); c01 = vzero(); c10 = vzero(); c11 = vzero()
            c20 = vzero(); c21 = vzero(); c30 = vzero(); c31 = vzero()
            c40 = vzero(); c41 = vzero(); c50 = vzero(); c51 = vzero()
            c60 = vzero(); c61 = vzero(); c70 = vzero(); c71 = vzero()
            for w in range(w0, w1):
                boff = ((g * NT + tj) * W + w) * COLS
                v0 = vload(bp, boff)
                v1 = vload(bp, boff + LANES)
                s = ap[ti, w, 0]; c00 = xor_count(c00, s, v0); c01 = xor_count(c01, s, v1)
                s = ap[ti, w, 1]; c10 = xor_count(c10, s, v0); c11 = xor_count(c11, s, v1)
                s = ap[ti, w, 2]; c20 = xor_count(c20, s, v0); c21 = xor_count(c21, s, v1)
                s = ap[ti, w, 3]; c30 = xor_count(c30, s, v0); c31 = xor_count(c31, s, v1)
                s = ap[ti, w, 4]; c40 = xor_count(c40, s, v0); c41 = xor_count(c41, s, v1)
                s = ap[ti, w, 5]; c50 = xor_count(c50, s, v0); c51 = xor_count(c51, s, v1)
                s = ap[ti, w, 6]; c60 = xor_count(c60, s, v0); c61 = xor_count(c61, s, v1)
                s = ap[ti, w, 7]; c70 = xor_count(c70, s, v0); c71 = xor_count(c71, s, v1)
            k = j + LANES
            _put(o, i, j, c00, first, last, base, scale); _put(o, i, k, c01, first, last, base, scale)
            _put(o, i + 1, j, c10, first, last, base, scale); _put(o, i + 1, k, c11, first, last, base, scale)
            _put(o, i + 2, j, c20, first, last, base, scale); _put(o, i + 2, k, c21, first, last, base, scale)
            _put(o, i + 3, j, c30, first, last, base, scale); _put(o, i + 3, k, c31, first, last, base, scale)
            _put(o, i + 4, j, c40, first, last, base, scale); _put(o, i + 4, k, c41, first, last, base, scale)
            _put(o, i + 5, j, c50, first, last, base, scale); _put(o, i + 5, k, c51, first, last, base, scale)
            _put(o, i + 6, j, c60, first, last, base, scale); _put(o, i + 6, k, c61, first, last, base, scale)
            _put(o, i + 7, j, c70, first, last, base, scale); _put(o, i + 7, k, c71, first, last, base, scale)


@njit(inline="always")
def _weighted(c, d, shift, negative):
    """``c -/+ (d << shift)``: one plane pair's counts, weighted."""
    e = vshl(d, shift)
    return vsub(c, e) if negative else vadd(c, e)


@njit(parallel=True, cache=True)
def plane_gemm(ap, bp, w0, w1, a_top_negative, b_top_negative, first, last, base, scale, out):
    """``out[g, i, j] = base[i] + scale * sum_w sum_pq w_p w_q popcount(a_p[i, w]
    AND b_gq[j, w])`` over words ``w0 <= w < w1``, plane weights ``2**p``
    (the top plane's negative if that operand is signed), modulo 2**64 --
    exact whenever the true value fits int64 (partial sums: see :func:`_put`).

    ``ap`` is ``(MT, W, PA, 4)`` plane panels of A's rows, ``bp``
    ``(G, NT, W, PB, 16)`` of the columns of G products, ``out``
    ``(G, M, N)``.  Tiles of 4 x 16 outputs, in registers.  The words of a tile's B panel are read from memory once, in
    chunks of :data:`PLANE_CHUNK` words that stay in L1 while every plane
    pair runs over them: a plane pair's popcounts are summed plainly
    (AND, popcount, add) and shifted by ``p + q`` once per chunk."""
    MT, W, pa, _ = ap.shape
    G, NT, _, pb, _ = bp.shape
    nblk = (NT + 7) // 8
    for u in prange(G * MT * nblk):
        g = u // (MT * nblk)
        ti = (u // nblk) % MT
        tb = u % nblk
        o = out[g]
        i = ti * PLANE_ROWS
        for tj in range(tb * 8, min(NT, tb * 8 + 8)):
            j = tj * COLS
            c00 = vzero(); c01 = vzero(); c10 = vzero(); c11 = vzero()
            c20 = vzero(); c21 = vzero(); c30 = vzero(); c31 = vzero()
            for wc in range(w0, w1, PLANE_CHUNK):
                we = min(w1, wc + PLANE_CHUNK)
                for q in range(pb):
                    for p in range(pa):
                        d00 = vzero(); d01 = vzero(); d10 = vzero(); d11 = vzero()
                        d20 = vzero(); d21 = vzero(); d30 = vzero(); d31 = vzero()
                        for w in range(wc, we):
                            boff = (((g * NT + tj) * W + w) * pb + q) * COLS
                            v0 = vload(bp, boff)
                            v1 = vload(bp, boff + LANES)
                            s0 = ap[ti, w, p, 0]; s1 = ap[ti, w, p, 1]
                            s2 = ap[ti, w, p, 2]; s3 = ap[ti, w, p, 3]
                            d00 = and_count_shl(d00, s0, v0, 0); d01 = and_count_shl(d01, s0, v1, 0)
                            d10 = and_count_shl(d10, s1, v0, 0); d11 = and_count_shl(d11, s1, v1, 0)
                            d20 = and_count_shl(d20, s2, v0, 0); d21 = and_count_shl(d21, s2, v1, 0)
                            d30 = and_count_shl(d30, s3, v0, 0); d31 = and_count_shl(d31, s3, v1, 0)
                        sh = p + q
                        neg = (a_top_negative and p == pa - 1) != (b_top_negative and q == pb - 1)
                        c00 = _weighted(c00, d00, sh, neg); c01 = _weighted(c01, d01, sh, neg)
                        c10 = _weighted(c10, d10, sh, neg); c11 = _weighted(c11, d11, sh, neg)
                        c20 = _weighted(c20, d20, sh, neg); c21 = _weighted(c21, d21, sh, neg)
                        c30 = _weighted(c30, d30, sh, neg); c31 = _weighted(c31, d31, sh, neg)
            k = j + LANES
            _put(o, i, j, c00, first, last, base, scale); _put(o, i, k, c01, first, last, base, scale)
            _put(o, i + 1, j, c10, first, last, base, scale); _put(o, i + 1, k, c11, first, last, base, scale)
            _put(o, i + 2, j, c20, first, last, base, scale); _put(o, i + 2, k, c21, first, last, base, scale)
            _put(o, i + 3, j, c30, first, last, base, scale); _put(o, i + 3, k, c31, first, last, base, scale)
