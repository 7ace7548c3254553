"""Hand-computed sanity checks of the reference oracle (reference/).

Every expected value is derived by hand in the comment next to it; none
comes from running the code.
"""

import math
from fractions import Fraction as F

import pytest

from reference import (MODES, FixedFormat, FloatFormat, all_codes, decode, encode,
                       round_to_integer)
from reference.formats import PRESETS

E4M3FN = PRESETS["float8_e4m3fn"]    # bias 7, emin -6, max 1.75 * 2**8 = 448
E5M2 = PRESETS["float8_e5m2"]        # bias 15, max 1.75 * 2**15 = 57344
E4M3FNUZ = PRESETS["float8_e4m3fnuz"]  # bias 8, max 1.875 * 2**7 = 240
E2M1 = PRESETS["float4_e2m1fn"]      # bias 1, values 0 .5 1 1.5 2 3 4 6
E8M0 = PRESETS["float8_e8m0fnu"]     # bias 127, value 2**(ef - 127)


def as_input(sign, mag):
    """A decoded (sign, magnitude) as an input encode() accepts."""
    if mag == "nan":
        return math.copysign(math.nan, sign)
    if mag == "inf":
        return sign * math.inf
    if mag == 0 and sign < 0:
        return -0.0
    return sign * mag


# ------------------------------------------------------------ round_to_integer

@pytest.mark.parametrize("t, mode, expected", [
    (F(5, 2), "nearest_even", 2), (F(7, 2), "nearest_even", 4),   # ties to 2, 4
    (F(5, 2), "nearest_odd", 3), (F(-5, 2), "nearest_away", -3),
    (F(-5, 2), "nearest_zero", -2), (F(-5, 2), "nearest_up", -2),
    (F(-5, 2), "nearest_down", -3), (F(-13, 5), "nearest_zero", -3),  # -2.6 no tie
    (F(-1, 3), "down", -1), (F(-1, 3), "up", 0), (F(-4, 3), "toward_zero", -1),
    (F(-4, 3), "away", -2), (F(4, 1), "away", 4),                   # exact stays
    (F(9, 4), "odd", 3), (F(13, 4), "odd", 3), (F(2), "odd", 2),
])
def test_round_to_integer_basic(t, mode, expected):
    assert round_to_integer(t, mode, True) == expected
    assert round_to_integer(t, mode, False) == expected  # twos irrelevant here


def test_jam():
    # two's complement: floor(t) | 1
    assert round_to_integer(F(-2), "jam", True) == -1     # ...110 | 1 = ...111
    assert round_to_integer(F(-3), "jam", True) == -3
    assert round_to_integer(F(0), "jam", True) == 1
    assert round_to_integer(F(-5, 2), "jam", True) == -3  # floor -3, already odd
    # sign-magnitude: -(floor(|t|) | 1)
    assert round_to_integer(F(-2), "jam", False) == -3    # -(2 | 1)
    assert round_to_integer(F(-5, 2), "jam", False) == -3  # -(2 | 1)
    assert round_to_integer(F(4), "jam", False) == 5      # exact values jam too


def test_stochastic():
    # t = 1/4, R = 2: g = floor(1/4 * 4) = 1; up iff 1 + r >= 4 iff r == 3
    assert [round_to_integer(F(1, 4), "stochastic", True, r, 2) for r in range(4)] == [0, 0, 0, 1]
    # t = -1/4, two's complement: floor -1, f = 3/4, g = 3: up (to 0) iff r >= 1
    assert [round_to_integer(F(-1, 4), "stochastic", True, r, 2) for r in range(4)] == [-1, 0, 0, 0]
    # sign-magnitude: |t| = 1/4 as above, magnitude 1 iff r == 3
    assert [round_to_integer(F(-1, 4), "stochastic", False, r, 2) for r in range(4)] == [0, 0, 0, -1]
    # stochastic_equal, R = 2: up iff r >= 2
    assert [round_to_integer(F(-1, 4), "stochastic_equal", True, r, 2) for r in range(4)] == [-1, -1, 0, 0]
    assert [round_to_integer(F(-1, 4), "stochastic_equal", False, r, 2) for r in range(4)] == [0, 0, -1, -1]
    assert round_to_integer(F(3), "stochastic", True, 3, 2) == 3  # exact
    with pytest.raises(ValueError):
        round_to_integer(F(1, 3), "stochastic", True, 4, 2)      # r >= 2**R


# ------------------------------------------------------------------ fixed point

def test_fixed():
    q = FixedFormat(8, 4)                       # n in [-128, 127], value n / 16
    assert encode(0.3, q) == 5                  # 0.3 * 16 = 4.8 -> 5
    assert encode(-0.3, q) == 256 - 5           # -4.8 -> -5, two's complement 251
    assert encode(0.3, q, "down") == 4
    assert decode(251, q) == (-1, F(5, 16))
    assert encode(200, q) == 0x7F               # 3200 > 127: saturate to max
    assert encode(-200, q) == 0x80              # saturate to min -128
    assert encode(200, q, overflow="wrap") == 128  # 3200 = 12 * 256 + 128
    with pytest.raises(OverflowError, match="FixedFormat"):
        encode(200, q, overflow="raise")
    with pytest.raises(ValueError):
        encode(math.nan, q)
    assert encode(-0.0, q, "jam") == 1          # jam on 0: 0 | 1
    u = FixedFormat(4, 0, signed=False)
    assert encode(-1, u) == 0 and encode(-1, u, overflow="wrap") == 15
    assert encode(2**53 + 1, FixedFormat(64, 0)) == 2**53 + 1   # exact int
    assert encode(100, FixedFormat(5, -3)) == 12  # 100 / 8 = 12.5 -> tie -> 12


def test_fixed_narrow():
    n8 = FixedFormat(8, 0, narrow=True)          # results in [-127, 127]
    assert (n8.min_int, n8.max_int) == (-127, 127)
    assert encode(-128, n8) == 0x81              # -128 saturates to -127 = 256 - 127
    assert encode(-127.5, n8) == 0x81            # tie -> -128 (even): saturates
    assert encode(-127.5, n8, "nearest_odd") == 0x81  # tie -> -127: fits
    assert encode(-126.5, n8) == 0x82            # tie -> -126 (even)
    assert encode(-127.2, n8, "down") == 0x81    # floor -128: saturates
    assert encode(127.7, n8) == 0x7F             # 128: saturates to 127
    with pytest.raises(OverflowError):
        encode(-128, n8, overflow="raise")
    assert encode(-127, n8, overflow="raise") == 0x81
    with pytest.raises(ValueError, match="not offered"):
        encode(1, n8, overflow="wrap")           # wrapping would give 0x80
    assert decode(0x80, n8) == (-1, F(128))      # the code still reads -128
    q = FixedFormat(4, 2, narrow=True)           # n in [-7, 7], value n / 4
    assert encode(-2, q) == 16 - 7               # -8 quarters saturates to -7
    assert encode(F(-15, 8), q, "jam") == 16 - 7  # -7.5 quarters: floor -8 | 1 = -7
    with pytest.raises(ValueError):
        FixedFormat(8, 0, signed=False, narrow=True)


# --------------------------------------------------------------- floating point

def test_e4m3fn_traps():
    assert encode(448, E4M3FN) == 0x7E          # 0 1111 110 = 1.75 * 2**8
    assert encode(464, E4M3FN) == 0x7E          # 464 / 32 = 14.5: tie -> 14 (even)
    assert encode(465, E4M3FN) == 0x7F          # -> 15 * 32 = 480 > 448: NaN
    assert encode(-465, E4M3FN) == 0xFF         # sign kept on the NaN
    assert encode(465, E4M3FN, overflow="saturate") == 0x7E
    # -431.99999999999994 / 32 = -13.4999...: magnitude 13 * 32 = 416
    assert decode(encode(-431.99999999999994, E4M3FN), E4M3FN) == (-1, F(416))
    assert encode(-432.0, E4M3FN) == 0xFE       # exact tie 13.5 -> 14: -448
    assert encode(1.0, E4M3FN, "jam") == 0x39   # 8 -> 9: 1.125 = 0 0111 001
    assert encode(math.inf, E4M3FN) == 0x7F     # no inf: default overflow nan
    assert encode(-math.inf, E4M3FN, overflow="saturate") == 0xFE


def test_subnormal_ties():
    # e4m3fn subnormal spacing 2**(emin - man) = 2**-9
    u = F(1, 2**9)
    assert encode(F(3, 2) * u, E4M3FN) == 0x02   # 1.5 -> 2
    assert encode(F(5, 2) * u, E4M3FN) == 0x02   # 2.5 -> 2
    assert encode(F(1, 2) * u, E4M3FN) == 0x00   # 0.5 -> 0
    assert encode(-F(1, 2) * u, E4M3FN) == 0x80  # -0
    assert encode(F(1, 2) * u, E4M3FN, "nearest_away") == 0x01
    assert encode(F(15, 2) * u, E4M3FN) == 0x08  # 7.5 -> 8 = 2**-6: smallest normal
    dz = FloatFormat(3, 2, subnormals=False)     # bias 3, emin -2, candidates 0, 1/4
    assert encode(F(1, 10), dz) == 0             # 0.4 quarters -> 0
    assert encode(F(1, 8), dz) == 0              # 0.5 quarters: tie -> 0 (even)
    assert encode(F(1, 5), dz) == 0b000100       # 0.8 -> 1: 2**-2 = ef 1, mf 0
    assert decode(0b000001, dz) == (1, 0)        # denormals are zero


def test_e5m2_ieee_overflow():
    assert encode(65536, E5M2) == 0x7C                   # nearest: inf
    assert encode(61440, E5M2) == 0x7C                   # 7.5 * 2**13: tie -> 8: inf
    assert encode(61439, E5M2) == 0x7B                   # below the tie: max
    assert encode(65536, E5M2, "toward_zero") == 0x7B    # directed inward: max
    assert encode(-65536, E5M2, "up") == 0xFB            # up on a negative: -max
    assert encode(-65536, E5M2, "down") == 0xFC          # -inf
    assert encode(math.inf, E5M2, overflow="saturate") == 0x7B
    assert encode(math.nan, E5M2) == 0x7E                # quiet NaN 0 11111 10


def test_fnuz_finite_e8m0():
    assert encode(-0.0, E4M3FNUZ) == 0x00 and encode(math.nan, E4M3FNUZ) == 0x80
    assert encode(240, E4M3FNUZ) == 0x7F and encode(1000, E4M3FNUZ) == 0x80
    assert decode(0x80, E4M3FNUZ)[1] == "nan"
    assert encode(7, E2M1) == 0x7                # > 6: saturate (default)
    assert encode(5, E2M1) == 0b0110             # 5 / 2 = 2.5 -> 2: 4 = ef 3, mf 0
    assert encode(-0.0, E2M1) == 0b1000
    for bad in ({"overflow": "nan"}, {"overflow": "ieee"}):
        with pytest.raises(ValueError):
            encode(1, E2M1, **bad)
    with pytest.raises(ValueError):
        encode(math.nan, E2M1)
    assert encode(1.0, E8M0) == 127              # ef = 0 + bias
    assert encode(3.0, E8M0) == 129              # 1.5 * 2: tie, 1 odd -> 2: 4.0
    assert encode(0.0, E8M0) == 0xFF and encode(-1, E8M0) == 0xFF
    assert encode(F(1, 2**200), E8M0, "down") == 0  # below 2**-127: 2**-127


def test_float64_big_ints():
    f64 = PRESETS["float64"]
    assert encode(2**53 + 1, f64) == 0x4340000000000000  # tie -> 2**53
    assert encode(2**53 + 3, f64) == 0x4340000000000002  # tie -> 2**53 + 4


def test_errors_name_everything():
    with pytest.raises(ValueError, match=r"FloatFormat.*'bogus'"):
        encode(1, E4M3FN, "bogus")
    with pytest.raises(ValueError, match="wrap"):
        encode(1, E4M3FN, overflow="wrap")
    assert len(MODES) == 14


@pytest.mark.parametrize("name", [n for n, f in PRESETS.items() if f.width <= 16])
def test_every_code_round_trips(name):
    fmt = PRESETS[name]
    for code in all_codes(fmt):
        sign, mag = decode(code, fmt)
        x = as_input(sign, mag)
        if mag == "nan":
            assert decode(encode(x, fmt), fmt)[1] == "nan"
        else:
            assert encode(x, fmt) == code
