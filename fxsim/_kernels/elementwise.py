"""Array kernels of the elementwise operations.

``arith`` is the one loop of every rounded operation: split each operand's
code (``split_code``), compute the exact result (``arith.exact_result``),
round it once into the output format (``round_code``).  ``lookup2`` serves
narrow operands from a table that ``arith`` filled; ``fixed_exact`` is
exact fixed-point growth (integer add, subtract, multiply: no rounding at
all).  ``hardware`` is the machine's own IEEE 754 arithmetic, for the cases
where it provably gives the core's result (see its docstring and
``fxsim.ops.hardware_plan``).  Arguments are validated by the caller
(``ops.py``); data errors are reported per chunk as in the codec kernels.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload, register_jitable

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


# ---------------------------------------------------------------- the machine's IEEE arithmetic
@intrinsic
def _float_bits(typingctx, x):
    """The bit pattern of a float32 (uint32) or float64 (uint64)."""
    if x not in (types.float32, types.float64):
        return None
    width = x.bitwidth

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return (types.uint32 if width == 32 else types.uint64)(x), codegen


@intrinsic
def _float32_of_bits(typingctx, x):
    """The float32 whose bit pattern is the uint32 ``x``."""
    if x != types.uint32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(x), codegen


@intrinsic
def _fused(typingctx, x, y, z):
    """``x * y + z`` rounded once: LLVM's ``llvm.fma``, which is fused by
    definition (one FMA instruction where the CPU has one, else libm's
    correctly rounded ``fma``); never ``fmuladd``, which may round twice."""
    if not (x == y == z and x in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return x(x, y, z), codegen


@register_jitable(inline="always")
def half_to_float(h):
    """The float32 of the float16 code ``h``, exactly (NaN stays NaN)."""
    mag = np.int64(h) & 0x7FFF
    sign = (np.int64(h) & 0x8000) << 16
    small = np.int64(_float_bits(np.float32(mag) * np.float32(2.0 ** -24)))  # exact, normal
    bits = (mag << 13) + 0x38000000  # normal: rebias the exponent by 127 - 15
    if mag >= 0x7C00:
        bits = (mag << 13) | 0x7F800000  # inf, NaN
    if mag < 0x400:
        bits = small  # zero, subnormal: m * 2**-24
    return _float32_of_bits(np.uint32(bits | sign))


@register_jitable(inline="always")
def float_to_half(f):
    """The float16 code of the float32 ``f`` rounded to nearest, ties to
    even, in integer arithmetic (no FPU mode involved): overflow to inf at
    65520, subnormals on the 2**-24 grid, signed zeros kept; every NaN gives
    the positive canonical NaN 0x7E00 (the core's default NaN)."""
    x = np.int64(_float_bits(f))
    sign = (x >> 16) & 0x8000
    a = x & 0x7FFFFFFF
    r = a - 0x38000000  # normal: rebias, round the 13 dropped bits to even
    h = (r + 0xFFF + ((r >> 13) & 1)) >> 13
    if a < 0x38800000:  # below 2**-14: the significand on the 2**-24 grid
        s = max(14, min(126 - (a >> 23), 40))
        m = (a & 0x7FFFFF) | 0x800000
        q = m >> s
        rest = m - (q << s)
        half = np.int64(1) << (s - 1)
        h = q + (np.int64(rest > half) | (np.int64(rest == half) & q & 1))
    if a >= 0x477FF000:  # 65520 and beyond round to inf
        h = np.int64(0x7C00)
    h = h | sign
    if a > 0x7F800000:
        h = np.int64(0x7E00)
    return np.uint16(h)


def load(arr, i, probe):
    """``arr[i]`` in the compute type (``probe``'s dtype); uint16 arrays
    hold float16 codes."""


@overload(load)
def _load_nb(arr, i, probe):
    half = arr.dtype == types.uint16
    if probe.dtype == types.float32:
        if half:
            return lambda arr, i, probe: half_to_float(arr[i])
        return lambda arr, i, probe: np.float32(arr[i])
    if half:
        return lambda arr, i, probe: np.float64(half_to_float(arr[i]))
    return lambda arr, i, probe: np.float64(arr[i])


def store(out, i, r, nan):
    """``out[i] = r``, every NaN replaced by the canonical ``nan``; uint16
    arrays take float16 codes (``float_to_half``)."""


@overload(store)
def _store_nb(out, i, r, nan):
    if out.dtype == types.uint16:
        def impl(out, i, r, nan):
            out[i] = float_to_half(r)
    else:
        def impl(out, i, r, nan):
            out[i] = r if r == r else nan
    return impl


#: Slots of the probe array (see :func:`fpu_probe`).
_P_TINY, _P_ONE, _P_MIN_NORMAL, _P_HALF, _P_EPS, _P_3EPS, _P_ONE_2ULP, _P_NAN = range(8)


_PROBES = {}


def fpu_probe(dtype):
    """The probe array of the compute type ``dtype`` (float32 or float64):
    operands whose results show whether this thread's FPU runs IEEE 754's
    default mode (see :func:`default_mode`), and the canonical NaN.  One
    array per dtype, made once; nothing writes to it."""
    dtype = np.dtype(dtype)
    if dtype not in _PROBES:
        _PROBES[dtype] = _make_probe(dtype)
    return _PROBES[dtype]


def _make_probe(dtype):
    p = 24 if dtype == np.float32 else 53
    emin = -126 if dtype == np.float32 else -1022
    nan = np.array([0x7FC00000 if p == 24 else 0x7FF8000000000000],
                   np.uint32 if p == 24 else np.uint64).view(dtype)[0]
    return np.array([2.0 ** (emin - p + 1), 1.0, 2.0 ** emin, 0.5, 2.0 ** -p, 3 * 2.0 ** -p,
                     1 + 2.0 ** (2 - p), nan], dtype)


@register_jitable
def default_mode(probe):
    """Does this thread's FPU compute as IEEE 754 by default: subnormal
    operands read as they are (no DAZ), subnormal results kept (no FTZ),
    rounding to nearest, ties to even?  Some libraries switch the x86 MXCSR
    (per thread) to flush-to-zero / denormals-are-zero or another rounding
    direction; the results then differ from the core's.  The operands come
    from memory, so nothing is folded at compile time, and the answers are
    compared as bit patterns (DAZ also turns comparisons of subnormals into
    comparisons of zeros)."""
    tiny, one = probe[_P_TINY], probe[_P_ONE]
    ok = _float_bits(tiny * one) == _float_bits(tiny)  # DAZ reads tiny as 0
    ok &= _float_bits(probe[_P_MIN_NORMAL] * probe[_P_HALF]) != 0  # FTZ flushes a subnormal result
    ok &= _float_bits(one + probe[_P_EPS]) == _float_bits(one)  # a tie stays at even 1 (not up)
    ok &= _float_bits(one + probe[_P_3EPS]) == _float_bits(probe[_P_ONE_2ULP])  # tie to even, not down
    return ok


@register_jitable
def _hardware_loop(op, a, b, c, probe, out, nan):
    """:func:`hardware` on slices: a loop LLVM vectorizes (the same loop
    written inside ``prange`` over the whole arrays does not)."""
    if op == arith_core.ADD:
        for i in range(out.size):
            store(out, i, load(a, i, probe) + load(b, i, probe), nan)
    elif op == arith_core.SUB:
        for i in range(out.size):
            store(out, i, load(a, i, probe) - load(b, i, probe), nan)
    elif op == arith_core.MUL:
        for i in range(out.size):
            store(out, i, load(a, i, probe) * load(b, i, probe), nan)
    elif op == arith_core.DIV:
        for i in range(out.size):
            store(out, i, load(a, i, probe) / load(b, i, probe), nan)
    elif op == arith_core.SQRT:
        for i in range(out.size):
            store(out, i, np.sqrt(load(a, i, probe)), nan)
    else:
        for i in range(out.size):
            store(out, i, _fused(load(a, i, probe), load(b, i, probe), load(c, i, probe)), nan)


@register_jitable
def _hardware_chunk(op, a, b, c, probe, out, status, ch):
    """Chunk ``ch`` of :func:`hardware`, with its check of the FPU's mode."""
    start = ch * CHUNK
    stop = min(out.size, start + CHUNK)
    if not default_mode(probe):
        status[ch] = 1
    _hardware_loop(op, a[start:stop], b[start:stop], c[start:stop], probe, out[start:stop],
                   probe[_P_NAN])


@njit(parallel=True, cache=True, error_model="numpy")
def hardware(op, a, b, c, probe, out, status):
    """out[i] = op(a[i], b[i], c[i]) in the machine's IEEE 754 arithmetic of
    ``probe``'s dtype (float32 or float64), rounded to nearest even, NaN
    made canonical.  ``a``, ``b``, ``c`` are float32/float64 arrays or uint16
    arrays of float16 codes, each exact in the compute type; ``out`` is a
    float array of the compute type, or uint16 for float16 codes (the
    float32 result rounded once more, to nearest even: see
    ``fxsim.ops.hardware_plan`` for why that is the correctly rounded
    float16 result).  ``status[ch]`` is set to 1 where the thread that ran
    chunk ``ch`` is not in the FPU's default mode (:func:`default_mode`):
    the caller then discards every result and uses the core."""
    for ch in prange(status.size):
        _hardware_chunk(op, a, b, c, probe, out, status, ch)


@njit(cache=True, error_model="numpy")
def hardware_serial(op, a, b, c, probe, out, status):
    """:func:`hardware` on the calling thread (no thread pool to wake)."""
    for ch in range(status.size):
        _hardware_chunk(op, a, b, c, probe, out, status, ch)
