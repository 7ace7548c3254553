"""GEMM kernels with a stated accumulation order (argument checks: linalg.py).

Rows of the output go to threads; each output element is reduced by one
thread in the stated order, so results never depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import _jit  # noqa: F401  (cache directory first)
from . import _arith as arith_core
from . import _round as core


@njit(parallel=True, cache=True)
def fixed_acc_gemm(a, b, s, block, lo, hi, clamp, over):
    """Fixed-point accumulation, every step exact before overflow handling.

    ``a`` (M, K) and ``b`` (K, N) hold integer values (``a`` already scaled
    to the accumulator's grid), ``s`` (M, N) the accumulator's integer values
    on entry (the start value) and on exit.  The arrays are int64, or
    float32/float64 when linalg.py has proven every product and partial sum
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
    (linalg.py checks), so the one rounding per step is the hardware's
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


@njit(parallel=True, cache=True)
def core_seq_gemm(a, a_spec, b, b_spec, s, acc_spec, start, mode, ovf, W, nbits, status):
    """Sequential accumulation through the rounding core, any formats:
    ``s[i, j] = round(s[i, j] + a[i, k] * b[k, j])`` for k = start, ...,
    each step the exact fused multiply-add rounded once into ``acc_spec``
    (the product is exact, so this is round(s + p_k)).  ``s`` holds acc
    codes (the start values) on entry.  ``status[i]`` gets the first
    nonzero core status of row i (the caller re-runs to name it)."""
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
                code, st = core.round_code(neg, Mr, Er, sticky, cls, acc_spec, mode, ovf,
                                           np.uint64(0), 1)
                if st != 0 and status[i] == 0:
                    status[i] = st
            s[i, j] = code
