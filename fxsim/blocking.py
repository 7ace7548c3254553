"""Blocking along one axis, shared by the block formats (``mx``, ``bfp``).

An axis of length ``n`` splits into ``ceil(n / block)`` blocks of ``block``
consecutive elements; the last block holds ``n % block`` elements when
``block`` does not divide ``n`` (a *partial* block).  Per-block quantities
live in arrays shaped like the input with that axis replaced by the number
of blocks.  Nothing here rounds: these are index operations, plus reading
every input value exactly (:func:`input_array`, with ``fxsim.exact``) and
scaling it by a power of two exactly (:func:`scale_fast`,
:func:`scale_exact`).
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from . import exact
from .array import QArray
from .formats import float64_holds


def check_block(block, where: str) -> int:
    """``block`` as a positive Python int, or a ValueError naming ``where``."""
    if isinstance(block, (bool, np.bool_)) \
            or not isinstance(block, (numbers.Integral, np.integer)) or int(block) < 1:
        raise ValueError(f"{where}: block must be a positive integer, got {block!r}")
    return int(block)


def normalize_axis(axis, ndim: int, where: str) -> int:
    """``axis`` in ``[0, ndim)`` (negative counts from the end), or a ValueError."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (numbers.Integral, np.integer)):
        raise ValueError(f"{where}: axis must be an integer, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for an input of "
                         f"{ndim} dimension{'s' if ndim != 1 else ''}")
    return axis % ndim


def nblocks(n: int, block: int) -> int:
    """Number of blocks (the last one possibly partial) along an axis of length ``n``."""
    return -(-n // block)


def to_blocks(a: np.ndarray, block: int, axis: int, fill=0) -> np.ndarray:
    """``a`` with ``axis`` moved last, padded with ``fill`` to a multiple of
    ``block`` and split: shape ``(*other axes, nblocks, block)``."""
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    pad = nblocks(n, block) * block - n
    if pad:
        widths = [(0, 0)] * (a.ndim - 1) + [(0, pad)]
        a = np.pad(a, widths, mode="constant", constant_values=fill)
    return a.reshape(a.shape[:-1] + (a.shape[-1] // block, block))


def from_block_layout(per_block: np.ndarray, axis: int) -> np.ndarray:
    """Per-block values shaped ``(*other axes, nblocks)`` (as reduced from
    :func:`to_blocks`) moved into the input's layout: the input's shape with
    ``axis`` replaced by ``nblocks``."""
    return np.moveaxis(per_block, -1, axis)


def expand(per_block: np.ndarray, block: int, axis: int, n: int) -> np.ndarray:
    """Per-block values (input layout) repeated over their block's elements:
    the input's shape, ``n`` along ``axis``."""
    return np.take(np.repeat(per_block, block, axis=axis), np.arange(n), axis=axis)


def first_index(mask: np.ndarray) -> tuple:
    """Index (a tuple) of the first True of ``mask`` in C order."""
    flat = int(np.flatnonzero(mask.reshape(-1))[0])
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


# ---------------------------------------------------------------- exact input
def input_array(x, where: str = "input"):
    """``x`` as either a float64 array holding every value exactly (the fast
    path) or an object array of exact values: ``Fraction`` for finite
    numbers, the float itself for NaN, inf and signed zeros.

    float16/32/64 and bool arrays convert to float64 exactly; integer arrays
    do when every value is at most 2**53 in magnitude; QArrays decode
    exactly (float64 when it holds the format's values).  Anything else
    (huge integers, Fractions, Decimals, long doubles) takes the exact path.
    """
    if isinstance(x, QArray):
        if x.fmt.width <= 64 and float64_holds(x.fmt):
            return np.asarray(x.to_float(), dtype=np.float64)
        return exact.exact_values(x.to_exact(), where)
    arr = exact.input_array(x)
    if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
        return arr.astype(np.float64)
    if arr.dtype.kind == "b":
        return arr.astype(np.float64)
    if arr.dtype.kind in "iu":
        limit = 1 << 53
        if arr.size == 0 or (int(arr.max()) <= limit and int(arr.min()) >= -limit):
            return arr.astype(np.float64)
    return exact.exact_values(arr, where)


def exact_finite(arr: np.ndarray):
    """For an object array from :func:`input_array`: (Fractions with 0 in
    place of NaN/inf, boolean mask of the finite entries)."""
    finite = np.empty(arr.shape, dtype=bool)
    rat = np.empty(arr.shape, dtype=object)
    ff, rf = finite.reshape(-1), rat.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        if isinstance(v, float):
            ff[i] = math.isfinite(v)
            rf[i] = Fraction(v) if ff[i] else Fraction(0)
        else:
            ff[i] = True
            rf[i] = v
    return rat, finite


def scale_exact(arr: np.ndarray, e: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Object array ``v * 2**-e`` exactly (Fractions; zeros stay the input's
    float zeros so their sign survives), and 0 where ``skip``."""
    out = np.empty(arr.shape, dtype=object)
    of = out.reshape(-1)
    for i, (v, k, s) in enumerate(zip(arr.reshape(-1), e.reshape(-1), skip.reshape(-1))):
        if s:
            of[i] = 0
        elif isinstance(v, float):  # a signed zero (non-finite entries are skipped)
            of[i] = v
        else:
            of[i] = v * Fraction(2) ** -int(k)
    return out


def scale_fast(arr: np.ndarray, e: np.ndarray, skip: np.ndarray):
    """float64 ``v * 2**-e`` (0 where ``skip``), or None when any product is
    not a float64 (it would have lost bits below 2**-1074, or overflowed):
    ``numpy.ldexp`` is exact exactly when the result is representable, and
    then scaling back by ``2**e`` returns the input."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        src = np.where(skip, 0.0, arr)
        scaled = np.ldexp(src, -e)
        back = np.ldexp(scaled, e)
    if not np.array_equal(back, src):
        return None
    return scaled
