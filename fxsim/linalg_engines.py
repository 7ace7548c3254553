"""The kernel engines of :func:`fxsim.matmul`: each computes one 2-d product
``c + a @ b`` in one Numba kernel (:mod:`fxsim._kernels.gemm`), exactly to
the accumulation contract stated in :mod:`fxsim.linalg` -- which checks
the arguments and chooses the engine -- where its test ``*_ok`` says so:

* :func:`hardware_engine` -- the machine's own binary32/binary64 additions
  when every product is exact in them (round to nearest even);
* :func:`fixed_engine` -- fixed accumulators whose steps need no rounding,
  in integer lanes (or float lanes proven exact);
* :func:`core_engine` -- sequential accumulation, each step an exact fused
  multiply-add rounded once by the core;
* :func:`block_engine` -- blocks of products summed exactly as float64
  expansions, rounded once per block by the core.

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
def _exact_in(fmt, hw):
    """Is every value of ``fmt`` (a product format) exact in ``hw``?"""
    if not fmt.is_float:
        return False
    return ops.format_contains(hw, fmt) or fmt == hw


def hardware_ok(a, b, acc, order, rounding, overflow):
    if order != "sequential" or rounding != Rounding.NEAREST_EVEN:
        return False
    if acc not in (_FLOAT32, _FLOAT64) or overflow != acc.default_overflow:
        return False
    if not (a.fmt.is_float and b.fmt.is_float):
        return False
    hw = acc
    return (_exact_in(a.fmt, hw) and _exact_in(b.fmt, hw)
            and _exact_in(product_format(a.fmt, b.fmt), hw))


def hardware_engine(a, b, c, acc, rounding, overflow):
    dtype = np.float32 if acc == _FLOAT32 else np.float64
    x = np.require(codec.decode(a.bits, a.fmt), dtype, ["C", "W"]).astype(dtype, copy=False)
    y = np.require(codec.decode(b.bits, b.fmt), dtype, ["C", "W"]).astype(dtype, copy=False)
    m, n, k = x.shape[0], y.shape[1], x.shape[1]
    if c is not None:
        start = ops.cast(broadcast(c, (m, n)), acc, rounding, overflow)
        s = np.array(codec.decode(start.bits, acc), dtype)
        first = 0
    elif k:
        s = np.multiply.outer(x[:, 0], y[0]).astype(dtype)   # exact products
        first = 1
    else:
        s = np.zeros((m, n), dtype)
        first = 0
    x = np.require(x, dtype, ["C", "W"])
    y = np.require(y, dtype, ["C", "W"])
    with threads_for(max(1, m * n * k // (1 << 16))):
        kernels.hardware_seq_gemm(x, y, s, first)
    s[np.isnan(s)] = np.nan  # the canonical NaN, sign bit clear
    return wrap_codes(codec.encode(s, acc, "nearest_even"), acc)


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
