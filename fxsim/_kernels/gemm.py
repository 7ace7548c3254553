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


@njit(parallel=True, cache=True)
def hardware_seq_gemm(a, b, s, start):
    """IEEE binary32/binary64 sequential accumulation in the machine's own
    arithmetic: ``s = s + a[i, k] * b[k, j]`` for k = start, start+1, ...

    Exact to the contract only when every product is exact in the dtype
    (linalg_engines.py checks), so the one rounding per step is the hardware's
    round-to-nearest-even addition.  ``s`` holds the start values."""
    M, K = a.shape
    N = b.shape[1]
    for i in prange(M):
        acc = s[i].copy()
        for k in range(start, K):
            aik = a[i, k]
            for j in range(N):
                acc[j] = acc[j] + aik * b[k, j]
        s[i] = acc


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
    one = np.uint64(1)
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
                        m_, e_ = math.frexp(abs(hi))        # |hi| = m_ * 2**e_, m_ in [0.5, 1)
                        Mh = np.uint64(math.ldexp(m_, 53))  # 53-bit integer significand
                        Eh = np.int64(e_ - 53)
                        sticky = r != 0.0
                        if sticky and (r < 0.0) != negative:  # the sum is just below |hi|
                            Mh = Mh * np.uint64(2) - one
                            Eh -= 1
                code = _round_step(negative, Mh, Eh, sticky, cls, acc_spec, mode, ovf, code, i, j,
                                   k0, fail, before)
            s[i, j] = code
