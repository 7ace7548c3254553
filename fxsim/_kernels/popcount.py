"""Popcount kernels over packed bit words (argument checking lives in binary.py).

Every result is an exact integer: a sum of popcounts, no rounding anywhere.
Work is split over rows of the output only, so results never depend on the
number of threads.
"""
from __future__ import annotations

from numba import njit, prange, types
from numba.extending import intrinsic



@intrinsic
def popcount(typingctx, x):
    """Number of set bits of an integer word, as int64 (LLVM ``ctpop``:
    ``popcnt`` on x86, vectorized by LLVM where it can)."""
    if not isinstance(x, types.Integer) or x.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.int64(x), codegen


@njit(inline="always")
def _combine(x, y, use_and):
    return x & y if use_and else x ^ y


@njit(parallel=True, cache=True)
def popcount_gemm(a, b, use_and, base, scale, out):
    """``out[i, j] = base + scale * sum_w popcount(a[i, w] OP b[j, w])``.

    ``a`` is (M, W) and ``b`` is (N, W) uint64 words (the reduction axis
    packed last in both); OP is AND when ``use_and`` else XOR.  The loops are
    register-tiled two rows by two columns; rows of tiles go to threads."""
    M, W = a.shape
    N = b.shape[0]
    for t in prange((M + 1) // 2):
        i = 2 * t
        if i + 1 < M:
            for j in range(0, N - 1, 2):
                s00 = 0
                s01 = 0
                s10 = 0
                s11 = 0
                for w in range(W):
                    a0 = a[i, w]
                    a1 = a[i + 1, w]
                    b0 = b[j, w]
                    b1 = b[j + 1, w]
                    s00 += popcount(_combine(a0, b0, use_and))
                    s01 += popcount(_combine(a0, b1, use_and))
                    s10 += popcount(_combine(a1, b0, use_and))
                    s11 += popcount(_combine(a1, b1, use_and))
                out[i, j] = base + scale * s00
                out[i, j + 1] = base + scale * s01
                out[i + 1, j] = base + scale * s10
                out[i + 1, j + 1] = base + scale * s11
            if N % 2:
                j = N - 1
                s0 = 0
                s1 = 0
                for w in range(W):
                    s0 += popcount(_combine(a[i, w], b[j, w], use_and))
                    s1 += popcount(_combine(a[i + 1, w], b[j, w], use_and))
                out[i, j] = base + scale * s0
                out[i + 1, j] = base + scale * s1
        else:
            for j in range(N):
                s = 0
                for w in range(W):
                    s += popcount(_combine(a[i, w], b[j, w], use_and))
                out[i, j] = base + scale * s
