"""Batch norm followed by a sign or k-bit activation, as integer thresholds.

:func:`thresholds_sign` and :func:`thresholds_kbit` turn BN plus the
activation into per-channel integer thresholds on the accumulator ``x``
(FINN's MultiThreshold or Larq Compute Engine's bitpacked-output
convention, :class:`BNThresholds`); :func:`apply_thresholds` applies them.
Overview of the three integer forms of BN in :mod:`fxsim.nn.bn`.

What is exact and what is rounded where: the thresholds are exact against
the *rational* BN ``gamma*(x*in_scale - mean)/sqrt(var + eps) + beta`` --
parameters read as exact rationals (:mod:`.bn_params`), the square root
never computed (integer square roots and comparisons of squares of
rationals), no float rounding anywhere.  Where a k-bit activation steps,
and whether a value exactly on a step goes up, is asked of fxsim's rounding
core (``fxsim.cast`` of probe values into the activation's format).
Applying thresholds is comparisons only: exact.
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from .. import exact
from .. import formats as _formats
from ..array import from_bits
from ..ops import cast
from .bn_params import (INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, check_positive,
                        deterministic_mode, exact_param, int64_input, move_channels,
                        read_channels, var_plus_eps)

__all__ = ["BNThresholds", "thresholds_sign", "thresholds_kbit", "apply_thresholds"]


@dataclasses.dataclass(frozen=True)
class BNThresholds:
    """Integer thresholds of BN followed by an activation (see
    :func:`thresholds_sign`, :func:`thresholds_kbit`, :func:`apply_thresholds`).

    ``convention="finn"``: ``thresholds`` is ``(C, n)`` int64, each row sorted
    ascending; the activation's level (0..n) of channel c is
    ``sum(x >= T[c])`` where ``ge[c]`` and ``sum(x <= T[c])`` where not
    (a flipped comparison for negative gamma); its value is
    ``out_bias + out_scale * level`` (FINN MultiThreshold's out_scale /
    out_bias; None for explicit boundaries).

    ``convention="lce"``: ``thresholds`` is ``(C,)`` int32 and the output bit
    (1 meaning -1) of XOR-popcount ``accum`` is ``accum > T[c]``; ``K`` is
    the popcount length (dot product ``K - 2*accum``).

    ``negate[c]``: the channel's weights must be negated by the caller (the
    sign of a negative gamma folded into the weights); its thresholds are
    for the accumulator those negated weights produce.

    Sentinels: ``INT64_MIN`` / ``INT64_MAX`` (``INT32_MIN`` / ``INT32_MAX``
    for lce) stand for "always" / "never" (gamma == 0, or a threshold beyond
    the integer range, e.g. for a tiny gamma).  The levels are exact for
    every accumulator strictly between INT64_MIN and INT64_MAX.
    """

    convention: str
    thresholds: np.ndarray
    ge: np.ndarray
    negate: np.ndarray
    out_scale: Fraction | None
    out_bias: Fraction | None
    K: int | None = None


def _floor_u_plus_v_sqrt(u: Fraction, v: Fraction, q: Fraction) -> int:
    """``floor(u + v * sqrt(q))`` exactly (q > 0), with integer square roots."""
    fu = math.floor(u)
    if v == 0:
        return fu
    z = v * v * q  # (v sqrt q)**2
    r = math.isqrt(z.numerator // z.denominator)  # floor(sqrt(z))
    if v > 0:
        # u + sqrt(z) lies in [fu + r, fu + r + 2): the floor is one of two.
        n = fu + r + 1
        d = n - u  # n <= u + sqrt(z)  <=>  d <= 0 or d*d <= z
        return n if (d <= 0 or d * d <= z) else n - 1
    # u - sqrt(z) lies in (fu - r - 1, fu - r + 1).
    n = fu - r
    d = u - n  # n <= u - sqrt(z)  <=>  d >= 0 and z <= d*d
    return n if (d >= 0 and z <= d * d) else n - 1


_INF = float("inf")


def _channel_thresholds(g, beta, mean, q, sc, boundaries, negative):
    """Exact thresholds of one channel (Python ints or +-inf) in the
    orientation of the result: returns (ge, negate, list)."""
    if g == 0:
        # y == beta for every x: each boundary is met always or never.
        return True, False, [(-_INF if (beta >= b if incl else beta > b) else _INF)
                             for b, incl in boundaries]
    out = []
    for b, incl in boundaries:
        # y >= b  <=>  g * (x*sc - mean) >= (b - beta) * sqrt(q)
        #         <=>  x >= rho (g > 0) or x <= rho (g < 0),
        # rho = mean/sc + (b - beta)/(g*sc) * sqrt(q) = u + v sqrt(q).
        u, v = mean / sc, (b - beta) / (g * sc)
        if g > 0:   # count x >= T
            T = -_floor_u_plus_v_sqrt(-u, -v, q) if incl else _floor_u_plus_v_sqrt(u, v, q) + 1
        else:       # count x <= T
            T = _floor_u_plus_v_sqrt(u, v, q) if incl else -_floor_u_plus_v_sqrt(-u, -v, q) - 1
        out.append(T)
    if g > 0:
        return True, False, out
    if negative == "flip":
        return False, False, out
    # Weights negated: the accumulator is -x, and x <= T  <=>  -x >= -T.
    return True, True, [-T for T in out]


def _clamp(T, lo, hi):
    return lo if T == -_INF or T < lo else hi if T == _INF or T > hi else int(T)


def _prepare(gamma, beta, mean, var, eps, in_scale):
    C, p = read_channels(gamma=gamma, beta=beta, mean=mean, var=var, eps=eps, in_scale=in_scale)
    q = var_plus_eps(p["var"], p["eps"], C)
    check_positive(p["in_scale"], "in_scale")
    return C, p, q


def _finn(C, p, q, boundaries, negative, out_scale, out_bias):
    if negative not in ("flip", "fold"):
        raise ValueError(f"negative must be 'flip' or 'fold', got {negative!r}")
    n = len(boundaries)
    T = np.empty((C, n), np.int64)
    ge = np.ones(C, bool)
    neg = np.zeros(C, bool)
    for c in range(C):
        ge[c], neg[c], row = _channel_thresholds(p["gamma"][c], p["beta"][c], p["mean"][c], q[c],
                                                 p["in_scale"][c], boundaries, negative)
        T[c] = sorted(_clamp(t, INT64_MIN, INT64_MAX) for t in row)
    return BNThresholds("finn", T, ge, neg, out_scale, out_bias)


def thresholds_sign(gamma, beta, mean, var, eps, *, in_scale=1, convention="finn", K=None,
                    negative=None) -> BNThresholds:
    """Batch norm followed by Hubara et al.'s sign, as integer thresholds.

    ``sign(y) = +1 if y >= 0 else -1`` (sign(0) = +1) of the RATIONAL batch
    norm ``y = gamma*(x*in_scale - mean)/sqrt(var + eps) + beta`` of an
    integer accumulator x: exact, no float rounding.  The square root is
    never computed: the threshold is ``ceil(rho)`` (or ``floor`` for
    gamma < 0) of the root ``rho = u + v*sqrt(var + eps)`` (u, v rational),
    and ``floor(u + v*sqrt(q))`` is found exactly with integer square roots
    (``isqrt``) and one comparison of squares of rationals.

    Conventions
    -----------
    ``"finn"`` (FINN / qonnx MultiThreshold): one threshold per channel, the
    output level is ``x >= T`` (0 or 1), value ``-1 + 2*level``
    (``out_bias=-1``, ``out_scale=2``).
    ``"lce"`` (Larq Compute Engine's bitpacked output,
    ``OutputTransform<TBitpacked>``): the accumulator is the XOR-popcount
    ``accum`` in ``0..K`` (dot product ``K - 2*accum``) and the output bit,
    where 1 means -1, is ``accum > T``.  LCE's converter computes
    ``T = floor((K + bias/|mult|) / 2)`` in float32 from the folded BN
    ``y = dot*mult + bias``; here ``T = floor((K - T_x) / 2)`` with
    ``T_x`` the exact smallest dot product giving +1, so the bit is exact.
    Like LCE, gamma == 0 gives ``INT32_MIN`` (always 1, beta < 0) or
    ``INT32_MAX`` (always 0, beta >= 0), and negative gamma is folded into
    the weights (LCE multiplies the filter by ``sign(mult)``, sign(0) = +1).

    Negative gamma (``negative``): ``"flip"`` (default for finn) keeps the
    weights and counts ``x <= T`` for those channels (``ge[c]`` False);
    ``"fold"`` (default and only choice for lce) sets ``negate[c]``: the
    caller negates the channel's weights, the accumulator becomes ``-x`` and
    the comparison stays ``>=`` (``>`` for lce).

    Raises ValueError naming the channel for ``var + eps <= 0``,
    ``in_scale <= 0`` or a non-finite parameter.
    """
    C, p, q = _prepare(gamma, beta, mean, var, eps, in_scale)
    boundaries = [(Fraction(0), True)]
    if convention == "finn":
        return _finn(C, p, q, boundaries, negative or "flip", Fraction(2), Fraction(-1))
    if convention != "lce":
        raise ValueError(f"convention must be 'finn' or 'lce', got {convention!r}")
    if (negative or "fold") != "fold":
        raise ValueError("convention='lce' has only 'accum > T': negative gamma must be folded "
                         "into the weights (negative='fold')")
    if K is None or isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 0:
        raise ValueError(f"convention='lce' needs K, the XOR-popcount length (an int >= 0), "
                         f"got {K!r}")
    K = int(K)
    T = np.empty(C, np.int32)
    neg = np.zeros(C, bool)
    for c in range(C):
        _, neg[c], (Tx,) = _channel_thresholds(p["gamma"][c], p["beta"][c], p["mean"][c], q[c],
                                               p["in_scale"][c], boundaries, "fold")
        # bit 1  <=>  level 0  <=>  K - 2*accum < Tx  <=>  accum > (K - Tx)/2.
        if Tx == -_INF:
            tau = INT32_MAX  # +1 always: never a 1-bit
        elif Tx == _INF:
            tau = INT32_MIN  # -1 always
        else:
            tau = _clamp((K - Tx) // 2, INT32_MIN, INT32_MAX)
        T[c] = tau
    return BNThresholds("lce", T, np.ones(C, bool), neg, Fraction(-2), Fraction(1), K)


def _fixed_boundaries(fmt, rounding):
    """Boundaries (b, inclusive) where ``encode(y, fmt, rounding,
    "saturate")`` steps from code value ``c-1`` to ``c``, for every ``c``
    above the smallest; found by asking the core.

    With ``t = y * 2**frac``, every deterministic mode gives ``R(t) >= c``
    for ``t >= c`` and ``R(t) < c`` for ``t < c - 1``; inside ``(c-1, c)`` its
    answer is constant on ``(c-1, c-1/2)`` and on ``(c-1/2, c)``.  So
    probing ``t = c-1, c-3/4, c-1/2, c-1/4`` decides the step: at ``c-1``
    (inclusive or not), at ``c-1/2`` (inclusive or not) or at ``c``."""
    lo, hi = fmt.int_min, fmt.int_max
    cs = np.arange(lo + 1, hi + 1, dtype=np.int64)
    probe_fmt = _formats.FixedFormat(fmt.word + 3, fmt.frac + 2)
    probes = (4 * (cs[:, None] - 1) + np.arange(4)).reshape(-1)
    out = cast(from_bits(exact.codes_of_ints(probes, probe_fmt), probe_fmt), fmt, rounding,
               "saturate")
    n = exact.signed_ints(out.bits, fmt)
    up = (n.reshape(-1, 4) >= cs[:, None])
    ulp = Fraction(2) ** -fmt.frac
    result = []
    for c, (r0, r1, r2, r3) in zip(cs.tolist(), up.tolist()):
        if r0:
            theta, incl = Fraction(c - 1), True
        elif r1:
            theta, incl = Fraction(c - 1), False
        elif r2:
            theta, incl = c - Fraction(1, 2), True
        elif r3:
            theta, incl = c - Fraction(1, 2), False
        else:
            theta, incl = Fraction(c), True
        result.append((theta * ulp, incl))
    return result


def thresholds_kbit(gamma, beta, mean, var, eps, act, *, rounding="nearest_even", in_scale=1,
                    negative="flip") -> BNThresholds:
    """Batch norm followed by a k-bit activation, as FINN MultiThreshold
    thresholds, exact against the RATIONAL batch norm (see
    :func:`thresholds_sign` for how the square root is handled).

    ``act`` is either

    * a fixed-point format (``FixedFormat`` or a name such as ``"u2.0"``,
      ``"s4.2"``): the activation is ``encode(y, act, rounding,
      overflow="saturate")`` (clipping to the format's range); level ``i``
      is the code value ``(int_min + i) * 2**-frac``, so ``out_bias =
      int_min * 2**-frac`` and ``out_scale = 2**-frac``.  Where each step
      lies, and whether a value exactly on it steps up, is asked of the
      rounding core (ties follow the mode: under nearest_even a tie goes up
      exactly when the upper code is even);
    * a sequence of boundary values ``b_1 <= b_2 <= ...`` (exact
      rationals): the level is the number of ``b_i`` with ``y >= b_i``
      (``out_scale``/``out_bias`` None).

    The thresholds are the integer accumulators where the activation steps
    up: ``T_i`` is the smallest x with level >= i (gamma > 0).  Negative
    gamma: ``negative="flip"`` counts ``x <= T`` (``ge[c]`` False),
    ``"fold"`` asks the caller to negate the channel's weights
    (``negate[c]``) and keeps ``x >= T``.  gamma == 0: the level is that of
    ``beta`` for every x, expressed with sentinel thresholds INT64_MIN
    (always) / INT64_MAX (never).
    """
    C, p, q = _prepare(gamma, beta, mean, var, eps, in_scale)
    if isinstance(act, (str, _formats.FixedFormat, _formats.FloatFormat)):
        fmt = _formats.format(act)
        if fmt.is_float:
            raise ValueError(f"thresholds_kbit: act must be a fixed-point format or boundaries, "
                             f"got {fmt.name}")
        if fmt.word > 16:
            raise ValueError(f"thresholds_kbit: {fmt.name} has 2**{fmt.word} levels; at most 16 "
                             "bits")
        mode = deterministic_mode(rounding, "thresholds_kbit")
        boundaries = _fixed_boundaries(fmt, mode)
        ulp = Fraction(2) ** -fmt.frac
        return _finn(C, p, q, boundaries, negative, ulp, fmt.int_min * ulp)
    values = list(np.asarray(act, dtype=object).reshape(-1))
    bs = [exact_param(v, "boundary", None) for v in values]
    for i in range(len(bs) - 1):
        if bs[i] > bs[i + 1]:
            raise ValueError(f"thresholds_kbit: boundaries must be non-decreasing; boundary "
                             f"{i + 1} ({bs[i + 1]}) is below boundary {i} ({bs[i]})")
    return _finn(C, p, q, [(b, True) for b in bs], negative, None, None)


def apply_thresholds(x, th: BNThresholds, *, axis=1):
    """The activation levels (finn) or output bits (lce) of integer
    accumulators ``x`` with channels on ``axis``.

    finn: ``sum(x >= T[c])`` (``sum(x <= T[c])`` where ``ge[c]`` is False),
    int64 in ``0..n``; the activation value is ``out_bias + out_scale *
    level``.  lce: ``x`` is the XOR-popcount, the result is
    ``uint8(x > T[c])`` (1 = -1).  For channels with ``negate[c]`` pass the
    accumulator of the negated weights.  Comparisons only: exact."""
    C = th.thresholds.shape[0]
    xm = move_channels(int64_input(x, "apply_thresholds"), C, axis, "apply_thresholds")
    if th.convention == "lce":
        out = (xm > th.thresholds.astype(np.int64)).astype(np.uint8)
    else:
        xe = xm[..., None]
        up = (xe >= th.thresholds).sum(-1)
        down = (xe <= th.thresholds).sum(-1)
        out = np.where(th.ge, up, down).astype(np.int64)
    return np.moveaxis(out, -1, axis)
