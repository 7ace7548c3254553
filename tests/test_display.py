"""fxsim.display: QArray's HTML table, hex/bin views and integer printing.

Codes, bits and fields are checked against Python's own int formatting and
the field layout of the format; values against reference/ (decode)."""
import math
import re

import numpy as np
import pytest

import fxsim
import reference as ref
from fxsim import display
from oracle import ref_format

WIDE = "s100.60"


def _ref_value_text(code, fmt):
    sign, mag = ref.decode(code, ref_format(fmt))
    if mag == "nan":
        return "nan"
    if mag == "inf":
        return "inf" if sign > 0 else "-inf"
    return sign * mag


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "int8", "u4.2",
                                  "float8_e8m0fnu"])
def test_html_contains_every_code_with_its_fields(name):
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint8)
    page = fxsim.from_bits(codes, fmt)._repr_html_()
    rows = re.findall(r"<tr><td>\((\d+),\)</td><td><code>0x([0-9a-f]+)</code></td>"
                      r"<td><code>(.*?)</code></td><td>(.*?)</td></tr>", page)
    assert [int(i) for i, *_ in rows] == list(range(1 << fmt.width))
    digits = -(-fmt.width // 4)
    for (index, hx, bits_html, value), code in zip(rows, range(1 << fmt.width)):
        assert hx == format(code, f"0{digits}x")
        spans = re.findall(r'class="fx-(\w+)"[^>]*>([01]+)</span>', bits_html)
        assert "".join(b for _, b in spans) == format(code, f"0{fmt.width}b")
        # the field layout: sign bit on top (signed formats), then exponent/mantissa or
        # integer/fraction bits, each span as wide as its field
        want = ([("sign", 1)] if fmt.signed else []) + (
            [("exponent", fmt.exp), ("mantissa", fmt.man)] if fmt.is_float else
            [("integer", fmt.width - fmt.signed - min(max(fmt.frac, 0), fmt.width - fmt.signed)),
             ("fraction", min(max(fmt.frac, 0), fmt.width - fmt.signed))])
        assert [(f, len(b)) for f, b in spans] == [(f, n) for f, n in want if n]
        expect = _ref_value_text(code, fmt)
        if isinstance(expect, str):
            assert value == expect
        elif expect == 0 and fmt.is_float and fmt.signed and code >> (fmt.width - 1):
            assert value == "-0"
        else:
            assert value.split(" ")[0] == str(expect)
    assert "more" not in page


def test_html_is_capped_with_an_ellipsis():
    q = fxsim.from_bits(np.arange(300, dtype=np.uint16) % 256, "float8_e4m3fn")
    page = q.reshape(3, 100)._repr_html_()
    assert page.count("<tr><td>(") == display.HTML_LIMIT == 256
    assert "&#8230; 44 more (of 300" in page and "(2, 55)" in page and "(2, 56)" not in page
    assert "<td>()</td>" in fxsim.from_bits(np.uint8(0x38), "float8_e4m3fn")._repr_html_()


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float6_e3m2fn", "bfloat16", "uint64", WIDE, "s12.-2"])
def test_hex_and_bin_keep_the_shape(name):
    fmt = fxsim.format(name)
    rng = np.random.default_rng(1)
    top = (1 << fmt.width) - 1
    ints = [int.from_bytes(rng.bytes(16), "little") & top for _ in range(9)] + [0, top, top >> 1]
    arr = np.empty(12, dtype=object)
    arr[:] = ints
    q = fxsim.from_bits(arr, fmt).reshape(3, 4)
    h, b = q.hex(), q.bin()
    assert isinstance(h, np.ndarray) and h.shape == (3, 4) and h.dtype.kind == "U"
    assert b.shape == (3, 4) and b.dtype.kind == "U"
    digits = -(-fmt.width // 4)
    assert h.reshape(-1).tolist() == [format(c, f"0{digits}x") for c in ints]
    assert b.reshape(-1).tolist() == [format(c, f"0{fmt.width}b") for c in ints]
    assert q[1, 2].hex().shape == () and str(q[1, 2].hex()) == format(ints[6], f"0{digits}x")


def test_integer_formats_print_as_integers():
    q = fxsim.from_bits(np.arange(256, dtype=np.uint8), "int8")
    text = repr(q)
    assert text.startswith("QArray([") and text.endswith("fmt=s8.0)") and "." not in text[:-10]
    printed = [int(t) for t in re.findall(r"-?\d+", text[:text.index("fmt=")])]
    assert printed == [_ref_value_text(c, q.fmt) for c in range(256)]
    assert str(fxsim.from_bits([0xe4, 3], "int8")) == "[-28 3] (s8.0)"
    # int64's ends are exact (float64 would print 9.223372036854776e+18)
    big = fxsim.from_bits(np.array([1 << 63, (1 << 63) - 1], dtype=np.uint64), "int64")
    assert str(-(1 << 63)) in repr(big) and str((1 << 63) - 1) in repr(big) and "e+18" not in repr(big)
    # a wide integer format and a negative frac (multiples of 4)
    wide = fxsim.from_bits(np.array([(1 << 99) + 5], dtype=object), "s100.0")
    assert str(-(1 << 99) + 5) in repr(wide)
    assert repr(fxsim.from_bits([1, 0xfff], "s12.-2")) == "QArray([4, -4], fmt=s12.-2)"
    # formats with fraction bits keep their values' notation
    assert repr(fxsim.from_bits([0x18], "s8.4")) == "QArray([1.5], fmt=s8.4)"
    assert math.isnan(float(fxsim.from_bits(np.uint8(0x7f), "float8_e4m3fn")))
