"""Array kernels of the elementwise operations.

``arith`` is the one loop of every rounded operation: split each operand's
code (``split_code``), compute the exact result (``arith.exact_result``),
round it once into the output format (``round_code``).  ``lookup2`` serves
narrow operands from a table that ``arith`` filled; ``fixed_exact`` is
exact fixed-point growth (integer add, subtract, multiply: no rounding at
all).  Arguments are validated by the caller (``ops.py``); data errors are
reported per chunk as in the codec kernels.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from . import arith as arith_core
from . import core
from .jit import CHUNK


@register_jitable(inline="always")
def _split(code, spec):
    return core.split_code(np.uint64(code), spec)


@njit(parallel=True, cache=True)
def arith(op, a, a_spec, b, b_spec, c, c_spec, out_spec, mode, ovf, rnd, R, W, nbits,
          out, status, where, each):
    """out[i] = op(a[i], b[i], c[i]) rounded once into ``out_spec``
    (operands that ``op`` does not take are ignored)."""
    n = out.size
    use_rnd = rnd.size > 0
    keep_each = each.size > 0
    arity = 1 if op == arith_core.SQRT else (3 if op == arith_core.FMA else 2)
    down = mode == core.DOWN
    for ch in prange(status.size):
        start = ch * CHUNK
        stop = min(n, start + CHUNK)
        for i in range(start, stop):
            na, Ma, Ea, ca = _split(a[i], a_spec)
            nb, Mb, Eb, cb = na, Ma, Ea, ca
            nc, Mc, Ec, cc = na, Ma, Ea, ca
            if arity >= 2:
                nb, Mb, Eb, cb = _split(b[i], b_spec)
            if arity == 3:
                nc, Mc, Ec, cc = _split(c[i], c_spec)
            neg, M, E, sticky, cls = arith_core.exact_result(
                op, na, Ma, Ea, ca, nb, Mb, Eb, cb, nc, Mc, Ec, cc, W, nbits, down)
            r = rnd[i] if use_rnd else np.uint64(0)
            code, st = core.round_code(neg, M, E, sticky, cls, out_spec, mode, ovf, r, R)
            out[i] = code
            if keep_each:
                each[i] = st
            if st != 0 and status[ch] == 0:
                status[ch] = st
                where[ch] = i


@njit(cache=True)
def lookup2(table, table_status, a, b, shift, out, status, where):
    """out[i] = table[a[i] << shift | b[i]] (a table filled by ``arith``)."""
    n = out.size
    for ch in range(status.size):  # serial: memory-bound, threads do not help
        start = ch * CHUNK
        stop = min(n, start + CHUNK)
        for i in range(start, stop):
            index = (np.intp(a[i]) << shift) | np.intp(b[i])
            out[i] = table[index]
            if table_status[index] != 0 and status[ch] == 0:
                status[ch] = table_status[index]
                where[ch] = i


@njit(cache=True)
def fixed_exact(op, a, a_sign, a_shift, b, b_sign, b_shift, mask, out):
    """Exact fixed-point add (0), subtract (1) or multiply (2) of two's
    complement codes: each operand is sign-extended (``sign`` = its sign
    bit, 0 if unsigned) and aligned (``<< shift``); the result, which the
    caller made wide enough (at most 64 bits), is stored modulo ``mask + 1``."""
    for i in range(out.size):  # serial: memory-bound, threads do not help
        # two's complement arithmetic modulo 2**64 is exact modulo 2**64
        x = ((np.uint64(a[i]) ^ a_sign) - a_sign) << a_shift
        y = ((np.uint64(b[i]) ^ b_sign) - b_sign) << b_shift
        if op == 0:
            z = x + y
        elif op == 1:
            z = x - y
        else:
            z = x * y
        out[i] = z & mask
