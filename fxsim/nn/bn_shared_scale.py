"""Lin et al. 2020's shared-scale fixed-point batch norm, found and proven.

For ``y = a*x + b`` with exact rational ``a``, ``b`` (a folded BN on an
integer accumulator ``x``), :func:`shared_scale_bn` finds the smallest ``k``
with integers ``A``, ``B`` such that ``(A*x + B) >> k == round(a*x + b)``
for every integer ``x`` of a range, proven by an exhaustive check
(:class:`SharedScaleBN`); :func:`apply_shared_scale_bn` runs the datapath.
Overview of the three integer forms of BN in :mod:`fxsim.nn.bn`.

What is exact and what is rounded where: ``a`` and ``b`` are read as exact
rationals (:mod:`.bn_params`); the targets ``round(a*x + b)`` are rounded
once each by fxsim's core from the exact rational
(:func:`fxsim.exact.round_rational`); the search over ``A`` and ``B`` is
exact integer arithmetic; the datapath's shift is a floor by the core
(:func:`fxsim.exact.round_pot_quotient`, mode ``down``).  No float is
rounded anywhere.
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from .. import exact
from .. import formats as _formats
from ..modes import Rounding
from .bn_params import INT64_MAX, INT64_MIN, as_ints, deterministic_mode, exact_param

__all__ = ["SharedScaleBN", "shared_scale_bn", "apply_shared_scale_bn"]


@dataclasses.dataclass(frozen=True)
class SharedScaleBN:
    """Lin et al.'s fixed-point BN: ``(A*x + B + offset) >> k`` equals
    ``round(a*x + b)`` (mode ``rounding``) for every integer ``x`` in
    ``[x_min, x_max]``; ``offset = 0`` for ``shift="floor"`` and
    ``2**(k-1)`` (0 when k = 0) for ``shift="half_up"``.

    ``k`` is the smallest that works; ``A_range`` every feasible ``A`` at
    this ``k`` (None: any A, a one-point range); ``B_range`` the feasible
    ``B`` for the chosen ``A``.  ``verified`` says the exhaustive check over
    the ``checked`` inputs ran and passed (a failure raises instead).
    """

    k: int
    A: int
    B: int
    shift: str
    rounding: str
    a: Fraction
    b: Fraction
    x_min: int
    x_max: int
    A_range: tuple | None
    B_range: tuple
    verified: bool
    checked: int

    @property
    def offset(self) -> int:
        return (1 << self.k) >> 1 if self.shift == "half_up" else 0

    def __call__(self, x):
        return apply_shared_scale_bn(x, self)


_MAX_POINTS = 1 << 24


def _int_param(v, what):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"shared_scale_bn: {what} must be an integer, got {v!r}")
    return int(v)


class _Problem:
    """The constraints ``L(x) <= A*x + B <= U(x)`` at one k, vectorized."""

    def __init__(self, xs, t, k):
        self.xs = xs
        one = 1 << k
        self.L = t * one
        self.U = (t + 1) * one - 1

    def h(self, A):
        """max(L - A x) - min(U - A x): convex in A; A works iff h(A) <= 0."""
        ax = self.xs * A
        return int((self.L - ax).max()) - int((self.U - ax).min())

    def b_range(self, A):
        ax = self.xs * A
        return int((self.L - ax).max()), int((self.U - ax).min())


def _arrays_for(xs64, t, k, a, W):
    """xs and t as int64 when every intermediate provably fits, else objects."""
    xmax = max(abs(int(xs64[0])), abs(int(xs64[-1])))
    tmax = max(abs(int(t.min())), abs(int(t.max()))) + 1
    amax = abs(a) * (1 << k) + (3 * (1 << k)) // max(W, 1) + 2
    bound = tmax * (1 << k) + math.ceil(amax) * xmax
    if bound < (1 << 62) and t.dtype != object:
        return xs64, t.astype(np.int64)
    xs = xs64.astype(object)
    return xs, t.astype(object)


def _a_window(a, k, W):
    """Every feasible A at k lies in this window (proof in shared_scale_bn)."""
    centre = a * (1 << k)
    radius = Fraction(3 * (1 << k), W)
    return math.ceil(centre - radius), math.floor(centre + radius)


def _solve_k(xs64, t, k, a, W, ends=True):
    """((A_lo, A_hi, A_best), problem) of the feasible A at k (the ends only
    when ``ends``), or (None, (problem, A_best)) when there is none."""
    xs, tt = _arrays_for(xs64, t, k, a, W)
    prob = _Problem(xs, tt, k)
    if W == 0:
        A = round(a * (1 << k))
        return (None, None, A), prob
    lo, hi = _a_window(a, k, W)
    # h is convex on the integers: its minimizer is the first A whose
    # forward difference is >= 0.
    left, right = lo, hi
    while left < right:
        mid = (left + right) // 2
        if prob.h(mid + 1) >= prob.h(mid):
            right = mid
        else:
            left = mid + 1
    best = left
    if prob.h(best) > 0:
        return None, (prob, best)
    if not ends:
        return (None, None, best), prob
    # {h <= 0} is an interval around best: binary search both ends.
    left, right = lo, best
    while left < right:
        mid = (left + right) // 2
        if prob.h(mid) <= 0:
            right = mid
        else:
            left = mid + 1
    A_lo = left
    left, right = best, hi
    while left < right:
        mid = (left + right + 1) // 2
        if prob.h(mid) <= 0:
            left = mid
        else:
            right = mid - 1
    A_hi = left
    return (A_lo, A_hi, best), prob


def shared_scale_bn(a, b, x_min, x_max, *, rounding="nearest_even", shift="floor",
                    k_max=32) -> SharedScaleBN:
    """Lin et al.'s shared-scale fixed-point BN, found and proven.

    For ``y = a*x + b`` (``a``, ``b`` exact rationals: ints, floats taken
    as the dyadic rationals they hold, Fractions, Decimals) find the
    smallest ``k`` in ``0..k_max`` and integers ``A``, ``B`` with

        (A*x + B) >> k == round(a*x + b)            (shift="floor")
        (A*x + B + 2**(k-1)) >> k == round(a*x + b)   (shift="half_up")

    for EVERY integer ``x`` in ``[x_min, x_max]`` (at most 2**24 of them).
    ``>>`` is the floor shift of a two's complement datapath; ``round`` is
    the named deterministic mode (default nearest_even), computed exactly:
    ``a*x + b = (P*x + Q) / D`` in integers, rounded by fxsim's core.

    Method.  With ``t(x)`` the target, the floor shift needs
    ``L(x) = t(x)*2**k <= A*x + B <= (t(x)+1)*2**k - 1 = U(x)``.  For a
    fixed A the feasible B form the interval ``[max(L - A x), min(U - A x)]``
    (vectorized over x), so A works iff ``h(A) = max(L - A x) - min(U - A x)
    <= 0``; h is convex (a max of lines minus a min of lines), so the
    feasible A are an interval, found by integer binary searches on h.  The
    searches run inside a window that provably holds every feasible A:
    ``e(x) = (A x + B)/2**k - (a x + b)`` lies in ``[-1, 2]`` (t is within
    1 of ``a x + b`` for every mode; ``(A x + B)/2**k`` in ``[t, t+1)``), so
    ``|A/2**k - a| * W = |e(x_max) - e(x_min)| <= 3`` with
    ``W = x_max - x_min``: ``|A - a 2**k| <= 3 * 2**k / W``.
    Feasibility only grows with k (``(2A, 2B)`` works at ``k+1`` when
    ``(A, B)`` works at ``k``), so the smallest k is found by bisection after
    checking ``k_max``.  The half_up variant is the floor one with ``B``
    lowered by the offset, so its smallest k is the same.

    Chosen: ``A`` the feasible value nearest ``a * 2**k`` (ties: the
    smaller), ``B`` the middle (rounded down) of its feasible interval.
    Then every x of the range is checked through the datapath
    (:func:`apply_shared_scale_bn`) against ``t(x)``.

    Returns a :class:`SharedScaleBN`.  Raises ValueError when no k in
    ``0..k_max`` works, saying why (for example a target whose ties go to
    even is not ``floor`` of any line: ``round(x/2)`` over 0..5 gives
    0, 0, 1, 2, 2, 2, which no ``(A x + B) >> k`` reproduces, for any k).
    """
    if shift not in ("floor", "half_up"):
        raise ValueError(f"shared_scale_bn: shift must be 'floor' or 'half_up', got {shift!r}")
    mode = deterministic_mode(rounding, "shared_scale_bn")
    a, b = exact_param(a, "a"), exact_param(b, "b")
    x_min, x_max = _int_param(x_min, "x_min"), _int_param(x_max, "x_max")
    k_max = _int_param(k_max, "k_max")
    if x_min > x_max:
        raise ValueError(f"shared_scale_bn: x_min={x_min} > x_max={x_max}")
    if x_max - x_min >= _MAX_POINTS:
        raise ValueError(f"shared_scale_bn: the range [{x_min}, {x_max}] has more than 2**24 "
                         "inputs; the exhaustive proof would not fit")
    if k_max < 0:
        raise ValueError(f"shared_scale_bn: k_max must be >= 0, got {k_max}")
    if x_min < INT64_MIN or x_max > INT64_MAX:
        raise ValueError("shared_scale_bn: x_min and x_max must fit int64")
    W = x_max - x_min
    xs64 = np.arange(x_max - x_min + 1, dtype=np.int64) + np.int64(x_min)
    D = math.lcm(a.denominator, b.denominator)
    P, Q = a.numerator * (D // a.denominator), b.numerator * (D // b.denominator)
    if abs(P) * max(abs(x_min), abs(x_max)) + abs(Q) < (1 << 62):
        num = xs64 * np.int64(P) + np.int64(Q)
    else:
        num = xs64.astype(object) * P + Q
    t = as_ints(exact.round_rational(num, D, mode))

    found, witness = _solve_k(xs64, t, k_max, a, W, ends=False)
    if found is None:
        prob, A = witness
        lo_B, hi_B = prob.b_range(A)
        x1 = int(prob.xs[int(np.argmax(prob.L - prob.xs * A))])
        x2 = int(prob.xs[int(np.argmin(prob.U - prob.xs * A))])
        raise ValueError(
            f"shared_scale_bn: no k in 0..{k_max} gives (A*x + B) >> k == "
            f"{mode.value}(a*x + b) for every integer x in [{x_min}, {x_max}] "
            f"(a={a}, b={b}). Feasibility only grows with k, so k={k_max} failing rules out "
            f"every smaller k. At k={k_max} the A with the least violation, A={A}, would need "
            f"B >= {lo_B} (for x={x1}) and B <= {hi_B} (for x={x2}). If the target breaks ties "
            "in a way no floor of a line does (e.g. to even), no k works at all.")
    lo, hi = 0, k_max  # feasible at hi
    while lo < hi:
        mid = (lo + hi) // 2
        if _solve_k(xs64, t, mid, a, W, ends=False)[0] is not None:
            hi = mid
        else:
            lo = mid + 1
    k = lo
    (A_lo, A_hi, best), prob = _solve_k(xs64, t, k, a, W)
    if A_lo is None:
        A, A_range = best, None
    else:
        target = a * (1 << k)
        A = min(max(math.floor(target), A_lo), A_hi)
        if A + 1 <= A_hi and abs(A + 1 - target) < abs(A - target):
            A += 1
        A_range = (A_lo, A_hi)
    B_lo, B_hi = prob.b_range(A)
    B = (B_lo + B_hi) // 2
    offset = (1 << k) >> 1 if shift == "half_up" else 0
    result = SharedScaleBN(k=k, A=int(A), B=int(B - offset), shift=shift, rounding=mode.value,
                           a=a, b=b, x_min=x_min, x_max=x_max, A_range=A_range,
                           B_range=(B_lo - offset, B_hi - offset), verified=False,
                           checked=len(xs64))
    got = as_ints(apply_shared_scale_bn(xs64, result))
    bad = np.flatnonzero(got != t)
    if bad.size:
        i = int(bad[0])
        raise RuntimeError(f"shared_scale_bn: internal error: k={k}, A={A}, B={result.B} give "
                           f"{got[i]} at x={int(xs64[i])}, expected {t[i]}")
    return dataclasses.replace(result, verified=True)


def apply_shared_scale_bn(x, result: SharedScaleBN):
    """``(A*x + B + offset) >> k`` for integer ``x`` (any shape): the
    datapath of :func:`shared_scale_bn`, with the shift (a floor) done by the
    rounding core (``down`` into ``s64.0``; wider results stay exact Python
    ints in an object array).  Outside ``[x_min, x_max]`` the datapath is
    computed just the same, but its agreement with ``round(a*x + b)`` is
    only proven inside."""
    x = np.asarray(x)
    if x.dtype == object:
        xi = np.empty(x.shape, dtype=object)
        for i, v in enumerate(x.reshape(-1)):
            xi.reshape(-1)[i] = _int_param(v, f"x[{np.unravel_index(i, x.shape)}]")
        x = xi
    elif x.dtype.kind not in "iu":
        raise ValueError(f"apply_shared_scale_bn: x must be integers, got dtype {x.dtype}")
    A, B, k = result.A, result.B + result.offset, result.k
    xmax = max(abs(int(x.min())), abs(int(x.max()))) if x.size else 0
    if x.dtype != object and xmax <= INT64_MAX and abs(A) * xmax + abs(B) < (1 << 62):
        v = x.astype(np.int64) * np.int64(A) + np.int64(B)
    else:
        v = x.astype(object) * A + B
    if v.dtype != object:
        return exact.round_pot_quotient(v, k, Rounding.DOWN, _formats.FixedFormat(64, 0))
    width = max([64] + [abs(int(w)).bit_length() + 2 for w in v.reshape(-1)])
    out = exact.round_pot_quotient(v, k, Rounding.DOWN, _formats.FixedFormat(width, 0))
    return as_ints(out)
