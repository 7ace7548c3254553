"""GEMM kernels with a stated accumulation order (argument checks: linalg.py;
when each kernel is exact: linalg_engines.py).

Rows of the output go to threads; each output element is reduced by one
thread in the stated order, so results never depend on the thread count.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import arith as arith_core
from . import core


@njit(parallel=True, cache=True)
def fixed_acc_gemm(a, b, s, block, lo, hi, clamp, over):
    """Fixed-point accumulation, every step exact before overflow handling.

    ``a`` (M, K) and ``b`` (K, N) hold integer values (``a`` already scaled
    to the accumulator's grid), ``s`` (M, N) the accumulator's integer values
    on entry (the start value) and on exit.  The arrays are int64, or
    float32/float64 when linalg_engines.py has proven every product and partial sum
    an integer below 2**24 / 2**53 (exact there, and faster: more lanes,
    one-instruction min/max).  Blocks of ``block`` consecutive products
    (1: sequential) are summed exactly, then added: ``s = clamp(s +
    block_sum)`` into ``[lo, hi]`` when ``clamp``; otherwise a result outside
    marks ``over[i, j]`` (and is kept, to raise afterwards).  (A fixed
    accumulator starting from zero is the same as one starting from the
    first block: ``0 + x = x``.)"""
    M, K = a.shape
    N = b.shape[1]
    for i in prange(M):
        acc = s[i].copy()
        part = np.zeros_like(acc)
        for k0 in range(0, K, block):
            k1 = min(k0 + block, K)
            if block == 1:
                aik = a[i, k0]
                if clamp:
                    for j in range(N):
                        acc[j] = min(max(acc[j] + aik * b[k0, j], lo), hi)
                else:
                    for j in range(N):
                        v = acc[j] + aik * b[k0, j]
                        if v < lo or v > hi:
                            over[i, j] = 1
                        acc[j] = v
                continue
            part[:] = 0
            for k in range(k0, k1):
                aik = a[i, k]
                for j in range(N):
                    part[j] += aik * b[k, j]
            for j in range(N):
                v = acc[j] + part[j]
                if clamp:
                    v = min(max(v, lo), hi)
                elif v < lo or v > hi:
                    over[i, j] = 1
                acc[j] = v
        s[i] = acc


#: Columns per tile of the IEEE kernels: four accumulator rows of this many
#: values (binary32) stay in the L1 cache while rows of ``b`` stream past;
#: the block kernel's binary64 tiles (four rows of accumulators and four of
#: block sums) have BLOCK_TILE_COLS.
TILE_COLS = 512
BLOCK_TILE_COLS = 256
#: The block kernel's work items: this many rows (and BLOCK_TILE_COLS columns),
#: their blocks taken in chunks of about BLOCK_CHUNK steps of k.
BLOCK_GROUP_ROWS = 32
BLOCK_CHUNK = 256


@njit(inline="always")
def _ieee_ok(probe):
    """Does the FPU of the thread running this keep subnormals -- no
    flush-to-zero (FTZ), no denormals-are-zero (DAZ), modes some libraries
    switch on?  ``probe`` = (2 * tiny, 0.5, tiny), tiny the least subnormal
    of its dtype: FTZ flushes the product to 0, DAZ reads the operands (and
    tiny in the comparison) as 0.  The values come from an array, so the
    compiler cannot fold the test away."""
    return probe[0] * probe[1] == probe[2] and probe[2] > 0.0


@njit(inline="always")
def _start_row(a, b, s, i, j0, j1, start):
    """Row ``i`` of the accumulator tile: ``s``'s values, or (start = 1)
    the first products a[i, 0] * b[0, j], exact (so a -0 product stays -0)."""
    if start:
        return a[i, 0] * b[0, j0:j1]
    return s[i, j0:j1].copy()


@njit(parallel=True, cache=True)
def ieee_seq_gemm(a, b, s, start, probe, ok):
    """IEEE binary32/binary64 sequential accumulation in the machine's own
    arithmetic: ``s = s + a[i, k] * b[k, j]`` for k = start, start+1, ...

    Exact to the contract only when every product is exact in the dtype
    (linalg_engines.py checks), so the one rounding per step is the
    hardware's round-to-nearest-even addition (no fused multiply-add is
    needed or used; fastmath is off, so nothing is reassociated).  ``s``
    holds the start values (start = 0) or is overwritten with the first
    products (start = 1).

    Tiles of 4 rows x TILE_COLS columns; each output still adds its
    products in the order k = start, start+1, ...: the innermost loop runs
    across columns j (vectorized), four steps of k at a time, written
    ``(((s + p_k) + p_k+1) + p_k+2) + p_k+3`` -- the same additions in the
    same order, with one load and store of ``s`` per four.  ``ok[t]`` is
    set to 0 by a tile whose thread flushes subnormals (see _ieee_ok)."""
    M, K = a.shape
    N = b.shape[1]
    nti = (M + 3) // 4
    ntj = (N + TILE_COLS - 1) // TILE_COLS
    for t in prange(nti * ntj):
        ok[t] = _ieee_ok(probe)
        i0 = (t % nti) * 4
        j0 = (t // nti) * TILE_COLS
        i1 = min(i0 + 4, M)
        j1 = min(j0 + TILE_COLS, N)
        w = j1 - j0
        # rows beyond M repeat the last row (computed again, written once)
        ia, ib, ic, id_ = i0, min(i0 + 1, i1 - 1), min(i0 + 2, i1 - 1), min(i0 + 3, i1 - 1)
        r0 = _start_row(a, b, s, ia, j0, j1, start)
        r1 = _start_row(a, b, s, ib, j0, j1, start)
        r2 = _start_row(a, b, s, ic, j0, j1, start)
        r3 = _start_row(a, b, s, id_, j0, j1, start)
        k = start
        while k + 4 <= K:
            x0, x1, x2, x3 = a[ia, k], a[ia, k + 1], a[ia, k + 2], a[ia, k + 3]
            y0, y1, y2, y3 = a[ib, k], a[ib, k + 1], a[ib, k + 2], a[ib, k + 3]
            z0, z1, z2, z3 = a[ic, k], a[ic, k + 1], a[ic, k + 2], a[ic, k + 3]
            u0, u1, u2, u3 = a[id_, k], a[id_, k + 1], a[id_, k + 2], a[id_, k + 3]
            b0, b1, b2, b3 = b[k, j0:j1], b[k + 1, j0:j1], b[k + 2, j0:j1], b[k + 3, j0:j1]
            for j in range(w):
                c0, c1, c2, c3 = b0[j], b1[j], b2[j], b3[j]
                r0[j] = (((r0[j] + x0 * c0) + x1 * c1) + x2 * c2) + x3 * c3
                r1[j] = (((r1[j] + y0 * c0) + y1 * c1) + y2 * c2) + y3 * c3
                r2[j] = (((r2[j] + z0 * c0) + z1 * c1) + z2 * c2) + z3 * c3
                r3[j] = (((r3[j] + u0 * c0) + u1 * c1) + u2 * c2) + u3 * c3
            k += 4
        while k < K:
            x0, y0, z0, u0 = a[ia, k], a[ib, k], a[ic, k], a[id_, k]
            b0 = b[k, j0:j1]
            for j in range(w):
                c0 = b0[j]
                r0[j] = r0[j] + x0 * c0
                r1[j] = r1[j] + y0 * c0
                r2[j] = r2[j] + z0 * c0
                r3[j] = r3[j] + u0 * c0
            k += 1
        s[ia, j0:j1] = r0
        if i1 - i0 > 1:
            s[ib, j0:j1] = r1
        if i1 - i0 > 2:
            s[ic, j0:j1] = r2
        if i1 - i0 > 3:
            s[id_, j0:j1] = r3


@njit(inline="always")
def _f64(x):
    return np.float64(x)


@njit(inline="always")
def _block_sums(a, b, rows, k0, k1, j0, j1, blk):
    """``blk[r, j]`` = the binary64 sum of a[rows[r], k] * b[k, j] for
    k0 <= k < k1 (four rows), started from the first product and added in
    order (exact where the caller's bound holds).  ``a`` and ``b`` may be
    binary32 arrays (half the memory traffic): their values are widened
    exactly and every product is taken in binary64."""
    ia, ib, ic, id_ = rows
    w = j1 - j0
    r0, r1, r2, r3 = blk[0], blk[1], blk[2], blk[3]
    x0, y0, z0, u0 = _f64(a[ia, k0]), _f64(a[ib, k0]), _f64(a[ic, k0]), _f64(a[id_, k0])
    b0 = b[k0, j0:j1]
    for j in range(w):
        c0 = _f64(b0[j])
        r0[j] = x0 * c0
        r1[j] = y0 * c0
        r2[j] = z0 * c0
        r3[j] = u0 * c0
    k = k0 + 1
    while k + 4 <= k1:
        x0, x1, x2, x3 = _f64(a[ia, k]), _f64(a[ia, k + 1]), _f64(a[ia, k + 2]), _f64(a[ia, k + 3])
        y0, y1, y2, y3 = _f64(a[ib, k]), _f64(a[ib, k + 1]), _f64(a[ib, k + 2]), _f64(a[ib, k + 3])
        z0, z1, z2, z3 = _f64(a[ic, k]), _f64(a[ic, k + 1]), _f64(a[ic, k + 2]), _f64(a[ic, k + 3])
        u0, u1, u2, u3 = (_f64(a[id_, k]), _f64(a[id_, k + 1]), _f64(a[id_, k + 2]),
                          _f64(a[id_, k + 3]))
        b0, b1, b2, b3 = b[k, j0:j1], b[k + 1, j0:j1], b[k + 2, j0:j1], b[k + 3, j0:j1]
        for j in range(w):
            c0, c1, c2, c3 = _f64(b0[j]), _f64(b1[j]), _f64(b2[j]), _f64(b3[j])
            r0[j] = (((r0[j] + x0 * c0) + x1 * c1) + x2 * c2) + x3 * c3
            r1[j] = (((r1[j] + y0 * c0) + y1 * c1) + y2 * c2) + y3 * c3
            r2[j] = (((r2[j] + z0 * c0) + z1 * c1) + z2 * c2) + z3 * c3
            r3[j] = (((r3[j] + u0 * c0) + u1 * c1) + u2 * c2) + u3 * c3
        k += 4
    while k < k1:
        x0, y0, z0, u0 = _f64(a[ia, k]), _f64(a[ib, k]), _f64(a[ic, k]), _f64(a[id_, k])
        b0 = b[k, j0:j1]
        for j in range(w):
            c0 = _f64(b0[j])
            r0[j] = r0[j] + x0 * c0
            r1[j] = r1[j] + y0 * c0
            r2[j] = r2[j] + z0 * c0
            r3[j] = r3[j] + u0 * c0
        k += 1


@njit(inline="always")
def _settle(acc, blk, first, to_single, sai, sbk, limit, badrow):
    """acc = round(acc + blk) for one row of a tile, the block sums ``blk``
    exact: TwoSum gives hi = fl64(acc + blk) (the binary64 result) and the
    exact rest lo; for a binary32 accumulator, hi is made round-to-odd
    (the neighbour with an odd last bit when lo != 0), whose rounding into
    binary32 is the correct rounding of acc + blk (53 >= 24 + 2 bits).
    ``first``: the first block with no start value (acc = round(blk)).
    Where the block's exactness bound ``sai + sbk[j] > limit`` fails,
    badrow[j] = 1."""
    emask = np.int64(0x7FF0000000000000)
    for j in range(acc.shape[0]):
        y = blk[j]
        if first:
            h = y
            lo = 0.0
        else:
            x = acc[j]
            h = x + y
            bv = h - x
            lo = (x - (h - bv)) + (y - bv)
        if to_single:
            v = np.float64(h).view(np.int64)
            step = 0
            if lo != 0.0 and (v & 1) == 0 and (v & emask) != emask:
                step = 1 if (lo > 0.0) == (v >= 0) else -1
            odd = np.int64(v + step).view(np.float64)
            acc[j] = np.float64(np.float32(odd))
        else:
            acc[j] = h
        if sai + sbk[j] > limit:
            badrow[j] = 1


@njit(parallel=True, cache=True)
def ieee_block_gemm(a, b, s, single, has_start, block, sa, sb, limit, bad, probe, ok):
    """Blocks of ``block`` products summed exactly in binary64, each block
    sum added to a binary32 (``single``) or binary64 accumulator ``s`` with
    one rounding to nearest even: ``s = round(s + sum(p_k0 .. p_k1-1))``
    (without a start value the first block starts alone: ``s = round(sum)``).

    ``a``, ``b``: float32 or float64 values whose products are exact in
    binary64 (taken there).  A
    block sum, started from its first product and added in order, is exact
    when every partial sum is: they are multiples of 2**(La + Lb) below
    B * 2**(Ta + Tb), for the least lsb exponents L and the top exponents T
    of the block's operands; ``sa[i, kb]`` = Ta - La of row i's block kb,
    ``sb[kb, j]`` = Tb - Lb, and where ``sa + sb > limit`` (= 53 -
    ceil(log2 B)) the output is marked in ``bad`` for the caller to compute
    another way.  NaN and inf follow IEEE addition, as the contract does.
    ``ok`` as in ieee_seq_gemm.

    Work items are BLOCK_GROUP_ROWS x BLOCK_TILE_COLS outputs; their blocks
    run in chunks of about BLOCK_CHUNK steps of k (whole blocks), so the
    chunk of ``b`` stays in the L2 cache while the item's rows pass over it,
    four rows at a time.  Each output still takes its blocks in order."""
    M, K = a.shape
    N = b.shape[1]
    ng = (M + BLOCK_GROUP_ROWS - 1) // BLOCK_GROUP_ROWS
    ntj = (N + BLOCK_TILE_COLS - 1) // BLOCK_TILE_COLS
    chunk = max(1, BLOCK_CHUNK // block) * block
    for t in prange(ng * ntj):
        ok[t] = _ieee_ok(probe)
        g0 = (t % ng) * BLOCK_GROUP_ROWS
        g1 = min(g0 + BLOCK_GROUP_ROWS, M)
        j0 = (t // ng) * BLOCK_TILE_COLS
        j1 = min(j0 + BLOCK_TILE_COLS, N)
        w = j1 - j0
        acc = np.empty((g1 - g0, w), np.float64)
        blk = np.empty((4, w), np.float64)
        for r in range(g1 - g0):
            for j in range(w):
                acc[r, j] = s[g0 + r, j0 + j]
        for c0 in range(0, K, chunk):
            for i0 in range(g0, g1, 4):
                i1 = min(i0 + 4, g1)
                rows = (i0, min(i0 + 1, i1 - 1), min(i0 + 2, i1 - 1), min(i0 + 3, i1 - 1))
                for k0 in range(c0, min(c0 + chunk, K), block):
                    kb = k0 // block
                    _block_sums(a, b, rows, k0, min(k0 + block, K), j0, j1, blk)
                    for r in range(i1 - i0):
                        _settle(acc[i0 - g0 + r], blk[r], kb == 0 and not has_start, single,
                                sa[i0 + r, kb], sb[kb, j0:j1], limit, bad[i0 + r, j0:j1])
        for r in range(g1 - g0):
            for j in range(w):
                s[g0 + r, j0 + j] = acc[r, j]


@njit(inline="always")
def _split(code, spec):
    return core.split_code(np.uint64(code), spec)


@njit(inline="always")
def _round_step(neg, M, E, sticky, cls, acc_spec, mode, ovf, code, i, j, k, fail, before):
    """One accumulation step: the exact value rounded into the accumulator
    by the core; the new code.  A failed rounding is noted for the caller to
    raise the documented error: row i keeps its first failure in step order
    (smallest k, then j) as ``fail[i] = (status, j, k)`` and ``before[i]`` =
    ``code``, the accumulator before that step."""
    new, st = core.round_code(neg, M, E, sticky, cls, acc_spec, mode, ovf, np.uint64(0), 1)
    if st != 0 and (fail[i, 0] == 0 or k < fail[i, 2]):
        fail[i, 0] = st
        fail[i, 1] = j
        fail[i, 2] = k
        before[i] = code
    return new


@njit(parallel=True, cache=True)
def core_seq_gemm(a, a_spec, b, b_spec, s, acc_spec, start, mode, ovf, W, nbits, fail, before):
    """Sequential accumulation through the rounding core, any formats:
    ``s[i, j] = round(s[i, j] + a[i, k] * b[k, j])`` for k = start, ...,
    each step the exact fused multiply-add rounded once into ``acc_spec``
    (the product is exact, so this is round(s + p_k)).  ``s`` holds acc
    codes (the start values) on entry.  A failed rounding is noted in
    ``fail`` (int64 (M, 3)) and ``before`` (uint64 (M,)), see _round_step."""
    M, K = a.shape
    N = b.shape[1]
    down = mode == core.DOWN
    for i in prange(M):
        for j in range(N):
            code = s[i, j]
            for k in range(start, K):
                na, Ma, Ea, ca = _split(a[i, k], a_spec)
                nb, Mb, Eb, cb = _split(b[k, j], b_spec)
                nc, Mc, Ec, cc = _split(code, acc_spec)
                neg, Mr, Er, sticky, cls = arith_core.exact_result(
                    arith_core.FMA, na, Ma, Ea, ca, nb, Mb, Eb, cb, nc, Mc, Ec, cc, W, nbits, down)
                code = _round_step(neg, Mr, Er, sticky, cls, acc_spec, mode, ovf, code, i, j, k,
                                   fail, before)
            s[i, j] = code


@njit(inline="always")
def _grow(parts, n, x):
    """Add ``x`` to the nonoverlapping expansion ``parts[:n]`` exactly
    (Shewchuk's GROW-EXPANSION, as in Python's math.fsum); the new length."""
    i = 0
    for t in range(n):
        y = parts[t]
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo != 0.0:
            parts[i] = lo
            i += 1
        x = hi
    parts[i] = x
    return i + 1


@njit(inline="always")
def _lead(parts, n):
    """``(hi, r)`` for the exact sum of the expansion: ``hi`` a float64 with
    no float64 number strictly between it and the sum, ``r`` a nonzero value
    with the sign of ``sum - hi`` (or 0.0 when the sum is ``hi``)."""
    if n == 0:
        return 0.0, 0.0
    n -= 1
    hi = parts[n]
    lo = 0.0
    while n > 0:
        x = hi
        n -= 1
        y = parts[n]
        hi = x + y
        lo = y - (hi - x)
        if lo != 0.0:
            break  # the partials below are smaller than lo's last bit: sign(sum - hi) = sign(lo)
    return hi, lo


@njit(inline="always")
def _nudged(hi, r):
    """``(M, E, sticky)`` for the core from an exact sum's lead ``hi`` (nonzero)
    and the sign of its rest ``r`` (see _lead): ``|hi|`` as a 53-bit
    significand, moved half an ulp toward the rest with the sticky bit set
    when the rest is nonzero.  No rounding boundary of a float format of at
    most 51 significand bits lies strictly between ``|hi|`` and the sum, so
    the core rounds this as it would round the sum itself."""
    bits = np.float64(abs(hi)).view(np.int64)
    if bits >> 52:  # normal: the 53-bit significand and its exponent, from the bits
        Mh = np.uint64((bits & np.int64(0xFFFFFFFFFFFFF)) | np.int64(1 << 52))
        Eh = np.int64((bits >> 52) - 1075)
    else:  # subnormal: normalized to 53 bits all the same
        m_, e_ = math.frexp(abs(hi))        # |hi| = m_ * 2**e_, m_ in [0.5, 1)
        Mh = np.uint64(math.ldexp(m_, 53))
        Eh = np.int64(e_ - 53)
    sticky = r != 0.0
    if sticky and (r < 0.0) != (hi < 0.0):  # the sum is just below |hi|
        Mh = Mh * np.uint64(2) - np.uint64(1)
        Eh -= 1
    return Mh, Eh, sticky


@njit(parallel=True, cache=True)
def core_block_gemm(a, b, s, has_start, acc_spec, block, mode, ovf, fail, before):
    """Blocks of ``block`` products summed exactly and added to the
    accumulator with one rounding: ``s = round(s + sum(p_k0..p_k1-1))``.

    ``a``, ``b``: float64 values whose products (and every partial sum of a
    block) are exact in float64 (linalg_engines.py checks); ``s``: accumulator codes
    (start values when ``has_start``, else the first block starts alone).
    Each block sum is kept exactly as a float64 expansion; its leading
    float64 ``hi`` and the sign of the rest go to the core as ``|hi|``
    nudged by a sticky bit toward the rest (no rounding boundary of an
    accumulator of at most 51 significand bits lies strictly between).
    An infinite accumulator stays infinite (inf + finite = inf), a NaN one
    NaN, both re-encoded by the core (so a NaN is its canonical code).
    A failed rounding is noted in ``fail`` and ``before`` (see
    _round_step; k is the block's first step)."""
    M, K = a.shape
    N = b.shape[1]
    down = mode == core.DOWN
    for i in prange(M):
        parts = np.empty(block + 2, np.float64)
        for j in range(N):
            code = s[i, j]
            started = has_start
            for k0 in range(0, K, block):
                k1 = min(k0 + block, K)
                n = 0
                all_neg_zero = True
                all_pos_zero = True
                negative = False
                Mh = np.uint64(0)
                Eh = np.int64(0)
                sticky = False
                cls = core.FINITE
                if started:
                    neg, Ms, Es, cls = _split(code, acc_spec)
                    if cls == core.FINITE:
                        x = math.ldexp(float(Ms), Es)
                        if neg:
                            x = -x
                        if x != 0.0 or not neg:
                            all_neg_zero = False
                        if x != 0.0 or neg:
                            all_pos_zero = False
                        n = _grow(parts, n, x)
                    else:  # inf + finite terms = inf; NaN stays NaN (positive)
                        negative = neg and cls == core.INF
                started = True
                if cls == core.FINITE:
                    for k in range(k0, k1):
                        x = a[i, k] * b[k, j]
                        neg_x = math.copysign(1.0, x) < 0.0
                        if x != 0.0 or not neg_x:
                            all_neg_zero = False
                        if x != 0.0 or neg_x:
                            all_pos_zero = False
                        n = _grow(parts, n, x)
                    hi, r = _lead(parts, n)
                    negative = hi < 0.0
                    if hi == 0.0:  # an exact zero: IEEE's sign rule, as specified by
                        # fxsim.exact.sum_zero_sign (compiled here, so written out again)
                        negative = all_neg_zero or (down and not all_pos_zero)
                    else:
                        Mh, Eh, sticky = _nudged(hi, r)
                code = _round_step(negative, Mh, Eh, sticky, cls, acc_spec, mode, ovf, code, i, j,
                                   k0, fail, before)
            s[i, j] = code


@njit(parallel=True, cache=True)
def exact_slices_sum(C, scale_a, scale_b, cv, has_c, spec, mode, ovf, codes, zero, status,
                     probe, ok):
    """The exact sums of the exact engine (fxsim/linalg_exact.py) rounded once
    into ``spec``: output (i, j) is ``c[i, j]`` (when ``has_c``) plus the sum
    over slice pairs (p, q) of ``C[p, q, i, j] * (scale_a[p, i] *
    scale_b[q, j])``: integers below 2**53 times powers of two whose
    products the caller keeps inside binary64's normal range, so every term
    is exact.  The terms are summed exactly as a float64 expansion and its
    lead rounded by the core (see _nudged: ``spec`` has at most 51
    significand bits).  An exact zero sum is marked in ``zero`` (its sign is
    the caller's: it depends on the signs of zero products); a failed
    rounding sets ``status[i, j]``.  The sums need no subnormal unless ``c``
    holds one; ``ok[i]`` = 0 where the thread flushes subnormals (see
    _ieee_ok), for the caller to compute another way."""
    nA, nB, M, N = C.shape
    for i in prange(M):
        ok[i] = _ieee_ok(probe)
        parts = np.empty(nA * nB + 2, np.float64)
        for j in range(N):
            n = 0
            if has_c and cv[i, j] != 0.0:
                n = _grow(parts, n, cv[i, j])
            for p in range(nA):
                for q in range(nB):
                    v = C[p, q, i, j]
                    if v != 0.0:
                        n = _grow(parts, n, v * (scale_a[p, i] * scale_b[q, j]))
            hi, r = _lead(parts, n)
            if hi == 0.0:
                zero[i, j] = 1
                codes[i, j] = 0
                continue
            Mh, Eh, sticky = _nudged(hi, r)
            code, st = core.round_code(hi < 0.0, Mh, Eh, sticky, core.FINITE, spec, mode, ovf,
                                       np.uint64(0), 1)
            codes[i, j] = code
            status[i, j] = st


@njit(parallel=True, cache=True)
def extremes(v, last, lo, hi):
    """The least nonzero and the largest finite magnitude along axis 2
    (``last``; out (G, L)) or axis 1 (out (G, W)) of the float array ``v``
    (G, L, W): ``lo`` = inf and ``hi`` = 0 where there is none.  (The
    exponent ranges the GEMM engines prove their bounds from.)"""
    G, L, W = v.shape
    inf = np.inf
    for g in prange(G):
        if last:
            for l in range(L):
                mn = inf
                mx = 0.0
                for w in range(W):
                    x = abs(np.float64(v[g, l, w]))
                    if x < inf:  # finite (a NaN fails every comparison)
                        mx = max(mx, x)
                        if x > 0.0:
                            mn = min(mn, x)
                lo[g, l] = mn
                hi[g, l] = mx
        else:
            for w in range(W):
                lo[g, w] = inf
                hi[g, w] = 0.0
            for l in range(L):
                for w in range(W):
                    x = abs(np.float64(v[g, l, w]))
                    if x < inf:
                        hi[g, w] = max(hi[g, w], x)
                        if x > 0.0:
                            lo[g, w] = min(lo[g, w], x)


@njit(parallel=True, cache=True)
def int_slices(v, e, beta, out):
    """The integer slices of the exact engine (fxsim/linalg_exact.py): with
    ``t = v[i, k] * 2**(beta - e[i])`` (|t| < 2**beta; the caller keeps the
    power of two and every bit of t inside binary64's normal range, so this
    is exact), ``out[p, i, k] = trunc(t_p)``, ``t_0 = t``, ``t_p+1 = (t_p -
    trunc(t_p)) * 2**beta`` -- every step exact."""
    count, M, K = out.shape
    step = 2.0 ** beta
    for i in prange(M):
        scale = math.ldexp(1.0, beta - e[i])
        for k in range(K):
            t = v[i, k] * scale
            for p in range(count):
                s = np.trunc(t)
                out[p, i, k] = s
                t = (t - s) * step
