"""Encode numbers into bit patterns of a format, and decode them back.

Both directions are one rounding by the core (``_round.round_code``):
encoding rounds the exact input value into the format; decoding rounds the
exact value of a code into float64, which is exact whenever float64 holds
the format's values (every preset does) and correctly rounded otherwise.

Exactness of inputs: float16/32/64 arrays are read bit by bit (a float64 is
rounded once, directly -- never through float32); integer arrays of every
dtype are exact, also beyond 2**53; Python ints, Fractions and Decimals are
exact (they take the exact Python path, as do formats wider than 64 bits).
"""
from __future__ import annotations

import decimal
import functools
import numbers
from fractions import Fraction

import numpy as np

from . import _codec_kernels as kernels
from . import _round as core
from . import formats as _formats
from ._jit import CHUNK, kernel_array, threads_for
from .modes import Overflow, Rounding, overflow_mode, rounding_mode

# The exact format of each numpy dtype the fast path reads, and the unsigned
# dtype its bit patterns are viewed as.
_SOURCES = {
    np.dtype(np.float16): (np.uint16, _formats.float16),
    np.dtype(np.float32): (np.uint32, _formats.float32),
    np.dtype(np.float64): (np.uint64, _formats.float64),
    np.dtype(np.bool_): (np.uint8, _formats.uint8),
}
for _bits in (8, 16, 32, 64):
    _u = np.dtype(f"uint{_bits}")
    _SOURCES[np.dtype(f"int{_bits}")] = (_u, _formats.FixedFormat(_bits, 0))
    _SOURCES[_u] = (_u, _formats.FixedFormat(_bits, 0, signed=False))


def resolve_modes(fmt, rounding, overflow):
    """Parse and check a (rounding, overflow) pair for ``fmt``; ``overflow``
    None means the format's default."""
    rounding = rounding_mode(rounding)
    overflow = fmt.default_overflow if overflow is None else overflow_mode(overflow)
    if overflow not in fmt.overflows:
        choices = ", ".join(o.value for o in fmt.overflows)
        raise ValueError(f"overflow={overflow.value!r} is not available for format {fmt.name} "
                         f"(rounding={rounding.value}); choose one of: {choices}")
    return rounding, overflow


def _index(flat: int, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _fail(status: int, flat: int, shape, fmt, rounding, overflow, value, op: str):
    """Raise the documented error for a failed element."""
    where = f"at index {_index(flat, shape)}"
    modes = f"(rounding={rounding.value}, overflow={overflow.value})"
    if status == core.ERR_NAN:
        raise ValueError(f"{op}: NaN {where} has no code in format {fmt.name} {modes}: "
                         "the format has no NaN; replace NaNs first (e.g. numpy.nan_to_num)")
    if status == core.ERR_INF:
        raise ValueError(f"{op}: {value} {where} cannot be encoded in fixed-point format {fmt.name} "
                         f"{modes}: fixed point has no infinity; clip the input first")
    if status == core.ERR_OVERFLOW:
        raise OverflowError(f"{op}: value {value} {where} overflows format {fmt.name} "
                            f"(range {fmt.min} .. {fmt.max}) {modes}; "
                            "choose overflow='saturate' to clamp instead")
    raise ValueError(f"{op}: code {value} {where} does not fit format {fmt.name} "
                     f"({fmt.width} bits) {modes}")


def _random_bits(rounding, shape, rng, random, random_bits: int, fmt, overflow):
    """The flat uint64 array of random integers for a stochastic mode (empty
    for the other modes)."""
    if isinstance(random_bits, bool) or not isinstance(random_bits, (int, np.integer)) \
            or not 1 <= random_bits <= 64:
        raise ValueError(f"random_bits must be an integer from 1 to 64, got {random_bits!r} "
                         f"(format {fmt.name}, rounding={rounding.value})")
    if not rounding.is_stochastic:
        if rng is not None or random is not None:
            raise ValueError(f"rng= and random= are only used by the stochastic modes; "
                             f"rounding={rounding.value} is deterministic (format {fmt.name})")
        return np.empty(0, np.uint64)
    if (rng is None) == (random is None):
        raise ValueError(f"rounding={rounding.value} needs exactly one random source: rng= (a seed "
                         f"or numpy.random.Generator) or random= (integers in [0, 2**{random_bits})) "
                         f"(format {fmt.name})")
    size = int(np.prod(shape, dtype=np.int64))
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        return rng.integers(0, (1 << random_bits) - 1, size=size, dtype=np.uint64, endpoint=True)
    ints = np.asarray(random)
    if ints.dtype.kind not in "iuO":
        raise ValueError(f"random= must hold integers, got dtype {ints.dtype} "
                         f"(format {fmt.name}, rounding={rounding.value})")
    try:
        ints = np.broadcast_to(ints, shape)
    except ValueError:
        raise ValueError(f"random= of shape {ints.shape} does not broadcast to the input's shape "
                         f"{tuple(shape)} (format {fmt.name}, rounding={rounding.value})") from None
    flat = ints.ravel()
    bad = np.flatnonzero([not (0 <= int(v) < (1 << random_bits)) for v in flat]) \
        if flat.dtype.kind == "O" else \
        np.flatnonzero((flat < 0) | (flat.astype(np.uint64) > np.uint64((1 << random_bits) - 1)))
    if bad.size:
        raise ValueError(f"random= value {flat[bad[0]]} at index {_index(bad[0], shape)} is not in "
                         f"[0, 2**{random_bits}) (format {fmt.name}, rounding={rounding.value}, "
                         f"overflow={overflow.value})")
    return np.ascontiguousarray(flat.astype(np.uint64))


def _run_convert(src_flat, src_fmt, dst_fmt, rounding, overflow, rnd, R, out_dtype):
    """Run the conversion kernel; returns (out, first_failure or None)."""
    # One kernel specialization serves every source: codes are widened to
    # uint64 (compiling the inlined core takes tens of seconds per type).
    src_flat = kernel_array(src_flat, np.uint64)
    n = src_flat.size
    out = np.empty(n, np.uint64)
    status, where = _chunk_status(n)
    with threads_for(status.size):
        kernels.convert(src_flat, src_fmt._specs[0], dst_fmt._specs[0], np.int64(rounding.code),
                        np.int64(overflow.code), rnd, np.int64(R), out, status, where,
                        np.empty(0, np.uint8))
    return out.view(out_dtype), _first_failure(status, where)


def _chunk_status(n):
    nchunks = max(1, -(-n // CHUNK))
    return np.zeros(nchunks, np.int64), np.zeros(nchunks, np.int64)


def _first_failure(status, where):
    failed = np.flatnonzero(status)
    return (int(status[failed[0]]), int(where[failed[0]])) if failed.size else None


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
    status, where = _chunk_status(index.size)
    with threads_for(status.size):
        kernels.convert(src, src_fmt._specs[0], dst_fmt._specs[0], np.int64(rounding.code),
                        np.int64(overflow.code), np.empty(0, np.uint64), np.int64(1), table,
                        status, where, table_status)
    table.flags.writeable = False
    table_status.flags.writeable = False
    return table, table_status


def _run_table(src_flat, src_fmt, dst_fmt, rounding, overflow, shift):
    table, table_status = _encode_table(src_fmt, dst_fmt, rounding, overflow, shift)
    out = np.empty(src_flat.size, np.uint64)
    status, where = _chunk_status(src_flat.size)
    with threads_for(status.size):
        kernels.lookup(table, table_status, kernel_array(src_flat), np.int64(shift), out,
                       status, where)
    return out, _first_failure(status, where)


# ---------------------------------------------------------------- exact path
def exact_value(x):
    """``(neg, M, E, cls, rational)`` of one Python/numpy number, exactly."""
    if isinstance(x, (np.floating, float)) and not isinstance(x, np.longdouble):
        x = float(x)
        if x != x:
            return np.signbit(x), 0, 0, core.NAN_CLASS, None
        if x in (float("inf"), float("-inf")):
            return x < 0, 0, 0, core.INF, None
        neg = bool(np.signbit(x))
        x = Fraction(x)
    elif isinstance(x, np.longdouble):
        if np.isnan(x):
            return bool(np.signbit(x)), 0, 0, core.NAN_CLASS, None
        if np.isinf(x):
            return bool(x < 0), 0, 0, core.INF, None
        neg = bool(np.signbit(x))
        x = Fraction(*x.as_integer_ratio())
    elif isinstance(x, (bool, np.bool_)):
        neg, x = False, Fraction(int(x))
    elif isinstance(x, (numbers.Rational, np.integer)):
        x = Fraction(int(x)) if isinstance(x, np.integer) else Fraction(x)
        neg = x < 0
    elif isinstance(x, decimal.Decimal):
        if x.is_nan():
            return x.is_signed(), 0, 0, core.NAN_CLASS, None
        if x.is_infinite():
            return x.is_signed(), 0, 0, core.INF, None
        neg, x = x.is_signed(), Fraction(x)
    else:
        raise ValueError(f"cannot encode {x!r} of type {type(x).__name__}: "
                         "give numbers (floats, ints, Fractions, Decimals)")
    a = abs(x)
    den = a.denominator
    if den & (den - 1) == 0:  # a dyadic rational: M * 2**E exactly
        return neg, a.numerator, -(den.bit_length() - 1), core.FINITE, x
    return neg, None, None, core.FINITE, x


def _dyadic_with_sticky(a: Fraction, fmt, R: int):
    """``(M, E, sticky)`` with ``M * 2**E <= a < (M + 1) * 2**E`` and at least
    ``R + 2`` bits of ``M`` below any rounding point ``fmt`` can use."""
    p, q = a.numerator, a.denominator
    e = p.bit_length() - q.bit_length()
    if (p << max(-e, 0)) < (q << max(e, 0)):
        e -= 1  # now 2**e <= a < 2**(e+1)
    if fmt.is_float:
        quantum = min(e, fmt.emin) - fmt.man
    else:
        quantum = -fmt.frac
    E = quantum - R - 2
    num, den = (p << -E, q) if E <= 0 else (p, q << E)
    M, rem = divmod(num, den)
    return M, E, rem != 0


def encode_exact(values, fmt, rounding, overflow, rnd, R, shape):
    """Encode a flat sequence of numbers on the exact (Python int) engine."""
    spec = fmt._specs[1]
    wide = fmt.width > 64
    out = np.empty(len(values), dtype=object if wide else np.uint64)
    for i, x in enumerate(values):
        neg, M, E, cls, rational = exact_value(x)
        sticky = False
        if cls == core.FINITE and M is None:
            M, E, sticky = _dyadic_with_sticky(abs(rational), fmt, R)
        r = int(rnd[i]) if len(rnd) else 0
        code, status = core.round_code(bool(neg), M, E, sticky, cls, spec, rounding.code,
                                       overflow.code, r, R)
        if status:
            _fail(status, i, shape, fmt, rounding, overflow, x, "encode")
        out[i] = code
    return out


# ---------------------------------------------------------------- public API
def _as_input_array(x):
    """An ndarray for the fast path, or an object array for the exact path."""
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x, dtype=object)
    flat = arr.ravel()
    if all(isinstance(v, (float, np.floating)) and not isinstance(v, np.longdouble) for v in flat):
        return arr.astype(np.float64)
    if all(isinstance(v, (int, np.integer)) and -(1 << 63) <= v < (1 << 63) for v in flat):
        return arr.astype(np.int64)
    return arr


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
    arr = _as_input_array(x)
    shape = arr.shape
    rnd = _random_bits(rounding, shape, rng, random, random_bits, fmt, overflow)
    source = _SOURCES.get(arr.dtype)
    if source is not None and fmt.width <= 64:
        view, src_fmt = source
        flat = np.ascontiguousarray(arr).reshape(-1).view(view)
        shift = _table_shift(src_fmt, fmt, rounding)
        if shift is not None:
            out, failure = _run_table(flat, src_fmt, fmt, rounding, overflow, shift)
        else:
            out, failure = _run_convert(flat, src_fmt, fmt, rounding, overflow, rnd, random_bits,
                                        np.uint64)
        if failure is not None:
            status, i = failure
            _fail(status, i, shape, fmt, rounding, overflow, arr.reshape(-1)[i], "encode")
    else:
        out = encode_exact(list(arr.reshape(-1)), fmt, rounding, overflow, rnd, random_bits, shape)
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


@functools.lru_cache(maxsize=64)
def _decode_table(fmt) -> np.ndarray:
    """float64 value of every code of a format of at most 16 bits."""
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    table, failure = _run_convert(codes, fmt, _formats.float64, Rounding.NEAREST_EVEN,
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
                             f"{_index(negative[0], arr.shape)} is negative; codes of format "
                             f"{fmt.name} are unsigned integers below 2**{fmt.width}")
        arr = arr.view(f"uint{arr.dtype.itemsize * 8}")
    return arr


def _exact_of_code(code: int, fmt):
    neg, M, E, cls = core.split_code(int(code), fmt._specs[1])
    if cls == core.NAN_CLASS:
        return float("nan")
    if cls == core.INF:
        return float("-inf") if neg else float("inf")
    value = M * Fraction(2) ** E
    return -value if neg else value


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
                _fail(kernels.ERR_CODE, i, shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                      code, "decode")
            values.append(_exact_of_code(code, fmt))
        if exact:
            out = np.empty(len(values), dtype=object)
            out[:] = values
        else:
            out = np.array([float(v) if isinstance(v, float) else _fraction_to_float64(v)
                            for v in values], dtype=np.float64)
    elif fmt.width <= 16:
        table = _decode_table(fmt)
        flat = kernel_array(flat)
        out = np.empty(flat.size, np.float64)
        status, where = _chunk_status(flat.size)
        with threads_for(status.size):
            kernels.gather(table, flat, out, status, where)
        bad = np.flatnonzero(status)
        if bad.size:
            i = int(where[bad[0]])
            _fail(kernels.ERR_CODE, i, shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                  flat[i], "decode")
    else:
        out, failure = _run_convert(np.ascontiguousarray(flat), fmt, _formats.float64,
                                    Rounding.NEAREST_EVEN, Overflow.IEEE, np.empty(0, np.uint64),
                                    1, np.float64)
        if failure is not None:
            _fail(failure[0], failure[1], shape, fmt, Rounding.NEAREST_EVEN, Overflow.IEEE,
                  flat[failure[1]], "decode")
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def _fraction_to_float64(value: Fraction) -> float:
    """Round an exact value to float64 by the core (nearest even)."""
    code = encode_exact([value], _formats.float64, Rounding.NEAREST_EVEN, Overflow.IEEE, [], 1, ())
    return float(np.array(code[0], dtype=np.uint64).view(np.float64))


def quantize(x, fmt, rounding="nearest_even", overflow=None, *, rng=None, random=None,
             random_bits=32):
    """``decode(encode(x, ...), fmt)``: ``x`` rounded onto ``fmt``, as float64."""
    fmt = _formats.format(fmt)
    return decode(encode(x, fmt, rounding, overflow, rng=rng, random=random,
                         random_bits=random_bits), fmt)
