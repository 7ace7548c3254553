"""The special-value policy, in one place: NaN, infinity, zero and overflow
for each kind of format (as SoftFloat's ``specialize.h``).

Everything a format does with values that are not ordinary finite numbers
is decided here and nowhere else: which codes are NaN and inf, which NaN a
result gets and whether it carries a sign, what a zero of each sign becomes,
what NaN or inf input does, and what overflow does under each policy.
``formats.py`` builds the rounding core's :class:`~fxsim._kernels.core.Spec`
from the plain-Python facts below; the core (``core.py``) and the exact
arithmetic (``arith.py``) call the compiled functions.

Kinds of floating-point format (``FloatFormat.special``), and fixed point::

    kind    inf          NaN codes             the NaN it makes   -0   default overflow
    ------  -----------  --------------------  -----------------  ---  ----------------
    ieee    e=1..1, f=0  e=1..1, f!=0 (2)      S.1..1.10..0 (1)   yes  ieee
    fn      none         S.1..1.1..1           S.1..1.1..1 (1)    yes  nan
    fnuz    none         1.0..0.0..0 (the -0)  1.0..0.0..0        no   nan
    finite  none         none                  --                 yes  saturate
    e8m0    none         1..1 (unsigned)       1..1               (3)  nan
    fixed   none         none                  --                 no   saturate

(1) the quiet NaN with the sign of the value it stands for (ml_dtypes and
    numpy keep a NaN's sign through a cast); arithmetic makes the *default
    NaN*, positive (see :func:`default_nan`).
(2) an IEEE-like format with no fraction bits (``man == 0``) has inf but
    no NaN.
(3) E8M0 (the OCP MX scale) has no zero and no sign; positive values
    below its smallest scale become the smallest scale, under every policy.

Unsigned floats (``FloatFormat(..., signed=False)``: kinds ieee with
``man >= 1``, fn, finite; E8M0 is always unsigned) have no sign bit, no -0
and no negative values.  -0 becomes +0.  A value *below the range* -- any
negative value but -0 (also one that would round to -0, and -inf), and
E8M0's zero of either sign -- gives (:func:`below_range`): under ``nan``
and ``ieee`` NaN (as ml_dtypes' float8_e5m3fnu and float8_e8m0fnu do),
under ``saturate`` the least code 0 (+0, or E8M0's 2**-127: CUDA's
satfinite conversion and ONNX's Cast give 0x00 for a zero), under
``raise`` an error (``ERR_OVERFLOW``).  (CUDA's ``__nv_cvt_float_to_e8m0``
and ``onnx.numpy_helper.to_float8e8m0`` read a negative value's magnitude;
fxsim does not: take ``abs`` first for that.)

NaN policy of a format without NaN (``nan=`` of ``fxsim.encode``): the
:class:`~fxsim._kernels.core.Spec` of the encoding carries ``nan_fills``
and the code ``nan_fill`` that a NaN input (or result) becomes instead of
the error ``ERR_NAN`` (see :func:`special_result`).

The overflow policies a format offers: a float format ``ieee`` if it has
inf or NaN, ``nan`` if it has NaN, and always ``saturate`` and ``raise``;
fixed point ``wrap``, ``saturate`` and ``raise``.  A *narrowed* fixed-point
format (``FixedFormat(..., narrow=True)``, the symmetric range without the
most negative code) offers ``saturate`` and ``raise`` only: wrapping modulo
``2**word`` would produce the excluded code, and wrapping modulo
``2**word - 1`` is no hardware's behaviour.

Input that is NaN or inf:

* NaN into a format with NaN gives the NaN above (sign kept where NaN is
  signed); into a format without NaN (finite, fixed point, IEEE-like with
  ``man == 0``) it is an error (status ``ERR_NAN``).
* inf into fixed point is an error (``ERR_INF``).  Into a format with inf it
  stays inf, except under ``saturate`` (max finite, as CUDA's satfinite).
  Into a format without inf it overflows, as a value that rounded away from
  zero: ``ieee`` and ``nan`` give NaN, ``saturate`` max finite, ``raise`` an
  error.

Overflow of a float (the value rounded as if the exponent range were
unbounded exceeds max finite), by policy:

* ``ieee`` (IEEE 754 section 7.4): modes that round that magnitude up (the
  nearest modes, ``away``, ``up`` for positive and ``down`` for negative
  values) give inf, or NaN in a format without inf; the other modes give
  max finite;
* ``saturate``: max finite with the value's sign; ``nan``: NaN;
  ``raise``: an error (``ERR_OVERFLOW``).

Fixed-point overflow (``wrap``, ``saturate`` to ``pos_limit``/``neg_limit``,
``raise``) is a step of the core (``core._fixed_code``); the limits come
from ``FixedFormat.int_min``/``int_max``, which a narrowed format narrows.
"""
from __future__ import annotations

from numba.extending import register_jitable

from .primitives import i64, u64

# Classes of a value: what ``core.split_code`` reports.
FINITE, INF, NAN_CLASS = 0, 1, 2

# Overflow policies: the order of fxsim.modes.Overflow.
WRAP, SATURATE, RAISE, IEEE, NAN = 0, 1, 2, 3, 4

# Status of one rounding (0 is success).
OK, ERR_NAN, ERR_INF, ERR_OVERFLOW = 0, 1, 2, 3

#: The kinds of floating-point format (``FloatFormat.special``).
KINDS = ("ieee", "fn", "fnuz", "finite", "e8m0")


# ---------------------------------------------------------------- facts per kind
def has_inf(kind: str) -> bool:
    """Does a float format of this kind have infinities?"""
    return kind == "ieee"


def has_nan(kind: str, man: int) -> bool:
    """Does a float format of this kind (with ``man`` fraction bits) have NaN?"""
    return kind in ("fn", "fnuz", "e8m0") or (kind == "ieee" and man > 0)


def negzero(kind: str) -> bool:
    """Does a float format of this kind have -0?  (fnuz uses that pattern as
    its NaN; E8M0 has no zero and no sign.)"""
    return kind not in ("fnuz", "e8m0")


def nozero(kind: str) -> bool:
    """Has a float format of this kind no zero (E8M0)?"""
    return kind == "e8m0"


def unsigned_kinds(man: int) -> tuple:
    """The kinds a float format with ``man`` fraction bits may have without
    a sign bit: those whose NaN (if any) is not a negative pattern and that
    have a NaN or saturate to hold negative values (ieee needs ``man >= 1``)."""
    return (("ieee",) if man >= 1 else ()) + ("fn", "finite", "e8m0")


def why_signed(kind: str) -> str:
    """Why a kind cannot be unsigned (for error messages)."""
    if kind == "fnuz":
        return "its NaN is the negative-zero pattern, which needs a sign bit (use special='fn')"
    return "an IEEE-like format without fraction bits has no NaN for negative values"


def nan_signed(kind: str) -> bool:
    """Does a NaN of this kind carry the sign of the value it stands for?"""
    return kind in ("ieee", "fn")


def inf_magnitude(exp: int, man: int) -> int:
    """The code of +inf without its sign bit: exponent field all ones, fraction 0."""
    return ((1 << exp) - 1) << man


def max_code(kind: str, exp: int, man: int) -> int:
    """The code of the largest finite value (without a sign bit): the largest
    code that is neither inf nor NaN."""
    efield_max = (1 << exp) - 1
    if kind == "ieee":
        return (efield_max << man) - 1
    if kind in ("fn", "e8m0"):
        return ((efield_max << man) | ((1 << man) - 1)) - 1
    return (1 << (exp + man)) - 1  # fnuz, finite: every pattern below the sign bit


def canonical_nan(kind: str, exp: int, man: int, sign_bit: int) -> int:
    """The NaN code a result gets, positive where NaN is signed (0 if the
    kind has no NaN): ieee the quiet NaN (top fraction bit set), fn all ones,
    fnuz the negative-zero pattern, e8m0 all ones."""
    efield_max = (1 << exp) - 1
    if kind == "ieee":
        return (efield_max << man) | (1 << max(man - 1, 0))
    if kind == "fn":
        return (efield_max << man) | ((1 << man) - 1)
    if kind == "fnuz":
        return sign_bit
    if kind == "e8m0":
        return (1 << (exp + man)) - 1
    return 0


def default_overflow(kind: str) -> str:
    """The default overflow policy of a float kind, as ml_dtypes behaves for
    its preset names: IEEE-like to inf, fn/fnuz/E8M0 to NaN, FP6/FP4 saturate."""
    return {"ieee": "ieee", "finite": "saturate"}.get(kind, "nan")


def float_overflows(kind: str, man: int) -> tuple:
    """The overflow policies a float format offers: ``ieee`` needs inf or
    NaN to go to, ``nan`` needs NaN."""
    nan = has_nan(kind, man)
    return (("ieee",) if nan or has_inf(kind) else ()) + (("nan",) if nan else ()) \
        + ("saturate", "raise")


#: The default overflow policy of fixed point.
FIXED_DEFAULT_OVERFLOW = "saturate"


def fixed_overflows(narrow: bool) -> tuple:
    """The overflow policies a fixed-point format offers (a narrowed one
    does not wrap: see the module docstring)."""
    return ("saturate", "raise") if narrow else ("wrap", "saturate", "raise")


# ---------------------------------------------------------------- in the kernels
@register_jitable(inline="always")
def code_class(neg, mag, spec):
    """FINITE, INF or NAN_CLASS for a float code whose magnitude (the code
    without its sign bit) is ``mag``: above max finite is inf or NaN; fnuz's
    negative-zero pattern is its NaN."""
    cls = FINITE
    if mag > spec.max_mag:
        cls = INF if spec.has_inf and mag == spec.inf_mag else NAN_CLASS
    elif neg and mag == u64(0) and not spec.negzero:
        cls = NAN_CLASS
    return cls


@register_jitable(inline="always")
def nan_result(neg, spec):
    """The NaN code for a result of sign ``neg``."""
    return spec.nan_code | (spec.sign_bit & (u64(0) - (u64(neg) & u64(spec.nan_signed))))


@register_jitable(inline="always")
def zero_result(neg, spec):
    """The code of a float result that is zero, of sign ``neg``: -0 where the
    format has it, else +0 (fnuz, unsigned floats).  (E8M0 has no zero: the
    core sends its zeros to :func:`below_range`.)"""
    return spec.sign_bit & (u64(0) - (u64(neg) & u64(spec.negzero)))


@register_jitable(inline="always")
def below_range(spec, ovf):
    """``(code, status)`` of a value below an unsigned float's range (a
    negative value other than -0, -inf, E8M0's zero): the least code 0
    under ``saturate``, an error under ``raise``, else NaN."""
    if ovf == SATURATE:
        return u64(0), OK
    if ovf == RAISE:
        return u64(0), ERR_OVERFLOW
    return spec.nan_code, OK


@register_jitable(inline="always")
def overflow_result(neg, to_inf, spec, ovf):
    """``(code, status)`` of a float result beyond max finite, of sign
    ``neg``; ``to_inf``: the rounding mode rounded that magnitude up (IEEE
    754 section 7.4, ``core.rounds_away``)."""
    zero = u64(0)
    sign = spec.sign_bit & (zero - u64(neg))
    code = sign | spec.max_mag  # saturate, and ieee for modes that round inward
    status = OK
    if ovf == NAN or (ovf == IEEE and to_inf and not spec.has_inf):
        code = nan_result(neg, spec)
    elif ovf == IEEE and to_inf:
        code = sign | spec.inf_mag
    elif ovf == RAISE:
        code = zero
        status = ERR_OVERFLOW
    return code, status


@register_jitable(inline="always")
def special_result(neg, cls, spec, ovf):
    """``(code, status)`` of an infinite or NaN input (``cls``), of sign ``neg``.
    NaN into a format without NaN is an error unless the spec carries a NaN
    policy (``nan_fills``: the code ``nan_fill``)."""
    code = u64(0)
    status = OK
    if cls == NAN_CLASS and not spec.has_nan:
        if spec.nan_fills:
            code = spec.nan_fill
        else:
            status = ERR_NAN
    elif cls == INF and not spec.is_float:
        status = ERR_INF
    elif cls == INF and neg and spec.sign_bit == u64(0):
        code, status = below_range(spec, ovf)  # -inf into an unsigned float
    elif cls == NAN_CLASS or (ovf == IEEE and not spec.has_inf):
        code = nan_result(neg, spec)  # NaN, or inf where NaN stands in for it
    elif spec.has_inf and ovf != SATURATE:
        code = (spec.sign_bit & (u64(0) - u64(neg))) | spec.inf_mag
    else:
        code, status = overflow_result(neg, True, spec, ovf)  # inf rounds away
    return code, status


@register_jitable(inline="always")
def default_nan():
    """The exact result ``(neg, M, E, sticky, cls)`` of an operation whose
    result is NaN -- a NaN operand, or an invalid operation (inf - inf,
    0 * inf, 0/0, inf/inf, the square root of a negative number): a positive
    NaN, which the core turns into the output format's canonical NaN.  No
    payload or sign of a NaN operand is propagated."""
    return False, u64(0), i64(0), False, NAN_CLASS
