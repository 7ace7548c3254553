"""Integer primitives of the two engines: bit length, shifts, 64-bit words.

The rounding core (``core``), the special-value policy (``specialize``) and
the exact arithmetic (``arith``) are written once and run twice: compiled by
Numba on 64-bit words, and as plain Python on unbounded ``int`` (see
``core``).  The helpers here are the only places where the two engines
differ.  In Python they are the plain operators and the identity.  In Numba
(through ``overload``):

* :func:`shl` / :func:`shr` give 0 for shifts of 64 or more instead of
  LLVM's undefined result;
* :func:`u64` / :func:`i64` keep every magnitude and code a ``uint64`` and
  every exponent an ``int64`` (Numba turns ``uint64 + int64`` into float64);
* :func:`bit_length` is one ``ctlz`` instruction.

(As SoftFloat keeps its shifts and counts in ``primitives.h``.)
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload


def bit_length(x):
    """Number of bits of the non-negative integer ``x`` (0 for 0)."""
    return int(x).bit_length()


def shl(x, s):
    """``x << s`` for ``s >= 0`` (Numba: 0 when ``s >= 64``)."""
    return x << s


def shr(x, s):
    """``x >> s`` for ``s >= 0`` (Numba: 0 when ``s >= 64``)."""
    return x >> s


def u64(x):
    """An unsigned 64-bit integer in Numba; the int itself in Python."""
    return x


def i64(x):
    """A signed 64-bit integer in Numba; the int itself in Python."""
    return x


@intrinsic
def _ctlz64(typingctx, x):
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@overload(u64)
def _u64_nb(x):
    return lambda x: np.uint64(x)


@overload(i64)
def _i64_nb(x):
    return lambda x: np.int64(x)


@overload(bit_length)
def _bit_length_nb(x):
    return lambda x: 64 - _ctlz64(np.uint64(x))


@overload(shl)
def _shl_nb(x, s):
    def impl(x, s):
        if s >= 64:
            return np.uint64(0)
        return np.uint64(x) << s

    return impl


@overload(shr)
def _shr_nb(x, s):
    def impl(x, s):
        if s >= 64:
            return np.uint64(0)
        return np.uint64(x) >> s

    return impl
