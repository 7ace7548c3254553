"""Encode numbers into bit patterns of a format, and decode them back.

Both directions are one rounding by the core (``_kernels.core.round_code``):
encoding rounds the exact input value into the format; decoding rounds the
exact value of a code into float64, which is exact whenever float64 holds
the format's values (every preset does) and correctly rounded otherwise.

Exactness of inputs: float16/32/64 arrays are read bit by bit (a float64 is
rounded once, directly -- never through float32); integer arrays of every
dtype are exact, also beyond 2**53; Python ints, Fractions and Decimals are
exact (they take the exact Python path, as do formats wider than 64 bits).

Codes are returned in the smallest unsigned dtype that holds the format's
width (``fxsim.exact.codes_dtype``: uint8 for 8-bit formats, ..., uint64;
object arrays of Python ints beyond 64 bits), the dtype of ``QArray.bits``;
the kernels write that dtype directly.

Engines (:func:`engine` chooses; all give the core's codes and errors):

* ``convert``, the general kernel: ``split_code`` of the source code, then
  ``round_code`` -- every source dtype, every format up to 64 bits, every
  mode (the only one for the stochastic modes and integer inputs).
* ``table``: float16 inputs, and float32 inputs into float formats of at
  most 6 fraction bits, under a deterministic mode: one lookup per element
  in a table of the core's answers (see ``_table_shift``).
* ``fixed``: float32/float64 into fixed point under a deterministic mode:
  one pass that scales by ``2**frac`` in float64 (exact), reads the integer
  part, round and sticky bits and lets the core's decision table round
  (``kernels.float_to_fixed``); NaN, inf and magnitudes of ``2**63`` units
  or more go to ``convert``.
* decoding formats of at most 16 bits gathers from a table of the core's
  float64 values (codes read in their own dtype, no copy); wider formats
  run ``convert`` into float64.
"""
from __future__ import annotations

import functools

import numpy as np

from . import runtime
from . import formats as _formats
from ._kernels import convert as kernels
from ._kernels import core
from ._kernels.jit import CHUNK, threads_for
from .exact import code_value, codes_dtype, encode_values, input_array, to_float64
from .exact import exact_value  # noqa: F401  (public here before fxsim.exact existed)
from .modes import Overflow, Rounding
from .runtime import resolve_modes  # noqa: F401  (public here since the start)


def convert(src_flat, src_fmt, dst_fmt, rounding, overflow, rnd, R, out_dtype, out=None,
            nan_fill=None):
    """Run the general conversion kernel: the codes ``src_flat`` (any
    unsigned dtype) of ``src_fmt``, each rounded once into ``dst_fmt`` by the
    core; returns ``(out, first failure or None)`` (see
    ``runtime.first_failure``).  ``out`` has dtype ``out_dtype``: an unsigned
    integer dtype that holds ``dst_fmt``'s codes (the kernel writes it
    directly), or float64 for ``dst_fmt == float64`` (the codes, viewed).
    ``rnd``/``R``: the random integers of a stochastic mode
    (``runtime.random_source``).  ``out``: a contiguous 1-d array of
    ``out_dtype`` to write into (default: a new one).  ``nan_fill``: the
    code NaN becomes in a ``dst_fmt`` without NaN (``runtime.nan_fill``;
    None: an error)."""
    src_flat = np.ascontiguousarray(src_flat).reshape(-1)
    n = src_flat.size
    out_dtype = np.dtype(out_dtype)
    if out is None:
        out = np.empty(n, np.uint64 if out_dtype.kind == "f" else out_dtype)
    status, where = runtime.chunk_status(n)
    with threads_for(status.size):
        kernels.convert(src_flat, src_fmt.kernel_spec,
                        core.with_nan_fill(dst_fmt.kernel_spec, nan_fill), np.int64(rounding.code),
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
def _encode_table(src_fmt, dst_fmt, rounding, overflow, shift, nan_fill=None):
    """The core's code (``dst_fmt``'s code dtype) and status for every (top
    bits, sticky) input pattern, and whether any status is a failure
    (``nan_fill``: the NaN policy's code, see :func:`convert`)."""
    index = np.arange(1 << (src_fmt.width - shift + 1), dtype=np.uint64)
    src = ((index >> np.uint64(1)) << np.uint64(shift)) | (index & np.uint64(1 if shift else 0))
    table = np.empty(index.size, codes_dtype(dst_fmt))
    table_status = np.zeros(index.size, np.uint8)
    status, where = runtime.chunk_status(index.size)
    with threads_for(status.size):
        kernels.convert(src, src_fmt.kernel_spec, core.with_nan_fill(dst_fmt.kernel_spec, nan_fill),
                        np.int64(rounding.code), np.int64(overflow.code), np.empty(0, np.uint64),
                        np.int64(1), table, status, where, table_status)
    table.flags.writeable = False
    table_status.flags.writeable = False
    return table, table_status, bool(table_status.any())


def _run_table(src_flat, src_fmt, dst_fmt, rounding, overflow, shift, out, nan_fill=None):
    """``out`` = the table's codes of the source codes ``src_flat`` (uint16
    or uint32): one pass, one lookup per element."""
    table, table_status, checked = _encode_table(src_fmt, dst_fmt, rounding, overflow, shift,
                                                 nan_fill)
    status, where = runtime.chunk_status(src_flat.size)
    with threads_for(status.size):
        kernels.lookup(table, table_status, checked, src_flat, np.int64(shift), out, status, where)
    return runtime.first_failure(status, where)


# ---------------------------------------------------------------- float -> fixed point
_TWO63 = float(1 << 63)


def _run_fixed(x_flat, bits_flat, src_fmt, fmt, rounding, overflow, out, nan_fill=None):
    """``out`` = the codes of the float32/float64 values ``x_flat`` (whose bit
    patterns are ``bits_flat``) in the fixed-point format ``fmt``, through
    ``kernels.float_to_fixed``: one pass for every value whose magnitude
    times ``2**frac`` is below 2**63 (exact in float64, see there); the
    rest (NaN, inf, huge) through the ``convert`` kernel afterwards.
    Returns the first failure (status, flat index) or None."""
    n = x_flat.size
    scale = 2.0 ** fmt.frac
    status, where = runtime.chunk_status(n)
    rare = np.zeros(status.size, np.bool_)
    with threads_for(status.size):
        kernels.float_to_fixed(x_flat, np.float64(scale), fmt.kernel_spec,
                               np.int64(rounding.code), np.int64(overflow.code), out, status,
                               where, rare)
    failure = runtime.first_failure(status, where)
    chunks = np.flatnonzero(rare)
    if chunks.size:
        # the kernel's test, elementwise: not (|x| * 2**frac < 2**63)
        with np.errstate(all="ignore"):
            idx = np.concatenate([c * CHUNK + np.flatnonzero(~(np.abs(
                x_flat[c * CHUNK:(c + 1) * CHUNK].astype(np.float64)) * scale < _TWO63))
                for c in chunks])
        each = np.zeros(idx.size, np.uint8)
        codes = np.empty(idx.size, out.dtype)
        st, wh = runtime.chunk_status(idx.size)
        with threads_for(st.size):
            kernels.convert(bits_flat[idx], src_fmt.kernel_spec,
                            core.with_nan_fill(fmt.kernel_spec, nan_fill),
                            np.int64(rounding.code), np.int64(overflow.code),
                            np.empty(0, np.uint64), np.int64(1), codes, st, wh, each)
        out[idx] = codes
        bad = np.flatnonzero(each)
        if bad.size and (failure is None or idx[bad[0]] < failure[1]):
            failure = (int(each[bad[0]]), int(idx[bad[0]]))
    return failure


def engine(src_fmt, fmt, rounding) -> str:
    """The kernel that encodes codes of ``src_fmt`` (a numpy dtype's format,
    ``runtime.SOURCES``) into ``fmt`` (at most 64 bits) under ``rounding``:

    ``"table"``
        float16 into any format, float32 into narrow float formats
        (``_table_shift``), deterministic modes: the core's answers, looked up.
    ``"fixed"``
        float32/float64 into fixed point (``frac <= 1023``), deterministic
        modes: ``kernels.float_to_fixed``, the core's decision on the exact
        scaled value prepared in float arithmetic.
    ``"convert"``
        everything else: the general kernel, ``round_code`` per element.

    All three give the same codes and errors (tests/test_encode_fast.py)."""
    if _table_shift(src_fmt, fmt, rounding) is not None:
        return "table"
    if src_fmt in (_formats.float32, _formats.float64) and not fmt.is_float \
            and not rounding.is_stochastic and fmt.frac <= 1023:
        return "fixed"
    return "convert"


# ---------------------------------------------------------------- public API
def encode(x, fmt, rounding="nearest_even", overflow=None, *, nan=None, rng=None, random=None,
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
    nan : str or int, optional
        What NaN becomes in a format without NaN (fixed point, FP4/FP6,
        IEEE-like without fraction bits): ``"raise"`` (the default: a
        ValueError), ``"zero"`` (+0), ``"negative_zero"`` (-0; float
        formats with -0 only), ``"max"`` (the largest finite value,
        positive whatever the NaN's sign) or a code of ``fmt``.  Applied
        by the core's special-value step on every engine.  Formats with
        NaN refuse it (NaN becomes their NaN).
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
    numpy.ndarray of ``x``'s shape (a scalar for scalar input) holding the
    codes in the smallest unsigned dtype of at least ``fmt.width`` bits --
    uint8, uint16, uint32 or uint64, the dtype of ``QArray.bits``
    (``fxsim.exact.codes_dtype``) -- or, for formats wider than 64 bits, an
    object array of Python ints.

    Engines (one rounding by the core in each, the same codes and errors):
    float16 input, and float32 input into float formats of at most 6
    fraction bits, look the core's answers up in a table; float32/float64
    input into fixed point under a deterministic mode takes a one-pass loop
    that prepares the exact scaled value in float64 and lets the core decide
    (NaN, inf and values beyond 2**63 units go to the general kernel);
    everything else runs the general kernel (``round_code`` per element);
    Python numbers and formats wider than 64 bits the exact Python engine.

    Unsigned floats (``float8_e5m3fnu``, ``ue4m3``, E8M0): -0 is +0; a
    negative value (or -inf, or E8M0's zero) is NaN under the ``nan`` and
    ``ieee`` policies, the least code 0 under ``saturate`` and an
    OverflowError under ``raise``.

    Raises
    ------
    ValueError
        NaN into a format without NaN (unless ``nan=``), inf into fixed
        point, bad modes.
    OverflowError
        Out-of-range values under ``overflow="raise"`` (naming the first
        offending index).
    """
    fmt = _formats.format(fmt)
    rounding, overflow = resolve_modes(fmt, rounding, overflow)
    fill = runtime.nan_fill(fmt, nan, rounding, overflow)
    arr = input_array(x)
    shape = arr.shape
    rnd = runtime.random_source(rounding, shape, rng, random, random_bits, fmt, overflow)
    source = runtime.SOURCES.get(arr.dtype)
    if source is not None and fmt.width <= 64:
        view, src_fmt = source
        values = np.ascontiguousarray(arr).reshape(-1)
        flat = values.view(view)
        kind = engine(src_fmt, fmt, rounding)
        # the codes array itself, shaped: a view of it would leave its owner
        # writeable behind a read-only QArray
        codes = np.empty(shape, codes_dtype(fmt))
        out = codes.reshape(-1)
        if kind == "table":
            failure = _run_table(flat, src_fmt, fmt, rounding, overflow,
                                 _table_shift(src_fmt, fmt, rounding), out, fill)
        elif kind == "fixed":
            failure = _run_fixed(values, flat, src_fmt, fmt, rounding, overflow, out, fill)
        else:
            _, failure = convert(flat, src_fmt, fmt, rounding, overflow, rnd, random_bits,
                                 codes.dtype, out, fill)
        if failure is not None:
            status, i = failure
            runtime.raise_failure(status, i, shape, fmt, rounding, overflow, arr.reshape(-1)[i], "encode")
    else:
        values = encode_values(list(arr.reshape(-1)), fmt, rounding, overflow, rnd, random_bits, shape,
                               spec=core.with_nan_fill(fmt.exact_spec, fill))
        codes = np.empty(shape, codes_dtype(fmt))
        codes.reshape(-1)[:] = values
    return codes[()] if codes.ndim == 0 else codes


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
        flat = np.ascontiguousarray(flat)  # as it is: uint8 codes stay uint8, no copy
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


def quantize(x, fmt, rounding="nearest_even", overflow=None, *, nan=None, rng=None, random=None,
             random_bits=32):
    """``decode(encode(x, ...), fmt)``: ``x`` rounded onto ``fmt``, as float64."""
    fmt = _formats.format(fmt)
    return decode(encode(x, fmt, rounding, overflow, nan=nan, rng=rng, random=random,
                         random_bits=random_bits), fmt)
