"""Elementwise arithmetic on QArrays: exact where it can be, rounded once
where it cannot.

* Fixed point grows exactly (:func:`add`, :func:`subtract`,
  :func:`multiply`, :func:`negative`, :func:`absolute`, :func:`sum`,
  :func:`dot` without ``out=``): a sum has ``frac = max(fa, fb)`` and one
  more integer bit than the wider operand (an unsigned operand counts one
  bit more when the result is signed; a difference is signed); a product
  has ``word = wa + wb`` and ``frac = fa + fb``; a sum of n terms grows by
  ``ceil(log2(n))`` bits.  Nothing is rounded.
* Everything else -- float operands, or any ``out=`` format -- is the exact
  result rounded once into the output format by the core
  (``_kernels.core.round_code``), under one of the fourteen rounding modes and an
  overflow policy: :func:`add`, :func:`subtract`, :func:`multiply`,
  :func:`divide`, :func:`fma` (``a * b + c``, one rounding), :func:`sqrt`,
  :func:`cast`.  IEEE 754 rules for NaN, inf and signed zeros; the NaN an
  operation produces is the format's canonical NaN with the sign bit clear
  (a cast, like encode, keeps a NaN's sign).
* Default ``out`` for floats: the wider operand format (one that holds the
  other's values), else ``FloatFormat(max exp, max man)``.

Operands are QArrays, numpy arrays (float16/32/64 and integer arrays are
read exactly, in their own formats), or Python scalars, which take the
other operand's format (as numpy's weak scalars) and must be exact in it.

Engines, in the order :func:`_rounded` tries them:

1. the machine's IEEE 754 arithmetic (``elementwise.hardware``) for add,
   sub, mul, div, sqrt and fma in float16/float32/float64 under
   ``nearest_even`` with the ``ieee`` overflow policy, where it provably
   gives the core's result (:func:`hardware_plan` says when and why);
2. binary operations on two codes of at most 16 bits together: a table of
   the kernel's answers;
3. the Numba kernel, which computes each exact result in 64-bit words with
   a sticky bit (``arith.py`` says when that is exact) and rounds it by the
   core;
4. operands or outputs the kernel cannot hold (formats wider than 64 bits,
   precisions above ~60 bits, fixed outputs that wrap) run the same source
   on Python ints.
"""
from __future__ import annotations

import builtins
import functools
import math
import numbers
from fractions import Fraction

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from . import array, codec, exact, runtime
from . import formats as _formats
from ._kernels import arith, core
from ._kernels import elementwise as kernels
from ._kernels.jit import kernel_array, last_threads, threads_for
from .array import QArray, asarray, bits_dtype, wrap_codes
from .modes import Overflow, Rounding

_OP_NAMES = {v: k for k, v in arith.OPS.items()}


# ---------------------------------------------------------------- operands
def as_operand(x, like=None, op="add"):
    """A QArray for ``x``; Python scalars take ``like``'s format, exactly."""
    if isinstance(x, QArray):
        return x
    if isinstance(x, numbers.Number) and not isinstance(x, np.generic):  # weak, as in numpy
        if like is None:
            raise ValueError(f"{op}: a Python number needs an array operand to take its format "
                             f"from; use fxsim.asarray({x!r}, fmt)")
        q = asarray(x, like.fmt, "toward_zero")
        got = q.to_exact()[()]
        if isinstance(x, float) and not math.isfinite(x):
            same = isinstance(got, float) and (got == x or (got != got and x != x))
        else:
            same = not isinstance(got, float) and got == Fraction(x)
        if not same:
            raise ValueError(f"{op}: {x!r} is not exactly representable in format {like.fmt.name}; "
                             f"round it first with fxsim.asarray({x!r}, fmt, rounding=...)")
        return q
    arr = np.asarray(x)
    if arr.dtype.kind in "fiu" and arr.dtype in runtime.SOURCES:
        return asarray(arr)
    raise ValueError(f"{op}: cannot use {type(x).__name__} of dtype {arr.dtype} as an operand; "
                     "give QArrays (fxsim.asarray(x, fmt)) or float/int numpy arrays")


def _precision(fmt) -> int:
    """Significant bits of a code's magnitude."""
    return fmt.man + 1 if fmt.is_float else fmt.word


def format_contains(big, small) -> bool:
    """Does every value (and special) of ``small`` exist in ``big``?"""
    if not (big.is_float and small.is_float):
        return False
    if small.has_inf and not big.has_inf or small.has_nan and not big.has_nan:
        return False
    if small.signed and not big.signed:
        return False
    small_tiny = small.emin - (small.man if small.subnormals else 0)
    big_tiny = big.emin - (big.man if big.subnormals else 0)
    if not big.subnormals and small.subnormals and small.emin - small.man < big.emin:
        return False
    return (big.man >= small.man and big.emax >= small.emax and big_tiny <= small_tiny
            and big.emin - big.man <= small.emin - small.man)


def result_format(*fmts, op="add"):
    """The format an operation returns when no ``out=`` is given."""
    fmts = [_formats.format(f) for f in fmts]
    if fmts[0].is_float and all(f is fmts[0] for f in fmts):
        return fmts[0]  # the common case, answered before the general search
    if all(not f.is_float for f in fmts) and op in ("add", "sub", "mul"):
        return grown_format(op, *fmts)
    if not all(f.is_float for f in fmts):
        names = ", ".join(f.name for f in fmts)
        raise ValueError(f"{op} of formats {names} has no exact result format; "
                         f"give out= (e.g. out='float32' or out='s16.8') and a rounding mode")
    for f in fmts:
        if all(format_contains(f, g) or f == g for g in fmts):
            return f
    exp = max(f.exp for f in fmts)
    man = max(f.man for f in fmts)
    special = "ieee" if any(f.has_inf for f in fmts) else \
        ("fn" if any(f.has_nan for f in fmts) else "finite")
    if exp + man + 1 > 64:
        raise ValueError(f"{op}: the common format e{exp}m{man} of "
                         f"{', '.join(f.name for f in fmts)} is wider than 64 bits; give out=")
    return _formats.FloatFormat(exp, man, special=special)


def grown_format(op, fa, fb):
    """The exact result format of fixed-point add/sub/mul."""
    if op == "mul":
        return _formats.FixedFormat(fa.word + fb.word, fa.frac + fb.frac,
                                    signed=fa.signed or fb.signed)
    frac = max(fa.frac, fb.frac)
    ia, ib = fa.word - fa.frac, fb.word - fb.frac
    if not (fa.signed or fb.signed):
        integer, signed = max(ia, ib) + 1, op == "sub"
    else:
        integer, signed = max(ia + (not fa.signed), ib + (not fb.signed)) + 1, True
    return _formats.FixedFormat(integer + frac, frac, signed=signed)


# ---------------------------------------------------------------- fixed, exact
def _fixed_exact(op, a: QArray, b: QArray) -> QArray:
    fmt = grown_format(op, a.fmt, b.fmt)
    shape = _broadcast_shape(op, (a, b), " (exact fixed point)")
    if op == "mul":
        sa = sb = 0
    else:
        sa, sb = fmt.frac - a.fmt.frac, fmt.frac - b.fmt.frac
    if fmt.width <= 64 and a.fmt.width <= 64 and b.fmt.width <= 64:
        x, y = (_flat(q, shape) for q in (a, b))
        out = np.empty(x.size, bits_dtype(fmt))
        sign = [np.uint64(1 << (q.fmt.width - 1) if q.fmt.signed else 0) for q in (a, b)]
        kernels.fixed_exact({"add": 0, "sub": 1, "mul": 2}[op], x, sign[0], np.uint64(sa), y,
                            sign[1], np.uint64(sb), np.uint64((1 << fmt.width) - 1), out)
        return wrap_codes(out.reshape(shape), fmt)
    x = exact.signed_ints(a.bits, a.fmt).astype(object) * (1 << sa)
    y = exact.signed_ints(b.bits, b.fmt).astype(object) * (1 << sb)
    z = x + y if op == "add" else (x - y if op == "sub" else x * y)
    return wrap_codes(exact.codes_of_ints(np.asarray(z, dtype=object), fmt), fmt)


# ---------------------------------------------------------------- rounded
def kernel_plan(op, fmts, out, rounding, overflow, R):
    """``(numba?, need)``: can the 64-bit kernel compute this exactly, and
    how many result bits rounding needs (``nbits`` of div/sqrt)."""
    need = _precision(out) + (R if rounding.is_stochastic else 1) + 1
    ok = (out.width <= 64 and need <= 60
          and all(f.width <= 64 and _precision(f) <= 62 for f in fmts)
          and not (not out.is_float and overflow == Overflow.WRAP))
    if op == arith.FMA:
        ok = ok and _precision(fmts[0]) + _precision(fmts[1]) <= 62
    return ok, need


#: The IEEE formats the machine computes in, by width.
_MACHINE = {16: _formats.float16, 32: _formats.float32, 64: _formats.float64}
_HARDWARE_OPS = (arith.ADD, arith.SUB, arith.MUL, arith.DIV, arith.SQRT, arith.FMA)


def _is_machine(fmt) -> bool:
    machine = _MACHINE.get(fmt.width)
    return fmt is machine or fmt == machine


def hardware_plan(op, fmts, out, rounding, overflow):
    """The numpy dtype (float32 or float64) the machine's IEEE 754
    arithmetic computes ``op`` in, when that gives exactly the core's
    result; else None.

    Served: ``rounding="nearest_even"``, ``overflow="ieee"`` (the default of
    these formats), operands and output each exactly float16, float32 or
    float64 (the formats, not look-alikes: same bias, subnormals, inf and
    NaN), and

    * out float64: any operands (each is exact in float64), computed in
      float64;
    * out float32: float16/float32 operands (exact in float32), computed in
      float32;
    * out float16: float16 operands, computed in float32 and rounded once
      more, to nearest even, into float16 (not fma).

    Why this is the core's result.  IEEE 754 makes +, -, *, /, sqrt and
    fusedMultiplyAdd of exact operands the exact result rounded once to
    nearest even, with the core's rules for signed zeros, inf and invalid
    operations; overflow gives inf; the NaN a result gets is replaced by the
    format's positive canonical NaN (the core's default NaN: no payload or
    sign of an operand NaN survives).  fma is LLVM's ``llvm.fma``, fused by
    definition.  For float16 the float32 result is rounded twice, which is
    innocuous: for p-bit operands and an intermediate precision p' >= 2p + 2
    (here 24 >= 2*11 + 2) rounding to nearest first to p' and then to p
    bits gives the correctly rounded p-bit result of +, -, *, / and sqrt
    (S. A. Figueroa, "When is double rounding innocuous?", ACM SIGNUM
    Newsletter 30(3), 1995).  Figueroa's argument assumes unbounded
    exponents; float32's range holds every float16 result (no float32
    overflow or subnormal: |results| lie in [2**-48, 2**40] or are 0, inf,
    NaN), and float16's own ends are safe: overflow to inf at 65520 is the
    midpoint rule of the unbounded binade above 65504; in the subnormal range
    sums and differences are exact in float32 (multiples of 2**-24 below
    2**-14), products of two 11-bit significands are exact in float32, square
    roots are at least 2**-12, and a quotient q = A*2**ea / (B*2**eb) below
    2**-14 (integers 0 < A, B < 2**11) that is not a midpoint (2m+1)*2**-25
    lies more than 2**(min(ea, eb-25) - eb - 11) from every midpoint, which
    is more than half an ulp of float32 at q, so rounding to float32 cannot
    move q onto a midpoint (``tests/test_ops_hardware.py``
    checks every float16 code against the core).  The float32 -> float16
    step is integer arithmetic, independent of the FPU's mode.

    The FPU's mode.  The results above assume the default floating-point
    environment; libraries may switch a thread's x86 MXCSR to flush-to-zero
    or denormals-are-zero (or change its rounding direction).  The kernel
    checks, in every chunk on the thread that computes it, that a subnormal
    operand and a subnormal result survive and that two ties round to even
    (``elementwise.default_mode``); if any chunk fails, every result is
    discarded and the core computes them instead."""
    if rounding != Rounding.NEAREST_EVEN or overflow != Overflow.IEEE \
            or op not in _HARDWARE_OPS or not all(map(_is_machine, fmts + (out,))):
        return None
    if out.width == 64:
        return np.dtype(np.float64)
    if out.width == 16 and (op == arith.FMA or any(f.width != 16 for f in fmts)):
        return None
    return np.dtype(np.float32) if all(f.width <= 32 for f in fmts) else None


def _machine_input(q, shape, n):
    """The codes of ``q`` broadcast to ``shape``: a read-only C-contiguous flat
    array, float32/float64 for those formats, uint16 codes for float16 (one
    dtype and flag per format, so the kernel compiles once for each)."""
    bits = q.bits if q.shape == shape else np.broadcast_to(q.bits, shape)
    x = np.ascontiguousarray(bits).reshape(n)
    x = x if q.fmt.width == 16 else x.view(np.float32 if q.fmt.width == 32 else np.float64)
    x.flags.writeable = False
    return x


def _hardware(op, operands, shape, out, dtype):
    """The codes the machine's arithmetic gives (see :func:`hardware_plan`),
    or None if some thread's FPU is not in its default mode."""
    n = math.prod(shape)
    inputs = [_machine_input(q, shape, n) for q in operands]
    while len(inputs) < 3:
        inputs.append(inputs[0])
    codes = np.empty(n, bits_dtype(out))
    target = codes if out.width == 16 else codes.view(np.float32 if out.width == 32 else np.float64)
    status, _ = runtime.chunk_status(n)
    # Threads only for work that pays for waking them, also on a busy machine
    # (where a second thread may wait milliseconds for a core): ~2M elements
    # per thread of a memory-bound loop, ~512k of float16 (decoded and
    # rounded in integer arithmetic, ~1.4 ns each).
    direct = out.width > 16 and all(q.fmt.width == out.width for q in operands)
    with threads_for(max(1, n // (1 << (21 if direct else 19)))):
        kernel = kernels.hardware if last_threads() > 1 else kernels.hardware_serial
        kernel(np.int64(op), *inputs, kernels.fpu_probe(dtype), target, status)
    return None if status.any() else codes


def _fail(status, i, shape, op, operands, out, rounding, overflow):
    where = f"at index {runtime.format_index(i, shape)}"
    modes = f"(rounding={rounding.value}, overflow={overflow.value})"
    args = ", ".join(f"{_value_str(q, i, shape)} ({q.fmt.name})" for q in operands)
    name = _OP_NAMES[op]
    if status == core.ERR_NAN:
        raise ValueError(f"{name}({args}) {where} is NaN, which format {out.name} cannot hold "
                         f"{modes}; choose an out format with NaN or remove NaN/inf inputs")
    if status == core.ERR_INF:
        raise ValueError(f"{name}({args}) {where} is infinite; fixed-point format {out.name} has "
                         f"no infinity {modes}")
    raise OverflowError(f"{name}({args}) {where} overflows format {out.name} (range {out.min} .. "
                        f"{out.max}) {modes}; choose overflow='saturate' to clamp instead")


def _value_str(q, i, shape):
    """The value of operand ``q`` at flat index ``i`` of the broadcast ``shape``."""
    code = int(np.broadcast_to(q.bits, shape).reshape(-1)[i])
    value = exact.code_value(code, q.fmt)
    return str(value)


def _broadcast_shape(name, operands, detail=""):
    """The broadcast shape; ``detail`` (a string, or a function giving one,
    called only for the error) ends the error message."""
    if all(q.shape == operands[0].shape for q in operands):
        return operands[0].shape
    try:
        return np.broadcast_shapes(*(q.shape for q in operands))
    except ValueError:
        shapes = " and ".join(f"{q.shape} ({q.fmt.name})" for q in operands)
        detail = detail if isinstance(detail, str) else detail()
        raise ValueError(f"{name}: operand shapes {shapes} do not broadcast{detail}") from None


def _flat(q, shape, dtype=None):
    """A kernel input: the operand's codes broadcast to ``shape``, flat."""
    bits = q.bits if q.shape == shape else np.broadcast_to(q.bits, shape)
    return kernel_array(bits, dtype)


@functools.lru_cache(maxsize=64)
def _table(op, fa, fb, out, rounding, overflow, nan_fill=None):
    """The kernel's answer for every pair of codes (``a << wb | b``);
    ``nan_fill``: the NaN policy's code (``runtime.nan_fill``)."""
    wb = fb.width
    index = np.arange(1 << (fa.width + wb), dtype=np.uint64)
    a = index >> np.uint64(wb)
    b = index & np.uint64((1 << wb) - 1)
    codes = np.empty(index.size, np.uint64)
    each = np.zeros(index.size, np.uint8)
    status, where = runtime.chunk_status(index.size)
    _, need = kernel_plan(op, (fa, fb), out, rounding, overflow, 1)
    with threads_for(status.size):
        kernels.arith(np.int64(op), a, fa.kernel_spec, b, fb.kernel_spec, a, fa.kernel_spec,
                      core.with_nan_fill(out.kernel_spec, nan_fill), np.int64(rounding.code),
                      np.int64(overflow.code), np.empty(0, np.uint64), np.int64(1),
                      np.int64(arith.WORD), np.int64(need),
                      codes, status, where, each)
    table = codes.astype(bits_dtype(out))
    table.flags.writeable = False
    each.flags.writeable = False
    return table, each


def _python_engine(op, operands, shape, out, rounding, overflow, rnd, R, need, nan_fill=None):
    """The same computation on Python ints (any width, any precision)."""
    spec = core.with_nan_fill(out.exact_spec, nan_fill)
    flats = [np.broadcast_to(q.bits, shape).reshape(-1) for q in operands]
    n = int(np.prod(shape, dtype=np.int64))
    codes = np.empty(n, dtype=object if out.width > 64 else np.uint64)
    down = rounding == Rounding.DOWN
    base = max(64, need + 4, *(2 * _precision(q.fmt) + 4 for q in operands))
    for i in range(n):
        parts = [core.split_code(int(f[i]), q.fmt.exact_spec) for f, q in zip(flats, operands)]
        while len(parts) < 3:
            parts.append(parts[0])
        W = base
        if not out.is_float:  # keep every bit down to the rounding point
            span = builtins.sum(abs(M.bit_length() + E) for _, M, E, _ in parts)
            W = base + span + max(out.frac, 0) + R
        neg, M, E, sticky, cls = arith.exact_result(op, *parts[0], *parts[1], *parts[2], W, W, down)
        r = int(rnd[i]) if len(rnd) else 0
        code, status = core.round_code(bool(neg), M, E, sticky, cls, spec, rounding.code,
                                       overflow.code, r, R)
        if status:
            _fail(status, i, shape, op, operands, out, rounding, overflow)
        codes[i] = code
    return codes


def _rounded(op, operands, out, rounding, overflow, rng, random, random_bits, nan=None):
    out = _formats.format(out)
    rounding, overflow = runtime.resolve_modes(out, rounding, overflow)
    fill = runtime.nan_fill(out, nan, rounding, overflow)  # (None for IEEE outs: they have NaN)
    shape = _broadcast_shape(_OP_NAMES[op], operands, lambda: f" (out={out.name}, rounding="
                             f"{rounding.value}, overflow={overflow.value})")
    rnd = runtime.random_source(rounding, shape, rng, random, random_bits, out, overflow)
    fmts = tuple(q.fmt for q in operands)
    fast, need = kernel_plan(op, fmts, out, rounding, overflow, random_bits)
    # the machine specializes the kernel engine (fma of float64 factors, which
    # the 64-bit kernel leaves to Python ints, too)
    machine = hardware_plan(op, fmts, out, rounding, overflow) \
        if fast or op == arith.FMA else None
    if machine is not None:
        codes = _hardware(op, operands, shape, out, machine)
        if codes is not None:
            return wrap_codes(codes.reshape(shape), out)
    n = int(np.prod(shape, dtype=np.int64))
    if fast and len(operands) == 2 and not rounding.is_stochastic \
            and fmts[0].width + fmts[1].width <= 16:
        table, table_status = _table(op, fmts[0], fmts[1], out, rounding, overflow, fill)
        a, b = (_flat(q, shape) for q in operands)
        codes = np.empty(n, table.dtype)
        status, where = runtime.chunk_status(n)
        with threads_for(status.size):
            kernels.lookup2(table, table_status, a, b, np.int64(fmts[1].width), codes, status,
                            where)
    elif fast:
        flats = [_flat(q, shape, np.uint64) for q in operands]
        specs = [q.fmt.kernel_spec for q in operands]
        while len(flats) < 3:
            flats.append(flats[0])
            specs.append(specs[0])
        codes = np.empty(n, np.uint64)
        status, where = runtime.chunk_status(n)
        with threads_for(status.size):
            kernels.arith(np.int64(op), flats[0], specs[0], flats[1], specs[1], flats[2], specs[2],
                          core.with_nan_fill(out.kernel_spec, fill), np.int64(rounding.code),
                          np.int64(overflow.code), rnd,
                          np.int64(random_bits), np.int64(arith.WORD), np.int64(need), codes,
                          status, where, np.empty(0, np.uint8))
    else:
        codes = _python_engine(op, operands, shape, out, rounding, overflow, rnd, random_bits,
                               need, fill)
        status = np.zeros(1, np.int64)
        where = status
    failure = runtime.first_failure(status, where)
    if failure is not None:
        _fail(failure[0], failure[1], shape, op, operands, out, rounding, overflow)
    return wrap_codes(codes.reshape(shape), out)


def _binary(name, a, b, out, rounding, overflow, rng, random, random_bits, nan=None):
    a = as_operand(a, b if isinstance(b, QArray) else None, name)
    b = as_operand(b, a, name)
    if out is None:
        if not a.fmt.is_float and not b.fmt.is_float and name in ("add", "sub", "mul"):
            if rng is not None or random is not None:
                raise ValueError(f"{name}: fixed-point {name} is exact; rng=/random= need out=")
            return _fixed_exact(name, a, b)
        out = result_format(a.fmt, b.fmt, op=name)
    return _rounded(arith.OPS[name], (a, b), out, rounding, overflow, rng, random, random_bits, nan)


# ---------------------------------------------------------------- public API
_KW_DOC = """
    out : format or str, optional
        The result format (default: see the module docstring).
    rounding : str or Rounding
        One of the fourteen modes; the exact result is rounded once.
    overflow : str or Overflow, optional
        Default: the out format's.
    nan : str or int, optional
        What a NaN result becomes in an out format without NaN, as in
        :func:`fxsim.encode` (default: a ValueError).
    rng, random, random_bits
        Random source of the stochastic modes, as in :func:`fxsim.encode`.
"""


def add(a, b, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
        random=None, random_bits=32) -> QArray:
    """``a + b``: exact for fixed point without ``out``; otherwise the exact
    sum rounded once.  x + (-x) is +0 (-0 when rounding ``down``).
    """
    return _binary("add", a, b, out, rounding, overflow, rng, random, random_bits, nan)


def subtract(a, b, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
             random=None, random_bits=32) -> QArray:
    """``a - b``: exact for fixed point without ``out`` (the result is
    signed); otherwise the exact difference rounded once."""
    return _binary("sub", a, b, out, rounding, overflow, rng, random, random_bits, nan)


def multiply(a, b, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
             random=None, random_bits=32) -> QArray:
    """``a * b``: exact for fixed point without ``out`` (``word = wa + wb``,
    ``frac = fa + fb``); otherwise the exact product rounded once."""
    return _binary("mul", a, b, out, rounding, overflow, rng, random, random_bits, nan)


def divide(a, b, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
           random=None, random_bits=32) -> QArray:
    """``a / b``, the exact quotient rounded once (fixed point needs
    ``out=``).  x/0 is ±inf, 0/0 and inf/inf are NaN."""
    return _binary("div", a, b, out, rounding, overflow, rng, random, random_bits, nan)


def fma(a, b, c, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
        random=None, random_bits=32) -> QArray:
    """``a * b + c`` with one rounding (fused multiply-add)."""
    like = next((x for x in (a, b, c) if isinstance(x, QArray)), None)
    a, b, c = (as_operand(x, like, "fma") for x in (a, b, c))
    out = result_format(a.fmt, b.fmt, c.fmt, op="fma") if out is None else out
    return _rounded(arith.FMA, (a, b, c), out, rounding, overflow, rng, random, random_bits, nan)


def sqrt(a, out=None, rounding="nearest_even", overflow=None, *, nan=None, rng=None,
         random=None, random_bits=32) -> QArray:
    """The square root rounded once; sqrt(-0) = -0, sqrt(x < 0) = NaN."""
    a = as_operand(a, None, "sqrt")
    out = result_format(a.fmt, op="sqrt") if out is None else out
    return _rounded(arith.SQRT, (a,), out, rounding, overflow, rng, random, random_bits, nan)


for _f in (add, subtract, multiply, divide, fma, sqrt):
    _f.__doc__ += _KW_DOC
sub, mul, div = subtract, multiply, divide


def cast(a, fmt, rounding="nearest_even", overflow=None, *, nan=None, rng=None, random=None,
         random_bits=32) -> QArray:
    """``a`` rounded once into ``fmt`` (any two formats, fixed or float).

    ``a`` is a QArray, or numbers as :func:`fxsim.asarray` takes them.
    ``nan``: what NaN becomes in a ``fmt`` without NaN (see
    :func:`fxsim.encode`)."""
    if not isinstance(a, QArray):
        if nan is None:
            return asarray(a, fmt, rounding, overflow, rng=rng, random=random,
                           random_bits=random_bits)
        fmt = _formats.format(fmt)
        codes = codec.encode(a, fmt, rounding, overflow, nan=nan, rng=rng, random=random,
                             random_bits=random_bits)
        return wrap_codes(np.array(codes, dtype=bits_dtype(fmt)), fmt)
    fmt = _formats.format(fmt)
    rounding, overflow = runtime.resolve_modes(fmt, rounding, overflow)
    fill = runtime.nan_fill(fmt, nan, rounding, overflow)
    shape = a.shape
    rnd = runtime.random_source(rounding, shape, rng, random, random_bits, fmt, overflow)
    flat = a.bits.reshape(-1)
    if a.fmt.width <= 64 and fmt.width <= 64:
        codes, failure = codec.convert(flat, a.fmt, fmt, rounding, overflow, rnd,
                                       random_bits, np.uint64, nan_fill=fill)
    else:
        spec = core.with_nan_fill(fmt.exact_spec, fill)
        codes = np.empty(flat.size, dtype=bits_dtype(fmt) if fmt.width > 64 else np.uint64)
        failure = None
        for i, c in enumerate(flat):
            neg, M, E, cls = core.split_code(int(c), a.fmt.exact_spec)
            r = int(rnd[i]) if len(rnd) else 0
            code, status = core.round_code(bool(neg), M, E, False, cls, spec, rounding.code,
                                           overflow.code, r, random_bits)
            if status:
                failure = (status, i)
                break
            codes[i] = code
    if failure is not None:
        runtime.raise_failure(failure[0], failure[1], shape, fmt, rounding, overflow,
                    exact.code_value(int(flat[failure[1]]), a.fmt), "cast")
    return wrap_codes(codes.reshape(shape), fmt)


def negative(a) -> QArray:
    """``-a``, exact: a float flips its sign bit (fnuz zero and NaN stay);
    fixed point grows one bit (``-min`` needs it) and is signed."""
    a = as_operand(a, None, "negative")
    fmt = a.fmt
    if fmt.is_float:
        if not fmt.signed:
            raise ValueError(f"negative: format {fmt.name} has no sign")
        sign = 1 << (fmt.width - 1)
        bits = a.bits ^ a.bits.dtype.type(sign)
        if fmt.special == "fnuz":  # 0 stays 0; the NaN (the -0 pattern) stays NaN
            bits = np.where((a.bits & a.bits.dtype.type(sign - 1)) == 0, a.bits, bits)
        return wrap_codes(np.asarray(bits), fmt)
    out = _formats.FixedFormat(fmt.word + 1, fmt.frac)
    return wrap_codes(exact.codes_of_ints(-_signed_ints_wide(a, out), out), out)


def absolute(a) -> QArray:
    """``|a|``, exact (fixed point grows as :func:`negative`)."""
    a = as_operand(a, None, "absolute")
    fmt = a.fmt
    if fmt.is_float:
        if not fmt.signed:
            return a
        sign = a.bits.dtype.type(1 << (fmt.width - 1))
        bits = a.bits & ~sign
        if fmt.special == "fnuz":  # the NaN pattern is the sign bit alone
            bits = np.where(a.bits == sign, a.bits, bits)
        return wrap_codes(np.asarray(bits), fmt)
    out = _formats.FixedFormat(fmt.word + 1, fmt.frac)
    return wrap_codes(exact.codes_of_ints(abs(_signed_ints_wide(a, out)), out), out)


def _signed_ints_wide(a, out):
    v = exact.signed_ints(a.bits, a.fmt)
    return v.astype(object) if out.width > 63 and v.dtype != object else v


# ---------------------------------------------------------------- sum, dot
def sum(a, axis=None, out=None, rounding="nearest_even", overflow=None):  # noqa: A001
    """Exact sum along ``axis`` (None: all elements).

    Fixed point without ``out``: exact, ``ceil(log2(n))`` more integer bits.
    Otherwise the exact sum rounded once into ``out`` (default: ``a``'s
    format), with IEEE 754's rules for NaN, inf and the sign of zero."""
    a = as_operand(a, None, "sum")
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
    t = exact.terms(a.bits, a.fmt)
    if not a.fmt.is_float and out is None:
        n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
        grown = _formats.FixedFormat(a.fmt.word + max(n - 1, 0).bit_length(), a.fmt.frac,
                                     signed=a.fmt.signed)
        return wrap_codes(exact.codes_of_ints(np.asarray(exact.int_sum(t.ints, axes)), grown), grown)
    out = a.fmt if out is None else _formats.format(out)
    return wrap_codes(exact.round_sum(t, axes, out, rounding, overflow, "sum"), out)


def dot(a, b, out=None, rounding="nearest_even", overflow=None):
    """Exact dot product over the last axis: exact products, exact sum.

    Fixed point without ``out``: exact (the product format, grown by
    ``ceil(log2(k))`` bits).  Otherwise rounded once into ``out`` (default:
    :func:`result_format` of the operands)."""
    a = as_operand(a, b if isinstance(b, QArray) else None, "dot")
    b = as_operand(b, a, "dot")
    if a.shape[-1:] != b.shape[-1:]:
        raise ValueError(f"dot: the last axes differ: shapes {a.shape} and {b.shape}")
    if not a.fmt.is_float and not b.fmt.is_float and out is None:
        return sum(_fixed_exact("mul", a, b), axis=-1)
    out = result_format(a.fmt, b.fmt, op="dot") if out is None else _formats.format(out)
    shape = _broadcast_shape("dot", (a, b))
    ta, tb = (exact.Terms(*(np.broadcast_to(x, shape) if isinstance(x, np.ndarray) else x
                            for x in t)) for t in (exact.terms(a.bits, a.fmt), exact.terms(b.bits, b.fmt)))
    codes = exact.round_sum(exact.product_terms(ta, tb), (len(shape) - 1,), out, rounding, overflow,
                            "dot")
    return wrap_codes(codes, out)


# QArray's operators call these (fxsim.array does not import this module).
array.OPERATORS.update(negative=negative, absolute=absolute, add=add, subtract=subtract,
                       multiply=multiply, divide=divide, cast=cast)
