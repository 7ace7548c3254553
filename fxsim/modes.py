"""Rounding and overflow modes (string-valued enums).

Every mode is defined on the grid of the target format.  With
``t = value / ulp`` (``ulp`` the grid spacing at the value), ``n = floor(t)``
and ``f = t - n``:

================== ==========================================================
``nearest_even``   nearest; a tie goes to the even integer (IEEE default)
``nearest_odd``    nearest; a tie goes to the odd integer
``nearest_away``   nearest; a tie goes away from zero
``nearest_zero``   nearest; a tie goes toward zero
``nearest_up``     nearest; a tie goes toward +inf
``nearest_down``   nearest; a tie goes toward -inf
``down``           floor (two's complement truncation)
``up``             ceiling
``toward_zero``    truncate the magnitude
``away``           away from zero when inexact
``odd``            round to odd: ``n`` if exact, else the odd one of n, n+1
``jam``            von Neumann: truncate, then force the last bit to 1 --
                   always, also when exact
``stochastic``     up with probability ``f`` (R random bits ``r``: up iff
                   ``floor(f * 2**R) + r >= 2**R``)
``stochastic_equal`` up with probability 1/2 when inexact (iff
                   ``r >= 2**(R-1)``)
================== ==========================================================

Where the number representation matters (``jam``, ``stochastic``,
``stochastic_equal``) fxsim does what the register does:

* fixed point is two's complement: truncation is ``floor(t)``, "up" is toward
  +inf, and jam is ``floor(t) | 1`` (so -2 jams to -1);
* floating point is sign-magnitude: the rule applies to ``|t|`` and the sign
  is put back (so -2 jams to -3; a float zero stays zero).

"Even" and "odd" refer to the integer significand on the grid, which is the
code's last bit except for formats without fraction bits (E8M0), where the
carry into the next binade (significand 2) counts as even.
"""
from __future__ import annotations

import enum
import numbers


class _Mode(str, enum.Enum):
    """A mode given by its name; ``code`` is the number the kernels use."""

    def __str__(self) -> str:
        return self.value

    @property
    def code(self) -> int:
        return list(type(self)).index(self)


class Rounding(_Mode):
    """How an exact value is rounded onto a format's grid (see module doc)."""

    NEAREST_EVEN = "nearest_even"
    NEAREST_ODD = "nearest_odd"
    NEAREST_AWAY = "nearest_away"
    NEAREST_ZERO = "nearest_zero"
    NEAREST_UP = "nearest_up"
    NEAREST_DOWN = "nearest_down"
    DOWN = "down"
    UP = "up"
    TOWARD_ZERO = "toward_zero"
    AWAY = "away"
    ODD = "odd"
    JAM = "jam"
    STOCHASTIC = "stochastic"
    STOCHASTIC_EQUAL = "stochastic_equal"

    @property
    def is_stochastic(self) -> bool:
        return self in (Rounding.STOCHASTIC, Rounding.STOCHASTIC_EQUAL)


class Overflow(_Mode):
    """What happens to a result beyond the format's range.

    Fixed point: ``wrap`` (two's complement modulo 2**word), ``saturate``
    (clamp to the end of the range), ``raise`` (``OverflowError``).

    Floating point: ``ieee`` (IEEE 754 section 7.4: nearest modes, ``away``,
    ``up`` for positive and ``down`` for negative values give inf -- NaN in a
    format without inf -- and the other modes give the largest finite value),
    ``saturate`` (to +-max finite; also inf inputs, like CUDA's satfinite),
    ``nan`` (to NaN), ``raise`` (``OverflowError``).  A float overflows when
    the value, rounded as if the exponent range were unbounded, exceeds the
    largest finite value.  Unsigned floats (``float8_e5m3fnu``, ``ue4m3``,
    E8M0) also have a bottom: a negative value (not -0, which is +0), -inf
    and E8M0's zero are below the range -- ``saturate`` gives the least code
    0 (+0; E8M0's 2**-127), ``raise`` an ``OverflowError``, ``nan`` and
    ``ieee`` NaN.
    """

    WRAP = "wrap"
    SATURATE = "saturate"
    RAISE = "raise"
    IEEE = "ieee"
    NAN = "nan"


def _parse(enum_cls, value, what):
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).lower())
    except ValueError:
        names = ", ".join(m.value for m in enum_cls)
        raise ValueError(f"unknown {what} mode {value!r}; choose one of: {names}") from None


def rounding_mode(value) -> Rounding:
    """Parse a rounding mode given as a ``Rounding`` or its string name."""
    return _parse(Rounding, value, "rounding")


def overflow_mode(value) -> Overflow:
    """Parse an overflow mode given as an ``Overflow`` or its string name."""
    return _parse(Overflow, value, "overflow")


class NanPolicy(_Mode):
    """What a NaN becomes in a format without NaN (``nan=`` of
    :func:`fxsim.encode`): ``raise`` (ValueError, the default), ``zero``
    (+0), ``negative_zero`` (-0, for float formats that have it), ``max``
    (the largest finite value, positive whatever the NaN's sign, as ONNX's
    float4 documentation gives 6 for NaN into E2M1).  An integer instead
    is the code itself."""

    RAISE = "raise"
    ZERO = "zero"
    NEGATIVE_ZERO = "negative_zero"
    MAX = "max"


def nan_policy(value):
    """Parse ``nan=``: a ``NanPolicy``, its name, or an integer code
    (returned as a Python int; checked against the format by the caller)."""
    if isinstance(value, NanPolicy):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)  # Python and numpy integers (not bools)
    if isinstance(value, str) and value.lower() in {m.value for m in NanPolicy}:
        return NanPolicy(value.lower())
    names = ", ".join(m.value for m in NanPolicy)
    raise ValueError(f"unknown NaN policy nan={value!r}; choose one of: {names}, or an integer code")
