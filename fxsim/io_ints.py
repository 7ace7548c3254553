"""Integer views of codes and values, for testbenches (cocotb) and scripts.

* :func:`to_ints` -- the codes as nested Python ints: unsigned (the bits a
  register holds, ``0 .. 2**width - 1``) or, with ``signed=True``, the same
  bits read as a ``width``-bit two's complement integer (what a
  ``logic signed [W-1:0]`` signal holds: int8's code 0xe4 reads -28).
* :func:`from_ints` -- codes from such ints; negative ints are taken as two's
  complement for signed formats (``from_ints([-3], "int8")`` is code 0xfd).
* :func:`codes_of` -- the same conversion for numpy arrays (used by the file
  writers, so that ``write_memh(np.int8([-1, 2]), "int8")`` works).
* :func:`int_values` -- the exact *values* of a QArray whose values are all
  integers (the output of an integer matmul, ``s32.0``; a float format
  holding whole numbers), as int64 or Python ints, never through float64.

Nothing here rounds: every conversion is exact or refused with a
ValueError naming the format and the first offending index.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import exact, runtime
from . import formats as _formats
from .array import QArray, wrap_codes

__all__ = ["codes_of", "from_ints", "int_values", "to_ints"]


def _as_qarray(q, fmt, what):
    if isinstance(q, QArray):
        if fmt is not None and _formats.format(fmt) != q.fmt:
            raise ValueError(f"{what}: the QArray is in format {q.fmt.name}, not the format "
                             f"{_formats.format(fmt).name} given")
        return q
    if fmt is None:
        raise ValueError(f"{what}: give fmt= for raw integer codes (or pass a QArray)")
    return from_ints(q, fmt, what=what)


def _intify(x):
    return [_intify(v) for v in x] if isinstance(x, list) else int(x)


def to_ints(q, fmt=None, *, signed=False):
    """The codes of ``q`` as nested Python lists of ints (a 0-d array: one int).

    ``signed=False``: the unsigned code, ``0 .. 2**width - 1``.
    ``signed=True``: the same bits as a ``width``-bit two's complement
    integer, ``-2**(width-1) .. 2**(width-1) - 1`` (any format: for a float
    it is the bit pattern read as a signed integer, not the value).

    ``q`` is a QArray, or integer codes together with ``fmt``."""
    q = _as_qarray(q, fmt, "to_ints")
    if not signed:
        return _intify(q.bits.tolist())
    signed_fmt = _formats.FixedFormat(q.fmt.width, 0, signed=True)
    return _intify(exact.signed_ints(q.bits, signed_fmt).tolist())


def codes_of(values, fmt, *, signed=None, what="from_ints") -> np.ndarray:
    """Codes (``fmt``'s code dtype) of integers ``values`` (array-like).

    ``signed=None`` (default): non-negative ints are codes
    (``0 .. 2**width - 1``); negative ints, allowed only when ``fmt`` is
    signed, are two's complement (``-2**(width-1) .. -1``).
    ``signed=True``: every int is a two's complement integer in
    ``[-2**(width-1), 2**(width-1))`` (any format).  ``signed=False``: every
    int is a code in ``[0, 2**width)``.

    A ValueError names the format and the first offending index."""
    fmt = _formats.format(fmt)
    if signed not in (None, True, False):
        raise ValueError(f"{what}: signed must be None, True or False, got {signed!r}")
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    w = fmt.width
    neg_ok = fmt.signed if signed is None else signed
    lo = -(1 << (w - 1)) if neg_ok else 0
    hi = (1 << (w - 1)) if signed else (1 << w)
    if signed:
        rule = f"[-2**{w - 1}, 2**{w - 1}) (signed=True)"
    elif neg_ok:
        rule = f"[-2**{w - 1}, 2**{w}) (a code, or a negative two's complement integer)"
    else:
        rule = f"[0, 2**{w})" + ("" if signed is False else " (an unsigned format)")
    flat = arr.reshape(-1)
    if arr.dtype.kind in "iu" and arr.dtype != object:
        bad = np.zeros(flat.shape, dtype=bool)
        if arr.dtype.kind == "i":
            bad |= flat < max(lo, int(np.iinfo(arr.dtype).min))
        if hi <= np.iinfo(arr.dtype).max:
            bad |= flat >= hi
        first = np.flatnonzero(bad)
        if first.size:
            i = int(first[0])
            raise ValueError(f"{what}: {flat[i]} at index {runtime.format_index(i, arr.shape)} is "
                             f"not in {rule} for format {fmt.name}")
        return exact.codes_of_ints(flat.astype(np.int64) if arr.dtype.kind == "i" and w <= 64
                                   else flat, fmt).reshape(arr.shape)
    ints = []
    for i, v in enumerate(flat.tolist() if arr.dtype != object else flat):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
                or not lo <= int(v) < hi:
            raise ValueError(f"{what}: {v!r} at index {runtime.format_index(i, arr.shape)} is not "
                             f"an integer in {rule} for format {fmt.name}")
        ints.append(int(v) & ((1 << w) - 1))
    out = np.empty(len(ints), dtype=object)
    out[:] = ints
    dt = exact.codes_dtype(fmt)
    return (out if dt == object else out.astype(np.uint64).astype(dt)).reshape(arr.shape)


def from_ints(values, fmt, *, signed=None, what="from_ints") -> QArray:
    """A QArray of ``fmt`` from integer codes (nested lists or an array);
    negative ints are two's complement when ``fmt`` is signed (see
    :func:`codes_of` for ``signed``).  Every int is checked."""
    fmt = _formats.format(fmt)
    return wrap_codes(np.array(codes_of(values, fmt, signed=signed, what=what)), fmt)


def int_values(q, *, dtype=None) -> np.ndarray:
    """The exact values of ``q``, all integers, as integers: an int64 array
    when every value fits int64, else an object array of Python ints
    (``dtype=object`` forces Python ints).  No float64 on the way: a
    ``s48.0`` matmul result comes out digit for digit.

    A value that is not an integer (a fraction, NaN, inf) is refused with a
    ValueError naming the format and its index.  Negative zero gives 0."""
    if not isinstance(q, QArray):
        raise ValueError("int_values: give a QArray (fxsim.from_bits(codes, fmt))")
    if dtype not in (None, object, np.int64):
        raise ValueError(f"int_values: dtype must be None, numpy.int64 or object, got {dtype!r}")
    fmt = q.fmt
    if not fmt.is_float:
        n = exact.signed_ints(q.bits, fmt)            # value = n * 2**-frac
        if fmt.frac > 0:
            step = 1 << fmt.frac
            bad = [i for i, v in enumerate(np.reshape(n, -1).tolist()) if int(v) % step]
            if bad:
                raise ValueError(_not_integer(q, bad[0]))
            values = np.asarray(np.frompyfunc(lambda v: int(v) >> fmt.frac, 1, 1)(n), dtype=object)
        elif fmt.frac < 0:
            values = np.asarray(np.frompyfunc(lambda v: int(v) << -fmt.frac, 1, 1)(n), dtype=object)
        else:
            values = n
    else:
        out = []
        for i, v in enumerate(q.to_exact().reshape(-1).tolist()):
            if not isinstance(v, Fraction) or v.denominator != 1:
                raise ValueError(_not_integer(q, i))
            out.append(int(v))
        values = np.empty(len(out), dtype=object)
        values[:] = out
        values = values.reshape(q.shape)
    values = np.asarray(values)
    if dtype is object:
        return np.asarray(np.frompyfunc(int, 1, 1)(values), dtype=object).reshape(q.shape) \
            if values.dtype != object else values
    if values.dtype == object:
        flat = values.reshape(-1).tolist()
        if all(-(1 << 63) <= int(v) < (1 << 63) for v in flat):
            return np.array(flat, dtype=np.int64).reshape(q.shape)
        if dtype is np.int64:
            raise ValueError(f"int_values: a value of format {fmt.name} does not fit int64; "
                             "use dtype=object")
    return values


def _not_integer(q, i):
    value = q.to_exact().reshape(-1)[i]
    return (f"int_values: the value {value} at index {runtime.format_index(i, q.shape)} is not an "
            f"integer (format {q.fmt.name}); use q.to_exact() for exact fractions")
