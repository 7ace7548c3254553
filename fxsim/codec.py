"""Encode numbers into bit patterns of a format, and decode them back.

Both directions are one rounding by the core (``_kernels.core.round_code``):
encoding rounds the exact input value into the format; decoding rounds the
exact value of a code into float64, which is exact whenever float64 holds
the format's values (every preset does) and correctly rounded otherwise.

Exactness of inputs: float16/32/64 arrays are read bit by bit (a float64 is
rounded once, directly -- never through float32); integer arrays of every
dtype are exact, also beyond 2**53; Python ints, Fractions and Decimals are
exact (they take the exact Python path, as do formats wider than 64 bits).
"""
from __future__ import annotations

import functools

import numpy as np

from . import runtime
from . import formats as _formats
from ._kernels import convert as kernels
from ._kernels.jit import kernel_array, threads_for
from .exact import code_value, encode_values, input_array, to_float64
from .exact import exact_value  # noqa: F401  (public here before fxsim.exact existed)
from .modes import Overflow, Rounding
from .runtime import resolve_modes  # noqa: F401  (public here since the start)


def convert(src_flat, src_fmt, dst_fmt, rounding, overflow, rnd, R, out_dtype):
    """Run the conversion kernel: the codes ``src_flat`` of ``src_fmt``, each
    rounded once into ``dst_fmt``; returns ``(out, first failure or None)``
    (see ``runtime.first_failure``).  ``rnd``/``R``: the random integers of a
    stochastic mode (``runtime.random_source``)."""
    # One kernel specialization serves every source: codes are widened to
    # uint64 (compiling the inlined core takes tens of seconds per type).
    src_flat = kernel_array(src_flat, np.uint64)
    n = src_flat.size
    out = np.empty(n, np.uint64)
    status, where = runtime.chunk_status(n)
    with threads_for(status.size):
        kernels.convert(src_flat, src_fmt.kernel_spec, dst_fmt.kernel_spec, np.int64(rounding.code),
                        np.int64(overflow.code), rnd, np.int64(R), out, status, where,
                        np.empty(0, np.uint8))
    return out.view(out_dtype), runtime.first_failure(status, where)


# ---------------------------------------------------------------- tables
# For narrow inputs the core's answer depends on few input bits, so a table
# of the core's answers serves as the kernel.  A float32 keeps its top 16
# bits (sign, exponent, 7 fraction bits) and whether any of the other 16 is
# set, when every rounding point the target can use lies above those 16
# bits: a float target with at most 6 fraction bits whose finest spacing is
# at least 2**-132.  The table holds the core's answer for the code with
# those top bits and low bits 0, and for the one with low bits 1 (which
# stands for every nonzero low part: same round bit, sticky set, and the
# same NaN/inf class).  A float16 keeps all its bits.  Stochastic modes
# need the low bits themselves and never use a table.

def _table_shift(src_fmt, dst_fmt, rounding):
    """How many low bits of a source code the table drops (None: no table)."""
    if rounding.is_stochastic or dst_fmt.width > 64:
        return None
    if src_fmt == _formats.float16:
        return 0
    if src_fmt == _formats.float32 and dst_fmt.is_float and dst_fmt.man <= 6:
        finest = dst_fmt.emin - (dst_fmt.man if dst_fmt.subnormals else 0)
        if finest >= -132:
            return 16
    return None


@functools.lru_cache(maxsize=64)
def _encode_table(src_fmt, dst_fmt, rounding, overflow, shift):
    """The core's code and status for every (top bits, sticky) input pattern."""
    index = np.arange(1 << (src_fmt.width - shift + 1), dtype=np.uint64)
    src = ((index >> np.uint64(1)) << np.uint64(shift)) | (index & np.uint64(1 if shift else 0))
    table = np.empty(index.size, np.uint64)
    table_status = np.zeros(index.size, np.uint8)
    status, where = runtime.chunk_status(index.size)
    with threads_for(status.size):
        kernels.convert(src, src_fmt.kernel_spec, dst_fmt.kernel_spec, np.int64(rounding.code),
                        np.int64(overflow.code), np.empty(0, np.uint64), np.int64(1), table,
                        status, where, table_status)
    table.flags.writeable = False
    table_status.flags.writeable = False
    return table, table_status


def _run_table(src_flat, src_fmt, dst_fmt, rounding, overflow, shift):
    table, table_status = _encode_table(src_fmt, dst_fmt, rounding, overflow, shift)
    out = np.empty(src_flat.size, np.uint64)
    status, where = runtime.chunk_status(src_flat.size)
    with threads_for(status.size):
        kernels.lookup(table, table_status, kernel_array(src_flat), np.int64(shift), out,
                       status, where)
    return out, runtime.first_failure(status, where)


# ---------------------------------------------------------------- public API
def encode(x, fmt, rounding="nearest_even", overflow=None, *, rng=None, random=None,
           random_bits=32):
    """Bit patterns of ``x`` in format ``fmt``: each value rounded once.

    Parameters
    ----------
    x : array_like
        float16/32/64 or integer arrays (exact), Python ints, Fractions,
        Decimals (exact, on the Python path).
    fmt : FixedFormat, FloatFormat or str
        The target format (a name is parsed by ``fxsim.format``).
    rounding : str or Rounding
        One of the fourteen modes of :class:`fxsim.Rounding`.
    overflow : str or Overflow, optional
        Default: the format's (saturate for fixed point; ml_dtypes' choice
        for floats).
    rng : int or numpy.random.Generator, optional
        Random source for the stochastic modes (draws ``random_bits`` bits per
        element, in C order): same seed, same bits.
    random : array_like of int, optional
        Your own random integers in ``[0, 2**random_bits)`` (e.g. an LFSR's
        output), broadcast to ``x``'s shape.
    random_bits : int
        ``R``: stochastic rounding rounds up iff
        ``floor(f * 2**R) + r >= 2**R``.

    Returns
    -------
    numpy.ndarray of uint64 (object array of Python ints for formats wider
    than 64 bits), of ``x``'s shape; a scalar for scalar input.

    Raises
    ------
    ValueError
        NaN into a format without NaN, inf into fixed point, bad modes.
    OverflowError
        Out-of-range values under ``overflow="raise"``.
    """
    fmt = _formats.format(fmt)
    rounding, overflow = resolve_modes(fmt, rounding, overflow)
    arr = input_array(x)
    shape = arr.shape
    rnd = runtime.random_source(rounding, shape, rng, random, random_bits, fmt, overflow)
    source = runtime.SOURCES.get(arr.dtype)
    if source is not None and fmt.width <= 64:
        view, src_fmt = source
        flat = np.ascontiguousarray(arr).reshape(-1).view(view)
        shift = _table_shift(src_fmt, fmt, rounding)
        if shift is not None:
            out, failure = _run_table(flat, src_fmt, fmt, rounding, overflow, shift)
        else:
            out, failure = convert(flat, src_fmt, fmt, rounding, overflow, rnd, random_bits,
                                        np.uint64)
        if failure is not None:
            status, i = failure
            runtime.raise_failure(status, i, shape, fmt, rounding, overflow, arr.reshape(-1)[i], "encode")
    else:
        out = encode_values(list(arr.reshape(-1)), fmt, rounding, overflow, rnd, random_bits, shape)
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


@functools.lru_cache(maxsize=64)
def _decode_table(fmt) -> np.ndarray:
    """float64 value of every code of a format of at most 16 bits."""
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    table, failure = convert(codes, fmt, _formats.float64, Rounding.NEAREST_EVEN,
                                  Overflow.IEEE, np.empty(0, np.uint64), 1, np.float64)
    assert failure is None
    table.flags.writeable = False
    return table


def _as_bits_array(bits, fmt):
    arr = np.asarray(bits) if isinstance(bits, np.ndarray) else np.asarray(bits, dtype=object)
    if arr.dtype == object:
        flat = arr.ravel()
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in flat):
            raise ValueError(f"decode: bits for format {fmt.name} must be integers")
        if fmt.width <= 64 and all(0 <= v < (1 << 64) for v in flat):
            arr = arr.astype(np.uint64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"decode: bits for format {fmt.name} must be integers, got dtype {arr.dtype}; "
                         "to round numbers into the format use fxsim.encode")
    if arr.dtype.kind == "i":
        negative = np.flatnonzero(arr.ravel() < 0)
        if negative.size:
            raise ValueError(f"decode: code {arr.ravel()[negative[0]]} at index "
                             f"{runtime.format_index(negative[0], arr.shape)} is negative; codes of format "
                             f"{fmt.name} are unsigned integers below 2**{fmt.width}")
        arr = arr.view(f"uint{arr.dtype.itemsize * 8}")
    return arr


def decode(bits, fmt, *, exact=False):
    """Values of the bit patterns ``bits`` in format ``fmt``.

    Returns float64 (NaN and inf where the format has them).  Each value is
    exact wherever float64 holds the format's values (all presets, every
    fixed format whose codes have at most 53 significant bits and whose
    values stay in float64's range); otherwise it is the correctly rounded
    (nearest-even) float64.  With ``exact=True`` returns an object array of
    ``fractions.Fraction`` (float NaN/inf for those codes; the sign of a
    zero is not kept).  Codes must be integers in ``[0, 2**width)``.
    """
    fmt = _formats.format(fmt)
    arr = _as_bits_array(bits, fmt)
    shape = arr.shape
    flat = arr.reshape(-1)
    if exact or arr.dtype == object:
        values = []
        for i, code in enumerate(flat):
            if not 0 <= int(code) < (1 << fmt.width):
                runtime.raise_failure(kernels.ERR_CODE, i, shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                      code, "decode")
            values.append(code_value(code, fmt))
        if exact:
            out = np.empty(len(values), dtype=object)
            out[:] = values
        else:
            out = np.array([float(v) if isinstance(v, float) else to_float64(v)
                            for v in values], dtype=np.float64)
    elif fmt.width <= 16:
        table = _decode_table(fmt)
        flat = kernel_array(flat)
        out = np.empty(flat.size, np.float64)
        status, where = runtime.chunk_status(flat.size)
        with threads_for(status.size):
            kernels.gather(table, flat, out, status, where)
        bad = np.flatnonzero(status)
        if bad.size:
            i = int(where[bad[0]])
            runtime.raise_failure(kernels.ERR_CODE, i, shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                  flat[i], "decode")
    else:
        out, failure = convert(np.ascontiguousarray(flat), fmt, _formats.float64,
                                    Rounding.NEAREST_EVEN, Overflow.IEEE, np.empty(0, np.uint64),
                                    1, np.float64)
        if failure is not None:
            runtime.raise_failure(failure[0], failure[1], shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                  flat[failure[1]], "decode")
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def quantize(x, fmt, rounding="nearest_even", overflow=None, *, rng=None, random=None,
             random_bits=32):
    """``decode(encode(x, ...), fmt)``: ``x`` rounded onto ``fmt``, as float64."""
    fmt = _formats.format(fmt)
    return decode(encode(x, fmt, rounding, overflow, rng=rng, random=random,
                         random_bits=random_bits), fmt)
