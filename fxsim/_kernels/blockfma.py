"""The block fused multiply-add (tensor-core) GEMM kernel of
:mod:`fxsim.linalg_units` (which states the model, checks the arguments and
proves when this kernel is exact).

Work items are (output row, tile of TILE columns); each output element is
computed by one thread in the model's order, so results never depend on the
number of threads.  Per block of products and per output column:

1. ``E`` = max of the nonzero products' exponents (``ea[i, k] + eb[k, j]``,
   int8 lanes; a zero of ``b`` has exponent ZEXP, a zero of ``a`` skips its
   k), c's exponent (early c) and ``min_exp``;
   E is then capped at ``frac + 130`` (from ``frac + 129`` on, every term,
   below 2**128, truncates to 0 either way), and the float32 scale
   ``2**(frac - E)`` is clamped to [2**-126, 2**100] (below, every product
   truncates to 0 either way; above, E < -60 < every product exponent, so
   no nonzero product meets it);
2. each product truncated to a multiple of ``2**(E - frac)``: the product
   ``a * b`` is exact in binary32 (FP8 significands have at most 4 bits),
   ``* 2**(frac - E)`` is exact too (a power of two; a result below 1 may
   underflow, but it truncates to 0 either way), and the conversion to an
   integer truncates toward zero; the integers are summed in int32 lanes
   (``lanes32``) or int64 lanes, exactly (the caller bounds the sum);
3. the block sum ``S * 2**(E - frac)`` (early c: plus c truncated the same
   way) -- exact in binary64 when ``wide`` is False (the caller proves
   |S| < 2**53), else first truncated to 53 significant bits, which
   commutes with the final truncation (nested grids, both toward zero) --
   is truncated to ``frac_out`` fraction bits by clearing low bits of its
   binary64 pattern;
4. late c: one float32 round-to-nearest-even addition ``c + t``: the
   binary64 sum (exact for results in float32's subnormal range, else
   rounded once) rounded to float32 by integer operations on its bits --
   double rounding is innocuous for addition since 53 >= 2 * 24 + 2.

Every value kept between steps (the chain, the promotion accumulator) is a
binary64 holding a float32 value exactly.  The float32 patterns of results
and scale factors are made by integer operations, so flush-to-zero or
denormals-are-zero modes cannot change a result: no operation here has a
subnormal binary32 input, and a subnormal binary32 product result only
occurs for values below 1 that truncate to 0 either way.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

#: exponent of a zero (int8): a sum with a zero's exponent is at most
#: ZEXP + 30 <= NONE, below every product exponent (>= -28), and above -128
ZEXP = -100
NONE = -60
#: columns per work item
TILE = 512
_MAG = 0x7FFFFFFFFFFFFFFF
_INF64 = 0x7FF0000000000000


@njit(inline="always")
def _exponent(bits):
    """floor(log2|v|) of a nonzero normal binary64 from its bits."""
    return ((bits >> 52) & 0x7FF) - 1023


@njit(inline="always")
def _truncate_bits(bits, frac_out):
    """Bits of the binary64 ``v`` truncated toward zero to frac_out fraction
    bits relative to max(floor(log2|v|), -126); a zero result is +0."""
    mag = bits & _MAG
    if mag == 0:
        return np.int64(0)
    drop = 52 - frac_out + max(0, -126 - _exponent(mag))
    if drop >= 53:
        return np.int64(0)
    mag = (mag >> drop) << drop
    if mag == 0:
        return np.int64(0)
    return (bits & ~_MAG) | mag


@njit(inline="always")
def _round_to_float32_bits(bits):
    """Bits of the binary64 ``v`` (a multiple of 2**-149) rounded to nearest
    even into float32, as a binary64 pattern (inf on overflow)."""
    mag = bits & _MAG
    if mag == 0:
        return bits
    drop = 29 + max(0, -126 - _exponent(mag))
    half = np.int64(1) << (drop - 1)
    mag = ((mag + half - 1 + ((mag >> drop) & 1)) >> drop) << drop
    if mag >= (np.int64(128 + 1023) << 52):
        mag = np.int64(_INF64)
    return (bits & ~_MAG) | mag


@njit(cache=True)
def _emax_pass(arow, erow, k0, k1, eb, j0, w, emax):
    """emax[j] = max over k of erow[k] + eb[k, j0 + j], k with arow[k] != 0,
    in int8 lanes (32 per AVX2 instruction): exponents of FP8 products lie
    in [-28, 30], a zero of b has ZEXP (sums <= NONE), and the start -128."""
    for j in range(w):
        emax[j] = -128
    for k in range(k0, k1):
        if arow[k] == 0:
            continue
        e = erow[k]
        brow = eb[k, j0:j0 + w]
        for j in range(w):
            emax[j] = max(emax[j], np.int8(e + brow[j]))


@njit(cache=True)
def _sum32_pass(arow, k0, k1, bv, j0, w, sf, p32):
    """p32[j] = sum over the block of trunc(a[k] * b[k, j] * sf[j]), int32."""
    for j in range(w):
        p32[j] = 0
    for k in range(k0, k1):
        x = arow[k]
        if x == 0:
            continue
        brow = bv[k, j0:j0 + w]
        for j in range(w):
            p32[j] += np.int32(x * brow[j] * sf[j])


@njit(cache=True)
def _sum64_pass(arow, k0, k1, bv, j0, w, sf, p64):
    """As _sum32_pass in int64 lanes."""
    for j in range(w):
        p64[j] = 0
    for k in range(k0, k1):
        x = arow[k]
        if x == 0:
            continue
        brow = bv[k, j0:j0 + w]
        for j in range(w):
            p64[j] += np.int64(x * brow[j] * sf[j])


@njit(inline="always")
def _block(i, k0, k1, j0, w, av, ea, bv, eb, cv, cvb, emax, ebuf, sbits, sf, p32, p64, pw,
           pwf, tmp, tmpb, frac, frac_out, min_exp, late, lanes32, wide):
    """One block step for the columns j0 .. j0 + w of row i: updates the
    chain values cv (binary64 holding float32 values; cvb its bits)."""
    _emax_pass(av[i], ea[i], k0, k1, eb, j0, w, emax)
    for j in range(w):
        E = np.int64(emax[j])
        E = max(E if E > NONE else -(1 << 20), min_exp)
        if not late and cv[j] != 0:
            E = max(E, _exponent(cvb[j]))
        # every term is below 2**128: from E = frac + 129 on all truncate to 0
        E = min(E, frac + 130)
        ebuf[j] = E
        # float32 2**(frac - E); clamped where only values truncating to 0 meet it
        sbits[j] = (min(max(frac - E, -126), 100) + 127) << 23
    if lanes32:
        _sum32_pass(av[i], k0, k1, bv, j0, w, sf, p32)
        for j in range(w):
            p64[j] = p32[j]
    else:
        _sum64_pass(av[i], k0, k1, bv, j0, w, sf, p64)
    if not late:                              # c onto the grid, truncated
        for j in range(w):
            pw[j] = np.int64(frac - ebuf[j] + 1023) << 52   # binary64 2**(frac - E)
        for j in range(w):
            p64[j] += np.int64(cv[j] * pwf[j])
    if wide:                                  # |S| >= 2**53: keep 53 bits, truncated
        for j in range(w):
            s = p64[j]
            tmp[j] = np.float64((-s if s < 0 else s) >> 11)
        for j in range(w):
            s = p64[j]
            a = -s if s < 0 else s
            if a >= (np.int64(1) << 53):
                d = _exponent(tmpb[j]) + 11 - 52
                a = (a >> d) << d
                p64[j] = -a if s < 0 else a
    for j in range(w):
        pw[j] = np.int64(ebuf[j] - frac + 1023) << 52       # binary64 2**(E - frac)
    for j in range(w):
        tmp[j] = np.float64(p64[j]) * pwf[j]
    if late:
        for j in range(w):
            tmpb[j] = _truncate_bits(tmpb[j], frac_out)
        for j in range(w):
            tmp[j] = tmp[j] + cv[j]
        for j in range(w):
            cvb[j] = _round_to_float32_bits(tmpb[j])
    else:
        for j in range(w):
            cvb[j] = _truncate_bits(tmpb[j], frac_out)


@njit(parallel=True, cache=True)
def blockfma_gemm(av, ea, bv, eb, c, n, frac, frac_out, min_exp, late, promote, lanes32, wide,
                  out):
    """``out`` (M, N) binary64 = the BlockFMA model's ``c + a @ b``.

    ``av`` (M, K) / ``bv`` (K, N) float32 values of finite FP8 operands
    (non-finite ones replaced by 0; the caller overrides those outputs),
    ``ea`` / ``eb`` int8 clamped exponents (ZEXP for zeros), ``c``
    (M, N) binary64 holding float32 values (the start).  ``promote`` 0:
    one chain over K; P > 0: runs of P, each a chain from +0, added into an
    accumulator starting from c."""
    M, K = av.shape
    N = bv.shape[1]
    ntj = (N + TILE - 1) // TILE
    run = promote if promote > 0 else max(K, 1)
    for t in prange(M * ntj):
        i = t // ntj
        j0 = (t % ntj) * TILE
        w = min(TILE, N - j0)
        cv = np.empty(w)
        cvb = cv.view(np.int64)
        acc = np.empty(w)
        emax = np.empty(w, np.int8)
        ebuf = np.empty(w, np.int32)
        sbits = np.empty(w, np.int32)
        sf = sbits.view(np.float32)
        p32 = np.empty(w, np.int32)
        p64 = np.empty(w, np.int64)
        pw = np.empty(w, np.int64)
        pwf = pw.view(np.float64)
        tmp = np.empty(w)
        tmpb = tmp.view(np.int64)
        accb = acc.view(np.int64)
        for j in range(w):
            cv[j] = c[i, j0 + j]
            acc[j] = c[i, j0 + j]
        for r0 in range(0, K, run):
            r1 = min(r0 + run, K)
            if promote > 0:
                for j in range(w):
                    cv[j] = 0.0
            for k0 in range(r0, r1, n):
                _block(i, k0, min(k0 + n, r1), j0, w, av, ea, bv, eb, cv, cvb, emax, ebuf,
                       sbits, sf, p32, p64, pw, pwf, tmp, tmpb, frac, frac_out, min_exp, late,
                       lanes32, wide)
            if promote > 0:
                for j in range(w):
                    tmp[j] = acc[j] + cv[j]
                for j in range(w):
                    accb[j] = _round_to_float32_bits(tmpb[j])
        for j in range(w):
            out[i, j0 + j] = acc[j] if promote > 0 else cv[j]
