"""Integer requantization as gemmlowp and TensorFlow Lite compute it.

An 8-bit convolution or matrix product accumulates exact int32 sums.  To get
int8 outputs again, each sum is multiplied by a real number ``M`` (the ratio
of scales ``x_scale * w_scale / out_scale``), rounded to an integer, shifted
by the output zero point and clamped.  Integer-only inference cannot use
floats, so ``M`` is stored as a fixed-point number::

    M  ~=  m0 * 2**(shift - 31)          m0 in [2**30, 2**31), an int32

``quantize_multiplier`` finds ``(m0, shift)``.  The product ``x * M`` is then
rounded back to an integer in one of two ways:

* ``"double"`` -- TFLite's default, from gemmlowp: first
  ``SaturatingRoundingDoublingHighMul`` (keep the high 32 bits of the doubled
  64-bit product ``x * m0``, rounded), then ``RoundingDivideByPOT`` (divide
  by ``2**-shift``, rounded).  Two roundings, so the result is sometimes one
  away from the correctly rounded value (TensorFlow issue 25087).
* ``"single"`` -- TFLite built with ``TFLITE_SINGLE_ROUNDING`` (and XNNPACK):
  ``(x * m0 + 2**(s-1)) >> s`` with ``s = 31 - shift``: the exact product
  rounded once, ties toward +infinity.

Every function here is a line-by-line transcription of the C++ code, on
Python ints.  Two things about C++ integers need care in Python:

* C++ ``a / b`` on integers truncates toward zero; Python ``a // b`` rounds
  toward minus infinity.  ``c_divide`` below does what C++ does.
* C++ ``a >> n`` on a negative ``int`` is an arithmetic shift (floor), and
  ``a & mask`` works on the two's complement bits: Python's ``>>`` and ``&``
  on negative ints do exactly that, so they are used as they are.

Where the C++ result is undefined (a signed int32 overflow, or a failed
``TFLITE_DCHECK``), these functions raise ``ValueError`` instead of guessing.

Reading order: ``saturating_rounding_doubling_high_mul``,
``rounding_divide_by_pot``, ``multiply_by_quantized_multiplier_double``,
``multiply_by_quantized_multiplier_single``, ``quantize_multiplier``,
``requantize``.
"""

import math
from fractions import Fraction

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def c_divide(a, b):
    """C++ integer division ``a / b``: the quotient truncated toward zero.

    (Python's ``a // b`` floors instead: ``-7 // 2 == -4`` but C++ gives -3.)
    """
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return q


def check_int32(function, what, v):
    """Raise ``ValueError`` unless ``v`` is a Python int in int32's range."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{function}: {what} = {v!r} is not an integer")
    if not INT32_MIN <= v <= INT32_MAX:
        raise ValueError(f"{function}: {what} = {v} is outside int32 "
                         f"[{INT32_MIN}, {INT32_MAX}]")
    return v


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp's ``SaturatingRoundingDoublingHighMul(int32 a, int32 b)``.

    The high 32 bits of ``2 * a * b``, i.e. ``a * b / 2**31``, rounded to the
    nearest integer.  The C++::

        bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
        int64_t a_64(a);
        int64_t b_64(b);
        int64_t ab_64 = a_64 * b_64;
        int32_t nudge = ab_64 >= 0 ? (1 << 30) : (1 - (1 << 30));
        int32_t ab_x2_high32 = static_cast<int32_t>((ab_64 + nudge) / (1ll << 31));
        return overflow ? std::numeric_limits<int32_t>::max() : ab_x2_high32;

    Which way do ties go?  For ``ab_64 >= 0`` the nudge is ``+2**30``, half
    of ``2**31``, and the division truncates: a tie goes up.  For
    ``ab_64 < 0`` the nudge is ``1 - 2**30`` and the division truncates
    toward zero, so ``ab_64 = -2**30`` (the value -0.5) gives
    ``(-2**31 + 1) / 2**31 = 0``: the tie goes toward zero, which for a
    negative number is also up.  So ties go toward +infinity, as ARM's
    ``VQRDMULH`` instruction does -- not away from zero.

    The only product whose result does not fit int32 is
    ``INT32_MIN * INT32_MIN`` (exactly ``2**31``); it saturates to
    ``INT32_MAX``.
    """
    check_int32("saturating_rounding_doubling_high_mul", "a", a)
    check_int32("saturating_rounding_doubling_high_mul", "b", b)
    overflow = a == b and a == INT32_MIN
    ab_64 = a * b
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    ab_x2_high32 = c_divide(ab_64 + nudge, 1 << 31)
    return INT32_MAX if overflow else ab_x2_high32


def rounding_divide_by_pot(x, exponent):
    """gemmlowp's ``RoundingDivideByPOT(int32 x, int exponent)``.

    ``x / 2**exponent`` rounded to the nearest integer, ties away from zero.
    The C++ (scalar version)::

        assert(exponent >= 0);
        assert(exponent <= 31);
        const int32_t mask = (1ll << exponent) - 1;
        const int32_t zero = 0;
        const int32_t one = 1;
        const int32_t remainder = x & mask;
        const int32_t threshold = (mask >> 1) + ((x < zero) ? one : zero);
        return (x >> exponent) + ((remainder > threshold) ? one : zero);

    ``x >> exponent`` is the floor of the quotient and ``remainder`` what
    the floor dropped (``0 <= remainder < 2**exponent``).  For ``x >= 0`` a
    remainder of exactly half (``mask >> 1`` is half minus one) rounds up;
    for ``x < 0`` the threshold is one higher, so exactly half stays at the
    floor, which for a negative number is away from zero.
    """
    check_int32("rounding_divide_by_pot", "x", x)
    if isinstance(exponent, bool) or not isinstance(exponent, int) or not 0 <= exponent <= 31:
        raise ValueError(f"rounding_divide_by_pot: exponent = {exponent!r} is not an "
                         "integer in [0, 31]")
    mask = (1 << exponent) - 1
    zero = 0
    one = 1
    remainder = x & mask
    threshold = (mask >> 1) + (one if x < zero else zero)
    return (x >> exponent) + (one if remainder > threshold else zero)


def _check_multiplier(function, m0, shift):
    check_int32(function, "m0", m0)
    if m0 < 0:
        raise ValueError(f"{function}: m0 = {m0} is negative; TFLite requires "
                         "quantized_multiplier >= 0")
    if isinstance(shift, bool) or not isinstance(shift, int) or not -31 <= shift <= 30:
        raise ValueError(f"{function}: shift = {shift!r} is not an integer in [-31, 30]")


def multiply_by_quantized_multiplier_double(x, m0, shift):
    """TFLite's default ``MultiplyByQuantizedMultiplier(int32 x, int32 m0, int shift)``.

    ``x * m0 * 2**(shift - 31)`` rounded twice.  The C++::

        int left_shift = shift > 0 ? shift : 0;
        int right_shift = shift > 0 ? 0 : -shift;
        return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
                                       x * (1 << left_shift), quantized_multiplier),
                                   right_shift);

    ``x * (1 << left_shift)`` is an int32 multiplication; when the product
    leaves int32 the C++ behaviour is undefined, and this raises
    ``ValueError``.
    """
    name = "multiply_by_quantized_multiplier_double"
    check_int32(name, "x", x)
    _check_multiplier(name, m0, shift)
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    shifted = x * (1 << left_shift)
    if not INT32_MIN <= shifted <= INT32_MAX:
        raise ValueError(f"{name}: x * 2**{left_shift} = {shifted} (x = {x}, shift = {shift}) "
                         "overflows int32, which is undefined behaviour in the C++")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m0),
                                  right_shift)


def multiply_by_quantized_multiplier_single(x, m0, shift):
    """TFLite's ``MultiplyByQuantizedMultiplier`` under ``TFLITE_SINGLE_ROUNDING``.

    ``x * m0 * 2**(shift - 31)`` rounded once, ties toward +infinity.  The C++::

        TFLITE_DCHECK(quantized_multiplier >= 0);
        TFLITE_DCHECK(shift >= -31 && shift <= 30);
        const int64_t total_shift = 31 - shift;
        const int64_t round = static_cast<int64_t>(1) << (total_shift - 1);
        int64_t result = x * static_cast<int64_t>(quantized_multiplier) + round;
        result = result >> total_shift;
        TFLITE_DCHECK(result >= std::numeric_limits<int32_t>::min() &&
                      result <= std::numeric_limits<int32_t>::max());
        return static_cast<int32_t>(result);

    Adding half (``round``) and then flooring (the arithmetic shift) rounds
    to nearest with ties up.  A result outside int32 fails the last
    ``DCHECK``; this raises ``ValueError`` there.
    """
    name = "multiply_by_quantized_multiplier_single"
    check_int32(name, "x", x)
    _check_multiplier(name, m0, shift)
    total_shift = 31 - shift
    round_ = 1 << (total_shift - 1)
    result = x * m0 + round_
    result = result >> total_shift
    if not INT32_MIN <= result <= INT32_MAX:
        raise ValueError(f"{name}: result {result} (x = {x}, m0 = {m0}, shift = {shift}) "
                         "is outside int32 (a failed TFLITE_DCHECK in the C++)")
    return result


def multiply_by_quantized_multiplier(x, m0, shift, rounding="double"):
    """``rounding="double"`` or ``"single"``: one of the two functions above."""
    if rounding == "double":
        return multiply_by_quantized_multiplier_double(x, m0, shift)
    if rounding == "single":
        return multiply_by_quantized_multiplier_single(x, m0, shift)
    raise ValueError(f"multiply_by_quantized_multiplier: rounding = {rounding!r}, "
                     "expected 'double' or 'single'")


def round_half_away(t):
    """``std::round`` on an exact rational: nearest integer, ties away from zero."""
    t = Fraction(t)
    n = math.floor(abs(t) + Fraction(1, 2))
    return n if t >= 0 else -n


def quantize_multiplier(real):
    """TFLite's ``QuantizeMultiplier(double real, int32* m0, int* shift)``.

    Returns ``(m0, shift)`` with ``real ~= m0 * 2**(shift - 31)``.  The C++::

        if (double_multiplier == 0.) { *quantized_multiplier = 0; *shift = 0; return; }
        const double q = std::frexp(double_multiplier, shift);
        auto q_fixed = static_cast<int64_t>(TfLiteRound(q * (1LL << 31)));
        TFLITE_CHECK(q_fixed <= (1LL << 31));
        if (q_fixed == (1LL << 31)) { q_fixed /= 2; ++*shift; }
        TFLITE_CHECK_LE(q_fixed, std::numeric_limits<int32_t>::max());
        if (*shift < -31) { *shift = 0; q_fixed = 0; }
        *quantized_multiplier = static_cast<int32_t>(q_fixed);

    ``frexp`` gives ``real = q * 2**shift`` with ``0.5 <= q < 1``;
    ``q * 2**31`` is exact in a double (a power-of-two scaling), so rounding
    it with ``TfLiteRound`` (``std::round``: half away from zero) is the only
    rounding.  When it rounds up to ``2**31`` the multiplier is halved and
    the shift grows by one.  Reals below about ``2**-32`` need a shift below
    -31 and become ``(0, 0)``: every product with them rounds to 0 anyway.

    Decisions where the C++ leaves the range:

    * a negative (or NaN, infinite) ``real`` raises ``ValueError``: TFLite
      requires ``real >= 0`` for requantization (single rounding only
      supports non-negative multipliers);
    * a shift above 30 (``real`` at or above about ``2**30``) raises
      ``ValueError``: multiply_by_quantized_multiplier accepts shifts in
      ``[-31, 30]``.  (TFLite built with ``TFLITE_SINGLE_ROUNDING`` saturates
      it to ``(2**31 - 1, 30)``; the default build returns it and overflows
      later.)
    """
    name = "quantize_multiplier"
    if isinstance(real, bool) or not isinstance(real, (int, float)):
        raise ValueError(f"{name}: real = {real!r} is not a number")
    real = float(real)
    if math.isnan(real) or math.isinf(real) or real < 0:
        raise ValueError(f"{name}: real = {real!r} is not a finite number >= 0 (TFLite "
                         "requires a non-negative multiplier for requantization)")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(Fraction(q) * (1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed = q_fixed // 2
        shift += 1
    assert q_fixed <= INT32_MAX
    if shift < -31:
        shift = 0
        q_fixed = 0
    if shift > 30:
        raise ValueError(f"{name}: real = {real!r} needs shift = {shift} > 30 (real >= 2**30 "
                         "after rounding); multiply_by_quantized_multiplier takes shifts in "
                         "[-31, 30]")
    return q_fixed, shift


def requantize(acc, bias, m0, shift, out_zero_point, out_min=-128, out_max=127,
               rounding="double"):
    """One output of TFLite's int8 per-channel convolution, after the sum.

    ``acc`` is the exact int32 sum of ``(x - x_zero_point) * (w - w_zero_point)``
    over the filter taps; ``bias``, ``m0``, ``shift`` belong to its output
    channel.  The C++ (reference_integer_ops::ConvPerChannel)::

        if (bias_data) { acc += bias_data[out_channel]; }
        acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[out_channel],
                                            output_shift[out_channel]);
        acc += output_offset;
        acc = std::max(acc, output_activation_min);
        acc = std::min(acc, output_activation_max);

    Both additions are int32 additions; an overflow is undefined behaviour
    in the C++ and raises ``ValueError`` here.  ``bias=None`` means no bias.
    """
    name = "requantize"
    check_int32(name, "acc", acc)
    if bias is not None:
        check_int32(name, "bias", bias)
        total = acc + bias
        if not INT32_MIN <= total <= INT32_MAX:
            raise ValueError(f"{name}: acc + bias = {acc} + {bias} overflows int32")
        acc = total
    acc = multiply_by_quantized_multiplier(acc, m0, shift, rounding)
    check_int32(name, "out_zero_point", out_zero_point)
    total = acc + out_zero_point
    if not INT32_MIN <= total <= INT32_MAX:
        raise ValueError(f"{name}: {acc} + out_zero_point {out_zero_point} overflows int32")
    acc = total
    acc = max(acc, out_min)
    acc = min(acc, out_max)
    return acc
