"""Hand-computed checks of reference/arith.py (add sub mul div fma sqrt).

Every expected code is derived by hand in the comment next to it; none comes
from running the code under test.  The last tests compare against two other
independent oracles: the host's IEEE float64 arithmetic (correctly rounded,
ties to even) and mathematical identities.
"""

import math
import random
import struct

import pytest

import reference
from reference import FixedFormat, add, decode, div, encode, fma, mul, sqrt, sub
from reference.formats import PRESETS

E4M3FN = PRESETS["float8_e4m3fn"]      # bias 7, man 3, max 1.75 * 2**8 = 448, NaN 0x7F
E4M3FNUZ = PRESETS["float8_e4m3fnuz"]  # bias 8, no -0, NaN 0x80
E2M1 = PRESETS["float4_e2m1fn"]        # finite: no inf, no NaN
E8M0 = PRESETS["float8_e8m0fnu"]       # 2**(code - 127), NaN 0xFF
F16 = PRESETS["float16"]               # bias 15, man 10
F32 = PRESETS["float32"]
F64 = PRESETS["float64"]
S8_4 = FixedFormat(8, 4)               # n / 16, n in [-128, 127]
S16_8 = FixedFormat(16, 8)             # n / 256

# float16 codes, by hand: sign | exponent field (5 bits) | fraction (10 bits)
P0, N0 = 0x0000, 0x8000                # +0, -0
ONE, M_ONE = 0x3C00, 0xBC00            # ef 15
TWO, FOUR = 0x4000, 0x4400             # ef 16, ef 17
THREE, M_THREE = 0x4200, 0xC200        # 1.5 * 2: ef 16, mf 512 = 0x200
FIVE = 0x4500                          # 1.25 * 4: ef 17 (0x4400), mf 256 = 0x100
M_TWO = 0xC000
HALF_NEG = 0xB800                      # -0.5 = -2**-1: ef 14 -> 0x3800, sign
INF, M_INF = 0x7C00, 0xFC00
QNAN, M_QNAN = 0x7E00, 0xFE00          # canonical quiet NaN, top fraction bit


# --------------------------------------------------------------------- ties

def test_e4m3fn_add_tie():
    one = 0x38          # 0 0111 000
    sixteenth = 0x18    # 2**-4: ef -4 + 7 = 3 -> 0 0011 000
    # 1 + 1/16: ulp at 1 is 2**-3, t = 8.5, a tie between 1.0 and 1.125
    assert add(one, E4M3FN, sixteenth, E4M3FN, E4M3FN) == 0x38                 # even: 8
    assert add(one, E4M3FN, sixteenth, E4M3FN, E4M3FN, "nearest_away") == 0x39  # 9: 1.125
    assert add(one, E4M3FN, sixteenth, E4M3FN, E4M3FN, "nearest_odd") == 0x39
    assert add(one, E4M3FN, sixteenth, E4M3FN, E4M3FN, "toward_zero") == 0x38
    assert add(one, E4M3FN, sixteenth, E4M3FN, E4M3FN, "up") == 0x39


def test_e4m3fn_top_binade_and_overflow():
    m448 = 0x7E         # 0 1111 110 = 1.75 * 256
    c32 = 0x60          # 2**5: ef 12 -> 0 1100 000
    c16 = 0x58          # 2**4: ef 11 -> 0 1011 000
    # 448 + 16 = 464: ulp 32, t = 14.5, tie -> 14 (even) -> 448, no overflow
    assert add(m448, E4M3FN, c16, E4M3FN, E4M3FN) == 0x7E
    # 448 + 32 = 480 = 15 * 32 exactly, > 448: default overflow of fn is NaN
    assert add(m448, E4M3FN, c32, E4M3FN, E4M3FN) == 0x7F
    assert add(m448, E4M3FN, c32, E4M3FN, E4M3FN, overflow="saturate") == 0x7E
    # -448 - 32: NaN keeps the sign of the overflowing value (encode's rule)
    assert sub(0xFE, E4M3FN, c32, E4M3FN, E4M3FN) == 0xFF
    with pytest.raises(OverflowError):
        add(m448, E4M3FN, c32, E4M3FN, E4M3FN, overflow="raise")


def test_float16_ties_and_overflow():
    tiny = 0x1000       # 2**-11: ef -11 + 15 = 4 -> 4 << 10
    # 1 + 2**-11: ulp 2**-10, t = 1024.5 -> 1024 (even)
    assert add(ONE, F16, tiny, F16, F16) == 0x3C00
    assert add(ONE, F16, tiny, F16, F16, "nearest_away") == 0x3C01
    # (1 + 2**-10) + 2**-11: t = 1025.5 -> 1026 (even)
    assert add(0x3C01, F16, tiny, F16, F16) == 0x3C02
    assert add(0x3C01, F16, tiny, F16, F16, "nearest_zero") == 0x3C01
    # 65504 + 32 = 65536 = 2**16 > max 65504: ieee overflow
    assert add(0x7BFF, F16, 0x5000, F16, F16) == INF       # 32 = 2**5: ef 20 -> 0x5000
    assert add(0x7BFF, F16, 0x5000, F16, F16, "toward_zero") == 0x7BFF
    assert sub(0xFBFF, F16, 0x5000, F16, F16, "up") == 0xFBFF   # -65536 rounded up: -max
    assert sub(0xFBFF, F16, 0x5000, F16, F16, "down") == M_INF


# --------------------------------------------------------------- signed zero

def test_signed_zero_add_sub():
    assert add(ONE, F16, M_ONE, F16, F16) == P0                 # 1 + -1 = +0
    assert add(ONE, F16, M_ONE, F16, F16, "down") == N0         # roundTowardNegative
    for mode in ("up", "toward_zero", "away", "nearest_down", "odd"):
        assert add(ONE, F16, M_ONE, F16, F16, mode) == P0       # only "down" gives -0
    assert sub(ONE, F16, ONE, F16, F16) == P0                   # 1 - 1 = +0
    assert sub(ONE, F16, ONE, F16, F16, "down") == N0
    assert add(N0, F16, N0, F16, F16) == N0                     # -0 + -0 = -0
    assert add(N0, F16, N0, F16, F16, "up") == N0
    assert add(P0, F16, P0, F16, F16, "down") == P0             # +0 + +0 = +0
    assert add(N0, F16, P0, F16, F16) == P0                     # opposite zeros
    assert add(N0, F16, P0, F16, F16, "down") == N0
    assert sub(N0, F16, P0, F16, F16) == N0                     # -0 - +0 = -0 + -0
    assert sub(P0, F16, N0, F16, F16) == P0                     # +0 - -0 = +0 + +0
    assert sub(P0, F16, P0, F16, F16) == P0                     # +0 + -0
    assert sub(P0, F16, P0, F16, F16, "down") == N0
    # a fixed-point zero is +0: fixed 0 + float -0 -> opposite signs -> +0
    assert add(0, S8_4, N0, F16, F16) == P0
    # x + 0 = x, also x + -0
    assert add(THREE, F16, N0, F16, F16) == THREE


def test_signed_zero_mul_div_sqrt():
    assert mul(P0, F16, M_THREE, F16, F16) == N0                # 0 * -3 = -0
    assert mul(N0, F16, M_THREE, F16, F16) == P0                # -0 * -3 = +0
    assert div(N0, F16, FIVE, F16, F16) == N0                   # -0 / 5 = -0
    assert div(P0, F16, M_TWO, F16, F16) == N0                  # 0 / -2 = -0
    assert sqrt(N0, F16, F16) == N0                             # sqrt(-0) = -0
    assert sqrt(P0, F16, F16) == P0
    # nonzero product rounding to zero keeps its sign:
    # 2**-24 (code 1, smallest subnormal) * -0.5 = -2**-25, t = -0.5 -> tie -> 0: -0
    assert mul(0x0001, F16, HALF_NEG, F16, F16) == N0
    # -0 into fnuz (no -0) is +0; into E8M0 (no zero) NaN
    assert mul(P0, F16, M_THREE, F16, E4M3FNUZ) == 0x00
    assert add(ONE, F16, M_ONE, F16, E4M3FNUZ, "down") == 0x00
    assert sub(ONE, F16, ONE, F16, E8M0) == 0xFF


def test_signed_zero_fma():
    # product +0 * -1 = -0 (sign xor even for a zero product)
    assert fma(P0, F16, M_ONE, F16, N0, F16, F16) == N0         # -0 + -0
    assert fma(P0, F16, M_ONE, F16, P0, F16, F16) == P0         # -0 + +0
    assert fma(P0, F16, M_ONE, F16, P0, F16, F16, "down") == N0
    assert fma(ONE, F16, ONE, F16, M_ONE, F16, F16) == P0       # 1*1 - 1 cancels
    assert fma(ONE, F16, ONE, F16, M_ONE, F16, F16, "down") == N0


# ---------------------------------------------------------------- NaN and inf

def test_nan_results():
    assert add(INF, F16, M_INF, F16, F16) == QNAN               # inf - inf
    assert sub(INF, F16, INF, F16, F16) == QNAN
    assert mul(P0, F16, INF, F16, F16) == QNAN                  # 0 * inf
    assert mul(M_INF, F16, N0, F16, F16) == QNAN
    assert div(P0, F16, N0, F16, F16) == QNAN                   # 0 / 0
    assert div(INF, F16, M_INF, F16, F16) == QNAN               # inf / inf
    assert sqrt(M_ONE, F16, F16) == QNAN                        # sqrt(-1)
    assert sqrt(M_INF, F16, F16) == QNAN                        # sqrt(-inf)
    assert fma(P0, F16, INF, F16, ONE, F16, F16) == QNAN        # 0 * inf + 1
    assert fma(INF, F16, ONE, F16, M_INF, F16, F16) == QNAN     # inf - inf
    assert fma(M_INF, F16, M_ONE, F16, M_INF, F16, F16) == QNAN  # (+inf) + -inf
    # a NaN operand, whatever its sign, gives the default (positive) NaN
    assert add(M_QNAN, F16, ONE, F16, F16) == QNAN
    assert mul(0x7C01, F16, ONE, F16, F16) == QNAN              # signalling-style NaN
    assert sqrt(M_QNAN, F16, F16) == QNAN
    assert fma(ONE, F16, ONE, F16, M_QNAN, F16, F16) == QNAN
    assert div(P0, F16, M_QNAN, F16, F16) == QNAN
    # other formats' default NaN: e4m3fn 0 1111 111, fnuz the -0 pattern, float32
    assert sub(INF, F16, INF, F16, E4M3FN) == 0x7F
    assert div(P0, F16, P0, F16, E4M3FNUZ) == 0x80
    assert sqrt(M_ONE, F16, F32) == 0x7FC00000
    assert mul(0xFF, E4M3FN, 0x38, E4M3FN, F16) == QNAN          # e4m3fn -NaN in
    assert add(0xFF, E8M0, 0x7F, E8M0, E8M0) == 0xFF
    # no NaN in out: ValueError, as encode
    with pytest.raises(ValueError):
        div(0, S8_4, 0, S8_4, S16_8)
    with pytest.raises(ValueError):
        sqrt(M_ONE, F16, E2M1)


def test_infinite_results():
    assert div(ONE, F16, P0, F16, F16) == INF                   # 1 / 0
    assert div(M_ONE, F16, P0, F16, F16) == M_INF               # -1 / 0
    assert div(ONE, F16, N0, F16, F16) == M_INF                 # 1 / -0
    assert div(M_ONE, F16, N0, F16, F16) == INF                 # -1 / -0
    assert div(INF, F16, N0, F16, F16) == M_INF                 # inf / -0
    assert div(INF, F16, M_TWO, F16, F16) == M_INF              # inf / -2
    assert div(ONE, F16, INF, F16, F16) == P0                   # 1 / inf
    assert div(M_ONE, F16, INF, F16, F16) == N0                 # -1 / inf
    assert div(ONE, F16, M_INF, F16, F16) == N0
    assert mul(INF, F16, M_TWO, F16, F16) == M_INF
    assert mul(M_INF, F16, M_INF, F16, F16) == INF
    assert add(INF, F16, M_ONE, F16, F16) == INF                # inf + finite
    assert sub(ONE, F16, INF, F16, F16) == M_INF                # 1 - inf
    assert add(INF, F16, INF, F16, F16) == INF
    assert sqrt(INF, F16, F16) == INF                           # sqrt(+inf)
    assert fma(INF, F16, M_ONE, F16, 0x7BFF, F16, F16) == M_INF
    assert fma(ONE, F16, ONE, F16, INF, F16, F16) == INF
    assert fma(INF, F16, ONE, F16, INF, F16, F16) == INF
    # the out format's policy: e4m3fn has no inf -> NaN by default, or saturate
    assert div(ONE, F16, P0, F16, E4M3FN) == 0x7F
    assert div(M_ONE, F16, P0, F16, E4M3FN) == 0xFF             # encode(-inf): -NaN
    assert div(ONE, F16, P0, F16, E4M3FN, overflow="saturate") == 0x7E
    assert div(ONE, F16, P0, F16, F16, overflow="saturate") == 0x7BFF
    assert add(INF, F16, ONE, F16, E2M1) == 0x7                 # finite: saturate to 6
    with pytest.raises(ValueError):
        div(ONE, F16, P0, F16, S16_8)                           # inf into fixed point


# ------------------------------------------------------------------------ fma

def test_fma_single_rounding():
    a = 0x3C01          # 1 + 2**-10
    c = 0xBC02          # -(1 + 2**-9)
    # a*a = 1 + 2**-9 + 2**-20 exactly; + c leaves 2**-20 = 16 * 2**-24,
    # a float16 subnormal: fraction 16 -> code 0x0010
    assert fma(a, F16, a, F16, c, F16, F16) == 0x0010
    # rounded twice: a*a -> t = 1026 + 2**-10 -> 1026 -> 1 + 2**-9; + c = 0
    assert mul(a, F16, a, F16, F16) == 0x3C02
    assert add(0x3C02, F16, c, F16, F16) == P0
    # e4m3fn: (1 + 1/8)**2 = 1 + 1/4 + 1/64; - 1.25 -> 1/64 = 2**-6 = 0 0001 000
    assert fma(0x39, E4M3FN, 0x39, E4M3FN, 0xBA, E4M3FN, E4M3FN) == 0x08
    # twice: 1.265625 / (1/8) = 10.125 -> 10 -> 1.25; 1.25 - 1.25 = +0
    assert mul(0x39, E4M3FN, 0x39, E4M3FN, E4M3FN) == 0x3A
    # tie created only by the exact sum: 1.125 * 1 + 2**-4 = 1.1875, t = 9.5 -> 10
    assert fma(0x39, E4M3FN, 0x38, E4M3FN, 0x18, E4M3FN, E4M3FN) == 0x3A


# ----------------------------------------------------------------------- sqrt

def test_sqrt_values():
    assert sqrt(0x4080, F16, F16) == 0x3E00     # 2.25 = 1.125 * 2 -> 1.5 = ef 15, mf 0x200
    assert sqrt(FOUR, F16, F16, "up") == TWO    # exact: "up" must not move it
    assert sqrt(FOUR, F16, F16, "odd") == TWO
    # sqrt(2) * 1024 = 1448.1547: mf 1448 - 1024 = 424 = 0x1A8
    assert sqrt(TWO, F16, F16) == 0x3DA8
    assert sqrt(TWO, F16, F16, "toward_zero") == 0x3DA8
    assert sqrt(TWO, F16, F16, "up") == 0x3DA9
    assert sqrt(TWO, F16, F16, "odd") == 0x3DA9  # inexact, 1448 even -> 1449
    # stochastic, R = 4: (1448 + 2/16)**2 = 2097066.0 < 2 * 1024**2 = 2097152
    # < (1448 + 2.5/16)**2 = 2097156.5, so floor(f * 16) = 2: up iff r >= 14
    assert sqrt(TWO, F16, F16, "stochastic", r=13, R=4) == 0x3DA8
    assert sqrt(TWO, F16, F16, "stochastic", r=14, R=4) == 0x3DA9
    # float32: sqrt(2) * 2**23 = 11863283.2 -> 0x3FB504F3 (well-known constant)
    assert sqrt(0x40000000, F32, F32) == 0x3FB504F3
    # E8M0: sqrt(2**1) = 1.414: grid 1, 2 -> nearest 1 (code 127), up 2 (128)
    assert sqrt(128, E8M0, E8M0) == 127
    assert sqrt(128, E8M0, E8M0, "up") == 128
    assert sqrt(129, E8M0, E8M0) == 128         # sqrt(4) = 2
    # fixed point: sqrt(2) * 256 = 362.04 -> 362; up -> 363
    assert sqrt(32, S8_4, S16_8) == 362          # 32 / 16 = 2
    assert sqrt(32, S8_4, S16_8, "up") == 363
    assert sqrt(36, S8_4, S16_8, "up") == 384    # sqrt(2.25) = 1.5 exactly = 384/256


def test_sqrt_of_every_square_is_exact():
    # identity: x*x is exact in float32 for every finite e4m3fn x, and
    # sqrt(x*x) = |x| exactly, in every rounding mode
    for code in range(0x7F):                      # 0 .. 447, positive finite
        sq = mul(code, E4M3FN, code, E4M3FN, F32)
        for mode in ("nearest_even", "up", "down", "odd"):
            assert sqrt(sq, F32, E4M3FN, mode) == code


# -------------------------------------------------------- division, mixed formats

def test_division_float16():
    # 1/3 = 1.3333 * 2**-2: ef 13 -> 0x3400; fraction 341.33 -> 341 = 0x155
    assert div(ONE, F16, THREE, F16, F16) == 0x3555
    assert div(ONE, F16, THREE, F16, F16, "up") == 0x3556
    assert div(M_ONE, F16, THREE, F16, F16, "down") == 0xB556
    assert div(M_ONE, F16, THREE, F16, F16, "up") == 0xB555


def test_mixed_operand_formats():
    # s8.4: 1.5 = 24/16 -> code 24; -1.25 = -20/16 -> code 256 - 20 = 0xEC
    # float16 2**-11 = 0x1000; 1.5 + 2**-11 exact in float32:
    # 1.5 = 0x3FC00000, 2**-11 is fraction bit 23 - 11 = 12
    assert add(24, S8_4, 0x1000, F16, F32) == 0x3FC01000
    # into float16: t = 1536.5 -> 1536 (even): 1.5 = 0x3E00
    assert add(24, S8_4, 0x1000, F16, F16) == 0x3E00
    # -1.25 + 0.25 (float16 2**-2: ef 13 -> 0x3400) = -1.0 = 0xBF800000
    assert add(0xEC, S8_4, 0x3400, F16, F32) == 0xBF800000
    # fixed 1.5 * float16 -3 = -4.5 = -1.125 * 4: 0xC0900000
    assert mul(24, S8_4, M_THREE, F16, F32) == 0xC0900000
    # fma with three formats: 1.5 * 2 + e4m3fn 1.0 (0x38) = 4 -> 0x40800000
    assert fma(24, S8_4, TWO, F16, 0x38, E4M3FN, F32) == 0x40800000


def test_fixed_point_out():
    two, three, m_two = 32, 48, 256 - 32       # s8.4 codes for 2, 3, -2
    # 2/3 * 256 = 170.67
    assert div(two, S8_4, three, S8_4, S16_8, "toward_zero") == 170
    assert div(two, S8_4, three, S8_4, S16_8) == 171
    # -2/3 * 256 = -170.67: toward_zero -170 (0xFF56), nearest -171 (0xFF55)
    assert div(m_two, S8_4, three, S8_4, S16_8, "toward_zero") == 0x10000 - 170
    assert div(m_two, S8_4, three, S8_4, S16_8) == 0x10000 - 171
    assert div(m_two, S8_4, three, S8_4, S16_8, "down") == 0x10000 - 171
    # 1 + -1 into fixed point: a zero is code 0, also under "down"
    assert add(16, S8_4, 256 - 16, S8_4, S16_8, "down") == 0
    # overflow in fixed out: 7.9375 * 7.9375 = 63.0 into s8.4 saturates to 127
    assert mul(127, S8_4, 127, S8_4, S8_4) == 127
    assert mul(127, S8_4, 127, S8_4, S8_4, overflow="wrap") == (63 * 16) % 256
    # stochastic in fixed point: 1/3 * 16 = 5.33, R = 2: floor(1/3 * 4) = 1, up iff r == 3
    q = FixedFormat(8, 4)
    assert [div(16, q, three, q, q, "stochastic", r=r, R=2) for r in range(4)] == [5, 5, 5, 6]


def test_bad_arguments_propagate_from_encode():
    with pytest.raises(ValueError):
        add(ONE, F16, ONE, F16, F16, "round_half_up")
    with pytest.raises(ValueError):
        sub(INF, F16, INF, F16, F16, "bogus")                   # also on a NaN result
    with pytest.raises(ValueError):
        sqrt(TWO, F16, F16, "stochastic", r=16, R=4)            # r out of range


# ------------------------------------------- independent oracle: host float64

def _f32_value(code):
    return struct.unpack("<f", struct.pack("<I", code))[0]


def _f64_code(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def test_against_host_float64():
    # float32 operands into float64: Python's + - * / and math.sqrt are IEEE
    # correctly rounded (ties to even); sums and products of float32 are exact
    # in float64, quotients and roots are rounded once.
    rng = random.Random(1234)
    for _ in range(300):
        a = rng.getrandbits(32)
        b = rng.getrandbits(32)
        x, y = _f32_value(a), _f32_value(b)
        if math.isnan(x) or math.isnan(y):
            continue
        if not (math.isinf(x) and math.isinf(y)) and y != 0:
            assert div(a, F32, b, F32, F64) == _f64_code(x / y)
        if not (math.isinf(x) or math.isinf(y)):
            assert add(a, F32, b, F32, F64) == _f64_code(x + y)
            assert sub(a, F32, b, F32, F64) == _f64_code(x - y)
            assert mul(a, F32, b, F32, F64) == _f64_code(x * y)
        if x >= 0:
            assert sqrt(a, F32, F64) == _f64_code(math.sqrt(x))


def test_float64_division_and_sqrt():
    # float64 in and out: host results are correctly rounded
    rng = random.Random(99)
    for _ in range(100):
        x = rng.uniform(-1e6, 1e6) * 2.0 ** rng.randint(-900, 900)
        y = rng.uniform(-1e6, 1e6) * 2.0 ** rng.randint(-100, 100)
        a, b = _f64_code(x), _f64_code(y)
        assert div(a, F64, b, F64, F64) == _f64_code(x / y)
        assert sqrt(_f64_code(abs(x)), F64, F64) == _f64_code(math.sqrt(abs(x)))
        assert mul(a, F64, b, F64, F64) == _f64_code(x * y)
    # subnormal results: 2**-1074 * 0.5 = 2**-1075, a tie -> +0; * 0.75 -> 2**-1074
    tiny = _f64_code(5e-324)
    assert mul(tiny, F64, _f64_code(0.5), F64, F64) == 0
    assert mul(tiny, F64, _f64_code(0.75), F64, F64) == 1
    assert sqrt(tiny, F64, F64) == _f64_code(math.sqrt(5e-324))


def test_decode_agrees_on_the_hand_codes():
    # guard for the constants above (so a typo shows up here, not as a
    # puzzling arithmetic failure)
    from fractions import Fraction as F
    assert decode(THREE, F16) == (1, F(3)) and decode(FIVE, F16) == (1, F(5))
    assert decode(HALF_NEG, F16) == (-1, F(1, 2)) and decode(N0, F16) == (-1, 0)
    assert decode(0x1000, F16) == (1, F(1, 2**11)) and decode(0x3C01, F16) == (1, 1 + F(1, 1024))
    assert decode(0x18, E4M3FN) == (1, F(1, 16)) and decode(0x7E, E4M3FN) == (1, F(448))
    assert encode(-0.0, F16) == N0
