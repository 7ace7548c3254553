"""Array kernels of the codec, run in parallel chunks.

``convert``, the general loop, reads each source code as an exact value
(``split_code`` of the source format: float16/32/64 bit patterns, integers
as fixed point, or any fxsim format) and rounds it into the destination
format (``round_code``).  Encoding, decoding (into float64) and casting
all run it; it reads and writes codes in their own dtypes.

The specialized loops prepare the exact value differently and leave the
decision to the core all the same: ``float_to_fixed`` (float32/float64 into
fixed point: the scaled value in float64, the core's truth table
``core.DECISIONS`` or ``core.round_magnitude``), ``lookup`` (a table of
``convert``'s answers, indexed by a float's top bits and a sticky bit) and
``gather`` (decoding through a table of ``convert``'s float64 values).
``codec`` chooses among them and tests/test_encode_fast.py proves them
equal to ``convert``.

Arguments are validated by the caller; data errors (NaN into fixed point,
overflow under "raise", codes out of range) are reported per chunk: the
chunk's first failure in ``status[c]``/``where[c]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from . import core
from .jit import CHUNK

ERR_CODE = 4  # a source code does not fit the source format


@njit(cache=True)
def _convert_chunk(src, start, src_spec, dst_spec, mode, ovf, rnd, R, out, each):
    """The element ``start + j`` for every ``j < src.size``: out[j] = the
    dst code of the value of the source code src[j] (both uint64), with the
    random integer ``rnd[start + j]`` and its status into ``each[start +
    j]`` when those are not empty.  Returns the (status, index) of the first
    failure, or (0, 0).  The one specialization of the inlined core: the
    parallel :func:`convert` around it handles every code dtype."""
    use_rnd = rnd.size > 0
    keep_each = each.size > 0
    first, where = 0, 0
    for j in range(src.size):
        code = src[j]
        i = start + j
        if code > src_spec.mask:
            st = ERR_CODE
            out[j] = 0
        else:
            neg, M, E, cls = core.split_code(code, src_spec)
            r = rnd[i] if use_rnd else np.uint64(0)
            value, st = core.round_code(neg, M, E, False, cls, dst_spec, mode, ovf, r, R)
            out[j] = value
        if keep_each:
            each[i] = st
        if st != 0 and first == 0:
            first, where = st, i
    return first, where


@njit(parallel=True, cache=True)
def convert(src, src_spec, dst_spec, mode, ovf, rnd, R, out, status, where, each):
    """out[i] = the dst code of the value of src code src[i] (codes of any
    unsigned dtype in, the codes' dtype out: each chunk is widened to
    uint64, rounded by :func:`_convert_chunk` and narrowed into ``out``);
    the first failure of each chunk goes to status[c] / where[c], and every
    element's status to ``each[i]`` if ``each`` is not empty."""
    n = src.size
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        wide = np.empty(stop - start, np.uint64)
        for j in range(stop - start):
            wide[j] = src[start + j]
        codes = np.empty(stop - start, np.uint64)
        st, i = _convert_chunk(wide, start, src_spec, dst_spec, mode, ovf, rnd, R, codes, each)
        for j in range(stop - start):
            out[start + j] = codes[j]
        if st != 0:
            status[c] = st
            where[c] = i


# ---------------------------------------------------------------- float -> fixed
# Scaling a float64 by 2**frac only moves its exponent, so while the scaled
# magnitude ``a = |x| * 2**frac`` stays below 2**63 it is exact (or, when it
# falls below 2**-1022, smaller than 1/2: then only "x is not zero" matters)
# and its integer part n, round bit and sticky bit are read off with float
# arithmetic.  Everything else (NaN, inf, a >= 2**63) is "rare": the kernel
# marks its chunk and the caller converts those elements with ``convert``.
# The loops index with unsigned integers (a signed index may be negative for
# all LLVM knows, and the wraparound of negative indices stops vectorization)
# and each chunk's loop is a function of its own (it runs faster so than
# inside Numba's parallel loop body); the chunk's flags are one integer OR.

_BELOW_2_63 = 9223372036854774784.0  # the largest float64 below 2**63
_OVER, _RARE = 1, 2  # flags of a chunk: an element overflowed / was rare


@register_jitable(inline="always")
def _scaled(v, scale):
    """``(n, rb, st, neg, ok)`` of the float ``v`` times ``scale`` (a power
    of two): the integer part, round bit and sticky bit of the exact scaled
    magnitude and the sign of the value, if ``ok`` (it is below 2**63);
    for a rare ``v`` (NaN, inf, huge; ``ok`` False) they are meaningless
    but harmless.  No branches: the loops vectorize."""
    ax = abs(v)
    a = ax * scale
    ok = a < 9223372036854775808.0  # 2**63; False for NaN
    a = min(_BELOW_2_63, a)  # a, or for a rare value a finite stand-in
    ni = np.int64(a)  # floor: a >= 0
    frac = a - np.float64(ni)  # exact
    n = np.uint64(ni)
    rb = frac >= 0.5  # the round bit
    # the bits below it; a == 0 with v != 0: every bit was shifted out
    st = (ax != 0.0) & (frac != 0.5) & ((frac != 0.0) | (n == np.uint64(0)))
    neg = v < 0.0  # False for -0.0: a fixed-point zero has no sign
    return n, rb, st, neg, ok


@register_jitable(inline="always")
def _fixed_result(neg, mag, spec, sat):
    """``(code, over)``: the rounded magnitude ``mag`` of sign ``neg`` as a
    code of the fixed format ``spec`` with the core's overflow step (as
    ``core``'s fixed-point assembly): beyond ``neg_limit``/``pos_limit`` it
    overflows, and is clamped there if ``sat`` (saturate), else kept modulo
    ``2**word`` (wrap; under raise the caller reports ``over``)."""
    one = np.uint64(neg)
    limit = spec.pos_limit + (spec.neg_limit - spec.pos_limit) * one
    over = mag > limit
    mag = mag + (limit - mag) * np.uint64(over & sat)
    flip = np.uint64(0) - one
    return ((mag ^ flip) - flip) & spec.mask, over


@njit(cache=True)
def _fixed_by_table(x, start, stop, scale, spec, decision, sat, out):
    """Elements start..stop of :func:`float_to_fixed` rounded by the core's
    truth table ``decision == core.DECISIONS[mode]`` (every deterministic
    mode but jam).  Returns ``OVER | RARE`` bits: some element overflowed
    or was rare (a rare one may count as overflowing too: ``over`` is only
    meaningful where ``ok``)."""
    flags = np.uint64(0)
    for i in range(np.uint64(start), np.uint64(stop)):
        n, rb, st, neg, ok = _scaled(np.float64(x[i]), scale)
        key = np.int64(neg) | np.int64(rb) << 1 | np.int64(st) << 2 | np.int64(n & np.uint64(1)) << 3
        code, over = _fixed_result(neg, n + np.uint64((decision >> key) & 1), spec, sat)
        out[i] = code
        flags |= np.uint64(over) | np.uint64(not ok) << np.uint64(1)  # OVER, RARE
    return flags


@njit(cache=True)
def _fixed_by_core(x, start, stop, scale, spec, mode, sat, out):
    """As :func:`_fixed_by_table`, rounded by ``core.round_magnitude`` (jam)."""
    flags = np.uint64(0)
    for i in range(np.uint64(start), np.uint64(stop)):
        n, rb, st, neg, ok = _scaled(np.float64(x[i]), scale)
        # M = 2n + rb: one bit below the rounding point, the rest in sticky
        mag = core.round_magnitude(neg, (n << np.uint64(1)) | np.uint64(rb), 1, st, mode, True,
                                   np.uint64(0), 1)
        code, over = _fixed_result(neg, mag, spec, sat)
        out[i] = code
        flags |= np.uint64(over) | np.uint64(not ok) << np.uint64(1)
    return flags


@njit(parallel=True, cache=True)
def float_to_fixed(x, scale, spec, mode, ovf, out, status, where, rare):
    """out[i] = the code of the float x[i] in the fixed-point format ``spec``
    (at most 64 bits; ``scale == 2.0**spec.frac``) under the deterministic
    mode ``mode``, for every element whose scaled magnitude is below 2**63;
    for the others (NaN, inf, huge) ``rare[c]`` is set for their chunk c and
    the caller converts them with :func:`convert`.  Overflow (a magnitude
    beyond ``pos_limit``/``neg_limit``) is the core's: saturate clamps, wrap
    keeps the low ``word`` bits, raise reports the chunk's first offender in
    ``status[c]``/``where[c]``."""
    n = x.size
    sat = ovf == core.SATURATE
    by_table = mode < core.JAM
    decision = np.int64(core.DECISIONS[mode]) if by_table else np.int64(0)
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        if by_table:
            flags = _fixed_by_table(x, start, stop, scale, spec, decision, sat, out)
        else:
            flags = _fixed_by_core(x, start, stop, scale, spec, mode, sat, out)
        rare[c] = (flags & _RARE) != 0
        if (flags & _OVER) != 0 and ovf == core.RAISE:
            for i in range(start, stop):  # the first offender, one element at a time
                if by_table:
                    flags = _fixed_by_table(x, i, i + 1, scale, spec, decision, sat, out)
                else:
                    flags = _fixed_by_core(x, i, i + 1, scale, spec, mode, sat, out)
                if flags == _OVER:  # overflowed, and is not rare
                    status[c] = core.ERR_OVERFLOW
                    where[c] = i
                    break


# ---------------------------------------------------------------- tables
# (As above, the table lookup's loop is a function of its own.)

@njit(cache=True)
def _lookup_chunk(table, table_status, checked, src, start, stop, shift, out):
    """Elements start..stop of :func:`lookup`; returns the OR of their
    statuses if ``checked`` (else 0)."""
    sh = np.uint32(shift)
    low = (np.uint32(1) << sh) - np.uint32(1)
    bad = np.uint8(0)
    if checked:
        for i in range(np.uint64(start), np.uint64(stop)):
            v = np.uint32(src[i])
            index = ((v >> sh) << np.uint32(1)) | np.uint32((v & low) != np.uint32(0))
            out[i] = table[index]
            bad |= table_status[index]
    else:
        for i in range(np.uint64(start), np.uint64(stop)):
            v = np.uint32(src[i])
            out[i] = table[((v >> sh) << np.uint32(1)) | np.uint32((v & low) != np.uint32(0))]
    return bad


@njit(parallel=True, cache=True)
def lookup(table, table_status, checked, src, shift, out, status, where):
    """out[i] = table[2 * (src[i] >> shift) + s], s = 1 if any of the
    ``shift`` low bits of src[i] is set (a table built by ``convert``, see
    ``codec._encode_table``).  ``checked``: some entry of ``table_status``
    is a failure; then the first failing element of each chunk goes to
    ``status[c]``/``where[c]``."""
    n = src.size
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        if _lookup_chunk(table, table_status, checked, src, start, stop, shift, out) != 0:
            for i in range(start, stop):
                st = _lookup_chunk(table, table_status, checked, src, i, i + 1, shift, out)
                if st != 0:
                    status[c] = st
                    where[c] = i
                    break


@njit(parallel=True, cache=True)
def gather(table, codes, out, status, where):
    """out[i] = table[codes[i]] (a decode table built by ``convert``); a
    code beyond the table is ERR_CODE (the chunk's first in status/where).
    (Here the loop in the parallel body vectorizes, into gathers, and a
    function of its own does not.)"""
    n = codes.size
    size = np.uint64(table.size)
    for c in prange(status.size):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        bad = False
        for i in range(np.uint64(start), np.uint64(stop)):
            code = np.uint64(codes[i])
            inside = code < size
            bad |= not inside
            out[i] = table[code if inside else np.uint64(0)]
        if bad:
            for i in range(start, stop):
                if np.uint64(codes[i]) >= size:
                    status[c] = ERR_CODE
                    where[c] = i
                    break
