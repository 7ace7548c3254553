"""Exact arithmetic on codes: add, sub, mul, div, fma, sqrt, each rounded once.

Every function takes codes (non-negative ints) with their formats -- fixed or
float, and the operands may have different formats -- and returns the code of
the result in the format ``out``.  The recipe is always the same:

1. decode each operand to (sign, magnitude): an exact ``Fraction``, "inf" or
   "nan" (see ``codec.decode``);
2. settle the special cases (NaN, infinity, the sign of a zero) by the rules
   below;
3. otherwise compute the exact result with ``Fraction`` arithmetic and round
   it ONCE with ``encode(exact, out, rounding, overflow, r, R)``.

Nothing is rounded twice: there is no intermediate format anywhere.

Rules (IEEE 754-2019 style)
---------------------------
NaN.  Any NaN operand gives NaN.  So does an invalid operation:
``inf - inf`` (in add, sub, and in fma when an infinite product meets an
infinite addend of the opposite sign), ``0 * inf`` (also inside fma),
``0 / 0``, ``inf / inf``, and the square root of a negative nonzero value
(``-inf`` included).  The result is always the *default NaN*: the canonical
NaN of ``out`` with the sign bit clear, i.e. ``encode(+nan, out)``.  The sign
of an operand NaN is not propagated.  If ``out`` has no NaN (fixed point, the
"finite" formats) ``encode`` raises ``ValueError``.

Infinity.  ``inf +- finite = inf``; ``inf * nonzero = inf`` with the sign the
xor of the operand signs; ``x / 0 = inf`` for finite nonzero x, sign xor (a
float -0 divisor counts as negative); ``inf / finite = inf``, sign xor
(``inf / 0`` included); ``finite / inf = 0``, sign xor; ``sqrt(+inf) = +inf``.
An infinite result goes through ``encode(+-inf, out, rounding, overflow)``,
so the overflow policy of ``out`` decides what it becomes (inf, max finite,
NaN, or an error for fixed point).

Signed zero.  A float code can be -0; a fixed-point zero is +0.

* mul, div: a zero result has the sign xor of the operand signs.
* add, sub, fma: when the exact sum is zero, and both terms are zeros of the
  same sign, the result is that zero (``-0 + -0 = -0``).  Otherwise (zeros of
  opposite signs, or nonzero terms that cancel exactly) the result is +0,
  except under ``rounding="down"`` (IEEE roundTowardNegative) where it is -0.
  ``sub(a, b)`` is ``a + (-b)``, so b's sign is flipped first; in fma the
  product ``a*b`` is a term whose sign is the xor of a's and b's signs, even
  when the product is zero.
* ``sqrt(-0) = -0``.
* A nonzero exact result that rounds to zero keeps its sign: ``encode``
  already rounds a tiny negative value to -0 where ``out`` has -0.

A ``Fraction`` zero carries no sign, so a signed zero is handed to
``encode`` as the float ``-0.0`` or ``0.0``; ``codec.value_of`` keeps the
sign of -0.0.  ``encode`` then gives -0 where ``out`` has it, +0 in fnuz
formats (no -0) and fixed point, and NaN in E8M0 (which has no zero).

Square root.  ``sqrt(x)`` of a rational x > 0 is usually irrational, so it
cannot be handed to ``encode`` as it is.  ``_sqrt_for_rounding`` returns
either ``sqrt(x)`` itself (when that is exact) or a dyadic stand-in that
``encode`` rounds to the same code in every mode; its docstring proves it.

Stochastic rounding: ``r`` and ``R`` go to ``encode`` unchanged.
"""

import math
from fractions import Fraction

from .codec import decode, encode, floor_log2
from .formats import FixedFormat

# ------------------------------------------------------- values and results

NAN = math.copysign(math.nan, 1.0)   # a NaN whose sign bit is certainly clear


def _default_nan(out, rounding, overflow, r, R):
    """The out format's canonical NaN, sign bit clear (ValueError if none)."""
    return encode(NAN, out, rounding, overflow, r, R)


def _encode_signed(sign, mag, out, rounding, overflow, r, R):
    """Encode the exact value sign * mag, where mag is a Fraction or "inf".

    Zeros and infinities are passed as floats so that their sign survives:
    ``value_of(-0.0)`` is (-1, 0) whereas ``value_of(Fraction(0))`` is (+1, 0).
    """
    if mag == "inf":
        x = math.copysign(math.inf, sign)
    elif mag == 0:
        x = math.copysign(0.0, sign)
    else:
        x = sign * mag
    return encode(x, out, rounding, overflow, r, R)


def _xor(sign_a, sign_b):
    """Sign of a product or quotient: + if the signs agree, - if not."""
    return sign_a * sign_b


# ------------------------------------------------------------ add, sub, fma

def _sum(x, y, out, rounding, overflow, r, R):
    """Round x + y once, x and y given as (sign, magnitude) terms."""
    (sx, mx), (sy, my) = x, y
    if mx == "nan" or my == "nan":
        return _default_nan(out, rounding, overflow, r, R)
    if mx == "inf" and my == "inf":
        if sx != sy:
            return _default_nan(out, rounding, overflow, r, R)   # inf - inf
        return _encode_signed(sx, "inf", out, rounding, overflow, r, R)
    if mx == "inf" or my == "inf":                                # inf +- finite
        sign = sx if mx == "inf" else sy
        return _encode_signed(sign, "inf", out, rounding, overflow, r, R)
    exact = sx * mx + sy * my
    if exact != 0:
        return encode(exact, out, rounding, overflow, r, R)
    if mx == 0 and my == 0 and sx == sy:
        sign = sx                                  # -0 + -0 = -0, +0 + +0 = +0
    else:
        sign = -1 if rounding == "down" else 1     # exact cancellation
    return _encode_signed(sign, Fraction(0), out, rounding, overflow, r, R)


def add(a, fa, b, fb, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """a + b, rounded once into ``out``."""
    return _sum(decode(a, fa), decode(b, fb), out, rounding, overflow, r, R)


def sub(a, fa, b, fb, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """a - b, rounded once into ``out``: a + (-b), b's sign flipped."""
    sb, mb = decode(b, fb)
    return _sum(decode(a, fa), (-sb, mb), out, rounding, overflow, r, R)


def _product(x, y):
    """The exact product of two (sign, magnitude) terms, or "nan" for 0 * inf.

    The sign is the xor of the signs, also for a zero or infinite product.
    """
    (sx, mx), (sy, my) = x, y
    if mx == "nan" or my == "nan":
        return 1, "nan"
    sign = _xor(sx, sy)
    if mx == "inf" or my == "inf":
        if mx == 0 or my == 0:
            return 1, "nan"                       # 0 * inf is invalid
        return sign, "inf"
    return sign, mx * my


def fma(a, fa, b, fb, c, fc, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """a * b + c with ONE rounding: the product is exact, never rounded."""
    return _sum(_product(decode(a, fa), decode(b, fb)), decode(c, fc),
                out, rounding, overflow, r, R)


# ----------------------------------------------------------------- mul, div

def mul(a, fa, b, fb, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """a * b, rounded once into ``out``; a zero product has sign xor."""
    sign, mag = _product(decode(a, fa), decode(b, fb))
    if mag == "nan":
        return _default_nan(out, rounding, overflow, r, R)
    return _encode_signed(sign, mag, out, rounding, overflow, r, R)


def div(a, fa, b, fb, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """a / b, rounded once into ``out``.

    0/0 and inf/inf are NaN; x/0 (x nonzero, inf included) is inf; x/inf
    (x finite) is 0.  Every zero or infinite result has sign xor.
    """
    (sa, ma), (sb, mb) = decode(a, fa), decode(b, fb)
    if ma == "nan" or mb == "nan":
        return _default_nan(out, rounding, overflow, r, R)
    if (ma == "inf" and mb == "inf") or (ma == 0 and mb == 0):
        return _default_nan(out, rounding, overflow, r, R)
    sign = _xor(sa, sb)
    if ma == "inf" or mb == 0:
        mag = "inf"                                # inf / finite, nonzero / 0
    elif mb == "inf":
        mag = Fraction(0)                          # finite / inf
    else:
        mag = ma / mb
    return _encode_signed(sign, mag, out, rounding, overflow, r, R)


# --------------------------------------------------------------------- sqrt

def _finest_spacing_exponent(lower, out):
    """An exponent u with 2**u <= the grid spacing of ``out`` at every value
    >= ``2**lower``.

    Fixed point: the spacing is 2**-frac everywhere.  Float: at a value in
    [2**e, 2**(e+1)) with e >= emin the spacing is 2**(e - man); below the
    smallest normal it is 2**(emin - man) (or 2**emin without subnormals).
    The spacing never shrinks as values grow, so the value 2**lower gives
    the bound 2**(min(lower, emin) - man).
    """
    if isinstance(out, FixedFormat):
        return -out.frac
    return min(lower, out.emin) - out.man


def _sqrt_for_rounding(x, out, R):
    """sqrt(x) for a Fraction x > 0, or a dyadic that rounds the same way.

    Choose s >= 0 and let y = x * 4**s, N = floor(y), Q = isqrt(N).

    Bracketing.  Q*Q <= N <= y, so Q <= 2**s * sqrt(x).  (Q+1)**2 > N and is
    an integer, so (Q+1)**2 >= N + 1 > y, so Q + 1 > 2**s * sqrt(x).  Hence
    Q / 2**s <= sqrt(x) < (Q+1) / 2**s, with equality on the left exactly when
    y is an integer (no fractional part was dropped) and Q*Q == y.  In that
    case sqrt(x) = Q / 2**s is returned exactly.

    Otherwise sqrt(x) lies strictly inside the cell C = (Q/2**s, (Q+1)/2**s),
    and so does the midpoint m = (2Q+1) / 2**(s+1), which is returned.

    Why m rounds like sqrt(x).  Let 2**e with e = floor(floor_log2(x) / 2)
    be a power of two at or below sqrt(x), and 2**u <= every grid spacing
    (ulp) of ``out`` at values >= 2**e (``_finest_spacing_exponent``).  Take
    g = u - R - 4 (R >= 1 random bits; only stochastic modes need R, the 4
    is slack) and s >= -g, so that every multiple of 2**g is a multiple of
    2**-s, and no multiple of 2**g lies strictly inside C.  These are
    multiples of 2**g: every power of two 2**k with k >= e (binade
    boundaries, 2**emin), every grid point k*ulp, every midpoint
    (k + 1/2)*ulp, every stochastic threshold (k + j/2**R)*ulp (all since
    ulp is a power of two >= 2**u).  2**e itself is one and 2**e <= sqrt(x),
    so C lies above 2**e.  Hence sqrt(x) and m lie in the same binade (the
    same ulp), have the same t = value/ulp integer part n, neither is exact,
    both have fraction f on the same side of 1/2 (never equal), and the same
    floor(f * 2**R).  Those are all that ``round_to_integer`` looks at (and
    the sign, positive for both), so every mode rounds both to the same
    integer, and the overflow check after rounding sees the same value.
    (If sqrt(x) is rational but not on the fine grid, e.g. sqrt(1/9), the
    same argument applies: it is inside C.)
    """
    e = floor_log2(x) // 2                 # 2**e <= sqrt(x)
    bits = R if isinstance(R, int) and R >= 1 else 1   # encode validates R
    g = _finest_spacing_exponent(e, out) - bits - 4
    s = max(0, -g)
    y = x * 4**s
    N = math.floor(y)
    Q = math.isqrt(N)
    if y.denominator == 1 and Q * Q == N:
        return Fraction(Q, 2**s)           # exact square root
    return Fraction(2 * Q + 1, 2**(s + 1))  # strictly between the brackets


def sqrt(a, fa, out, rounding="nearest_even", overflow=None, r=0, R=32):
    """The square root of a, rounded once into ``out``.

    sqrt(+-0) = +-0, sqrt(+inf) = +inf; NaN for a NaN or a negative nonzero
    operand (-inf included).
    """
    sa, ma = decode(a, fa)
    if ma == "nan" or (sa < 0 and ma != 0):
        return _default_nan(out, rounding, overflow, r, R)
    if ma == "inf" or ma == 0:
        return _encode_signed(sa, ma, out, rounding, overflow, r, R)
    return encode(_sqrt_for_rounding(ma, out, R), out, rounding, overflow, r, R)
