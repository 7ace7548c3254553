"""Plumbing shared by the modules that call the kernels: argument checks,
error texts and the first failure of a kernel run.

Nothing here computes a value.  The kernels of ``fxsim._kernels`` write a
status per work chunk and the flat index of the chunk's first failure;
:func:`chunk_status` allocates those, :func:`first_failure` reads them, and
:func:`raise_failure` turns a status into the documented error (naming the
operation, the format, the modes and the offending index, as
:func:`format_index` prints it).  :func:`random_source` checks and draws the
random integers of the stochastic rounding modes.
"""
from __future__ import annotations

import numpy as np

from . import formats as _formats
from ._kernels import core
from ._kernels.jit import CHUNK
from .modes import NanPolicy, nan_policy, overflow_mode, rounding_mode

#: The exact format of each numpy dtype the fast path reads, and the unsigned
#: dtype its bit patterns are viewed as: ``{dtype: (view dtype, format)}``.
SOURCES = {
    np.dtype(np.float16): (np.uint16, _formats.float16),
    np.dtype(np.float32): (np.uint32, _formats.float32),
    np.dtype(np.float64): (np.uint64, _formats.float64),
    np.dtype(np.bool_): (np.uint8, _formats.uint8),
}
for _bits in (8, 16, 32, 64):
    _u = np.dtype(f"uint{_bits}")
    SOURCES[np.dtype(f"int{_bits}")] = (_u, _formats.FixedFormat(_bits, 0))
    SOURCES[_u] = (_u, _formats.FixedFormat(_bits, 0, signed=False))
del _bits, _u


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


def nan_fill(fmt, nan, rounding, overflow):
    """The code a NaN becomes in ``fmt`` under the NaN policy ``nan`` (see
    :class:`fxsim.modes.NanPolicy`), or None for the default rule (NaN's
    code where the format has one, else a ValueError).  Policies are for
    formats without NaN (fixed point, FP4/FP6 ``finite``, IEEE-like without
    fraction bits); an integer code must be a code of ``fmt`` (and not the
    most negative code of a narrowed fixed-point format, which no result is)."""
    if nan is None:
        return None
    modes = f"(rounding={rounding.value}, overflow={overflow.value})"
    try:
        policy = nan_policy(nan)
    except ValueError as err:
        raise ValueError(f"{err} (format {fmt.name} {modes})") from None
    shown = policy.value if isinstance(policy, NanPolicy) else policy
    if fmt.has_nan:
        raise ValueError(f"nan={shown!r}: format {fmt.name} has NaN, which is what a NaN "
                         f"becomes there {modes}; NaN policies are for formats without NaN")
    if policy is NanPolicy.RAISE:
        return None
    if policy is NanPolicy.ZERO:
        return 0
    if policy is NanPolicy.NEGATIVE_ZERO:
        if not (fmt.is_float and fmt.signed):
            raise ValueError(f"nan='negative_zero': format {fmt.name} has no -0 {modes}; "
                             "choose nan='zero', 'max' or a code")
        return 1 << (fmt.width - 1)
    if policy is NanPolicy.MAX:
        return fmt.max_code if fmt.is_float else fmt.int_max
    if not 0 <= policy < (1 << fmt.width):
        raise ValueError(f"nan={policy}: not a code of format {fmt.name} (codes are integers "
                         f"in [0, 2**{fmt.width})) {modes}")
    if not fmt.is_float and fmt.narrow and policy == 1 << (fmt.word - 1):
        raise ValueError(f"nan={policy}: the most negative code of the narrowed format "
                         f"{fmt.name} is never a result {modes}")
    return policy


def format_index(flat: int, shape) -> tuple:
    """The index tuple of flat (C-order) position ``flat`` in ``shape``."""
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def raise_failure(status: int, flat: int, shape, fmt, rounding, overflow, value, op: str):
    """Raise the documented error for a failed element."""
    where = f"at index {format_index(flat, shape)}"
    modes = f"(rounding={rounding.value}, overflow={overflow.value})"
    if status == core.ERR_NAN:
        raise ValueError(f"{op}: NaN {where} has no code in format {fmt.name} {modes}: "
                         "the format has no NaN; replace NaNs first (e.g. numpy.nan_to_num) "
                         "or choose a NaN policy: nan='zero', 'negative_zero', 'max' or a code")
    if status == core.ERR_INF:
        raise ValueError(f"{op}: {value} {where} cannot be encoded in fixed-point format {fmt.name} "
                         f"{modes}: fixed point has no infinity; clip the input first")
    if status == core.ERR_OVERFLOW:
        below = fmt.is_float and not fmt.signed and not value > 0  # unsigned: negative (or 0)
        raise OverflowError(f"{op}: value {value} {where} "
                            f"{'is below the range of' if below else 'overflows'} format {fmt.name} "
                            f"(range {fmt.min} .. {fmt.max}) {modes}; "
                            "choose overflow='saturate' to clamp instead")
    raise ValueError(f"{op}: code {value} {where} does not fit format {fmt.name} "
                     f"({fmt.width} bits) {modes}")


def random_source(rounding, shape, rng, random, random_bits: int, fmt, overflow):
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
        raise ValueError(f"random= value {flat[bad[0]]} at index {format_index(bad[0], shape)} is not in "
                         f"[0, 2**{random_bits}) (format {fmt.name}, rounding={rounding.value}, "
                         f"overflow={overflow.value})")
    return np.ascontiguousarray(flat.astype(np.uint64))


def chunk_status(n):
    """Zeroed (status, first index) arrays, one entry per work chunk of ``n``
    elements, for a kernel to fill."""
    nchunks = max(1, -(-n // CHUNK))
    return np.zeros(nchunks, np.int64), np.zeros(nchunks, np.int64)


def first_failure(status, where):
    """``(status, flat index)`` of the first failed chunk's first failure, or
    None."""
    failed = np.flatnonzero(status)
    return (int(status[failed[0]]), int(where[failed[0]])) if failed.size else None

