"""The one text-number parser (``fxsim.exact.parse_number``) that
``fxsim explain`` and the .csv/.txt reader share: values against Python's
Fraction arithmetic, worked out by hand where Fraction cannot read the text."""
import math
import re
from fractions import Fraction

import pytest

from fxsim.exact import parse_number
from fxsim.explain import explain


@pytest.mark.parametrize("text", ["0.1", "-3", "+2.5", " 7 ", "1/3", "-1/3", "1e-3", "-2.5E+3",
                                  ".5", "1.", "1_000", "0.50000000000000000001",
                                  "5.0000000000000000001e-1", "123456789012345678901234567890"])
def test_decimal_and_fraction_spellings_are_exact(text):
    value = parse_number(text)
    assert isinstance(value, Fraction) and value == Fraction(text.strip())


@pytest.mark.parametrize("text, want", [
    ("0x1.8p3", Fraction(12)),                           # 1.5 * 2**3
    ("-0x1.00000000000001p0", -(1 + Fraction(1, 2**56))),  # 57 bits: more than a float64 keeps
    ("0x.8p1", Fraction(1)), ("+0X10", Fraction(16)), ("0xAp-4", Fraction(10, 16)),
])
def test_hex_floats_keep_every_digit(text, want):
    assert parse_number(text) == want


@pytest.mark.parametrize("text, sign", [("nan", 1), ("+NaN", 1), ("-nan", -1)])
def test_nan(text, sign):
    value = parse_number(text)
    assert isinstance(value, float) and math.isnan(value) and math.copysign(1, value) == sign


@pytest.mark.parametrize("text, want", [("inf", math.inf), ("+Inf", math.inf), ("-inf", -math.inf),
                                        ("Infinity", math.inf), ("-INFINITY", -math.inf)])
def test_infinities(text, want):
    assert parse_number(text) == want


@pytest.mark.parametrize("text", ["-0", "-0.0", "-0e5", "-0/3", "-0x0p0"])
def test_negative_zero_keeps_its_sign(text):
    value = parse_number(text)
    assert isinstance(value, float) and value == 0 and math.copysign(1, value) == -1


def test_positive_zero_is_a_fraction():
    assert parse_number("0") == 0 and isinstance(parse_number("+0.0"), Fraction)


@pytest.mark.parametrize("text", ["", "abc", "1/0", "0x", "0x1p", "0xg", "0x1p1.5", "--1", "1e",
                                  "+-0x1p0", "nan1", "1,5"])
def test_errors_name_the_text(text):
    with pytest.raises(ValueError, match=re.escape(f"cannot read {text!r} as a number")):
        parse_number(text)


def test_explain_reads_its_value_exactly():
    # 0.5 + 10**-20 is above the tie of s8.0: the result is 1, not the even 0
    assert "result     0x1" in explain("0.50000000000000000001", "s8.0")
    assert "result     0x0" in explain("0.49999999999999999999", "s8.0")
    # -0 is the float8 negative zero (sign bit set)
    assert "result     0x80" in explain("-0", "float8_e4m3fn")


@pytest.mark.parametrize("text", ["1e1000000", "-2.5E-0000012345678", "0x1p1000000"])
def test_huge_exponents_are_refused_not_computed(text):
    # a value like 10**(10**8) would take minutes to build exactly
    with pytest.raises(ValueError, match="exponent .* beyond"):
        parse_number(text)


def test_exponents_below_the_cap_are_exact():
    assert parse_number("1e-999999") == Fraction(1, 10**999999)
    assert parse_number("0x1p-1074") == Fraction(1, 2**1074)
