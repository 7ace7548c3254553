"""decode (code -> exact value) and encode (value -> code, with one rounding).

Values are handled as a pair (sign, magnitude): sign is +1 or -1 and the
magnitude is an exact ``Fraction`` >= 0 or one of the strings "inf", "nan".
Keeping the sign apart is what lets -0.0 and the sign of a NaN survive.

Unsigned float formats (no sign bit; E8M0 among them) have a bottom: -0 is
+0, and a negative value (or -inf, or a zero for E8M0, which has no zero)
is "below the range": NaN under the overflow policies "nan" and "ieee",
the least code 0 under "saturate", an OverflowError under "raise".
A format without NaN takes a NaN policy (``nan=`` of :func:`encode`).
"""

import math
import numbers
from fractions import Fraction

from .formats import (FixedFormat, FloatFormat, has_inf, has_nan, inf_code, join,
                      max_finite_code, nan_code, pow2, special_kind, split)
from .rounding import MODES, NEAREST_MODES, round_to_integer

FIXED_OVERFLOWS = ("wrap", "saturate", "raise")
NARROW_OVERFLOWS = ("saturate", "raise")   # wrapping would give the excluded code
FLOAT_OVERFLOWS = ("ieee", "saturate", "nan", "raise")
NAN_POLICIES = ("raise", "zero", "negative_zero", "max")   # or an int code


# --------------------------------------------------------------------- values

def value_of(x):
    """Split an input number into (sign, magnitude).

    Accepted: int (any size, exact), Fraction, float (converted exactly;
    -0.0 keeps its sign, NaN and infinities become "nan" and "inf"), and other
    real numbers that can say ``as_integer_ratio()`` exactly (e.g. NumPy
    scalars).  A zero given as int or Fraction has sign +1.
    """
    if isinstance(x, numbers.Integral):
        x = int(x)
    if isinstance(x, (int, Fraction)):
        return (-1 if x < 0 else 1), abs(Fraction(x))
    if not isinstance(x, numbers.Real):
        raise TypeError(f"expected an int, Fraction or float, got {type(x).__name__}")
    sign = -1 if math.copysign(1.0, float(x)) < 0 else 1
    if math.isnan(float(x)):
        return sign, "nan"
    if math.isinf(float(x)):
        return sign, "inf"
    return sign, abs(Fraction(*x.as_integer_ratio()))


def floor_log2(a):
    """The integer e with 2**e <= a < 2**(e+1), for a Fraction a > 0.

    With a = p/q, bit lengths give 2**(e-1) < a < 2**(e+1) for
    e = len(p) - len(q); one comparison settles which side of 2**e a is.
    """
    e = a.numerator.bit_length() - a.denominator.bit_length()
    return e if a >= pow2(e) else e - 1


# --------------------------------------------------------------------- decode

def decode(code, fmt):
    """The exact value of ``code`` in ``fmt``, as (sign, magnitude)."""
    if not (isinstance(code, int) and 0 <= code < 2**fmt.width):
        raise ValueError(f"code {code!r} is not in [0, 2**{fmt.width}) for {fmt!r}")
    if isinstance(fmt, FixedFormat):
        return _decode_fixed(code, fmt)
    return _decode_float(code, fmt)


def _decode_fixed(code, fmt):
    """Value n * 2**-frac, n the (two's complement, if signed) integer."""
    n = code
    if fmt.signed and code >= 2**(fmt.word - 1):
        n = code - 2**fmt.word
    return (-1 if n < 0 else 1), abs(n) * pow2(-fmt.frac)


def _decode_float(code, fmt):
    """Sign bit, then: special, subnormal or normal magnitude."""
    sign_bit, ef, mf = split(code, fmt)
    sign = -1 if sign_bit else 1
    kind = special_kind(sign_bit, ef, mf, fmt)
    if kind is not None:
        return sign, kind
    if fmt.special == "e8m0":
        return sign, pow2(ef - fmt.bias)          # every ef is normal, 2**(ef-bias)
    if ef == 0 and not fmt.subnormals:
        return sign, Fraction(0)                  # denormals are zero
    if ef == 0:
        return sign, mf * pow2(1 - fmt.bias - fmt.man)              # 0.mf * 2**emin
    return sign, (2**fmt.man + mf) * pow2(ef - fmt.bias - fmt.man)  # 1.mf * 2**(ef-bias)


# --------------------------------------------------------------------- encode

def default_overflow(fmt):
    """Fixed: "saturate".  Float: what ml_dtypes does for such a format."""
    if isinstance(fmt, FixedFormat):
        return "saturate"
    return {"ieee": "ieee", "fn": "nan", "fnuz": "nan", "e8m0": "nan",
            "finite": "saturate"}[fmt.special]


def encode(x, fmt, rounding="nearest_even", overflow=None, r=0, R=32, nan=None):
    """The code of ``fmt`` that ``x`` rounds to (a non-negative int).

    ``nan``: what NaN becomes in a format without NaN -- None or "raise"
    (an error), "zero" (+0), "negative_zero" (-0, float formats with a
    sign bit), "max" (the largest finite value, positive) or an int code.
    """
    if overflow is None and isinstance(fmt, (FixedFormat, FloatFormat)):
        overflow = default_overflow(fmt)
    ctx = _Context(fmt, rounding, overflow, nan)
    ctx.validate()
    sign, mag = value_of(x)
    if isinstance(fmt, FixedFormat):
        return _encode_fixed(sign, mag, ctx, r, R)
    return _encode_float(sign, mag, ctx, r, R)


class _Context:
    """The (format, rounding, overflow) triple, for checks and error messages."""

    def __init__(self, fmt, rounding, overflow, nan=None):
        self.fmt, self.rounding, self.overflow, self.nan = fmt, rounding, overflow, nan

    def error(self, message, kind=ValueError):
        return kind(f"{message} (format={self.fmt!r}, rounding={self.rounding!r}, "
                    f"overflow={self.overflow!r})")

    def validate(self):
        fmt, overflow = self.fmt, self.overflow
        if not isinstance(fmt, (FixedFormat, FloatFormat)):
            raise self.error("not a FixedFormat or FloatFormat")
        if self.rounding not in MODES:
            raise self.error(f"unknown rounding mode; expected one of {MODES}")
        if isinstance(fmt, FixedFormat):
            allowed = NARROW_OVERFLOWS if fmt.narrow else FIXED_OVERFLOWS
        else:
            allowed = FLOAT_OVERFLOWS
        if overflow not in allowed:
            raise self.error(f"overflow mode not offered by this format; expected one of {allowed}")
        if isinstance(fmt, FloatFormat):
            if overflow == "nan" and not has_nan(fmt):
                raise self.error("overflow 'nan' on a format without NaN")
            if overflow == "ieee" and not (has_inf(fmt) or has_nan(fmt)):
                raise self.error("overflow 'ieee' on a format without inf or NaN")
        self.validate_nan()

    def validate_nan(self):
        """A NaN policy only for formats without NaN; codes must be codes."""
        fmt, nan = self.fmt, self.nan
        if nan is None:
            return
        if isinstance(fmt, FloatFormat) and has_nan(fmt):
            raise self.error(f"nan={nan!r}: the format has NaN")
        if isinstance(nan, bool) or not isinstance(nan, (int, str)):
            raise self.error(f"nan={nan!r} is not a policy name or an int code")
        if isinstance(nan, str) and nan not in NAN_POLICIES:
            raise self.error(f"unknown NaN policy {nan!r}; expected one of {NAN_POLICIES}")
        if nan == "negative_zero" and not (isinstance(fmt, FloatFormat) and fmt.signed):
            raise self.error("nan='negative_zero' on a format without -0")
        if isinstance(nan, int):
            if not 0 <= nan < 2**fmt.width:
                raise self.error(f"nan={nan} is not a code of the format")
            if isinstance(fmt, FixedFormat) and fmt.narrow and nan == 2**(fmt.word - 1):
                raise self.error(f"nan={nan} is the code a narrow format never produces")

    def nan_result(self):
        """The code a NaN becomes in a format without NaN (or the error)."""
        fmt, nan = self.fmt, self.nan
        if nan is None or nan == "raise":
            raise self.error("cannot encode NaN in a format without NaN")
        if nan == "zero":
            return 0
        if nan == "negative_zero":
            return join(1, 0, 0, fmt)
        if nan == "max":
            if isinstance(fmt, FixedFormat):
                return fmt.max_int               # positive: its code is itself
            return max_finite_code(0, fmt)
        return nan

    def below_range(self):
        """The code for a value below an unsigned float's range: a negative
        number (not -0), -inf, or a zero of E8M0 (which has no zero)."""
        if self.overflow == "saturate":
            return 0                             # the least code: +0 or 2**-bias
        if self.overflow == "raise":
            raise self.error("value below the range of an unsigned format", OverflowError)
        return nan_code(0, self.fmt)             # "nan", "ieee": as ml_dtypes


def _encode_fixed(sign, mag, ctx, r, R):
    """Round x * 2**frac to an integer n; store n (two's complement) or overflow.

    The range [min_int, max_int] is that of the results: a narrow format
    treats n = -2**(word-1) as an overflow like any other.
    """
    fmt = ctx.fmt
    if mag == "nan":
        return ctx.nan_result() % 2**fmt.word
    if mag == "inf":
        raise ctx.error(f"cannot encode {mag} in fixed point")
    t = sign * mag * pow2(fmt.frac)
    n = round_to_integer(t, ctx.rounding, True, r, R)
    if fmt.min_int <= n <= fmt.max_int or ctx.overflow == "wrap":
        return n % 2**fmt.word
    if ctx.overflow == "saturate":
        n = fmt.max_int if n > fmt.max_int else fmt.min_int
        return n % 2**fmt.word
    raise ctx.error(f"value {sign * mag} rounds to {n}, outside "
                    f"[{fmt.min_int}, {fmt.max_int}]", OverflowError)


def _encode_float(sign, mag, ctx, r, R):
    """Specials and zero first, then round the magnitude onto the grid."""
    fmt = ctx.fmt
    sign_bit = 1 if sign < 0 else 0
    if mag == "nan":
        if not has_nan(fmt):
            return ctx.nan_result()
        return nan_code(sign_bit if fmt.signed else 0, fmt)
    if not fmt.signed and sign < 0 and mag != 0:
        return ctx.below_range()            # negative (also -inf) into an unsigned format
    if fmt.special == "e8m0" and mag == 0:
        return ctx.below_range()            # E8M0 has no zero
    if mag == "inf":
        if has_inf(fmt):
            saturate = ctx.overflow == "saturate"
            return max_finite_code(sign_bit, fmt) if saturate else inf_code(sign_bit, fmt)
        return _overflow(sign * math.inf, True, ctx)  # no inf: overflow, rounded up
    if mag == 0:
        return _zero_code(sign_bit, fmt)
    return _encode_nonzero(sign, mag, ctx, r, R)


def _zero_code(sign_bit, fmt):
    """±0; fnuz has no -0 (that pattern is its NaN), and unsigned formats
    no sign: always +0 there."""
    if fmt.special == "fnuz" or not fmt.signed:
        sign_bit = 0
    return join(sign_bit, 0, 0, fmt)


def _grid_spacing(a, fmt):
    """The ulp at magnitude a > 0.

    Normal binade [2**e, 2**(e+1)): man fraction bits give spacing
    2**(e - man), with no upper bound on e (overflow is checked after
    rounding).  Below 2**emin: the subnormal spacing 2**(emin - man), or,
    without subnormals, 2**emin (only 0 and 2**emin are candidates).
    """
    e = floor_log2(a)
    if e >= fmt.emin:
        return pow2(e - fmt.man)
    if fmt.subnormals:
        return pow2(fmt.emin - fmt.man)
    return pow2(fmt.emin)


def _encode_nonzero(sign, a, ctx, r, R):
    """Round sign*a to m*ulp (m a signed integer), then check for overflow."""
    fmt = ctx.fmt
    sign_bit = 1 if sign < 0 else 0
    if fmt.special == "e8m0" and a < pow2(fmt.emin):
        return join(0, 0, 0, fmt)           # no zero to round to: 2**emin
    ulp = _grid_spacing(a, fmt)
    m = round_to_integer(sign * a / ulp, ctx.rounding, False, r, R)
    v = abs(m) * ulp                         # may have carried to the next binade
    if v == 0:
        return _zero_code(sign_bit, fmt)
    _, max_finite = decode(max_finite_code(0, fmt), fmt)
    if v > max_finite:
        return _overflow(sign * a, _rounded_away(sign, ctx.rounding), ctx)
    return _finite_code(sign_bit, v, fmt)


def _rounded_away(sign, mode):
    """Does ``mode`` round a too-large magnitude up (IEEE 754 section 7.4)?"""
    return (mode in NEAREST_MODES or mode == "away"
            or (mode == "up" and sign > 0) or (mode == "down" and sign < 0))


def _overflow(x, rounded_away, ctx):
    """The code for the value x, whose magnitude rounded beyond max finite."""
    fmt, policy = ctx.fmt, ctx.overflow
    sign_bit = 1 if x < 0 else 0
    if policy == "raise":
        raise ctx.error(f"value {x} overflows the format", OverflowError)
    if policy == "nan":
        return nan_code(sign_bit, fmt)
    if policy == "ieee" and rounded_away:
        return inf_code(sign_bit, fmt) if has_inf(fmt) else nan_code(sign_bit, fmt)
    return max_finite_code(sign_bit, fmt)   # "saturate", or "ieee" rounding inward


def _finite_code(sign_bit, v, fmt):
    """The code of ±v, where v > 0 is exactly on the grid and <= max finite."""
    e = floor_log2(v)
    if e >= fmt.emin:                        # normal: v = (2**man + mf) * 2**(e-man)
        ef = e + fmt.bias
        mf = v / pow2(e - fmt.man) - 2**fmt.man
    else:                                    # subnormal: v = mf * 2**(emin-man)
        ef = 0
        mf = v / pow2(fmt.emin - fmt.man)
    assert mf.denominator == 1 and 0 <= mf <= fmt.mf_max and 0 <= ef <= fmt.ef_max
    return join(sign_bit, ef, int(mf), fmt)
