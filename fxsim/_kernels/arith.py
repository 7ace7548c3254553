"""Exact arithmetic on split values: the other half of every operation.

An operand is what ``core.split_code`` returns for a code,
``(neg, M, E, cls)``: the value ``(-1)**neg * M * 2**E`` or, by ``cls``, an
infinity or NaN.  Each function here computes the exact result of one
operation in the same form plus a ``sticky`` bit -- the true magnitude is
``(M + s) * 2**E`` with ``0 < s < 1`` when ``sticky`` is set -- which
``core.round_code`` then rounds once.  Nothing here rounds.

One source, two engines (as the rounding core).  In Numba everything is a
64-bit word, so results are *truncated with a sticky bit* to a working width
``W`` (64); in Python the same code runs on unbounded ints and the caller
chooses ``W`` (and ``nbits``) large enough.  Truncation never changes the
rounded result as long as at least ``R + 1`` bits of ``M`` lie below the
rounding point (``R`` random bits for stochastic rounding, one round bit
otherwise): the sticky bit then stands in for everything further down.  The
dispatcher in ``ops.py`` checks that before it picks the Numba engine:

* ``add``: operands of at most ``W - 2`` significant bits; the result keeps
  at least ``W - 2`` bits whenever it is inexact (cancellation of more than
  one bit only happens when the operands are aligned within one bit, and
  then the result is exact).
* ``mul``: the full product (up to 128 bits in Numba), cut to ``W`` bits.
* ``div``, ``sqrt``: at least ``nbits`` quotient/root bits, by long division
  / the digit-by-digit square root, with the remainder as sticky bit.
* ``fma``: the product must be exact in one word (``pa + pb <= W - 2``),
  then it is an exact ``add``.

IEEE 754 rules live here too: NaN in gives NaN out, invalid operations
(inf - inf, 0 * inf, 0/0, inf/inf, sqrt of a negative) give NaN, signed
zeros (an exact zero sum is +0, -0 when rounding ``down``; a product's zero
has the xor of the signs).  Which NaN a result is -- the output format's
canonical NaN with the sign bit clear, a "default NaN", whatever NaN came
in -- is ``specialize.default_nan``.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

from .primitives import bit_length, i64, shl, shr, u64
from .specialize import FINITE, INF, NAN_CLASS, default_nan

# Operation codes.
ADD, SUB, MUL, DIV, FMA, SQRT = 0, 1, 2, 3, 4, 5
OPS = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "fma": FMA, "sqrt": SQRT}
ARITY = {ADD: 2, SUB: 2, MUL: 2, DIV: 2, FMA: 3, SQRT: 1}

#: Working width of the Numba engine.
WORD = 64


# ---------------------------------------------------------------- wide multiply
def mul_wide(a, b, W):
    """``a * b`` cut to at most ``W`` bits: ``(M, t, sticky)`` with
    ``M * 2**t <= a * b < (M + 1) * 2**t``, sticky = the cut bits were not
    all zero.  (Numba: ``W`` is 64; the product is formed in 128 bits.)"""
    p = a * b
    t = max(p.bit_length() - W, 0)
    return p >> t, t, (p & ((1 << t) - 1)) != 0


@intrinsic
def _mul128(typingctx, a, b):
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        lo = builder.trunc(p, ir.IntType(64))
        hi = builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return sig, codegen


@overload(mul_wide)
def _mul_wide_nb(a, b, W):
    def impl(a, b, W):
        hi, lo = _mul128(np.uint64(a), np.uint64(b))
        if hi == 0:
            return lo, np.int64(0), False
        t = bit_length(hi)  # 1..64 bits to cut
        M = shl(hi, 64 - t) | shr(lo, t)
        return M, np.int64(t), (lo & (shl(np.uint64(1), t) - np.uint64(1))) != 0

    return impl


# ---------------------------------------------------------------- operations
@register_jitable
def add_exact(na, Ma, Ea, nb, Mb, Eb, W, down):
    """``(-1)**na Ma 2**Ea + (-1)**nb Mb 2**Eb`` (finite operands of at most
    ``W - 2`` bits) -> ``(neg, M, E, sticky)``, ``M < 2**W``."""
    zero = u64(0)
    if Ma == zero and Mb == zero:
        # +0 + +0 = +0, -0 + -0 = -0, +0 + -0 = +0 (-0 when rounding down)
        return (na & nb) | ((na | nb) & down), zero, i64(0), False
    if Mb == zero:
        return na, u64(Ma), i64(Ea), False
    if Ma == zero:
        return nb, u64(Mb), i64(Eb), False
    la = bit_length(Ma)
    lb = bit_length(Mb)
    xa = i64(Ea) + la  # the exponent just above the leading bit
    xb = i64(Eb) + lb
    A = shl(u64(Ma), W - 1 - la)  # leading bit at W - 2: a sum fits W bits
    B = shl(u64(Mb), W - 1 - lb)  # at least one zero bit at the bottom
    if xb > xa or (xb == xa and B > A):  # make |a| >= |b|
        na, nb = nb, na
        A, B = B, A
        xa, xb = xb, xa
    d = xa - xb
    Bs = shr(B, d)
    sticky = shl(Bs, d) != B
    if na == nb:
        M = A + Bs
    else:
        # A - (Bs + s) = (A - Bs - 1) + (1 - s), 0 < 1 - s < 1
        M = A - Bs - u64(sticky)
    neg = na
    if M == zero and not sticky:
        neg = down  # x + (-x) is +0, -0 when rounding down
    return neg, M, xa - (W - 1), sticky


@register_jitable
def div_exact(Ma, Ea, Mb, Eb, nbits):
    """``Ma 2**Ea / (Mb 2**Eb)`` for ``Ma, Mb > 0`` of at most 62 bits, with
    at least ``nbits <= 61`` quotient bits -> ``(M, E, sticky)``."""
    la = bit_length(Ma)
    lb = bit_length(Mb)
    s = nbits - la + lb  # Ma * 2**s / Mb has nbits or nbits + 1 bits
    a = u64(Ma)
    b = u64(Mb)
    cut = False
    if s < 0:  # floor(floor(a / 2**-s) / b) = floor(a / (2**-s b))
        cut = shl(shr(a, -s), -s) != a
        a = shr(a, -s)
    q = a // b
    r = a - q * b
    left = max(s, 0)
    step = max(WORD - lb, 1)  # r < b < 2**lb, so r << step fits a word
    while left > 0:
        c = min(left, step)
        rr = shl(r, c)
        qc = rr // b
        q = shl(q, c) | qc
        r = rr - qc * b
        left -= c
    return q, i64(Ea) - i64(Eb) - s, (r != u64(0)) | cut


@register_jitable
def sqrt_exact(M, E, nbits):
    """``sqrt(M 2**E)`` for ``M > 0`` of at most 62 bits, with at least
    ``nbits <= 60`` root bits -> ``(Q, F, sticky)``.

    The radicand is ``N = M 2**s`` with ``E - s`` even; its bits are read
    two at a time from ``M`` (so ``N`` may be 128 bits wide), and the root
    is built one bit per step (the schoolbook digit-by-digit method)."""
    one = u64(1)
    lm = bit_length(M)
    s = 2 * nbits - 1 - lm
    if (i64(E) - s) % 2 != 0:
        s += 1
    cut = False
    if s < 0:
        cut = shl(shr(u64(M), -s), -s) != u64(M)
    steps = (lm + s + 1) // 2  # root bits
    root = u64(0)
    rem = u64(0)
    for i in range(steps - 1, -1, -1):
        j = 2 * i - s  # bit of M that is bit 2i of N
        if j >= 0:
            pair = shr(u64(M), j) & u64(3)
        elif j == -1:
            pair = shl(u64(M) & one, 1)
        else:
            pair = u64(0)
        rem = shl(rem, 2) | pair
        trial = shl(root, 2) | one
        if rem >= trial:
            rem -= trial
            root = shl(root, 1) | one
        else:
            root = shl(root, 1)
    return root, (i64(E) - s) // 2, (rem != u64(0)) | cut


@register_jitable(inline="always")
def exact_result(op, na, Ma, Ea, ca, nb, Mb, Eb, cb, nc, Mc, Ec, cc, W, nbits, down):
    """The exact result of ``op`` on split operands:
    ``(neg, M, E, sticky, cls)``, ready for ``round_code``.

    Operands not used by ``op`` are ignored (``sqrt`` reads ``a``; ``fma``
    computes ``a * b + c``).  A NaN result is positive (a default NaN).
    """
    zero = u64(0)
    if op == SUB:
        nb = not nb
        op = ADD
    if ca == NAN_CLASS or (op != SQRT and cb == NAN_CLASS) or (op == FMA and cc == NAN_CLASS):
        return default_nan()
    if op == SQRT:
        if ca == INF:
            if na:
                return default_nan()
            return False, zero, i64(0), False, INF
        if Ma == zero:
            return na, zero, i64(0), False, FINITE  # sqrt(-0) = -0
        if na:
            return default_nan()
        Q, F, st = sqrt_exact(Ma, Ea, nbits)
        return False, Q, F, st, FINITE
    if op == ADD:
        if ca == INF or cb == INF:
            if ca == INF and cb == INF and na != nb:
                return default_nan()  # inf - inf
            return (na if ca == INF else nb), zero, i64(0), False, INF
        neg, M, E, st = add_exact(na, Ma, Ea, nb, Mb, Eb, W, down)
        return neg, M, E, st, FINITE
    neg = na != nb  # the sign of a product or quotient
    if op == DIV:
        if ca == INF:
            if cb == INF:
                return default_nan()  # inf / inf
            return neg, zero, i64(0), False, INF
        if cb == INF:
            return neg, zero, i64(0), False, FINITE  # x / inf = 0
        if Mb == zero:
            if Ma == zero:
                return default_nan()  # 0 / 0
            return neg, zero, i64(0), False, INF  # division by zero
        if Ma == zero:
            return neg, zero, i64(0), False, FINITE
        Q, F, st = div_exact(Ma, Ea, Mb, Eb, nbits)
        return neg, Q, F, st, FINITE
    # MUL, FMA: the product first
    if ca == INF or cb == INF:
        if (ca == FINITE and Ma == zero) or (cb == FINITE and Mb == zero):
            return default_nan()  # 0 * inf
        if op == FMA and cc == INF and nc != neg:
            return default_nan()  # inf - inf
        return neg, zero, i64(0), False, INF
    P, t, st = mul_wide(Ma, Mb, W)
    if op == MUL:
        return neg, P, i64(Ea) + i64(Eb) + t, st, FINITE
    if cc == INF:
        return nc, zero, i64(0), False, INF
    # fma: the product is exact here (the dispatcher checked its width)
    s, M, E, st = add_exact(neg, P, i64(Ea) + i64(Eb) + t, nc, Mc, Ec, W, down)
    return s, M, E, st, FINITE
