"""THE rounding core: an exact value ``(-1)**neg * (M + sticky) * 2**E`` in,
the code of a format out.

Every value fxsim produces passes through :func:`round_code`: encoding an
input, decoding a code to float64 (which is rounding into float64), and --
in later modules -- every arithmetic result and accumulation step.

The input is exact: ``M`` is a non-negative integer, ``E`` an integer, and
``sticky`` says that the true magnitude is strictly larger than ``M * 2**E``
but smaller than ``(M + 1) * 2**E`` (the bits a caller shifted out were not
all zero).  A caller that passes ``sticky`` must keep at least one bit below
the rounding point (and ``R`` bits for exact stochastic rounding).

One source, two engines.  The functions here are plain Python decorated with
``register_jitable``: Numba compiles them into the kernels (64-bit integers,
codes up to 64 bits), and Python runs them unchanged on arbitrary-precision
``int`` for formats wider than 64 bits and for Python ints and Fractions.
The integer helpers of ``primitives`` (:func:`bit_length`, :func:`shl`,
:func:`shr`, :func:`u64`, :func:`i64`) are what differ between the two.
The kernels inline the whole core (``inline="always"``): passing the format
by value to a called function costs more than the rounding itself.

What happens to NaN, inf, zeros and overflow of a float is decided in
``specialize`` (the value classes, overflow policies and statuses are
defined there and re-exported here); the fixed-point overflow step, with
the range limits of the :class:`Spec` (narrowed for a symmetric format), is
:func:`_fixed_code` here.

Format parameters arrive as a :class:`Spec`, built by ``formats.py``.
"""
from __future__ import annotations

from typing import NamedTuple

from numba.extending import register_jitable

from . import specialize
from .primitives import bit_length, i64, shl, shr, u64  # noqa: F401  (used by the kernels)
from .specialize import (ERR_INF, ERR_NAN, ERR_OVERFLOW, FINITE, IEEE, INF, NAN,  # noqa: F401
                         NAN_CLASS, OK, RAISE, SATURATE, WRAP)

# Rounding mode codes: the order of fxsim.modes.Rounding.  (The overflow
# policies WRAP, SATURATE, RAISE, IEEE, NAN -- the order of
# fxsim.modes.Overflow --, the value classes FINITE, INF, NAN_CLASS and the
# statuses OK, ERR_* come from ``specialize``.)
NEAREST_EVEN, NEAREST_ODD, NEAREST_AWAY, NEAREST_ZERO, NEAREST_UP, NEAREST_DOWN = 0, 1, 2, 3, 4, 5
DOWN, UP, TOWARD_ZERO, AWAY, ODD, JAM, STOCHASTIC, STOCHASTIC_EQUAL = 6, 7, 8, 9, 10, 11, 12, 13


class Spec(NamedTuple):
    """A format as the core sees it (built by ``formats.py``).

    Magnitudes and codes are ``uint64`` for the Numba engine and Python
    ``int`` for the exact engine; exponents are ``int64`` resp. ``int``.
    """

    is_float: bool
    word: int  # width of a code in bits
    frac: int  # fixed: the grid is 2**-frac
    pos_limit: int  # fixed: largest integer a result may be (int_max)
    neg_limit: int  # fixed: magnitude of the most negative one (-int_min; 0:
    #                 unsigned; 2**(word-1) - 1 for a narrowed format)
    mask: int  # 2**word - 1
    man: int  # float: fraction bits
    bias: int
    emin: int  # float: exponent of the smallest normal binade
    efield_max: int  # float: largest exponent-field value, 2**exp - 1
    subnormals: bool
    max_mag: int  # float: code (without sign) of the largest finite value
    sign_bit: int  # the sign bit's value in a code; 0 if unsigned
    has_inf: bool
    inf_mag: int  # float: code (without sign) of inf
    has_nan: bool
    nan_code: int  # float: the canonical NaN (positive where NaN is signed)
    nan_signed: bool  # NaN carries the input's sign (ieee, fn)
    negzero: bool  # float: -0 exists (not in fnuz, E8M0, unsigned floats)
    nozero: bool  # float: no zero (E8M0)
    nan_fills: bool  # a NaN policy: NaN (into a format without NaN) becomes
    nan_fill: int  # this code instead of the error ERR_NAN
    # (the special-value fields above are filled from ``specialize``)


def with_nan_fill(spec, code):
    """``spec`` with the NaN policy "NaN becomes ``code``" (``code`` None:
    ``spec`` unchanged).  The field types stay: no recompilation."""
    if code is None:
        return spec
    return spec._replace(nan_fills=True, nan_fill=type(spec.mask)(code))


# ---------------------------------------------------------------- rounding
def _rounds_up(mode, neg, rb, st, odd):
    """Does a deterministic mode round the magnitude ``n`` up to ``n + 1``?

    ``neg``: the value is negative; ``rb``: the first bit below the rounding
    point (the round bit); ``st``: any later bit or the sticky bit; ``odd``:
    ``n`` is odd.  The value is exact iff ``rb == st == 0``; a tie is
    ``rb and not st``.  (jam and the stochastic modes are decided apart.)
    """
    if not (rb or st):
        return False  # exact: nothing to round
    if mode <= NEAREST_DOWN:
        if not rb:
            return False  # below the half-way point
        if st:
            return True  # above it
        return {NEAREST_EVEN: odd, NEAREST_ODD: not odd, NEAREST_AWAY: True,
                NEAREST_ZERO: False, NEAREST_UP: not neg, NEAREST_DOWN: neg}[mode]
    return {DOWN: neg, UP: not neg, TOWARD_ZERO: False, AWAY: True,
            ODD: not odd}.get(mode, False)


#: For each mode, the truth table of ``_rounds_up`` as a 16-bit integer:
#: bit ``neg | rb << 1 | st << 2 | odd << 3`` is the decision.  The kernels
#: look decisions up here instead of branching on random data.
DECISIONS = tuple(
    sum(int(_rounds_up(mode, key & 1, key >> 1 & 1, key >> 2 & 1, key >> 3 & 1)) << key
        for key in range(16))
    for mode in range(STOCHASTIC_EQUAL + 1))


@register_jitable(inline="always")
def round_magnitude(neg, M, k, sticky, mode, twos, r, R):
    """Round ``(M + sticky) * 2**-k`` to an integer magnitude.

    ``k`` is the number of bits of ``M`` below the rounding point (``k <= 0``:
    the value is on the grid already).  ``neg`` is the sign of the value;
    ``twos`` selects two's complement semantics (fixed point) for the modes
    where the representation matters (jam, stochastic, stochastic_equal);
    otherwise sign-magnitude (floats).  ``r`` holds ``R`` random bits for the
    stochastic modes.  Returns the rounded magnitude.
    """
    one = u64(1)
    zero = u64(0)
    kp = max(k, 0)  # bits below the rounding point
    kr = max(k - 1, 0)  # position of the round bit (when kp > 0)
    n = shl(shr(M, kp), max(-k, 0))
    low = u64(M - shl(shr(M, kp), kp))  # the bits below the rounding point
    rb = shr(low, kr) & one  # the first of them: 0 when kp == 0
    st = (low != shl(rb, kr)) | sticky  # the rest, and the sticky bit
    inexact = (low != zero) | sticky
    if mode < JAM:
        key = i64(neg) | i64(rb) << 1 | i64(st) << 2 | i64(n & one) << 3
        return n + u64((DECISIONS[mode] >> key) & 1)
    if mode == JAM:
        if twos and neg:
            c = n + u64(inexact)  # magnitude of floor(t); c >= 1 as the value is not 0
            return c - one + (c & one)  # c | 1 in two's complement, as a magnitude
        return n | one
    if not inexact:
        return n
    if mode == STOCHASTIC:
        # f * 2**R, truncated, from the bits below the rounding point
        if kp >= R:
            floor_f = shr(low, kp - R)
            exact_f = shl(floor_f, kp - R) == low and not sticky
        else:
            floor_f = shl(low, R - kp)
            exact_f = not sticky
        if twos and neg:
            # toward +inf iff floor(f'*2**R) + r >= 2**R for the signed
            # fraction f' = 1 - |f|: the magnitude grows iff r < ceil(|f|*2**R)
            return n + u64(r < floor_f + u64(not exact_f))
        return n + u64(r > (shl(one, R) - one) - floor_f)
    up = r >= shl(one, R - 1)  # STOCHASTIC_EQUAL
    return n + u64(up != (twos and neg))


@register_jitable(inline="always")
def rounds_away(neg, mode):
    """Does ``mode`` round a magnitude beyond max finite up, toward inf
    (IEEE 754 section 7.4)?  The nearest modes, ``away``, ``up`` for a
    positive and ``down`` for a negative value do."""
    return (mode <= NEAREST_DOWN or mode == AWAY
            or (mode == UP and not neg) or (mode == DOWN and neg))


@register_jitable(inline="always")
def _fixed_code(neg, M, k, mag, spec, ovf):
    """Assemble a fixed-point code from the rounded magnitude ``mag``, with
    the overflow step: beyond ``pos_limit`` / ``neg_limit`` (``int_max`` and
    ``-int_min`` of the format: ``2**(word-1) - 1`` both ways for a narrowed
    one) ``saturate`` clamps to the limit, ``raise`` fails and ``wrap``
    keeps the result modulo ``2**word`` (never offered for a narrowed
    format: see ``specialize``)."""
    zero = u64(0)
    # |value| >= 2**word overflows every fixed format of that word; in Numba
    # the shifted magnitude is then only right modulo 2**64, which is all
    # that wrapping needs.
    huge = k < 0 and M != zero and bit_length(M) - k > spec.word
    limit = spec.neg_limit if neg else spec.pos_limit
    if huge or mag > limit:
        if ovf == SATURATE:
            mag = limit
        elif ovf != WRAP:
            return zero, ERR_OVERFLOW
    flip = zero - u64(neg)  # all ones for a negative value
    return ((mag ^ flip) - flip) & spec.mask, OK  # two's complement of -mag


@register_jitable(inline="always")
def _float_code(neg, e, q, n, spec, mode, ovf):
    """Assemble a float code from the rounded significand ``n`` (value
    ``n * 2**q``; ``e`` is the exponent of the unrounded value)."""
    zero = u64(0)
    man = spec.man
    sign = spec.sign_bit & (zero - u64(neg))
    if n == zero:
        return specialize.zero_result(neg, spec), OK  # underflow to a signed zero
    if e < spec.emin and not spec.subnormals:
        n = shl(n, man)  # n == 1: the smallest normal
        q = spec.emin - man
    efield = q + man + spec.bias  # exponent field if n is normal
    over = efield > spec.efield_max
    mag = zero
    if not over:
        if n >= shl(u64(1), man):
            # normal; a carry (n == 2**(man+1)) moves into the exponent field
            mag = shl(u64(efield), man) + (n - shl(u64(1), man))
        else:
            mag = n  # subnormal: exponent field 0
        over = mag > spec.max_mag
    if over:
        return specialize.overflow_result(neg, rounds_away(neg, mode), spec, ovf)
    return sign | mag, OK


@register_jitable(inline="always")
def round_code(neg, M, E, sticky, cls, spec, mode, ovf, r, R):
    """Round the exact value ``(-1)**neg * (M + sticky) * 2**E`` (or, by
    ``cls``, an infinity or NaN) into the format ``spec``.

    Returns ``(code, status)``; status is OK or the reason there is no code:
    ERR_NAN (NaN into a format without NaN), ERR_INF (inf into fixed point),
    ERR_OVERFLOW (overflow under ``overflow="raise"``).

    Three steps: find the rounding point (the grid spacing ``2**q`` at the
    value), round the magnitude there once (``round_magnitude``), assemble
    the code and apply the overflow policy.
    """
    if cls != FINITE:
        return specialize.special_result(neg, cls, spec, ovf)
    zero = u64(0)
    is_zero = M == zero and not sticky
    e = 0
    if spec.is_float:
        if (neg and not is_zero and spec.sign_bit == zero) or (is_zero and spec.nozero):
            return specialize.below_range(spec, ovf)  # unsigned: negative; E8M0: zero
        if is_zero:
            return specialize.zero_result(neg, spec), OK
        e = bit_length(M) - 1 + E  # exponent of the leading bit
        if e >= spec.emin:
            q = e - spec.man  # normal binade
        elif spec.nozero:
            return zero, OK  # E8M0: below the smallest scale is the smallest scale
        elif spec.subnormals:
            q = spec.emin - spec.man  # subnormal spacing
        else:
            q = spec.emin  # no subnormals: the only candidates are 0 and 2**emin
    else:
        neg = neg & (not is_zero)  # a fixed-point zero has no sign
        q = -spec.frac
    n = round_magnitude(neg, M, q - E, sticky, mode, not spec.is_float, r, R)
    if spec.is_float:
        return _float_code(neg, e, q, n, spec, mode, ovf)
    return _fixed_code(neg, M, q - E, n, spec, ovf)


# ---------------------------------------------------------------- decoding
@register_jitable(inline="always")
def split_code(code, spec):
    """The exact value of a code: ``(neg, M, E, cls)`` with value
    ``(-1)**neg * M * 2**E`` when ``cls`` is FINITE.

    Float codes whose exponent field is 0 read as zero when the format has no
    subnormals ("denormals are zero").
    """
    zero = u64(0)
    one = u64(1)
    neg = (code & spec.sign_bit) != zero
    if not spec.is_float:
        flip = zero - u64(neg)
        return neg, ((code ^ flip) - flip) & spec.mask, -spec.frac, FINITE
    mag = code & (spec.mask ^ spec.sign_bit)
    cls = specialize.code_class(neg, mag, spec)
    if cls != FINITE:
        return neg, zero, 0, cls  # inf or NaN
    man = spec.man
    efield = shr(mag, man)
    mf = mag - shl(efield, man)
    if efield == zero and not spec.nozero:
        if spec.subnormals:
            return neg, mf, spec.emin - man, FINITE
        return neg, zero, 0, FINITE
    return neg, mf + shl(one, man), i64(efield) - spec.bias - man, FINITE
