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
The four helpers :func:`bit_length`, :func:`shl`, :func:`shr` and :func:`u64`
are what differ: in Python they are the plain operators; in Numba, shifts of
64 or more give 0 instead of undefined behaviour, and ``u64`` keeps every
magnitude a ``uint64`` (Numba turns ``uint64 + int64`` into float64).

Format parameters arrive as a :class:`Spec`, built by ``formats.py``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

# Mode codes: the order of fxsim.modes.Rounding / Overflow.
NEAREST_EVEN, NEAREST_ODD, NEAREST_AWAY, NEAREST_ZERO, NEAREST_UP, NEAREST_DOWN = 0, 1, 2, 3, 4, 5
DOWN, UP, TOWARD_ZERO, AWAY, ODD, JAM, STOCHASTIC, STOCHASTIC_EQUAL = 6, 7, 8, 9, 10, 11, 12, 13
WRAP, SATURATE, RAISE, IEEE, NAN = 0, 1, 2, 3, 4

# Input classes.
FINITE, INF, NAN_CLASS = 0, 1, 2

# Status of one rounding (0 is success).
OK, ERR_NAN, ERR_INF, ERR_OVERFLOW = 0, 1, 2, 3


class Spec(NamedTuple):
    """A format as the core sees it (built by ``formats.py``).

    Magnitudes and codes are ``uint64`` for the Numba engine and Python
    ``int`` for the exact engine; exponents are ``int64`` resp. ``int``.
    """

    is_float: bool
    word: int  # width of a code in bits
    frac: int  # fixed: the grid is 2**-frac
    pos_limit: int  # fixed: largest positive integer on the grid
    neg_limit: int  # fixed: magnitude of the most negative one (0: unsigned)
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
    negzero: bool  # float: -0 exists
    nozero: bool  # float: no zero (E8M0); zero and negatives are NaN


# ---------------------------------------------------------------- helpers
def bit_length(x):
    """Number of bits of the non-negative integer ``x`` (0 for 0)."""
    return int(x).bit_length()


def shl(x, s):
    """``x << s`` for ``s >= 0`` (Numba: 0 when ``s >= 64``)."""
    return x << s


def shr(x, s):
    """``x >> s`` for ``s >= 0`` (Numba: 0 when ``s >= 64``)."""
    return x >> s


def u64(x):
    """An unsigned 64-bit integer in Numba; the int itself in Python."""
    return x


def i64(x):
    """A signed 64-bit integer in Numba; the int itself in Python."""
    return x


@intrinsic
def _ctlz64(typingctx, x):
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@overload(u64)
def _u64_nb(x):
    return lambda x: np.uint64(x)


@overload(i64)
def _i64_nb(x):
    return lambda x: np.int64(x)


@overload(bit_length)
def _bit_length_nb(x):
    return lambda x: 64 - _ctlz64(np.uint64(x))


@overload(shl)
def _shl_nb(x, s):
    def impl(x, s):
        if s >= 64:
            return np.uint64(0)
        return np.uint64(x) << s

    return impl


@overload(shr)
def _shr_nb(x, s):
    def impl(x, s):
        if s >= 64:
            return np.uint64(0)
        return np.uint64(x) >> s

    return impl


# ---------------------------------------------------------------- rounding
@register_jitable
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
    if k <= 0:
        n = shl(M, -k)
        low = zero
        rb = zero
        below = zero
        floor_f = zero
        exact_f = True
    else:
        n = shr(M, k)
        low = u64(M - shl(n, k))  # the bits below the rounding point
        rb = shr(M, k - 1) & one  # the first of them (the round bit)
        below = u64(low - shl(rb, k - 1))  # the rest
        if k >= R:
            floor_f = shr(low, k - R)
            exact_f = shl(floor_f, k - R) == low
        else:
            floor_f = shl(low, R - k)
            exact_f = True
    inexact = low != zero or sticky
    if mode == JAM:
        if twos and neg:
            c = n + (one if inexact else zero)  # magnitude of floor(t)
            return c - one if (c & one) == zero else c
        return n | one
    if not inexact:
        return n
    inc = False
    if mode <= NEAREST_DOWN:
        if rb == one and (below != zero or sticky):
            inc = True
        elif rb == one:  # an exact tie
            if mode == NEAREST_EVEN:
                inc = (n & one) == one
            elif mode == NEAREST_ODD:
                inc = (n & one) == zero
            elif mode == NEAREST_AWAY:
                inc = True
            elif mode == NEAREST_ZERO:
                inc = False
            elif mode == NEAREST_UP:
                inc = not neg
            else:
                inc = neg
    elif mode == DOWN:
        inc = neg
    elif mode == UP:
        inc = not neg
    elif mode == TOWARD_ZERO:
        inc = False
    elif mode == AWAY:
        inc = True
    elif mode == ODD:
        inc = (n & one) == zero
    elif mode == STOCHASTIC:
        if twos and neg:
            # up toward +inf iff floor(f*2**R) + r >= 2**R with f the signed
            # fraction 1 - |f|: the magnitude grows iff r < ceil(|f|*2**R)
            ceil_f = floor_f + (zero if (exact_f and not sticky) else one)
            inc = r < ceil_f
        else:
            inc = r > (shl(one, R) - one) - floor_f
    else:  # STOCHASTIC_EQUAL
        up = r >= shl(one, R - 1)
        inc = (not up) if (twos and neg) else up
    return n + one if inc else n


@register_jitable
def round_fixed(neg, M, E, sticky, spec, mode, ovf, r, R):
    """Round onto the fixed-point grid ``2**-frac``; returns (code, status)."""
    zero = u64(0)
    if M == zero and not sticky:
        neg = False
    k = -spec.frac - E
    # |value| >= 2**word overflows every fixed format of that word; in Numba
    # the shifted magnitude is then only right modulo 2**64, which is all
    # that wrapping needs.
    huge = k < 0 and bit_length(M) - k > spec.word
    mag = round_magnitude(neg, M, k, sticky, mode, True, r, R)
    limit = spec.neg_limit if neg else spec.pos_limit
    if huge or mag > limit:
        if ovf == SATURATE:
            mag = limit
        elif ovf != WRAP:
            return zero, ERR_OVERFLOW
    if neg:
        return u64(zero - mag) & spec.mask, OK
    return mag & spec.mask, OK


@register_jitable
def _nan(neg, spec):
    if neg and spec.nan_signed:
        return spec.sign_bit | spec.nan_code
    return spec.nan_code


@register_jitable
def _overflowed(neg, spec, mode, ovf):
    """The (code, status) of a float result beyond max finite (or inf)."""
    zero = u64(0)
    sign = spec.sign_bit if neg else zero
    if ovf == SATURATE:
        return sign | spec.max_mag, OK
    if ovf == NAN:
        return _nan(neg, spec), OK
    if ovf == IEEE:
        to_inf = (mode <= NEAREST_DOWN or mode == AWAY
                  or (mode == UP and not neg) or (mode == DOWN and neg))
        if not to_inf:
            return sign | spec.max_mag, OK
        if spec.has_inf:
            return sign | spec.inf_mag, OK
        return _nan(neg, spec), OK
    return zero, ERR_OVERFLOW


@register_jitable
def round_float(neg, M, E, sticky, spec, mode, ovf, r, R):
    """Round onto a floating-point format; returns (code, status)."""
    zero = u64(0)
    if spec.nozero and (neg or (M == zero and not sticky)):
        return spec.nan_code, OK  # E8M0: no zero, no sign
    man = spec.man
    if M == zero and not sticky:
        e = spec.emin - 1  # a zero rounds like a tiny value (matters for jam)
    else:
        e = bit_length(M) - 1 + E  # exponent of the leading bit
    if e >= spec.emin:
        q = e - man
    elif spec.nozero:
        return zero, OK  # E8M0: below the smallest scale is the smallest scale
    elif spec.subnormals:
        q = spec.emin - man
    else:
        q = spec.emin  # no subnormals: the only candidates are 0 and 2**emin
    n = round_magnitude(neg, M, q - E, sticky, mode, False, r, R)
    sign = spec.sign_bit if neg else zero
    if n == zero:
        return (sign if spec.negzero else zero), OK
    if e < spec.emin and not spec.subnormals:
        n = shl(n, man)  # n == 1: the smallest normal
        q = spec.emin - man
    efield = q + man + spec.bias  # exponent field if n is normal
    if efield > spec.efield_max:
        return _overflowed(neg, spec, mode, ovf)
    if n >= shl(u64(1), man):
        # normal; a carry (n == 2**(man+1)) moves into the exponent field
        mag = shl(u64(efield), man) + (n - shl(u64(1), man))
    else:
        mag = n  # subnormal: exponent field 0
    if mag > spec.max_mag:
        return _overflowed(neg, spec, mode, ovf)
    return sign | mag, OK


@register_jitable
def round_code(neg, M, E, sticky, cls, spec, mode, ovf, r, R):
    """Round the exact value ``(-1)**neg * (M + sticky) * 2**E`` (or, by
    ``cls``, an infinity or NaN) into the format ``spec``.

    Returns ``(code, status)``; status is OK or the reason there is no code:
    ERR_NAN (NaN into a format without NaN), ERR_INF (inf into fixed point),
    ERR_OVERFLOW (overflow under ``overflow="raise"``).
    """
    zero = u64(0)
    if cls == NAN_CLASS:
        if not spec.has_nan:
            return zero, ERR_NAN
        return _nan(neg, spec), OK
    if cls == INF:
        if not spec.is_float:
            return zero, ERR_INF
        if spec.nozero and neg:
            return spec.nan_code, OK
        if spec.has_inf and ovf != SATURATE:
            sign = spec.sign_bit if neg else zero
            return sign | spec.inf_mag, OK
        if ovf == IEEE:
            return _nan(neg, spec), OK  # no inf here: NaN stands in for it
        return _overflowed(neg, spec, mode, ovf)
    if spec.is_float:
        return round_float(neg, M, E, sticky, spec, mode, ovf, r, R)
    return round_fixed(neg, M, E, sticky, spec, mode, ovf, r, R)


# ---------------------------------------------------------------- decoding
@register_jitable
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
        if neg:
            return True, u64(zero - code) & spec.mask, -spec.frac, FINITE
        return False, code, -spec.frac, FINITE
    mag = (code - spec.sign_bit) if neg else code
    if mag > spec.max_mag:
        if spec.has_inf and mag == spec.inf_mag:
            return neg, zero, 0, INF
        return neg, zero, 0, NAN_CLASS
    if neg and mag == zero and not spec.negzero:
        return neg, zero, 0, NAN_CLASS  # fnuz: the negative-zero pattern
    man = spec.man
    efield = shr(mag, man)
    mf = mag - shl(efield, man)
    if efield == zero and not spec.nozero:
        if spec.subnormals:
            return neg, mf, spec.emin - man, FINITE
        return neg, zero, 0, FINITE
    return neg, mf + shl(one, man), i64(efield) - spec.bias - man, FINITE
