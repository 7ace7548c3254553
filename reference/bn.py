"""Batch norm on integer inputs, decided exactly: the oracle for ``fxsim.nn.bn``.

Batch norm at inference is, for an integer accumulator ``x`` (real value
``x * in_scale``),

    y(x) = gamma * (x * in_scale - mean) / sqrt(var + eps) + beta.

Every parameter is taken as the exact rational it is (a Python float is the
dyadic rational it holds), so the only irrational step is the square root.
We never compute it.  To decide on which side of a rational ``c`` the value
``y(x)`` lies, multiply ``y(x) - c`` by ``s = sqrt(var + eps) > 0``:

    sign(y(x) - c) = sign(P + Q * s),   P = gamma * (x * in_scale - mean),
                                        Q = beta - c.

When ``P`` and ``Q`` have the same sign (or one is zero) the answer is
plain; when they differ, ``|P|`` against ``|Q| * s`` is decided by comparing
the squares ``P**2`` and ``Q**2 * (var + eps)``, which are rationals.  That
is the one trick of this module; everything else is brute force over ``x``:

* ``sign_activation``: Hubara et al.'s sign, ``+1`` if ``y >= 0`` (so
  sign(0) = +1), else ``-1``.
* ``bn_round``: ``round(y(x) / scale)`` in a named rounding mode, found by
  locating ``y`` between grid points with exact comparisons (``bn_locate``).
* ``fixed_activation``: the integer code of a k-bit fixed-point activation,
  ``bn_round`` saturated to the format's range.
* ``level_from_boundaries``: how many boundaries ``b`` have ``y >= b``.
* ``thresholds_from_levels``: the integer inputs where the level steps up,
  read off the levels of every ``x`` in a range.
* ``lce_bit``: Larq Compute Engine's output bit for a popcount accumulator.
* ``shared_scale_*``: Lin et al.'s ``(A*x + B) >> k``, checked against
  ``round(a*x + b)`` for every ``x``, and the feasible ``A`` found from all
  pairs of inputs.

Nothing here imports fxsim; rounding an exact rational to an integer is
``reference.rounding.round_to_integer``.
"""

import math
import numbers
from fractions import Fraction

from .rounding import round_to_integer


def exact(v):
    """The exact rational value of an int (numpy's too), float or Fraction."""
    if isinstance(v, numbers.Integral):
        return Fraction(int(v))
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v!r} is not a finite number")
    return Fraction(v)


def _sign(v):
    return (v > 0) - (v < 0)


def sign_plus_sqrt(P, Q, q):
    """The sign (-1, 0 or +1) of ``P + Q * sqrt(q)`` for rationals P, Q and
    q >= 0, decided without computing the square root."""
    if Q == 0 or q == 0:
        return _sign(P)
    if P == 0 or _sign(P) == _sign(Q):
        return _sign(Q)
    # Opposite signs: the one with the larger magnitude wins.
    d = P * P - Q * Q * q
    if d == 0:
        return 0
    return _sign(P) if d > 0 else _sign(Q)


def _variance(var, eps):
    q = exact(var) + exact(eps)
    if q <= 0:
        raise ValueError(f"var + eps = {q} is not positive")
    return q


def bn_compare(x, gamma, beta, mean, var, eps, c, in_scale=1):
    """The sign of ``y(x) - c``, exactly (see the module docstring)."""
    q = _variance(var, eps)
    P = exact(gamma) * (exact(x) * exact(in_scale) - exact(mean))
    Q = exact(beta) - exact(c)
    return sign_plus_sqrt(P, Q, q)


def sign_activation(x, gamma, beta, mean, var, eps, in_scale=1):
    """+1 if ``y(x) >= 0`` else -1 (sign(0) = +1, as Hubara et al.)."""
    return 1 if bn_compare(x, gamma, beta, mean, var, eps, 0, in_scale) >= 0 else -1


def lce_bit(accum, K, gamma, beta, mean, var, eps, in_scale=1):
    """Larq Compute Engine's output bit for XOR-popcount ``accum`` of length
    ``K``: the dot product is ``x = K - 2*accum`` and the bit is 1 (meaning
    -1) exactly when ``y(x) < 0``."""
    x = K - 2 * accum
    return 1 if bn_compare(x, gamma, beta, mean, var, eps, 0, in_scale) < 0 else 0


def level_from_boundaries(x, gamma, beta, mean, var, eps, boundaries, in_scale=1):
    """Number of boundaries ``b`` with ``y(x) >= b``."""
    return sum(1 for b in boundaries
               if bn_compare(x, gamma, beta, mean, var, eps, b, in_scale) >= 0)


def _floor_of_y_over(x, gamma, beta, mean, var, eps, scale, in_scale):
    """``floor(y(x) / scale)``: a rational estimate of y, then exact steps."""
    q = _variance(var, eps)
    # sqrt(q) to within 2**-80 relative, as a rational (a first guess only).
    P80 = 1 << 80
    s_est = Fraction(math.isqrt(q.numerator * P80 * P80 // q.denominator), P80)
    if s_est == 0:
        s_est = Fraction(1, P80)
    y_est = exact(gamma) * (exact(x) * exact(in_scale) - exact(mean)) / s_est + exact(beta)
    n = math.floor(y_est / scale)

    def at_least(m):  # y >= m * scale ?
        return bn_compare(x, gamma, beta, mean, var, eps, m * scale, in_scale) >= 0

    while not at_least(n):
        n -= 1
    while at_least(n + 1):
        n += 1
    return n


def bn_locate(x, gamma, beta, mean, var, eps, scale, in_scale=1):
    """A rational that every deterministic rounding mode treats as it treats
    ``t = y(x) / scale``.

    A mode's decision depends only on ``n = floor(t)`` and on where the
    fraction ``f = t - n`` lies: ``f == 0``, ``f < 1/2``, ``f == 1/2`` or
    ``f > 1/2``.  We find ``n`` and that case with exact comparisons and
    return ``n``, ``n + 1/4``, ``n + 1/2`` or ``n + 3/4``.
    """
    scale = exact(scale)
    n = _floor_of_y_over(x, gamma, beta, mean, var, eps, scale, in_scale)
    if bn_compare(x, gamma, beta, mean, var, eps, n * scale, in_scale) == 0:
        return Fraction(n)
    half = bn_compare(x, gamma, beta, mean, var, eps, (n + Fraction(1, 2)) * scale, in_scale)
    return n + Fraction(2 + half, 4)  # half = -1, 0, +1 -> 1/4, 1/2, 3/4


def bn_round(x, gamma, beta, mean, var, eps, scale, mode, in_scale=1):
    """``round(y(x) / scale)`` to an integer with rounding ``mode``
    (deterministic modes; a two's complement register)."""
    t = bn_locate(x, gamma, beta, mean, var, eps, scale, in_scale)
    return round_to_integer(t, mode, True)


def saturate(n, word, signed):
    """``n`` clamped to the integers of a (word, signed) fixed-point format."""
    lo = -(1 << (word - 1)) if signed else 0
    hi = (1 << (word - 1)) - 1 if signed else (1 << word) - 1
    return min(max(n, lo), hi)


def fixed_activation(x, gamma, beta, mean, var, eps, word, frac, signed, mode, in_scale=1):
    """The integer ``n`` (value ``n * 2**-frac``) of ``y(x)`` rounded into
    the fixed-point format (word, frac, signed) and saturated."""
    n = bn_round(x, gamma, beta, mean, var, eps, Fraction(2) ** -frac, mode, in_scale)
    return saturate(n, word, signed)


def thresholds_from_levels(levels, x_min, n_thresholds, orientation):
    """The thresholds of a monotone level sequence, by reading it.

    ``levels[i]`` is the level at input ``x_min + i``.  ``orientation="ge"``
    (a non-decreasing sequence): ``T[j]`` is the smallest input whose level
    is at least ``j + 1`` (``x_max + 1`` when there is none), so the level at
    ``x`` is ``sum(x >= T[j])``.  ``"le"`` (non-increasing): ``T[j]`` is the
    largest such input (``x_min - 1`` when there is none), and the level is
    ``sum(x <= T[j])``.  Within ``[x_min, x_max]`` these are the only
    thresholds that work, up to thresholds at or beyond the ends of the range.
    """
    x_max = x_min + len(levels) - 1
    pairs = list(zip(levels, levels[1:]))
    if orientation == "ge" and not all(u <= v for u, v in pairs):
        raise ValueError("levels do not rise")
    if orientation == "le" and not all(u >= v for u, v in pairs):
        raise ValueError("levels do not fall")
    T = []
    for j in range(1, n_thresholds + 1):
        hits = [x_min + i for i, v in enumerate(levels) if v >= j]
        if orientation == "ge":
            T.append(min(hits) if hits else x_max + 1)
        else:
            T.append(max(hits) if hits else x_min - 1)
    return T


# ----------------------------------------------- Lin et al.: shared scale

def shared_scale_target(a, b, x, rounding):
    """``round(a*x + b)`` to an integer with ``rounding``, exactly."""
    return round_to_integer(exact(a) * x + exact(b), rounding, True)


def shared_scale_output(A, B, k, x, shift="floor"):
    """What the integer datapath computes: ``(A*x + B) >> k`` (floor), or
    ``(A*x + B + 2**(k-1)) >> k`` for ``shift="half_up"`` (no offset when
    k = 0).  Python's ``>>`` on ints is a floor shift, as in hardware."""
    offset = (1 << k) >> 1 if shift == "half_up" else 0
    return (A * x + B + offset) >> k


def shared_scale_ok(a, b, k, A, B, x_min, x_max, rounding, shift="floor"):
    """The first ``x`` in ``[x_min, x_max]`` where the datapath differs from
    ``round(a*x + b)``, or None when it agrees on every one (brute force)."""
    for x in range(x_min, x_max + 1):
        if shared_scale_output(A, B, k, x, shift) != shared_scale_target(a, b, x, rounding):
            return x
    return None


def _ceil_div(p, q):
    return -((-p) // q)


def shared_scale_A_interval(a, b, k, x_min, x_max, rounding):
    """All integers ``A`` for which some integer ``B`` makes ``(A*x+B) >> k``
    equal ``t(x) = round(a*x + b)`` on the whole range, as ``(lo, hi)``
    (None when there is none; ``(None, None)`` when every A works).

    The floor shift gives ``t(x)*2**k <= A*x + B <= (t(x)+1)*2**k - 1``
    for every x: ``L(x) <= A*x + B <= U(x)``.  An integer B exists iff
    ``L(x) - A*x <= U(y) - A*y`` for every pair x, y, i.e. for ``y > x``:
    ``(L(y) - U(x)) / (y - x) <= A <= (U(y) - L(x)) / (y - x)``.  So the
    feasible A are the integers between the largest lower and the smallest
    upper pairwise bound: O(n**2) pairs, no search.
    """
    xs = list(range(x_min, x_max + 1))
    t = [shared_scale_target(a, b, x, rounding) for x in xs]
    L = [v << k for v in t]
    U = [((v + 1) << k) - 1 for v in t]
    lo = hi = None
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            d = xs[j] - xs[i]
            low = _ceil_div(L[j] - U[i], d)
            high = (U[j] - L[i]) // d
            lo = low if lo is None else max(lo, low)
            hi = high if hi is None else min(hi, high)
    if lo is not None and lo > hi:
        return None
    return lo, hi


def shared_scale_B_interval(a, b, k, A, x_min, x_max, rounding):
    """The integers B that work with A: ``max(L - A*x) .. min(U - A*x)``
    (None when empty)."""
    lo = hi = None
    for x in range(x_min, x_max + 1):
        t = shared_scale_target(a, b, x, rounding)
        low, high = (t << k) - A * x, ((t + 1) << k) - 1 - A * x
        lo = low if lo is None else max(lo, low)
        hi = high if hi is None else min(hi, high)
    return None if lo > hi else (lo, hi)


def shared_scale_min_k(a, b, x_min, x_max, rounding, k_max=32):
    """The smallest k in 0..k_max with a feasible A (None if there is none)."""
    for k in range(k_max + 1):
        if shared_scale_A_interval(a, b, k, x_min, x_max, rounding) is not None:
            return k
    return None
