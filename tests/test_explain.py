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


# ------------------------------------------------------------------ explain's statements
# Every statement is checked against reference/ (the stdlib oracle) and the
# format's grid built from reference.decode of every code.
import numpy as np  # noqa: E402

import fxsim  # noqa: E402
import reference as ref  # noqa: E402
from fxsim.cli import main  # noqa: E402
from fxsim.explain import explain_value  # noqa: E402
from oracle import ref_encode, ref_format  # noqa: E402

E4M3 = fxsim.format("float8_e4m3fn")


def _grid(fmt):
    """The distinct finite values of ``fmt`` (reference decode), ascending."""
    values = set()
    for c in range(1 << fmt.width):
        sign, mag = ref.decode(c, ref_format(fmt))
        if mag not in ("nan", "inf"):
            values.add(sign * mag)
    return sorted(values)


def _printed_code(text):
    line = next(line for line in text.splitlines() if line.startswith("result "))
    return int(re.search(r"0x([0-9a-f]+)", line).group(1), 16)


def _sweep_values():
    """Every e4m3fn value, the midpoints between neighbours (and beyond the
    top: 464 between 448 and 480), and values 1/2**12 of an ulp either side."""
    grid = _grid(E4M3)
    ext = grid + [Fraction(480)]
    out = []
    for a, b in zip(ext, ext[1:]):
        mid = (a + b) / 2
        eps = (b - a) / 4096
        out += [a, mid, mid - eps, mid + eps]
    out += [-v for v in out if v] + [Fraction(480), Fraction(-480), Fraction(1000)]
    return grid, out


SWEEP_MODES = ["nearest_even", "nearest_away", "toward_zero", "up", "odd"]


@pytest.mark.parametrize("mode", SWEEP_MODES + ["stochastic", "stochastic_equal"])
def test_explain_agrees_with_encode_and_the_reference_on_a_sweep(mode):
    """For every e4m3fn code's neighbours and midpoints: the code explain
    prints is fxsim.encode's and reference/'s; 'a tie' is printed exactly for
    midpoints; the chosen neighbour is the value encode returned (unless it
    overflowed); 'overflow' is printed exactly when the result is NaN (this
    format's overflow policy) for a finite input."""
    grid, values = _sweep_values()
    ext = grid + [Fraction(480)]
    mids = {(a + b) / 2 for a, b in zip(ext, ext[1:])}
    R = 6
    for i, v in enumerate(values):
        r = (i * 37) % (1 << R) if mode.startswith("stochastic") else None
        e = explain_value(v, E4M3, mode, r=r, random_bits=R)
        want = fxsim.encode(v, E4M3, mode, random=r, random_bits=R) if r is not None \
            else fxsim.encode(v, E4M3, mode)
        assert _printed_code(e.text) == e.code == int(want) == ref_encode(v, E4M3, mode, r=r or 0, R=R)
        is_mid = v in mids or -v in mids
        assert ("a tie" in e.text) == is_mid == e.tie, (v, e.text)
        sign, mag = ref.decode(e.code, ref_format(E4M3))
        overflowed = mag == "nan"
        assert e.overflowed == overflowed and (("overflow   " in e.text) == overflowed), (v, e.text)
        if not overflowed:
            held = sign * mag
            assert e.unbounded == held
            assert e.chosen == ("exact" if held == v else "below" if held < v else "above")
            assert f"'{e.chosen}'" in e.text or e.chosen == "exact"
        if mode.startswith("stochastic") and e.chosen != "exact":
            assert e.predicted == e.chosen
            assert f"r = {r} {'>=' if r >= e.threshold else '<'} {e.threshold}" in e.text


def test_explain_texts_for_the_named_cases():
    # a tie: 464 is half-way between 448 (1.110b * 2**8, even) and 480 (odd, beyond max)
    t = explain("464", "float8_e4m3fn")
    assert "a tie" in t and "tie -> even" in t and "'below'" in t and "no overflow" in t
    assert "overflow=nan decides" not in t and "result     0x7e" in t
    # a non-tie: 0.3 in s8.4 is 4.8/16: nearer 5/16
    t = explain("0.3", "s8.4")
    assert "nearer above" in t and "nearest: 'above' is the nearer neighbour (no tie)" in t
    assert "tie ->" not in t and "result     0x5" in t
    # a tie under nearest_away: 2.5 in s8.0 -> 3
    t = explain("2.5", "s8.0", "nearest_away")
    assert "tie -> away" in t and "'above'" in t and "result     0x3" in t
    # an overflow: 470 in e4m3fn is nearer 480, beyond max -> NaN (overflow=nan); saturate -> 448
    t = explain("470", "float8_e4m3fn")
    assert "overflow   " in t and "480" in t and "overflow=nan gives 0x7f" in t and "result     0x7f" in t
    t = explain("470", "float8_e4m3fn", overflow="saturate")
    assert "overflow=saturate gives 0x7e" in t
    # wrap in fixed point: 200 in s8.0 -> -56
    t = explain("200", "s8.0", overflow="wrap")
    assert "overflow=wrap gives 0xc8" in t and "= -56" in t
    # a NaN: stays NaN in e4m3fn; s8.0 has no NaN (the error is shown, not raised)
    t = explain("nan", "float8_e4m3fn")
    assert "NaN stays NaN" in t and "result     0x7f" in t and "overflow" not in t.split("\n", 2)[2]
    assert "result     error:" in explain("nan", "s8.0")
    t = explain("inf", "float8_e4m3fn")
    assert "has no infinity: overflow=nan gives nan" in t
    # a signed zero: -0.0 -> 0x80 as encode gives
    t = explain("-0.0", "float8_e4m3fn")
    assert "negative zero" in t and "result     0x80" in t and int(fxsim.encode(-0.0, E4M3)) == 0x80
    # a stochastic case: -0.3 in e4m3fn lies 2/5 of an ulp above -5/16; the magnitude
    # grows (to -5/16) with probability floor(3/5 * 16)/16 = 9/16, iff r >= 16 - 9 = 7
    for r, want in ((6, 0xa9), (7, 0xaa)):
        t = explain("-0.3", "float8_e4m3fn", "stochastic", r=r, random_bits=4)
        assert "probability" in t and "9/16" in t and "r >= 7" in t and f"result     0x{want:x}" in t
        assert int(fxsim.encode(Fraction(-3, 10), E4M3, "stochastic", random=r, random_bits=4)) == want
    t = explain("0.1", "s8.4", "stochastic_equal", r=1, random_bits=2)
    assert "1/2" in t and "r >= 2" in t


def test_explain_r_is_checked(capsys):
    with pytest.raises(ValueError, match=r"r \(--r\) = 16 is not in \[0, 2\*\*4\)"):
        explain("0.3", "s8.4", "stochastic", r=16, random_bits=4)
    with pytest.raises(ValueError, match=r"r \(--r\) = -1"):
        explain("0.3", "s8.4", "stochastic", r=-1, random_bits=4)
    with pytest.raises(ValueError, match="uses none"):
        explain("0.3", "s8.4", r=1)
    with pytest.raises(ValueError, match="1 to 64"):
        explain("0.3", "s8.4", "stochastic", r=1, random_bits=65)
    assert main(["explain", "0.3", "-f", "s8.4", "-r", "stochastic", "--r", "99", "--random-bits", "4"]) == 2
    assert "--r" in capsys.readouterr().err


def test_vectors_stochastic_without_seed_names_the_flag(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.array([0.3, 0.7]))
    code = main(["vectors", str(tmp_path / "x.npy"), "-f", "s8.4", "-r", "stochastic",
                 "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err
    assert code == 2 and "--seed" in err and "rng=" not in err


def test_explain_at_the_ends_of_float64_and_e8m0():
    """Where a wider twin of the format cannot be built (float64's exponent
    field cannot grow; E8M0 has no values below 2**-127): overflow is stated
    exactly when encode overflowed (nearest_even under ieee: inf), and the
    printed code is encode's."""
    f64 = fxsim.format("float64")
    top = f64.max_exact
    ulp = Fraction(2) ** (f64.emax - f64.man)
    for j in range(-2, 12):
        v = top + j * ulp / 4
        e = explain_value(v, f64)
        code = int(fxsim.encode(v, f64))
        assert _printed_code(e.text) == e.code == code
        assert e.overflowed == (code == 0x7FF0000000000000), (j, e.text)
        assert ("overflow   " in e.text) == e.overflowed
    e = explain_value(Fraction(10) ** 400, f64, "toward_zero")
    assert e.overflowed and e.code == 0x7FEFFFFFFFFFFFFF and "both its neighbours" in e.text
    e8 = fxsim.format("float8_e8m0fnu")
    e = explain_value(Fraction(1, 10**40), e8)
    assert e.code == int(fxsim.encode(Fraction(1, 10**40), e8)) == 0 and not e.overflowed
    assert "below the smallest value" in e.text


from hypothesis import given, strategies as st  # noqa: E402

PRESET_NAMES = sorted(fxsim.formats.PRESETS) + ["s8.3", "u6.2", "e3m2_nosub", "s100.60"]
MODES = ["nearest_even", "nearest_odd", "nearest_away", "nearest_zero", "nearest_up", "nearest_down",
         "down", "up", "toward_zero", "away", "odd", "stochastic", "stochastic_equal"]


@given(name=st.sampled_from(PRESET_NAMES), mode=st.sampled_from(MODES),
       num=st.integers(-10**12, 10**12), shift=st.integers(-160, 140), den=st.integers(1, 999),
       r=st.integers(0, 255))
def test_explain_statements_hold_for_any_format_and_mode(name, mode, num, shift, den, r):
    """For any format and mode: the code printed is fxsim.encode's and
    reference/'s; when no overflow is stated, the chosen neighbour is the
    value of that code, and 'a tie' is printed exactly when the value is
    half-way between its neighbours (checked with Fractions here)."""
    fmt = fxsim.format(name)
    v = Fraction(num, den) * Fraction(2) ** shift
    rr = r if mode.startswith("stochastic") else None
    e = explain_value(v, fmt, mode, r=rr, random_bits=8)
    kw = {"random": rr, "random_bits": 8} if rr is not None else {}
    try:
        want = int(fxsim.encode(v, fmt, mode, **kw))
    except (ValueError, OverflowError):
        want = None
    assert e.code == want
    if want is None:
        assert "result     error:" in e.text
        return
    assert _printed_code(e.text) == want == ref_encode(v, fmt, mode, r=rr or 0, R=8)
    if e.below is not None and e.below != e.above:
        assert e.tie == (v - e.below == e.above - v) == ("a tie" in e.text)
    if not e.overflowed and e.chosen in ("below", "above", "exact"):
        held = exact_code_value(want, fmt)
        assert held == e.unbounded
        assert held == {"below": e.below, "above": e.above, "exact": v}[e.chosen]


def exact_code_value(code, fmt):
    sign, mag = ref.decode(code, ref_format(fmt))
    return sign * mag
