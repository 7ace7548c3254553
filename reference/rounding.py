"""Rounding an exact rational number to an integer.

This is the heart of every conversion.  The caller divides the value by the
spacing of the target grid (the "ulp"), giving an exact rational ``t``; this
module decides which integer ``t`` becomes.  The code of the target format is
then built from that integer.

Notation used in every docstring below::

    n = floor(t)        the integer at or below t
    f = t - n           the fraction part, 0 <= f < 1
    "exact"             f == 0, i.e. t already is an integer

Apart from ``jam`` (which changes exact values too), an exact ``t`` is always
returned unchanged, and an inexact ``t`` always becomes ``n`` or ``n + 1``.
"""

import math
from fractions import Fraction

MODES = (
    "nearest_even", "nearest_odd", "nearest_away", "nearest_zero",
    "nearest_up", "nearest_down",
    "down", "up", "toward_zero", "away", "odd", "jam",
    "stochastic", "stochastic_equal",
)

NEAREST_MODES = MODES[:6]

# Modes whose result depends on how the register holds a negative number.
# A floating-point significand is sign-magnitude: these modes act on |t| and
# the sign is put back afterwards.  A fixed-point register is two's
# complement: these modes act on t itself.
SIGN_MAGNITUDE_SENSITIVE = ("jam", "stochastic", "stochastic_equal")


def round_to_integer(t, mode, twos, r=0, R=32):
    """Round the exact rational ``t`` to an integer with rounding ``mode``.

    ``twos`` says how the hardware holds negative numbers: True for a two's
    complement register (fixed point), False for sign-magnitude (floating
    point).  Only ``jam``, ``stochastic`` and ``stochastic_equal`` care.

    ``r`` is the random number for the stochastic modes: ``R`` random bits,
    so ``0 <= r < 2**R``.  Other modes ignore ``r`` and ``R``.

    Sign-magnitude is handled by reduction: for a negative ``t`` we round the
    magnitude ``-t`` (a non-negative number, where both representations
    agree) and negate the result.
    """
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}; expected one of {MODES}")
    t = Fraction(t)
    if mode in ("stochastic", "stochastic_equal"):
        _check_random_bits(r, R)
    if not twos and mode in SIGN_MAGNITUDE_SENSITIVE and t < 0:
        return -round_to_integer(-t, mode, True, r, R)
    return _round_twos(t, mode, r, R)


def _check_random_bits(r, R):
    """Reject a random number that does not fit in R bits."""
    if not (isinstance(R, int) and R >= 1):
        raise ValueError(f"R (number of random bits) must be an int >= 1, got {R!r}")
    if not (isinstance(r, int) and 0 <= r < 2**R):
        raise ValueError(f"random bits r must satisfy 0 <= r < 2**{R}, got {r!r}")


def _round_twos(t, mode, r, R):
    """Round ``t`` as a two's complement register would (see module doc)."""
    n = math.floor(t)
    f = t - n
    if mode == "jam":
        # Von Neumann rounding: truncate (floor, in two's complement), then
        # force the last bit to 1, even when t was exact.  Python's ``|`` on
        # negative ints is two's complement: -2 | 1 == -1, -3 | 1 == -3.
        return n | 1
    if f == 0:
        return n
    if mode in NEAREST_MODES:
        return _round_nearest(t, n, f, mode)
    if mode == "down":
        return n
    if mode == "up":
        return n + 1
    if mode == "toward_zero":
        return n + 1 if t < 0 else n
    if mode == "away":
        return n if t < 0 else n + 1
    if mode == "odd":
        return n if n % 2 == 1 else n + 1
    if mode == "stochastic":
        # Up with probability f: g is f in R-bit fixed point (truncated),
        # and g + r reaches 2**R for exactly g of the 2**R values of r.
        g = math.floor(f * 2**R)
        return n + 1 if g + r >= 2**R else n
    if mode == "stochastic_equal":
        # Up with probability 1/2: the top bit of r decides.
        return n + 1 if r >= 2**(R - 1) else n
    raise AssertionError(mode)  # every name in MODES is handled above


def _round_nearest(t, n, f, mode):
    """Nearest of ``n`` and ``n + 1``; the mode only decides ties (f == 1/2)."""
    half = Fraction(1, 2)
    if f < half:
        return n
    if f > half:
        return n + 1
    # A tie: t lies exactly halfway between n and n + 1.
    if mode == "nearest_even":
        return n if n % 2 == 0 else n + 1
    if mode == "nearest_odd":
        return n if n % 2 == 1 else n + 1
    if mode == "nearest_away":
        return n + 1 if t > 0 else n  # n + 1 is farther from 0 when t > 0
    if mode == "nearest_zero":
        return n if t > 0 else n + 1
    if mode == "nearest_up":
        return n + 1
    if mode == "nearest_down":
        return n
    raise AssertionError(mode)
