"""fxsim.diff: golden codes against a device's.

Values, fields and ULP distances are checked against reference/ (decode)
and a rank order built from it.
"""
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
import fxsim.io
import reference as ref
from fxsim.diff import diff
from oracle import ref_format

WIDE = "s100.60"
ALL_FORMATS = list(fxsim.formats.PRESETS) + [WIDE, "u3.1", "s12.-2", "e3m2_nosub", "e4m3b9fn"]


def test_io_re_exports_diff():
    """``fxsim.io.diff`` (as README spells it) is this module's diff."""
    assert fxsim.io.diff is diff and fxsim.io.DiffReport is fxsim.diff.DiffReport
    assert fxsim.io.Mismatch is fxsim.diff.Mismatch and fxsim.io.ulp_key is fxsim.diff.ulp_key


def _ref_value(code, fmt):
    sign, mag = ref.decode(int(code), ref_format(fmt))
    if mag == "nan":
        return None
    if mag == "inf":
        return sign * math.inf
    return sign * mag


def _rank_oracle(fmt):
    """Position of each code's value among the format's distinct values
    (finite ones and infinities; +0 = -0; NaN -> None)."""
    values = [_ref_value(c, fmt) for c in range(1 << fmt.width)]
    order = sorted({v for v in values if v is not None})
    rank = {v: i for i, v in enumerate(order)}
    return [None if v is None else rank[v] for v in values]


def _field_oracle(bit, fmt):
    if fmt.signed and bit == fmt.width - 1:
        return "sign"
    if fmt.is_float:
        return "exponent" if bit >= fmt.man else "mantissa"
    return "fraction" if bit < fmt.frac else "integer"


SMALL = [n for n in ALL_FORMATS if fxsim.format(n).width <= 8] + ["s8.3", "u6.-1", "s5.7"]


@pytest.mark.parametrize("name", SMALL)
def test_diff_every_single_bit_flip(name):
    """Every code against itself with one bit flipped: index, bits, fields,
    exact values and ULP distance against the reference decode and rank order."""
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    ranks = _rank_oracle(fmt)
    for bit in range(fmt.width):
        flipped = codes ^ np.uint64(1 << bit)
        report = diff(codes, flipped, fmt, limit=codes.size)
        assert not report.ok and report.mismatches == report.total == codes.size
        assert [m.index for m in report.first] == [(i,) for i in range(codes.size)]
        for m in report.first:
            a, b = m.index[0], m.index[0] ^ (1 << bit)
            assert (m.golden_code, m.dut_code) == (a, b)
            assert m.golden == format(a, f"0{-(-fmt.width // 4)}x")
            assert m.bits == (bit,) and m.fields == (_field_oracle(bit, fmt),)
            for got, code in ((m.golden_value, a), (m.dut_value, b)):
                want = _ref_value(code, fmt)
                assert (isinstance(got, float) and math.isnan(got)) if want is None else got == want
            want_ulps = None if ranks[a] is None or ranks[b] is None else ranks[b] - ranks[a]
            if not fmt.is_float:  # fixed point: the difference of the integers
                want_ulps = (_ref_value(b, fmt) - _ref_value(a, fmt)) * 2 ** fmt.frac
            assert m.ulps == want_ulps, (m, want_ulps)


def test_diff_named_cases():
    e4 = "float8_e4m3fn"
    # lowest mantissa bit of a positive normal (1.0 = 0x38): one ULP up
    (m,) = diff([0x38], [0x39], e4).first
    assert (m.ulps, m.fields, m.bits) == (1, ("mantissa",), (0,))
    assert (m.golden_value, m.dut_value, m.dut_float) == (1, Fraction(9, 8), 1.125)
    # +0 against -0: the sign differs, 0 ULP apart, floats keep the sign of zero
    (m,) = diff([0x00], [0x80], e4).first
    assert (m.ulps, m.fields, m.bits) == (0, ("sign",), (7,))
    assert math.copysign(1, m.dut_float) == -1
    # smallest subnormal to its negative: two steps (through zero)
    (m,) = diff(np.uint16([0x0001]), np.uint16([0x8001]), "bfloat16").first
    assert m.ulps == -2
    # largest finite to inf in float16: one step; to NaN: no distance
    assert diff(np.uint16([0x7bff]), np.uint16([0x7c00]), "float16").first[0].ulps == 1
    assert diff(np.uint16([0x7bff]), np.uint16([0x7e00]), "float16").first[0].ulps is None
    # fixed point: -1 against 0 in int8 (all bits differ), one ULP
    (m,) = diff(np.uint8([0xff]), np.uint8([0x00]), "int8").first
    assert m.ulps == 1 and m.bits == tuple(range(8)) and m.fields == ("sign", "integer")
    # exponent and mantissa both differ
    (m,) = diff([0x38], [0x38 ^ 0b1001001], e4).first
    assert m.fields == ("exponent", "mantissa") and m.bits == (0, 3, 6)


def test_diff_index_limit_and_report():
    golden = np.arange(60, dtype=np.uint16).reshape(3, 4, 5) + 0x3c00
    dut = golden.copy()
    dut[1, 2, 3] ^= 1 << 4
    report = diff(fxsim.from_bits(golden, "float16"), fxsim.from_bits(dut, "float16"))
    assert (report.mismatches, report.total, report.ok) == (1, 60, False)
    (m,) = report.first
    assert m.index == (1, 2, 3) and m.bits == (4,) and m.fields == ("mantissa",) and m.ulps == 16
    assert m.golden == f"{int(golden[1, 2, 3]):04x}" and m.dut == f"{int(dut[1, 2, 3]):04x}"
    text = str(report)
    assert "1 of 60" in text and "(1, 2, 3)" in text and m.golden in text and m.dut in text
    assert "+16" in text and "mantissa" in text

    dut = golden.copy()
    dut.reshape(-1)[[7, 2, 50, 31, 9]] ^= 1
    report = diff(golden, dut, "float16", limit=2)
    assert report.mismatches == 5 and [m.index for m in report.first] == [(0, 0, 2), (0, 1, 2)]
    assert "3 more" in str(report)

    same = diff(fxsim.from_bits(golden, "float16"), golden, limit=0)
    assert same.ok and same.mismatches == 0 and same.first == () and "0 of 60" in str(same)


def test_diff_wide_fixed():
    golden = np.array([5, 2**99 + 3], dtype=object)
    dut = golden.copy()
    dut[0] ^= 1 << 99
    dut[1] ^= 1 << 61
    report = diff(fxsim.from_bits(golden, WIDE), fxsim.from_bits(dut, WIDE))
    first, second = report.first
    assert first.fields == ("sign",) and first.bits == (99,) and first.ulps == -(2**99)
    assert second.fields == ("integer",) and second.ulps == 2**61
    assert second.golden_value == Fraction(2**99 + 3 - 2**100, 2**60)
    assert len(first.golden) == 25


def test_diff_errors():
    with pytest.raises(ValueError, match=r"shapes differ.*\(2,\).*\(3,\).*s8.0"):
        diff(np.uint8([1, 2]), np.uint8([1, 2, 3]), "int8")
    with pytest.raises(ValueError, match="formats differ"):
        diff(fxsim.from_bits([1], "int8"), fxsim.from_bits([1], "uint8"))
    with pytest.raises(ValueError, match="fmt"):
        diff([1], [2])
    with pytest.raises(ValueError, match=r"256.*\(0,\).*s8.0"):
        diff([256], [1], "int8")


def test_diff_counts_unknown_bits_as_mismatches():
    """``unknown=`` (per DUT code, the x/z bits): any code with one is a
    mismatch of field 'unknown', also where the known bits agree; the
    hex shows x for each digit holding an unknown bit."""
    g = fxsim.from_bits(np.array([0x00, 0x7e, 0x80, 0x44], np.uint8), "float8_e4m3fn")
    d = fxsim.from_bits(np.array([0x00, 0x70, 0x81, 0x44], np.uint8), "float8_e4m3fn")
    report = diff(g, d, unknown=np.array([0, 0x0f, 0, 0], np.uint8))
    assert report.mismatches == 2 and report.unknown == 1
    m1, m2 = report.first
    assert m1.index == (1,) and m1.dut == "7x" and m1.fields == ("unknown",) and m1.ulps is None
    assert m1.bits == (0, 1, 2, 3) and m1.dut_value is None and m1.golden_value == 448
    assert m2.index == (2,) and m2.fields == ("mantissa",) and m2.ulps is not None
    # a wide fixed format and object masks
    wide = fxsim.format(WIDE)
    top = (1 << 100) - 1
    gw = fxsim.from_bits(np.array([top, 5], dtype=object), wide)
    report = diff(gw, gw, unknown=np.array([0, 1 << 99], dtype=object))
    assert report.mismatches == 1 and report.first[0].index == (1,)
    assert report.first[0].dut == "x" + "0" * 23 + "5" and report.first[0].bits == (99,)
    assert "x/z" in str(report)
    with pytest.raises(ValueError, match=r"unknown= value 256 at index \(2,\).*8-bit.*float8_e4m3fn"):
        diff(g, d, unknown=np.array([0, 0, 256, 0]))
    with pytest.raises(ValueError, match=r"unknown= has shape \(3,\)"):
        diff(g, d, unknown=np.zeros(3, np.uint8))
