"""The exact engine's toolbox: exact values of inputs and codes, integers of
fixed-point codes, exact sums, and the rational rounding helpers.

fxsim rounds each result once, by the core (``fxsim._kernels.core``).  The
Numba kernels compute the exact result in 64-bit words; wherever a value
does not fit them (formats wider than 64 bits, Python ints, Fractions,
Decimals, long sums) the Python code here computes it with unbounded
integers and hands ``(neg, M, E, sticky)`` to the same core.  Every module
that needs one of these jobs calls it here; nothing here rounds except
through the core (:func:`encode_values`, :func:`to_float64`,
:func:`round_sum`).

Inputs
    :func:`exact_value` (one number), :func:`input_array` (an array for the
    fast path or the exact one), :func:`exact_values` (an object array of
    Fractions), :func:`parse_number` (text, exactly), :func:`floor_log2`,
    :func:`dyadic_with_sticky`.
Codes
    :func:`code_value`, :func:`encode_values`, :func:`to_float64`,
    :func:`signed_ints` and :func:`codes_of_ints` (fixed-point codes <->
    their integers), :func:`codes_dtype`.
Sums
    :class:`Terms` (exact terms with IEEE classes and sign bits),
    :func:`terms`, :func:`product_terms`, :func:`int_sum`,
    :func:`bits_needed`, :func:`round_sum` (with IEEE 754's sign-of-zero
    rules, :func:`sum_zero_sign`), :func:`int_matmul` (exact integer GEMM),
    :func:`max_abs`.
Rationals
    :func:`round_pot_quotient` (integers times ``2**-k``, rounded once into
    an integer format), :func:`round_rational` (``num / den`` rounded once,
    without forming the quotient).
"""
from __future__ import annotations

import decimal
import math
import numbers
import re
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from . import formats as _formats
from . import runtime
from ._kernels import core
from .modes import Overflow, Rounding


def codes_dtype(fmt):
    """The numpy dtype that holds the codes of ``fmt``: the smallest unsigned
    integer of at least ``fmt.width`` bits, or object (Python ints) beyond 64."""
    width = fmt.width
    for bits in (8, 16, 32, 64):
        if width <= bits:
            return np.dtype(f"uint{bits}")
    return np.dtype(object)


# ---------------------------------------------------------------- inputs
def exact_value(x):
    """``(neg, M, E, cls, rational)`` of one Python/numpy number, exactly.

    ``cls`` is the core's class (FINITE, INF, NAN_CLASS).  For a finite
    dyadic value ``M * 2**E`` is its magnitude; for any other rational ``M``
    and ``E`` are None (see :func:`dyadic_with_sticky`).  ``rational`` is the
    value as a Fraction (None for NaN and inf)."""
    if isinstance(x, (np.floating, float)) and not isinstance(x, np.longdouble):
        x = float(x)
        if x != x:
            return np.signbit(x), 0, 0, core.NAN_CLASS, None
        if x in (float("inf"), float("-inf")):
            return x < 0, 0, 0, core.INF, None
        neg = bool(np.signbit(x))
        x = Fraction(x)
    elif isinstance(x, np.longdouble):
        if np.isnan(x):
            return bool(np.signbit(x)), 0, 0, core.NAN_CLASS, None
        if np.isinf(x):
            return bool(x < 0), 0, 0, core.INF, None
        neg = bool(np.signbit(x))
        x = Fraction(*x.as_integer_ratio())
    elif isinstance(x, (bool, np.bool_)):
        neg, x = False, Fraction(int(x))
    elif isinstance(x, (numbers.Rational, np.integer)):
        x = Fraction(int(x)) if isinstance(x, np.integer) else Fraction(x)
        neg = x < 0
    elif isinstance(x, decimal.Decimal):
        if x.is_nan():
            return x.is_signed(), 0, 0, core.NAN_CLASS, None
        if x.is_infinite():
            return x.is_signed(), 0, 0, core.INF, None
        neg, x = x.is_signed(), Fraction(x)
    else:
        raise ValueError(f"cannot encode {x!r} of type {type(x).__name__}: "
                         "give numbers (floats, ints, Fractions, Decimals)")
    a = abs(x)
    den = a.denominator
    if den & (den - 1) == 0:  # a dyadic rational: M * 2**E exactly
        return neg, a.numerator, -(den.bit_length() - 1), core.FINITE, x
    return neg, None, None, core.FINITE, x


def input_array(x):
    """``x`` as an ndarray: ``x`` itself if it is one; else float64 when every
    element is a Python/numpy float (not a long double), int64 when every one
    is an integer that fits, and an object array of the numbers otherwise
    (the exact path).  Nothing is rounded.

    ml_dtypes arrays and scalars (every type: bfloat16, float8_*, float6_*,
    float4_e2m1fn, int1/2/4, uint1/2/4) and torch tensors (every dtype with
    an fxsim format) are read by their bits, in their own format
    (``fxsim.interop.exact_input``): float64 holding each value exactly
    (NaN's sign and -0 kept), or int64 (Python ints beyond it)."""
    if isinstance(x, np.ndarray) and x.dtype.isbuiltin == 1:  # numpy's own dtypes (2: user types)
        return x
    if isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.split(".")[0] == "torch":
        from .interop import exact_input  # local: interop builds on QArray
        values = exact_input(x)
        if values is not None:
            return values
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x, dtype=object)
    flat = arr.ravel()
    if all(isinstance(v, (float, np.floating)) and not isinstance(v, np.longdouble) for v in flat):
        return arr.astype(np.float64)
    if all(isinstance(v, (int, np.integer)) and -(1 << 63) <= v < (1 << 63) for v in flat):
        return arr.astype(np.int64)
    return arr


def exact_values(arr, where: str = "input") -> np.ndarray:
    """An object array of the exact values of numbers: Fractions, and the
    float itself for NaN, inf and zeros (which keep their sign).  ``where``
    names the input in the error for something that is not a number."""
    arr = np.asarray(arr, dtype=object) if not isinstance(arr, np.ndarray) else arr
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        if isinstance(v, Fraction):
            flat[i] = v
            continue
        if isinstance(v, (float, np.floating)) and (not math.isfinite(float(v)) or v == 0) \
                and not isinstance(v, np.longdouble):
            flat[i] = float(v)  # NaN, inf, and zeros (which keep their sign)
            continue
        try:
            neg, M, E, cls, rational = exact_value(v)
        except (ValueError, TypeError):
            raise ValueError(f"{where}: {v!r} at index {runtime.format_index(i, arr.shape)} is not a number: give floats, "
                             "ints, Fractions or Decimals") from None
        if cls == core.FINITE:
            flat[i] = rational if rational != 0 or not neg else -0.0
        else:  # NaN or inf from a long double or Decimal
            flat[i] = float("nan") if cls == core.NAN_CLASS else (
                -math.inf if neg else math.inf)
    return out


_SPECIAL_SPELLINGS = {"nan": math.nan, "+nan": math.nan, "-nan": -math.nan,
                      "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
                      "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}


def parse_number(text: str):
    """The exact value of a number written as text (the command line's
    ``fxsim explain`` and the ``.csv``/``.txt`` files of ``fxsim vectors``).

    Accepts ints, decimals and exponent notation (``0.1`` is one tenth
    exactly, never the float64 nearest to it), fractions (``-1/3``), hex
    floats (``0x1.8p3``, every digit kept), ``nan`` and ``inf``/``infinity``
    with an optional sign, case-insensitive.  Returns a Fraction; a float for
    NaN, the infinities and a negative zero (``-0``, ``-0.0e5``), whose sign
    a Fraction cannot hold.  Raises ValueError naming the text otherwise."""
    stripped = str(text).strip()
    lowered = stripped.lower()
    if lowered in _SPECIAL_SPELLINGS:
        return _SPECIAL_SPELLINGS[lowered]
    exponent = _EXPONENT.search(lowered)
    if exponent and len(exponent.group(1).lstrip("0")) > 6:  # |exponent| >= 10**6
        raise ValueError(f"cannot read {text!r} exactly: its exponent {exponent.group(1)} is "
                         f"beyond +-999999 (the exact value would take too long to "
                         f"compute); clip it first, e.g. to 1e300 or 0")
    try:
        if lowered.lstrip("+-").startswith("0x"):
            value = _hex_number(lowered)
        else:
            value = Fraction(stripped)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cannot read {text!r} as a number (try 0.3, -1/3, 1e-3, 0x1.8p3, inf, "
                         "nan)") from None
    return -0.0 if value == 0 and stripped.startswith("-") else value


#: the exponent digits of decimal (``e``) or hex (``p``) notation
_EXPONENT = re.compile(r"(?:e|(?<=[0-9a-f.])p)[+-]?([0-9]+)\s*$")


def _hex_number(lowered: str) -> Fraction:
    """``[+-]0x<hex digits>[.<hex digits>][p[+-]<decimal exponent>]``, exactly."""
    sign = -1 if lowered.startswith("-") else 1
    body = lowered.lstrip("+-")
    if len(lowered) - len(body) > 1:
        raise ValueError(lowered)
    mantissa, _, exponent = body[2:].partition("p")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    exp_digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
    if not digits or any(c not in "0123456789abcdef" for c in digits) or (
            "p" in body and not (exp_digits.isascii() and exp_digits.isdigit())):
        raise ValueError(lowered)
    return sign * Fraction(int(digits, 16)) * Fraction(2) ** (int(exponent or 0) - 4 * len(frac))


def floor_log2(a: Fraction) -> int:
    """The integer ``e`` with ``2**e <= a < 2**(e+1)``, for a Fraction ``a > 0``."""
    p, q = a.numerator, a.denominator
    e = p.bit_length() - q.bit_length()
    return e if (p << max(-e, 0)) >= (q << max(e, 0)) else e - 1


def dyadic_with_sticky(a: Fraction, fmt, R: int):
    """``(M, E, sticky)`` with ``M * 2**E <= a < (M + 1) * 2**E`` (``sticky``:
    not equal) and at least ``R + 2`` bits of ``M`` below any rounding point
    ``fmt`` can use: what the core needs to round a non-dyadic ``a > 0``
    exactly once."""
    e = floor_log2(a)
    quantum = min(e, fmt.emin) - fmt.man if fmt.is_float else -fmt.frac
    E = quantum - R - 2
    p, q = a.numerator, a.denominator
    num, den = (p << -E, q) if E <= 0 else (p, q << E)
    M, rem = divmod(num, den)
    return M, E, rem != 0


# ---------------------------------------------------------------- codes
def code_value(code: int, fmt):
    """The exact value of one code: a Fraction, or float NaN/inf (the sign of a
    zero is not kept)."""
    neg, M, E, cls = core.split_code(int(code), fmt.exact_spec)
    if cls == core.NAN_CLASS:
        return float("nan")
    if cls == core.INF:
        return float("-inf") if neg else float("inf")
    value = M * Fraction(2) ** E
    return -value if neg else value


def encode_values(values, fmt, rounding, overflow, rnd, R, shape, spec=None):
    """Codes of a flat sequence of numbers, each rounded once by the core on
    the exact (Python int) engine; ``rnd`` holds the random integers of a
    stochastic mode (empty otherwise), ``shape`` is only for error messages;
    ``spec``: ``fmt.exact_spec`` or a variant of it (a NaN policy)."""
    spec = fmt.exact_spec if spec is None else spec
    wide = fmt.width > 64
    out = np.empty(len(values), dtype=object if wide else np.uint64)
    for i, x in enumerate(values):
        neg, M, E, cls, rational = exact_value(x)
        sticky = False
        if cls == core.FINITE and M is None:
            M, E, sticky = dyadic_with_sticky(abs(rational), fmt, R)
        r = int(rnd[i]) if len(rnd) else 0
        code, status = core.round_code(bool(neg), M, E, sticky, cls, spec, rounding.code,
                                       overflow.code, r, R)
        if status:
            runtime.raise_failure(status, i, shape, fmt, rounding, overflow, x, "encode")
        out[i] = code
    return out


def to_float64(value: Fraction) -> float:
    """Round an exact value to float64 by the core (nearest even)."""
    code = encode_values([value], _formats.float64, Rounding.NEAREST_EVEN, Overflow.IEEE, [], 1, ())
    return float(np.array(code[0], dtype=np.uint64).view(np.float64))


def signed_ints(codes, fmt, *, view=False):
    """The integers ``n`` of fixed-point codes (value ``n * 2**-frac``; two's
    complement when ``fmt`` is signed): int64 when they fit, else an object
    array of Python ints.  ``view=True``: for signed 8/16/32/64-bit formats
    whose codes are in their uint dtype, a no-copy view as the int dtype of
    that width instead (for sums and products that widen first)."""
    codes = np.asarray(codes)
    w = fmt.width
    if view and fmt.signed and w in (8, 16, 32, 64) and codes.dtype == np.dtype(f"uint{w}"):
        return codes.view(f"int{w}")
    if w <= 63 or (w == 64 and fmt.signed):
        v = codes.astype(np.uint64)
        if fmt.signed:
            sign = np.uint64(1 << (w - 1))
            v = (v ^ sign) - sign
        return v.view(np.int64)
    sign = 1 << (w - 1)
    f = np.frompyfunc(lambda c: (int(c) ^ sign) - sign if fmt.signed else int(c), 1, 1)
    return np.asarray(f(codes), dtype=object)


def codes_of_ints(values, fmt, *, consume=False) -> np.ndarray:
    """Codes (``fmt``'s code dtype) of integers that fit the fixed format
    ``fmt`` exactly (two's complement): the inverse of :func:`signed_ints`.
    ``consume=True`` may reuse ``values``' memory for the codes (where the
    integer and code dtypes have the same size): the caller gives it up."""
    values = np.asarray(values)
    dt = codes_dtype(fmt)
    if values.dtype != object and dt != object:
        if consume:
            bits = values.astype(f"int{dt.itemsize * 8}", copy=False).view(dt)
        else:
            bits = values.astype(np.uint64).astype(dt)
        if fmt.width < dt.itemsize * 8:
            np.bitwise_and(bits, dt.type((1 << fmt.width) - 1), out=bits)
        return bits
    mask = (1 << fmt.width) - 1
    bits = np.asarray(np.frompyfunc(lambda v: int(v) & mask, 1, 1)(values), dtype=object)
    return bits if dt == object else bits.astype(dt)


def int_matmul(x, y, limits=None):
    """Exact ``x @ y`` of integer arrays (int64 or Python-int object arrays).

    Float BLAS is used only where it cannot round: when ``K * max|x| *
    max|y| <= 2**24`` (float32) every partial sum, in any order, is an
    integer of at most 24 bits; else in float64 over chunks of K whose
    partial sums stay below 2**53, the chunk results added in int64.
    Beyond that, Python ints.  ``limits``: known bounds of ``|x|``, ``|y|``
    (skip scanning the data when they already prove float32 exact)."""
    k = x.shape[-1]
    if x.dtype != object and y.dtype != object and x.size and y.size:
        if limits is not None and limits[0] * limits[1] * k <= 2**24:
            bound = limits[0] * limits[1]   # the formats' own bounds suffice: no scan
        else:
            bound = max_abs(x) * max_abs(y)
        if bound * k <= 2**24:
            return np.matmul(x.astype(np.float32), y.astype(np.float32)).astype(np.int32)
        if bound <= 2**53 and bound * k < 2**63:
            step = max(1, 2**53 // max(bound, 1))
            if step >= k:
                return np.matmul(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
            total = None
            for k0 in range(0, k, step):
                part = np.matmul(x[..., k0:k0 + step].astype(np.float64),
                                 y[..., k0:k0 + step, :].astype(np.float64)).astype(np.int64)
                total = part if total is None else total + part
            return total
    if not x.size or not y.size:
        return np.zeros(np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1]),
                        np.int64)
    return np.matmul(x.astype(object), y.astype(object))


def max_abs(v) -> int:
    """The largest magnitude in an integer array (0 if empty), as a Python int."""
    return max(abs(int(v.min())), abs(int(v.max()))) if v.size else 0


# ---------------------------------------------------------------- sums
class Terms(NamedTuple):
    """Exact terms of a sum: finite values ``ints * 2**-frac`` (int64 when
    they fit, else Python ints; 0 for NaN/inf), which terms are NaN or
    infinite, and each term's sign bit (the sign of a zero or inf too)."""

    ints: np.ndarray
    frac: int
    isnan: np.ndarray
    isinf: np.ndarray
    signbit: np.ndarray


def terms(codes, fmt) -> Terms:
    """The exact values of ``codes`` as :class:`Terms` of a sum."""
    codes = np.asarray(codes)
    if not fmt.is_float:
        ints = signed_ints(codes, fmt)
        none = np.zeros(codes.shape, bool)
        return Terms(ints, fmt.frac, none, none, np.asarray(ints < 0, bool))
    frac = fmt.man - fmt.emin  # every value is an integer times 2**-frac
    scale = Fraction(2) ** frac
    values = np.frompyfunc(lambda c: code_value(c, fmt), 1, 1)(codes)
    isnan = np.frompyfunc(lambda v: isinstance(v, float) and v != v, 1, 1)(values).astype(bool)
    isinf = np.frompyfunc(lambda v: isinstance(v, float) and v == v, 1, 1)(values).astype(bool)
    ints = np.asarray(np.frompyfunc(
        lambda v: 0 if isinstance(v, float) else int(v * scale), 1, 1)(values), dtype=object)
    if fmt.emax + 1 + frac <= 62:
        ints = ints.astype(np.int64)
    signbit = (codes >> codes.dtype.type(fmt.width - 1)).astype(bool) if fmt.signed \
        else np.zeros(codes.shape, bool)
    return Terms(ints, frac, isnan, isinf, np.asarray(signbit, bool))


def product_terms(a: Terms, b: Terms) -> Terms:
    """Exact products, with IEEE rules (0 * inf is NaN)."""
    if a.ints.dtype != object and b.ints.dtype != object and \
            bits_needed(a.ints) + bits_needed(b.ints) <= 62:
        ints = a.ints * b.ints
    else:
        ints = a.ints.astype(object) * b.ints.astype(object)
    zero_a = (np.asarray(a.ints) == 0) & ~a.isnan & ~a.isinf
    zero_b = (np.asarray(b.ints) == 0) & ~b.isnan & ~b.isinf
    isnan = a.isnan | b.isnan | (a.isinf & zero_b) | (b.isinf & zero_a)
    isinf = (a.isinf | b.isinf) & ~isnan
    return Terms(ints, a.frac + b.frac, isnan, isinf, a.signbit ^ b.signbit)


def bits_needed(ints) -> int:
    """Bits of a two's complement integer that holds every one of ``ints``."""
    return int(np.max(np.abs(ints), initial=0)).bit_length() + 1


def int_sum(ints, axes):
    """The exact sum of integers along ``axes`` (int64 when no partial sum
    can overflow it, else Python ints)."""
    if ints.dtype != object:
        n = int(np.prod([ints.shape[i] for i in axes], dtype=np.int64))
        if bits_needed(ints) + max(n - 1, 0).bit_length() <= 63:
            return np.sum(ints, axis=axes, dtype=np.int64)
        ints = ints.astype(object)
    return np.sum(ints, axis=axes, dtype=object)


def sum_zero_sign(all_negative, all_positive, rounding):
    """IEEE 754's sign of an exact zero sum (True: -0): -0 when every term is
    -0 (``all_negative``, false for an empty sum), else +0 -- except under
    rounding ``down``, where it is -0 unless every term is +0
    (``all_positive``).  Works elementwise on boolean arrays."""
    return all_negative | ((rounding == Rounding.DOWN) & ~all_positive)


def round_sum(t: Terms, axes, out, rounding, overflow, name):
    """The exact sum of the terms along ``axes``, rounded once into ``out``
    (its codes; ``name`` is the operation, for error messages).

    IEEE 754: a NaN term or +inf meeting -inf gives NaN; an inf gives inf;
    an exact zero is -0 if every term is -0, else +0 -- except under
    ``down``, where it is -0 unless every term is +0."""
    rounding, overflow = runtime.resolve_modes(out, rounding, overflow)
    if rounding.is_stochastic:
        raise ValueError(f"{name}: stochastic rounding of a sum is not offered "
                         f"(format {out.name}, rounding={rounding.value})")
    total = np.asarray(int_sum(t.ints, axes))
    shape = total.shape
    flat = total.reshape(-1)
    zero_term = (np.asarray(t.ints) == 0) & ~t.isnan & ~t.isinf
    nan = np.any(t.isnan, axis=axes) | (np.any(t.isinf & ~t.signbit, axis=axes)
                                        & np.any(t.isinf & t.signbit, axis=axes))
    inf = np.any(t.isinf, axis=axes) & ~nan
    inf_neg = np.any(t.isinf & t.signbit, axis=axes)
    n = int(np.prod([t.ints.shape[i] for i in axes], dtype=np.int64))
    all_negzero = np.all(zero_term & t.signbit, axis=axes) & (n > 0)
    all_poszero = np.all(zero_term & ~t.signbit, axis=axes)
    zero_neg = sum_zero_sign(all_negzero, all_poszero, rounding)
    cls = np.where(nan, core.NAN_CLASS, np.where(inf, core.INF, core.FINITE)).reshape(-1)
    negs = np.where(nan, False, np.where(inf, inf_neg, zero_neg)).reshape(-1)  # NaN: positive
    spec = out.exact_spec
    codes = np.empty(flat.size, dtype=codes_dtype(out) if out.width > 64 else np.uint64)
    for i, v in enumerate(flat):
        v = int(v)
        neg = v < 0 if v and cls[i] == core.FINITE else bool(negs[i])  # inf: its own sign
        code, status = core.round_code(neg, abs(v), -t.frac, False, int(cls[i]), spec,
                                       rounding.code, overflow.code, 0, 1)
        if status:
            value = Fraction(v) / (Fraction(2) ** t.frac) if cls[i] == core.FINITE else \
                ("nan" if cls[i] == core.NAN_CLASS else "inf")
            runtime.raise_failure(status, i, shape, out, rounding, overflow, value, name)
        codes[i] = code
    return codes.reshape(shape).astype(codes_dtype(out))


# ---------------------------------------------------------------- rationals
def round_pot_quotient(num, k: int, rounding, out, overflow="raise"):
    """The integers ``num * 2**-k`` rounded once into the integer format ``out``.

    ``num``: an int64 array (the compiled path) or an object array of Python
    ints of any width (the exact path); ``k``: an int (negative: a
    multiplication, which is exact); ``out``: a fixed-point format with
    ``frac == 0`` (a ``FixedFormat`` or a name such as ``"s32.0"``).

    Exact: the quotient itself -- ``num`` are the codes of
    ``FixedFormat(w, k)`` (``w = 64`` for int64, else wide enough to hold
    every one), whose values are ``num * 2**-k`` with nothing lost.
    Rounded: once, by the core (``fxsim.cast`` into ``out``) with mode
    ``rounding``; ``overflow`` is the core's policy for a result outside
    ``out`` (``"raise"``: OverflowError naming the index; ``"saturate"``).

    Returns the integers of the result (:func:`signed_ints`): int64 when
    ``out`` fits 64 bits, else an object array of Python ints."""
    from .array import from_bits  # local: array and ops are built on this module
    from .ops import cast
    out = _formats.format(out)
    num = np.asarray(num)
    if num.dtype != object:
        codes = np.ascontiguousarray(num, np.int64).view(np.uint64)
        src = _formats.FixedFormat(64, k)
    else:
        flat = [int(v) for v in num.reshape(-1)]
        w = max([64] + [v.bit_length() + 2 for v in flat] + [(-v).bit_length() + 2 for v in flat])
        codes = np.empty(num.shape, dtype=object)
        codes.reshape(-1)[:] = [v % (1 << w) for v in flat]
        if w == 64:
            codes = codes.astype(np.uint64)
        src = _formats.FixedFormat(w, k)
    result = cast(from_bits(codes, src), out, rounding, overflow)
    return signed_ints(result.bits, out)


def round_rational(num, den: int, rounding):
    """``num / den`` rounded to integers with the deterministic mode
    ``rounding``, once, by the core; ``num`` an integer array (int64 or
    Python ints), ``den > 0`` an int.

    Exact: the quotient is never formed.  A deterministic mode's decision
    depends only on ``n = floor(t)`` (``t = num / den``), on whether ``t`` is
    exact, and on the fraction ``f = t - n`` against 1/2.  ``M / 4`` with
    ``M = 4n + 2*g + s`` (``g = floor(2f)``, sticky ``s`` = "2f is not an
    integer") has the same floor, is exact iff ``t`` is, and its fraction
    ``g/2 + s/4`` sits on the same side of (or on) 1/2; all of it is integer
    division.  Rounded: ``M * 2**-2``, by :func:`round_pot_quotient` (the
    core), which gives ``round(t)``.  Vectorized; returns int64 when every
    intermediate fits 64 bits, else an object array of Python ints."""
    num = np.asarray(num)
    small = num.dtype != object and den < (1 << 58) and \
        (num.size == 0 or int(np.abs(num).max()) < (1 << 58))
    if not small and num.dtype != object:
        num = num.astype(object)
    n, r = num // den, num % den
    g, s = (2 * r) // den, (2 * r) % den != 0
    M = (n * 2 + g) * 2 + s.astype(np.int64 if small else object)
    if small:
        return round_pot_quotient(M.astype(np.int64), 2, rounding, _formats.FixedFormat(64, 0))
    width = max([64] + [abs(int(v)).bit_length() + 2 for v in M.reshape(-1)])
    return round_pot_quotient(M, 2, rounding, _formats.FixedFormat(width, 0))
