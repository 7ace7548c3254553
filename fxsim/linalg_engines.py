"""The kernel engines of :func:`fxsim.matmul`: each computes one 2-d product
``c + a @ b`` in one Numba kernel (:mod:`fxsim._kernels.gemm`), exactly to
the accumulation contract stated in :mod:`fxsim.linalg` -- which checks
the arguments and chooses the engine -- where its test ``*_ok`` says so:

* :func:`hardware_engine` -- sequential accumulation in the machine's own
  binary32/binary64 additions (round to nearest even, the accumulator's
  default overflow), when every product is exact in them: each step
  ``s = fl(s + a*b)`` is then one IEEE addition of an exact product, the
  contract's one rounding.  Products are exact by the operand formats
  (float16 or FP8 into binary32, binary32 into binary64), or -- bfloat16
  into binary32, whose exponent range is binary32's -- by the operands'
  values: the largest product at most binary32's largest value and every
  lsb at or above its least subnormal (checked per call; else the core);
* :func:`ieee_block_engine` -- blocks of B products summed in binary64,
  exact where a per-block exponent bound proves it (products exact in
  binary64, every partial sum a multiple of the least lsb below 2**53 of
  them), each block sum added to the binary32/binary64 accumulator with
  one rounding to nearest even (TwoSum, and round-to-odd before the
  binary32 conversion); outputs the bound does not cover run in the core's
  block kernel;
* :func:`fixed_engine` -- fixed accumulators whose steps need no rounding,
  in integer lanes (or float lanes proven exact);
* :func:`core_engine` -- sequential accumulation, each step an exact fused
  multiply-add rounded once by the core;
* :func:`block_engine` -- blocks of products summed exactly as float64
  expansions, rounded once per block by the core.

The two IEEE kernels check on every thread that subnormals are kept (no
flush-to-zero or denormals-are-zero mode, which some libraries switch on)
and otherwise hand the whole product to the core's kernels; fastmath is
off in every kernel (no reassociation, no contraction).

Cases a kernel cannot take (non-finite operands of the block kernel, a
``c`` or first product that fails to round into the accumulator) go to
:func:`fxsim.linalg_stepwise.stepwise`.  When a rounding fails in a kernel
(overflow under ``overflow='raise'``, a NaN or inf the accumulator cannot
hold) the kernel reports, per output row, the status, the column, the step
``k`` and the accumulator's code before that step; the first failure in
the stepwise engine's order (step k, then output) is raised here as the
very error the stepwise engine raises for it, from that report alone.
"""
from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np

from . import codec, exact, ops, runtime
from . import formats as _formats
from ._kernels import arith
from ._kernels import gemm as kernels
from ._kernels.jit import threads_for
from .array import wrap_codes
from .linalg_stepwise import (broadcast, product_format, product_format_or_none, step_error,
                              stepwise, value_range)
from .modes import Overflow, Rounding

_FLOAT32 = _formats.format("float32")
_FLOAT64 = _formats.format("float64")


# ---------------------------------------------------------------- hardware IEEE additions
#: binary32 / binary64: (dtype, significand bits, least lsb exponent, top
#: exponent: every finite value is below 2**top)
_IEEE = {_FLOAT32: (np.float32, 24, -149, 128), _FLOAT64: (np.float64, 53, -1074, 1024)}
_BFLOAT16 = _formats.format("bfloat16")
_FLOAT16 = _formats.format("float16")
_TINY = {np.float32: np.float32(2.0 ** -149), np.float64: np.float64(2.0 ** -1074)}


def _exact_in(fmt, hw):
    """Is every value of ``fmt`` (a product format) exact in ``hw``?"""
    if not fmt.is_float:
        return False
    return ops.format_contains(hw, fmt) or fmt == hw


def _ieee_acc(acc, rounding, overflow):
    """A binary32/binary64 accumulator rounding as the hardware does."""
    return (acc in _IEEE and rounding == Rounding.NEAREST_EVEN
            and overflow == acc.default_overflow)


def hardware_ok(a, b, acc, order, rounding, overflow):
    """Sequential accumulation into binary32/binary64 under nearest_even of
    float operands that are exact in it, whose products are exact in it --
    by their formats, or (bfloat16 products in binary32) by the operands'
    values, which :func:`hardware_engine` checks."""
    if order != "sequential" or not _ieee_acc(acc, rounding, overflow):
        return False
    if not (a.fmt.is_float and b.fmt.is_float and _exact_in(a.fmt, acc) and _exact_in(b.fmt, acc)):
        return False
    return (value_range(a.fmt)[0] + value_range(b.fmt)[0] <= _IEEE[acc][1])


def float_values(q, dtype):
    """The values of ``q`` (exact in ``dtype``) as a new C array.  NaN
    payloads and signs are not kept (every NaN result is made canonical)."""
    bits = np.ascontiguousarray(q.bits)
    with np.errstate(invalid="ignore"):  # (a signaling NaN converts quietly)
        if q.fmt == _BFLOAT16:  # bfloat16 is binary32's top half
            x = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
            return x if dtype == np.float32 else x.astype(dtype)
        if q.fmt == _FLOAT16:
            return bits.astype(np.uint16, copy=False).view(np.float16).astype(dtype)
        if q.fmt == _FLOAT32:
            return bits.astype(np.uint32, copy=False).view(np.float32).astype(dtype)
    if q.fmt.width <= 16:  # every code's value, from a table
        return np.take(_value_table(q.fmt, dtype), bits)
    return np.require(codec.decode(bits, q.fmt).astype(dtype, copy=False), dtype, ["C", "W"])


@functools.lru_cache(maxsize=64)
def _value_table(fmt, dtype):
    codes = np.arange(1 << fmt.width, dtype=np.uint32)
    return codec.decode(codes, fmt).astype(dtype)


def value_extremes(v, axis, block=None):
    """The least nonzero and the largest finite magnitude of the 2-d float
    array ``v`` along ``axis`` (1: per row, 0: per column), in blocks of
    ``block`` along it (default: one block): (lo, hi), float64 arrays of
    shape (rows, blocks) for axis 1 and (blocks, columns) for axis 0; inf
    and 0 where a block has no such value (_kernels.gemm.extremes)."""
    k = v.shape[axis]
    block = block or max(k, 1)
    nb = max(-(-k // block), 1)
    if nb * block != k:  # zeros pad the last block (they count as nothing)
        shape = (v.shape[0], nb * block - k) if axis == 1 else (nb * block - k, v.shape[1])
        v = np.concatenate([v, np.zeros(shape, v.dtype)], axis=axis)
    v3 = v.reshape(v.shape[0], nb, block) if axis == 1 else v.reshape(nb, block, v.shape[1])
    shape = v3.shape[:2] if axis == 1 else (nb, v3.shape[2])
    lo, hi = np.empty(shape), np.empty(shape)
    with threads_for(max(1, v.size >> 20)):
        kernels.extremes(np.require(v3, None, ["C"]), axis == 1, lo, hi)
    return lo, hi


def _products_exact(x, y, fa, fb, acc):
    """Is every product of a finite value of ``x`` (format ``fa``) and one of
    ``y`` (``fb``) exact in ``acc``?  With at most acc's significand bits
    together, it is when the largest product is at most acc's largest value
    (that product is exact in binary64) and every lsb at or above acc's
    least: a value in binade e (|v| < 2**e) of a format of precision p and
    least lsb l has its lsb at or above 2**max(e - p, l)."""
    _, _, lsb, _ = _IEEE[acc]
    ends = []
    for v, fmt, axis in ((x, fa, 1), (y, fb, 0)):
        lo, hi = value_extremes(v, axis)
        if not hi.max(initial=0.0):
            return True  # every product is a zero, inf or NaN: exact
        p, least, _ = value_range(fmt)
        ends.append((max(int(np.frexp(lo.min())[1]) - p, least), float(hi.max())))
    (low_x, top_x), (low_y, top_y) = ends
    return top_x * top_y <= float(acc.max) and low_x + low_y >= lsb


def ieee_probe(dtype):
    """(2 * tiny, 0.5, tiny), tiny the least subnormal of ``dtype``: what the
    kernels test flush-to-zero with (_kernels.gemm._ieee_ok)."""
    tiny = _TINY[dtype]
    return np.array([tiny * 2, 0.5, tiny], dtype)


def _ieee_codes(s, acc):
    """The accumulator's codes of binary32/binary64 values ``s``: their bits,
    NaN as the canonical (positive, quiet) NaN."""
    dt = np.uint32 if acc == _FLOAT32 else np.uint64
    bits = s.view(dt).copy()
    nan = np.isnan(s)
    if nan.any():
        bits[nan] = acc.kernel_spec.nan_code
    return wrap_codes(bits, acc)


def _start_values(c, acc, dtype, m, n, rounding, overflow):
    """``c`` cast into the accumulator (binary32/64: never fails), as values."""
    start = ops.cast(broadcast(c, (m, n)), acc, rounding, overflow)
    return np.array(start.bits.view(dtype))


def hardware_engine(a, b, c, acc, rounding, overflow, name="matmul"):
    """Sequential accumulation in the machine's IEEE additions (one kernel,
    _kernels.gemm.ieee_seq_gemm).  When the operands' values allow inexact
    products, or a thread flushes subnormals, the core's kernel runs it."""
    dtype = _IEEE[acc][0]
    x, y = float_values(a, dtype), float_values(b, dtype)
    m, n, k = x.shape[0], y.shape[1], x.shape[1]
    pf = product_format_or_none(a.fmt, b.fmt, True)
    if not (pf is not None and _exact_in(pf, acc)) and \
            not _products_exact(x, y, a.fmt, b.fmt, acc):
        return _sequential_in_core(a, b, c, acc, rounding, overflow, name)
    if c is not None:
        s, first = _start_values(c, acc, dtype, m, n, rounding, overflow), 0
    else:
        s, first = np.zeros((m, n), dtype), (1 if k else 0)
    tiles = ((m + 3) // 4) * ((n + kernels.TILE_COLS - 1) // kernels.TILE_COLS)
    ok = np.ones(tiles, np.uint8)
    with threads_for(max(1, m * n * k >> 24)):
        kernels.ieee_seq_gemm(x, y, s, first, ieee_probe(dtype), ok)
    if not ok.all():  # flush-to-zero somewhere: the IEEE hardware is not IEEE now
        return _sequential_in_core(a, b, c, acc, rounding, overflow, name)
    return _ieee_codes(s, acc)


def _sequential_in_core(a, b, c, acc, rounding, overflow, name):
    if core_ok(a, b, acc, rounding, overflow):
        return core_engine(a, b, c, acc, rounding, overflow, name)
    return stepwise(a, b, c, None, acc, "sequential", rounding, overflow, None, name)


def ieee_block_ok(a, b, acc, order, rounding, overflow):
    """Blocks (B >= 2) into binary32/binary64 under nearest_even of float
    operands whose values and products are exact in binary64, the products
    (and B of them) well inside its normal range (no partial sum is
    subnormal, so flush-to-zero could not even matter there)."""
    if not isinstance(order, int) or order < 2 or not _ieee_acc(acc, rounding, overflow):
        return False
    if not (a.fmt.is_float and b.fmt.is_float and _exact_in(a.fmt, _FLOAT64)
            and _exact_in(b.fmt, _FLOAT64)):
        return False
    pa, la, ta = value_range(a.fmt)
    pb, lb, tb = value_range(b.fmt)
    return pa + pb <= 53 and la + lb >= -1022 and ta + tb + order.bit_length() <= 1000


def _block_spans(v, p, block, axis):
    """For the rows (axis 1) or columns (axis 0) of ``v`` and each block of
    ``block`` along the reduction: T - L, T the top exponent (every |value|
    < 2**T) and L a bound of the least lsb exponent (e - p for a value in
    binade e) of its nonzero finite values; -2**21 for a block without any.
    int32, (rows, blocks) or (blocks, columns) -- as the block kernel reads them."""
    lo, hi = value_extremes(v, axis, block)
    top, low = np.frexp(hi)[1], np.frexp(lo)[1] - p
    return np.ascontiguousarray(np.where(hi > 0, top - low, -(1 << 21)), np.int32)


def ieee_block_engine(a, b, c, acc, order, rounding, overflow, name):
    """Blocks of exact binary64 sums added with the machine's IEEE addition
    (one kernel, _kernels.gemm.ieee_block_gemm); outputs whose block sums the
    kernel cannot prove exact, and everything when a thread flushes
    subnormals, go to the exact block engines."""
    dtype = _IEEE[acc][0]
    # the operands' values in binary32 where they are exact there (half the memory
    # of binary64; the kernel widens them exactly)
    vt = np.float32 if _exact_in(a.fmt, _FLOAT32) and _exact_in(b.fmt, _FLOAT32) else np.float64
    x, y = float_values(a, vt), float_values(b, vt)
    m, n, k = x.shape[0], y.shape[1], x.shape[1]
    if c is not None:
        s = _start_values(c, acc, dtype, m, n, rounding, overflow)
    else:
        s = np.zeros((m, n), dtype)
    start = s.copy() if c is not None else None
    if k:
        sa = _block_spans(x, value_range(a.fmt)[0], order, 1)
        sb = _block_spans(y, value_range(b.fmt)[0], order, 0)
        limit = 53 - (order - 1).bit_length()  # 53 - ceil(log2 B)
        bad = np.zeros((m, n), np.uint8)
        tiles = (-(-m // kernels.BLOCK_GROUP_ROWS)) * (-(-n // kernels.BLOCK_TILE_COLS))
        ok = np.ones(tiles, np.uint8)
        with threads_for(max(1, m * n * k >> 24)):
            kernels.ieee_block_gemm(x, y, s, acc == _FLOAT32, c is not None, int(order), sa, sb,
                                    limit, bad, ieee_probe(np.float64), ok)
        if not ok.all():
            return _exact_blocks(a, b, c, acc, order, rounding, overflow, name)
        if bad.sum() > bad.size // 4:  # many block sums the bound cannot prove exact
            return _exact_blocks(a, b, c, acc, order, rounding, overflow, name)
        for i in np.flatnonzero(bad.any(axis=1)):  # those outputs, exactly, row by row
            cols = np.flatnonzero(bad[i])
            s[i, cols] = _block_row(a, b, c, x, y, start, i, cols, acc, order, rounding, overflow,
                                    name)
    return _ieee_codes(s, acc)


def _block_row(a, b, c, x, y, start, i, cols, acc, order, rounding, overflow, name):
    """Outputs (i, cols) of blocks into ``acc`` by an exact block engine: the
    core's block kernel on the values ``x``, ``y`` (binary32 accumulator,
    finite operands), else :func:`_exact_blocks` on those operands."""
    dtype = _IEEE[acc][0]
    xi, yi = x[i:i + 1].astype(np.float64), np.ascontiguousarray(y[:, cols], np.float64)
    if acc == _FLOAT32 and np.isfinite(xi).all() and np.isfinite(yi).all():
        codes = np.zeros((1, cols.size), np.uint64)
        if start is not None:
            codes[0] = start[i, cols].view(np.uint32)
        fail, before = _failure_record(1)
        with threads_for(1):
            kernels.core_block_gemm(xi, yi, codes, start is not None, acc.kernel_spec, int(order),
                                    np.int64(rounding.code), np.int64(overflow.code), fail, before)
        if not fail[:, 0].any():  # (no rounding into binary32 under 'ieee' fails)
            return codes[0].astype(np.uint32).view(np.float32)
    sub_c = None if c is None else broadcast(c, (x.shape[0], y.shape[1]))[i:i + 1, cols]
    sub = _exact_blocks(a[i:i + 1], b[:, cols], sub_c, acc, order, rounding, overflow, name)
    return np.asarray(sub.bits).view(dtype)[0]


def _exact_blocks(a, b, c, acc, order, rounding, overflow, name):
    if block_ok(a, b, acc, order):
        return block_engine(a, b, c, acc, order, rounding, overflow, name)
    return stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)


# ---------------------------------------------------------------- fixed accumulators
def fixed_ok(a, b, c, acc, order, rounding, overflow):
    """Can the integer kernel run it: fixed everything, every step exact
    before overflow handling (acc.frac >= product frac), fits in int64?"""
    if acc.is_float or a.fmt.is_float or b.fmt.is_float or rounding == Rounding.JAM:
        return False  # (jam changes exact values too: every step must see the core)
    if c is not None and c.fmt.is_float:
        return False
    pf = a.fmt.frac + b.fmt.frac
    shift = acc.frac - pf
    if shift < 0 or acc.width > 62 or a.fmt.width > 62 or b.fmt.width > 62:
        return False
    if order == "pairwise" and overflow != Overflow.WRAP:
        return False
    bound = (1 << (a.fmt.width + b.fmt.width + shift))
    block = a.shape[-1] if order == "pairwise" else (1 if order == "sequential" else order)
    return bound * max(block, 1) < 2**61


def fixed_engine(a, b, c, acc, order, rounding, overflow, name):
    m, n = a.shape[-2], b.shape[-1]
    shift = acc.frac - (a.fmt.frac + b.fmt.frac)
    if c is not None:
        try:
            start = ops.cast(broadcast(c, (m, n)), acc, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"c into the accumulator (acc={acc.name})") from None
        s = np.array(exact.signed_ints(start.bits, start.fmt, view=True), np.int64)
    else:
        s = np.zeros((m, n), np.int64)
    x, y = exact.signed_ints(a.bits, a.fmt, view=True), exact.signed_ints(b.bits, b.fmt, view=True)
    if overflow == Overflow.WRAP:  # wrapping is exact modulo 2**word: any order gives this
        total = exact.int_matmul(x, y)
        if total.dtype == object:
            total = (total << shift) + s
        else:  # int64 wraps modulo 2**64, a multiple of 2**word: still exact modulo 2**word
            total = (total.astype(np.int64) << np.int64(shift)) + s
        return wrap_codes(exact.codes_of_ints(np.asarray(total), acc, consume=True), acc)
    lo, hi = acc.int_min, acc.int_max  # the format's range (narrowed ones too)
    block = 1 if order == "sequential" else order
    over = np.zeros((m, n), np.uint8)
    clamp = overflow == Overflow.SATURATE
    # every value the loop holds is an integer of magnitude at most `reach`
    bound = exact.max_abs(x) * exact.max_abs(y) << shift
    reach = min(block, max(a.shape[-1], 1)) * bound + max(-lo, hi)
    dt = np.float32 if reach <= 2**24 else (np.float64 if reach <= 2**53 else np.int64)
    xs = np.require(x.astype(np.int64) << np.int64(shift), dt, ["C", "W"])
    y = np.require(y, dt, ["C", "W"])
    s = np.require(s, dt, ["C", "W"])
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 16))):
        kernels.fixed_acc_gemm(xs, y, s, block, dt(lo), dt(hi), clamp, over)
    s = s.astype(np.int64)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        where = tuple(int(t) for t in np.unravel_index(i, over.shape))
        raise OverflowError(f"{name}: the accumulator overflows format {acc.name} (range "
                            f"{acc.min} .. {acc.max}) at output {where} (order={order}, "
                            f"rounding={rounding.value}, overflow={overflow.value}); choose "
                            "overflow='saturate' or 'wrap', or a wider acc")
    return wrap_codes(exact.codes_of_ints(s, acc, consume=True), acc)


# ---------------------------------------------------------------- the core, sequential
def core_ok(a, b, acc, rounding, overflow):
    """Can the fused multiply-add kernel hold every step in 64-bit words?"""
    fast, _ = ops.kernel_plan(arith.FMA, (a.fmt, b.fmt, acc), acc, rounding, overflow, 1)
    return fast and a.shape[-1] > 1


def core_engine(a, b, c, acc, rounding, overflow, name):
    """Sequential accumulation in one kernel: each step an exact fma
    rounded once into ``acc`` by the core -- the same roundings as the
    stepwise engine, without a Python call per step."""
    m, n = a.shape[-2], b.shape[-1]
    try:
        if c is not None:
            start, k0 = ops.cast(broadcast(c, (m, n)), acc, rounding, overflow), 0
        else:  # round(p_0): the first product, rounded once
            start, k0 = ops.multiply(a[:, :1], b[:1, :], out=acc, rounding=rounding,
                                     overflow=overflow), 1
    except (ValueError, OverflowError):
        return stepwise(a, b, c, None, acc, "sequential", rounding, overflow, None, name)
    s = np.require(start.bits, np.uint64, ["C", "W"]).copy()
    _, need = ops.kernel_plan(arith.FMA, (a.fmt, b.fmt, acc), acc, rounding, overflow, 1)
    fail, before = _failure_record(m)
    x = np.require(a.bits, np.uint64, ["C", "W"])
    y = np.require(b.bits, np.uint64, ["C", "W"])
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 14))):
        kernels.core_seq_gemm(x, a.fmt.kernel_spec, y, b.fmt.kernel_spec, s, acc.kernel_spec, k0,
                              np.int64(rounding.code), np.int64(overflow.code),
                              np.int64(arith.WORD), np.int64(need), fail, before)
    failure = _first_failure(fail, before)
    if failure is not None:
        _raise_step_failure(a, b, acc, rounding, overflow, name, *failure)
    return wrap_codes(s, acc)


# ---------------------------------------------------------------- blocks of exact sums
def block_ok(a, b, acc, order):
    """Can the block kernel run it: a float accumulator of at most 51
    significand bits whose values are float64 values, operands whose values,
    products and block sums (with the accumulator) are exact in float64?
    (The engine also needs finite operands; it checks them itself.)"""
    if not isinstance(order, int) or order < 2 or not acc.is_float or acc.man > 50:
        return False
    pa, la, ta = value_range(a.fmt)
    pb, lb, tb = value_range(b.fmt)
    pc, lc, tc = value_range(acc)
    if pa > 53 or pb > 53 or pa + pb > 53 or lc < -1074 or tc > 1000:
        return False
    return la + lb >= -1074 and ta + tb + (order + 1).bit_length() <= 1000


def block_engine(a, b, c, acc, order, rounding, overflow, name):
    """Blocks of exact sums in one kernel (see _kernels.gemm.core_block_gemm)."""
    m, n = a.shape[-2], b.shape[-1]
    x = np.require(codec.decode(a.bits, a.fmt), np.float64, ["C", "W"])
    y = np.require(codec.decode(b.bits, b.fmt), np.float64, ["C", "W"])
    if not (np.isfinite(x).all() and np.isfinite(y).all()):  # inf/NaN products: the general engine
        return stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)
    if c is not None:
        try:
            start = ops.cast(broadcast(c, (m, n)), acc, rounding, overflow)
        except (ValueError, OverflowError):
            return stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)
        s = np.require(start.bits, np.uint64, ["C", "W"]).copy()
    else:
        s = np.zeros((m, n), np.uint64)
    fail, before = _failure_record(m)
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 14))):
        kernels.core_block_gemm(x, y, s, c is not None, acc.kernel_spec, int(order),
                                np.int64(rounding.code), np.int64(overflow.code), fail, before)
    failure = _first_failure(fail, before)
    if failure is not None:
        _raise_block_failure(a, b, c, acc, order, rounding, overflow, name, *failure)
    return wrap_codes(s, acc)


# ---------------------------------------------------------------- kernel failures
def _failure_record(m):
    """What the GEMM kernels fill when a rounding fails, one entry per output
    row i: ``fail[i] = (status, column j, step k)`` of the row's first
    failure in step order (smallest k, then j; status 0: none) -- for the
    block kernel k is the block's first step -- and ``before[i]``, the
    accumulator's code before that step."""
    return np.zeros((m, 3), np.int64), np.zeros(m, np.uint64)


def _first_failure(fail, before):
    """``(status, i, j, k, code before)`` of the first failure in the order
    the stepwise engine meets them (step k, then output (i, j)), or None."""
    rows = np.flatnonzero(fail[:, 0])
    if not rows.size:
        return None
    i = int(rows[np.lexsort((rows, fail[rows, 2]))[0]])
    status, j, k = (int(v) for v in fail[i])
    return status, i, j, k, int(before[i])


def _raise_step_failure(a, b, acc, rounding, overflow, name, status, i, j, k, before):
    """Raise the stepwise engine's error for sequential step ``k`` failing
    at output (i, j): that one step through the same call of :mod:`fxsim.ops`
    on (i + 1, j + 1) operands whose other entries cannot fail (the
    accumulator's value plus a zero product is that value), so the error
    names output (i, j) and the operands' values as the stepwise engine's."""
    m, n = a.shape[-2], b.shape[-1]
    shape = (i + 1, j + 1)
    s = wrap_codes(np.full(shape, before, exact.codes_dtype(acc)), acc)
    pfmt = product_format_or_none(a.fmt, b.fmt, acc.is_float)
    try:
        if pfmt is not None:  # stepwise: ops.add(s, the product, exact in pfmt)
            p = ops.multiply(a[i:i + 1, k:k + 1], b[k:k + 1, j:j + 1], out=pfmt)
            codes = np.zeros(shape, p.bits.dtype)  # code 0 of pfmt (IEEE-like or fixed): +0
            codes[i, j] = p.bits[0, 0]
            ops.add(s, wrap_codes(codes, pfmt), out=acc, rounding=rounding, overflow=overflow)
        elif exact.code_value(0, a.fmt) == 0 or exact.code_value(0, b.fmt) == 0:
            x = np.zeros(shape, a.bits.dtype)  # stepwise: ops.fma(a, b, s); code 0 times
            y = np.zeros(shape, b.bits.dtype)  # code 0 is a zero product
            x[i, j], y[i, j] = a.bits[i, k], b.bits[k, j]
            ops.fma(wrap_codes(x, a.fmt), wrap_codes(y, b.fmt), s, out=acc, rounding=rounding,
                    overflow=overflow)
        # not reached (the step fails); the kernel's report as it stands:
        value = exact.code_value(before, acc) + \
            exact.code_value(a.bits[i, k], a.fmt) * exact.code_value(b.bits[k, j], b.fmt)
        runtime.raise_failure(status, i * n + j, (m, n), acc, rounding, overflow, value, name)
    except (ValueError, OverflowError) as err:
        raise step_error(err, name, f"step k={k} (acc={acc.name}, order=sequential)") from None


def _raise_block_failure(a, b, c, acc, order, rounding, overflow, name, status, i, j, k0, before):
    """Raise the stepwise engine's error for the block starting at ``k0``
    failing at output (i, j): the exact block sum (with the accumulator's
    value before it, unless the first block starts alone) rounded into
    ``acc`` failed as :func:`fxsim.exact.round_sum` reports it (a lone first
    product is cast, as the stepwise engine casts it)."""
    m, n = a.shape[-2], b.shape[-1]
    k1 = min(k0 + order, a.shape[-1])
    products = [exact.code_value(a.bits[i, t], a.fmt) * exact.code_value(b.bits[t, j], b.fmt)
                for t in range(k0, k1)]
    alone = c is None and k0 == 0
    value = sum(products, Fraction(0) if alone else exact.code_value(before, acc))
    op, what = name, f"block k={k0}..{k1 - 1} (acc={acc.name})"
    if alone and k1 - k0 == 1:
        op, what = "cast", f"k=0 (acc={acc.name}, order={order})"
    try:
        runtime.raise_failure(status, i * n + j, (m, n), acc, rounding, overflow, value, op)
    except (ValueError, OverflowError) as err:
        raise step_error(err, name, what) from None
