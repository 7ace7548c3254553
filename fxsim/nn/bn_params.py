"""Reading and checking batch-norm parameters and accumulators, exactly.

Shared by the three integer forms of BN (:mod:`.bn_fold`,
:mod:`.bn_shared_scale`, :mod:`.bn_thresholds`; overview in :mod:`.bn`).

Nothing here rounds.  Parameters are read as exact rationals
(:func:`exact_param`: a Python/numpy float is the dyadic rational it holds,
ints, Fractions and Decimals are themselves; :func:`fxsim.exact.exact_value`
does the reading), broadcast over channels, and checked (finite, ``var +
eps > 0``, positive scales, a deterministic rounding mode), each error naming
the parameter and the channel.  Accumulators are checked to be integers
that fit int64 and moved channels-last; comparisons and additions are exact.
"""
from __future__ import annotations

import numpy as np

from .. import exact
from ..modes import rounding_mode

__all__ = [
    "INT64_MIN", "INT64_MAX", "INT32_MIN", "INT32_MAX",
    "exact_param", "read_channels", "var_plus_eps", "check_positive", "deterministic_mode",
    "as_ints", "move_channels", "int64_input",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def exact_param(v, what: str, index=None):
    """The exact rational value (a Fraction) of one number; a ValueError
    naming the parameter ``what`` (and channel ``index``) for NaN, inf, a
    bool or a non-number."""
    where = f" at channel {index}" if index is not None else ""
    if isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{what}{where}: {v!r} is a bool, not a number")
    try:
        rational = exact.exact_value(v)[4]  # None for NaN and inf
    except (ValueError, TypeError):
        raise ValueError(f"{what}{where}: {v!r} ({type(v).__name__}) is not a number; "
                         "give ints, floats, Fractions or Decimals") from None
    if rational is None:
        shown = float(v) if isinstance(v, (float, np.floating)) else v
        raise ValueError(f"{what}{where} is {shown!r}: give a finite number")
    return rational


def read_channels(**params):
    """Broadcast per-channel parameters (scalars or 1-D arrays) to one length
    C; returns ``(C, {name: list of Fractions})``."""
    arrays = {k: np.asarray(v, dtype=object) for k, v in params.items()}
    for k, arr in arrays.items():
        if arr.ndim > 1:
            raise ValueError(f"{k} must be a scalar or a 1-D array over channels, "
                             f"got shape {arr.shape}")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
        raise ValueError(f"per-channel parameters do not broadcast: {shapes}") from None
    C = shape[0] if shape else 1
    out = {}
    for k, arr in arrays.items():
        flat = np.broadcast_to(arr.reshape(arr.shape or (1,)), (C,))
        out[k] = [exact_param(v, k, c) for c, v in enumerate(flat)]
    return C, out


def var_plus_eps(var, eps, C):
    """``var + eps`` per channel, exact; a ValueError naming the first
    channel where it is not positive (its square root is BN's divisor)."""
    q = [v + e for v, e in zip(var, eps)]
    for c in range(C):
        if q[c] <= 0:
            raise ValueError(f"var + eps = {q[c]} (var={var[c]}, eps={eps[c]}) at channel {c} "
                             "is not positive: batch norm divides by its square root")
    return q


def check_positive(values, what):
    """A ValueError naming the first channel whose value is not positive."""
    for c, v in enumerate(values):
        if v <= 0:
            raise ValueError(f"{what} = {v} at channel {c} must be positive")


def deterministic_mode(rounding, what):
    """The Rounding of ``rounding``; a ValueError for a stochastic mode."""
    mode = rounding_mode(rounding)
    if mode.is_stochastic:
        raise ValueError(f"{what}: rounding={mode.value} is stochastic; a BN that must equal an "
                         "exact function of x needs a deterministic rounding mode")
    return mode


def as_ints(values):
    """An int64 array when every value fits, else an object array of ints."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.dtype != object:
        return arr.astype(np.int64)
    if all(INT64_MIN <= int(v) <= INT64_MAX for v in arr.reshape(-1)):
        return arr.astype(np.int64)
    out = np.empty(arr.shape, dtype=object)
    out.reshape(-1)[:] = [int(v) for v in arr.reshape(-1)]
    return out


def move_channels(x, C, axis, what):
    """``x`` with its channel axis ``axis`` moved last; a ValueError if it
    does not have ``C`` channels there."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{what}: x must have a channel axis")
    x = np.moveaxis(x, axis, -1)
    if x.shape[-1] != C:
        raise ValueError(f"{what}: x has {x.shape[-1]} channels on axis {axis}, the parameters "
                         f"have {C}")
    return x


def int64_input(x, what):
    """Integer accumulators as int64; a ValueError for another dtype or a
    uint64 value beyond int64 (naming its index)."""
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "iu":
        raise ValueError(f"{what}: x must be an integer array, got dtype {x.dtype}")
    if x.dtype == np.uint64 and x.size and int(x.max()) > INT64_MAX:
        i = int(np.argmax(x > INT64_MAX))
        raise ValueError(f"{what}: x[{np.unravel_index(i, x.shape)}] = {x.reshape(-1)[i]} "
                         "does not fit int64")
    return x.astype(np.int64)
