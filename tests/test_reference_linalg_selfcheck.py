"""Hand-computed checks of reference/linalg.py (matmul, conv2d).

Every expected value is worked out by hand in the comment next to it, or
computed in the test from plain integers / the host's float64 arithmetic;
none comes from running the code under test.  The accumulation model is in
the docstrings of reference/linalg.py.
"""

import math
import random
import struct
from fractions import Fraction as F

import pytest

import reference
from reference import FixedFormat, FloatFormat, conv2d, matmul
from reference import arith
from reference.formats import PRESETS

S8 = FixedFormat(8, 0)                 # integers -128..127, code = v % 256
S8_4 = FixedFormat(8, 4)               # n / 16
S8_1 = FixedFormat(8, 1)               # n / 2
S16 = FixedFormat(16, 0)
S32 = FixedFormat(32, 0)
F16 = PRESETS["float16"]               # bias 15, man 10
BF16 = PRESETS["bfloat16"]             # bias 127, man 7: ulp at 1 is 2**-7
E4M3FN = PRESETS["float8_e4m3fn"]      # bias 7, man 3: ulp at 1 is 1/8
E8M0 = PRESETS["float8_e8m0fnu"]       # no zero at all
F64 = PRESETS["float64"]

ORDERS = ("sequential", "pairwise", 1, 2, 3, 64)

# float16 codes: sign | exponent field (5 bits) | fraction (10 bits)
P0, N0 = 0x0000, 0x8000                # +0, -0
ONE, M_ONE = 0x3C00, 0xBC00
ONE_1_8 = 0x3C80                       # 1.125 = 1 + 2**-3: mf = 128 = 0x080
MAX, M_MAX = 0x7BFF, 0xFBFF            # +-65504
INF, M_INF, QNAN = 0x7C00, 0xFC00, 0x7E00

# bfloat16 codes: sign | exponent field (8 bits) | fraction (7 bits)
B_ONE = 0x3F80                         # ef 127
B_2M8 = 0x3B80                         # 2**-8: ef 119 = 0b01110111
B_1P7 = 0x3F81                         # 1 + 2**-7 (one ulp above 1)
B_1P6 = 0x3F82                         # 1 + 2**-6


def s8(v):
    """Code of the integer v in s8.0 (two's complement)."""
    assert -128 <= v <= 127
    return v % 256


def column(codes):
    """A K x 1 matrix (b) from a list of K codes."""
    return [[x] for x in codes]


def signed(v):
    """A value as the (sign, Fraction) pair matmul returns when exact."""
    return (-1 if v < 0 else 1), abs(F(v))


# --------------------------------------------------- fixed-point accumulators

def test_wrapping_16bit_accumulator_by_hand():
    # 3 * 127 * 127 = 3 * 16129 = 48387 >= 2**15: stored as 48387 - 65536 = -17149
    a, b = [[127, 127, 127]], column([127, 127, 127])
    for order in ORDERS:
        assert matmul(a, S8, b, S8, acc=S16, overflow="wrap", order=order) == [[48387]]
        # cast of -17149 into 32 bits: 2**32 - 17149
        assert matmul(a, S8, b, S8, acc=S16, out=S32, overflow="wrap",
                      order=order) == [[2**32 - 17149]]
    assert matmul(a, S8, b, S8) == [[(1, F(48387))]]                # exact
    # exact sum cast once into 16 bits: also wraps, same answer
    assert matmul(a, S8, b, S8, out=S16, overflow="wrap") == [[48387]]


def test_wrapping_accumulator_is_exact_sum_mod_2_16():
    rng = random.Random(1)
    M, K, N = 3, 9, 2
    for _ in range(4):
        av = [[rng.randint(-128, 127) for _ in range(K)] for _ in range(M)]
        bv = [[rng.randint(-128, 127) for _ in range(N)] for _ in range(K)]
        cv = [[rng.randint(-2**15, 2**15 - 1) for _ in range(N)] for _ in range(M)]
        a = [[s8(v) for v in row] for row in av]
        b = [[s8(v) for v in row] for row in bv]
        c = [[v % 2**16 for v in row] for row in cv]
        exact = [[cv[i][j] + sum(av[i][k] * bv[k][j] for k in range(K))
                  for j in range(N)] for i in range(M)]
        codes = [[s % 2**16 for s in row] for row in exact]
        # the code reinterpreted as signed: ((s + 2**15) mod 2**16) - 2**15
        wrapped = [[((s + 2**15) % 2**16) - 2**15 for s in row] for row in exact]
        for order in ORDERS:
            got = matmul(a, S8, b, S8, c=c, fc=S16, acc=S16, overflow="wrap", order=order)
            assert got == codes
            wide = matmul(a, S8, b, S8, c=c, fc=S16, acc=S16, out=S32,
                          overflow="wrap", order=order)
            assert wide == [[v % 2**32 for v in row] for row in wrapped]
        assert matmul(a, S8, b, S8, c=c, fc=S16) == [[signed(s) for s in row]
                                                     for row in exact]


def test_saturating_s8_accumulator_saturates_after_every_addition():
    a = [[s8(100), s8(100), s8(-100)]]
    b = column([s8(1)] * 3)
    # sequential: 100, then 200 -> 127 (saturate), then 127 - 100 = 27
    assert matmul(a, S8, b, S8, acc=S8) == [[27]]          # saturate is the default
    assert matmul(a, S8, b, S8, acc=S8, overflow="saturate") == [[27]]
    # pairwise: round(100 + 100) = 127, -100 carried up; round(127 - 100) = 27
    assert matmul(a, S8, b, S8, acc=S8, order="pairwise") == [[27]]
    # blocks of 2: G = [200, -100]: round(200) = 127, then 27
    assert matmul(a, S8, b, S8, acc=S8, order=2) == [[27]]
    # one block of 3: 100 exactly, no overflow at all
    assert matmul(a, S8, b, S8, acc=S8, order=3) == [[100]]
    assert matmul(a, S8, b, S8) == [[(1, F(100))]]
    # other order of the same products: 100, 0, 100 never overflows
    a2 = [[s8(100), s8(-100), s8(100)]]
    assert matmul(a2, S8, b, S8, acc=S8) == [[100]]
    # pairwise on it: round(100 - 100) = 0, then 0 + 100 = 100
    assert matmul(a2, S8, b, S8, acc=S8, order="pairwise") == [[100]]
    with pytest.raises(OverflowError):
        matmul(a, S8, b, S8, acc=S8, overflow="raise")
    # wrap: 200 -> -56, then -56 - 100 = -156 -> 100 (mod 256, signed)
    assert matmul(a, S8, b, S8, acc=S8, overflow="wrap") == [[100]]


def test_fixed_accumulator_rounds_every_addition():
    # 1.5 in s8.4 is 24; 1.5 * 1.5 = 2.25 = 4.5 halves in s8.1
    a, b = [[24, 24]], column([24, 24])
    # sequential: round(2.25) = t 4.5 -> 4 (even) = 2.0; 2.0 + 2.25 = 4.25 =
    # t 8.5 -> 8 (even) = 4.0: code 8
    assert matmul(a, S8_4, b, S8_4, acc=S8_1) == [[8]]
    # one block / pairwise: 4.5 exactly, t = 9: code 9
    assert matmul(a, S8_4, b, S8_4, acc=S8_1, order=2) == [[9]]
    assert matmul(a, S8_4, b, S8_4, acc=S8_1, order="pairwise") == [[9]]
    # rounding "up": round(2.25) = t 4.5 -> 5 (2.5); 2.5 + 2.25 = 4.75 = t 9.5 -> 10
    assert matmul(a, S8_4, b, S8_4, acc=S8_1, rounding="up") == [[10]]
    assert matmul(a, S8_4, b, S8_4) == [[(1, F(9, 2))]]


def test_pairwise_root_is_rounded_again_even_under_jam():
    # T = round(L[0]) literally.  jam = floor | 1 (two's complement), then
    # saturate.  Products -100, -100 into a saturating s8 accumulator:
    # pairwise: round(-200) = -199 -> saturates to -128 (even); T = round(-128)
    # = -128 | 1 = -127: code 129
    a, b = [[s8(-100), s8(-100)]], column([s8(1), s8(1)])
    assert matmul(a, S8, b, S8, acc=S8, order="pairwise", rounding="jam") == [[129]]
    # sequential: round(-100) = -99; round(-99 - 100) = -199 -> -128: code 128
    assert matmul(a, S8, b, S8, acc=S8, rounding="jam") == [[128]]


# ------------------------------------------------------- float accumulators

def test_bfloat16_orders_differ():
    # products 1, 2**-8, 2**-8, 2**-8; ulp at 1 is 2**-7, so 2**-8 is half an ulp
    a = [[B_ONE, B_2M8, B_2M8, B_2M8]]
    b = column([B_ONE] * 4)
    # sequential: 1 + 2**-8 is a tie -> 1 (even), three times: 1
    assert matmul(a, BF16, b, BF16, acc=BF16) == [[B_ONE]]
    assert matmul(a, BF16, b, BF16, acc=BF16, order=1) == [[B_ONE]]
    # pairwise: [round(1 + 2**-8) = 1, round(2**-8 + 2**-8) = 2**-7] -> 1 + 2**-7
    assert matmul(a, BF16, b, BF16, acc=BF16, order="pairwise") == [[B_1P7]]
    # blocks of 2: G = [1 + 2**-8, 2**-7]: round -> 1, then 1 + 2**-7 exact
    assert matmul(a, BF16, b, BF16, acc=BF16, order=2) == [[B_1P7]]
    # blocks of 3: G = [1 + 2**-7, 2**-8]: 1 + 2**-7, then + 2**-8:
    # t = 129.5 -> 130 (even) = 1 + 2**-6
    assert matmul(a, BF16, b, BF16, acc=BF16, order=3) == [[B_1P6]]
    # one block: 1 + 3 * 2**-8, t = 129.5 -> 130 = 1 + 2**-6
    assert matmul(a, BF16, b, BF16, acc=BF16, order=4) == [[B_1P6]]
    assert matmul(a, BF16, b, BF16, acc=BF16, order=100) == [[B_1P6]]
    assert matmul(a, BF16, b, BF16) == [[(1, 1 + F(3, 256))]]
    # rounding "toward_zero" everywhere: sequential 1, one block 1 + 2**-7
    assert matmul(a, BF16, b, BF16, acc=BF16, rounding="toward_zero") == [[B_ONE]]
    assert matmul(a, BF16, b, BF16, acc=BF16, order=4,
                  rounding="toward_zero") == [[B_1P7]]


def test_bfloat16_small_terms_first():
    # products 2**-8, 2**-8, 1, 2**-8
    a = [[B_2M8, B_2M8, B_ONE, B_2M8]]
    b = column([B_ONE] * 4)
    # sequential: 2**-8, 2**-7, 1 + 2**-7, then t = 129.5 -> 130: 1 + 2**-6
    assert matmul(a, BF16, b, BF16, acc=BF16) == [[B_1P6]]
    # pairwise: [2**-7, round(1 + 2**-8) = 1] -> 1 + 2**-7
    assert matmul(a, BF16, b, BF16, acc=BF16, order="pairwise") == [[B_1P7]]


def test_pairwise_odd_lengths_carry_the_last_product():
    # K = 3, products 1, 2**-8, 2**-8: [round(1 + 2**-8) = 1, 2**-8 carried]
    # -> round(1 + 2**-8) = 1.  Had the carried 2**-8 been added to 2**-8
    # first (a different tree) the answer would be 1 + 2**-7.
    a = [[B_ONE, B_2M8, B_2M8]]
    b = column([B_ONE] * 3)
    assert matmul(a, BF16, b, BF16, acc=BF16, order="pairwise") == [[B_ONE]]
    # K = 5, products 2**-8 x 4, then 1:
    # [2**-7, 2**-7, 1] -> [2**-6, 1] -> 1 + 2**-6
    a5 = [[B_2M8] * 4 + [B_ONE]]
    b5 = column([B_ONE] * 5)
    assert matmul(a5, BF16, b5, BF16, acc=BF16, order="pairwise") == [[B_1P6]]
    # K = 3, products 1, 2**-7, p2 = 7 * 73 * 2**-17 = 2**-8 - 2**-17, which is
    # NOT a bfloat16 (255.5 ulps of 2**-16: it would round to 2**-8).  The
    # carried p2 stays exact: 1 + 2**-7 + 2**-8 - 2**-17 is t = 129.5 - 2**-10
    # ulps -> 129 = 1 + 2**-7.  (Rounding p2 first would give the tie 129.5 -> 130.)
    seven, c73 = 0x40E0, 0x3A12      # 1.75 * 2**2; 1.140625 * 2**-11 = 73 * 2**-17
    a3, b3 = [[B_ONE, 0x3C00, seven]], column([B_ONE, B_ONE, c73])   # 0x3C00 = 2**-7
    assert matmul(a3, BF16, b3, BF16, acc=BF16, order="pairwise") == [[B_1P7]]
    assert matmul(a3, BF16, b3, BF16, acc=BF16) == [[B_1P7]]
    assert matmul(a3, BF16, b3, BF16) == [[(1, 1 + F(1, 128) + F(1, 256) - F(1, 2**17))]]
    # products rounded into bfloat16 (mul): p2 -> 2**-8, and the tie goes to 130
    assert matmul(a3, BF16, b3, BF16, mul=BF16, acc=BF16, order="pairwise") == [[B_1P6]]
    # sequential: 2**-8, 2**-7, 3 * 2**-8, 2**-6, then 1 + 2**-6 exactly
    assert matmul(a5, BF16, b5, BF16, acc=BF16) == [[B_1P6]]
    # c = 1 with pairwise: round(round(c) + T) with T = 1 + 2**-6: 2 + 2**-6,
    # exact (ulp 2**-6 at 2): ef 128 = 0x4000, fraction field 1 -> 0x4001
    assert matmul(a5, BF16, b5, BF16, c=[[B_ONE]], fc=BF16, acc=BF16,
                  order="pairwise") == [[0x4001]]


def test_tiny_float_format():
    # E3M2, IEEE style: bias 3, emin -2, ulp 1/4 at 1, max 1.75 * 2**3 = 14
    e3m2 = FloatFormat(3, 2)
    one, eighth = 0x0C, 0x02      # 0 011 00; 2**-3 = 2 * 2**(emin - man): 0 000 10
    a = [[one, eighth, eighth, eighth]]
    b = column([one] * 4)
    # sequential: 1 + 1/8 is a tie (t = 4.5) -> 4: 1, three times
    assert matmul(a, e3m2, b, e3m2, acc=e3m2) == [[one]]
    # pairwise: [1, 1/4] -> 1.25 = 0 011 01
    assert matmul(a, e3m2, b, e3m2, acc=e3m2, order="pairwise") == [[0x0D]]
    # one block: 1.375, t = 5.5 -> 6: 1.5 = 0 011 10
    assert matmul(a, e3m2, b, e3m2, acc=e3m2, order=4) == [[0x0E]]
    # 14 + 14 = 28 overflows: +inf = 0 111 00; saturating: 14 = 0 110 11
    big = [[0x1B, 0x1B]]
    assert matmul(big, e3m2, column([one] * 2), e3m2, acc=e3m2) == [[0x1C]]
    assert matmul(big, e3m2, column([one] * 2), e3m2, acc=e3m2,
                  overflow="saturate") == [[0x1B]]


def test_float_accumulator_saturates_and_comes_back():
    a = [[MAX, MAX, M_MAX]]
    b = column([ONE] * 3)
    # ieee overflow: 65504 + 65504 = 131008 rounds beyond max -> inf; inf - 65504 = inf
    assert matmul(a, F16, b, F16, acc=F16) == [[INF]]
    # saturating: 65504, then 65504 again, then 65504 - 65504 = +0
    assert matmul(a, F16, b, F16, acc=F16, overflow="saturate") == [[P0]]
    # exact: 65504, which float16 holds
    assert matmul(a, F16, b, F16) == [[(1, F(65504))]]
    assert matmul(a, F16, b, F16, acc=F16, order=3) == [[MAX]]


def test_signed_zeros_and_the_first_product_start():
    minus_zeros = ([[P0, P0]], column([M_ONE, M_ONE]))         # +0 * -1 = -0, twice
    a, b = minus_zeros
    for order in ORDERS:
        # s starts as round(p_0) = -0, and -0 + -0 = -0
        assert matmul(a, F16, b, F16, acc=F16, order=order) == [[N0]]
        # with c = +0: s starts as +0, and +0 + -0 = +0 ...
        assert matmul(a, F16, b, F16, c=[[P0]], fc=F16, acc=F16, order=order) == [[P0]]
        # ... except under "down", where +0 + -0 = -0
        assert matmul(a, F16, b, F16, c=[[P0]], fc=F16, acc=F16, order=order,
                      rounding="down") == [[N0]]
        # c = -0 keeps it -0
        assert matmul(a, F16, b, F16, c=[[N0]], fc=F16, acc=F16, order=order) == [[N0]]
    assert matmul(a, F16, b, F16) == [[(-1, 0)]]
    assert matmul(a, F16, b, F16, c=[[P0]], fc=F16) == [[(1, 0)]]
    assert matmul(a, F16, b, F16, c=[[P0]], fc=F16, rounding="down") == [[(-1, 0)]]
    assert matmul(a, F16, b, F16, out=F16) == [[N0]]
    # a fixed-point accumulator has only +0
    assert matmul(a, F16, b, F16, acc=S8) == [[0]]
    # 1 - 1 cancels exactly: +0, or -0 under "down"
    a1, b1 = [[ONE, ONE]], column([ONE, M_ONE])
    for order in ORDERS:
        assert matmul(a1, F16, b1, F16, acc=F16, order=order) == [[P0]]
        assert matmul(a1, F16, b1, F16, acc=F16, order=order, rounding="down") == [[N0]]
    assert matmul(a1, F16, b1, F16) == [[(1, 0)]]
    assert matmul(a1, F16, b1, F16, rounding="down") == [[(-1, 0)]]
    # K == 0: the result is c rounded into acc (for every order)
    for order in ORDERS:
        assert matmul([[]], F16, [], F16, c=[[N0]], fc=F16, acc=F16, order=order) == [[N0]]
    assert matmul([[]], F16, [], F16, c=[[N0, ONE]], fc=F16) == [[(-1, 0), (1, 1)]]


def test_mul_rounds_each_product():
    # 1.125 * 1.125 = 1.265625 = 81/64; two such products sum to 81/32
    a, b = [[ONE_1_8, ONE_1_8]], column([ONE_1_8, ONE_1_8])
    assert matmul(a, F16, b, F16) == [[(1, F(81, 32))]]
    # in E4M3 (ulp 1/8 at 1): t = 81/8 = 10.125 -> 10: 1.25, twice: 2.5
    assert matmul(a, F16, b, F16, mul=E4M3FN) == [[(1, F(5, 2))]]
    # float16 accumulator: 2.53125 = 2 * (1 + 272/1024): 0x4000 | 0x110
    assert matmul(a, F16, b, F16, acc=F16) == [[0x4110]]
    # 2.5 = 2 * (1 + 256/1024): 0x4100
    assert matmul(a, F16, b, F16, mul=E4M3FN, acc=F16) == [[0x4100]]
    # rounding "up" also for the products: t = 10.125 -> 11: 1.375, twice 2.75
    assert matmul(a, F16, b, F16, mul=E4M3FN, rounding="up") == [[(1, F(11, 4))]]
    # K == 1 into an E4M3 accumulator: round(p_0) in every order
    # 1.265625 -> 1.25 = 0 0111 010 = 0x3A
    for order in ORDERS:
        assert matmul([[ONE_1_8]], F16, [[ONE_1_8]], F16, acc=E4M3FN, order=order) == [[0x3A]]


def test_c_and_out_are_casts():
    c = [[0x38]]                                   # 1.0 in E4M3FN: 0 0111 000
    a, b = [[ONE_1_8]], [[ONE_1_8]]                # product 1.265625
    # float16 acc: round(1) = 1, then 2.265625 = 2 * (1 + 136/1024): 0x4088
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, acc=F16) == [[0x4088]]
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, acc=F16, order="pairwise") == [[0x4088]]
    # cast to E4M3FN: ulp 1/4 at 2, t = 9.0625 -> 9: 2.25 = 0 1000 001 = 0x41
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, acc=F16, out=E4M3FN) == [[0x41]]
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, out=E4M3FN) == [[0x41]]
    # "up": t -> 10: 2.5 = 0 1000 010 = 0x42
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, out=E4M3FN, rounding="up") == [[0x42]]
    # c = 1 + 2**-10 (float16 0x3C01) cast into a bfloat16 accumulator is 1;
    # then 1 + 2**-8 (product 2**-8 * 1; 2**-8 in float16 is ef 7: 0x1C00) is a
    # tie -> 1, in every order.  Exact: 1 + 2**-8 + 2**-10.
    for order in ORDERS:
        assert matmul([[0x1C00]], F16, [[ONE]], F16, c=[[0x3C01]], fc=F16, acc=BF16,
                      order=order) == [[B_ONE]]
    assert matmul([[0x1C00]], F16, [[ONE]], F16, c=[[0x3C01]], fc=F16) == [[
        (1, 1 + F(1, 256) + F(1, 1024))]]
    # accumulating in E4M3FN: round(1) = 1; 2.265625 -> 2.25 (0x41), cast to
    # float16 exactly: 2.25 = 2 * (1 + 128/1024) = 0x4080
    assert matmul(a, F16, b, F16, c=c, fc=E4M3FN, acc=E4M3FN, out=F16) == [[0x4080]]


def test_nan_and_inf():
    for order in ORDERS:
        # inf * 0 is NaN: the default NaN of float16, sign clear
        assert matmul([[INF, ONE]], F16, column([P0, ONE]), F16, acc=F16,
                      order=order) == [[QNAN]]
        # inf - inf is NaN, even when they meet late (different blocks)
        assert matmul([[INF, ONE, ONE, M_INF]], F16, column([ONE] * 4), F16, acc=F16,
                      order=order) == [[QNAN]]
        # inf + finite = inf
        assert matmul([[ONE, M_INF]], F16, column([ONE, ONE]), F16, acc=F16,
                      order=order) == [[M_INF]]
    assert matmul([[INF, ONE]], F16, column([P0, ONE]), F16) == [[(1, "nan")]]
    assert matmul([[INF, M_INF]], F16, column([ONE, ONE]), F16) == [[(1, "nan")]]
    assert matmul([[INF, ONE]], F16, column([ONE, ONE]), F16) == [[(1, "inf")]]
    # NaN / inf cannot enter a fixed-point accumulator
    with pytest.raises(ValueError):
        matmul([[INF]], F16, [[ONE]], F16, acc=S16)
    with pytest.raises(ValueError):
        matmul([[INF, ONE]], F16, column([P0, ONE]), F16, acc=S16)


def test_shapes_and_mixed_formats():
    # 2 x 3 times 3 x 2, s8.0 times s8.4 (n/16), exact
    av = [[1, 2, 3], [-4, 5, -6]]
    bn = [[16, 8], [-32, 4], [1, 0]]               # b values n/16
    a = [[s8(v) for v in row] for row in av]
    b = [[s8(n) for n in row] for row in bn]
    # row 0: (16 - 64 + 3)/16 = -45/16, (8 + 8 + 0)/16 = 1
    # row 1: (-64 - 160 - 6)/16 = -230/16, (-32 + 20 + 0)/16 = -12/16
    expected = [[F(-45, 16), F(1)], [F(-230, 16), F(-12, 16)]]
    assert matmul(a, S8, b, S8_4) == [[signed(v) for v in row] for row in expected]
    # into an s16.4 accumulator (exact here): codes n with n/16 = value
    s16_4 = FixedFormat(16, 4)
    assert matmul(a, S8, b, S8_4, acc=s16_4) == [[(-45) % 2**16, 16],
                                                 [(-230) % 2**16, (-12) % 2**16]]
    assert matmul([], S8, b, S8_4) == []


def test_agrees_with_arith_fma_and_add():
    # Against arith, whose rules are written independently:
    # K = 1 with c (c already in acc): sequential/blocks round(c + p_0) is
    # fma(a0, b0, c); pairwise round(c + round(p_0)) is add(c, mul(a0, b0)).
    # K = 2, sequential: round(round(p_0) + p_1) is fma(a1, b1, mul(a0, b0)).
    rng = random.Random(7)
    specials = [P0, N0, ONE, M_ONE, INF, M_INF, QNAN, MAX, M_MAX, 0x0001, 0x8001]
    for _ in range(300):
        x = [rng.choice(specials) if rng.random() < 0.4 else rng.randrange(2**16)
             for _ in range(5)]
        a0, b0, a1, b1, c = x
        p0 = arith.mul(a0, F16, b0, F16, F16)
        for order in ("sequential", 1, 2):
            got = matmul([[a0]], F16, [[b0]], F16, c=[[c]], fc=F16, acc=F16, order=order)
            assert got == [[arith.fma(a0, F16, b0, F16, c, F16, F16)]]
        got = matmul([[a0]], F16, [[b0]], F16, c=[[c]], fc=F16, acc=F16, order="pairwise")
        assert got == [[arith.add(c, F16, p0, F16, F16)]]
        for order in ("sequential", 1):
            got = matmul([[a0, a1]], F16, column([b0, b1]), F16, acc=F16, order=order)
            assert got == [[arith.fma(a1, F16, b1, F16, p0, F16, F16)]]


# ------------------------------------------------- host float64 as an oracle

def _f16_value(code):
    return struct.unpack("<e", code.to_bytes(2, "little"))[0]


def _f64_code(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _host_pairwise(values):
    level = list(values)
    while len(level) > 1:
        above = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            above.append(level[-1])
        level = above
    return level[0]


def test_float64_accumulator_against_host_arithmetic():
    # float16 * float16 is exact in float64 (11 + 11 significant bits), and
    # host float64 addition rounds once to nearest even: exactly the model.
    rng = random.Random(3)
    M, K, N = 2, 11, 2

    def random_f16():
        return rng.randrange(2) << 15 | rng.randrange(1, 0x7C00)   # nonzero, finite

    for _ in range(6):
        a = [[random_f16() for _ in range(K)] for _ in range(M)]
        b = [[random_f16() for _ in range(N)] for _ in range(K)]
        for i in range(M):
            for j in range(N):
                p = [_f16_value(a[i][k]) * _f16_value(b[k][j]) for k in range(K)]
                s = p[0]
                for x in p[1:]:
                    s = s + x
                assert matmul([a[i]], F16, [[row[j]] for row in b], F16,
                              acc=F64) == [[_f64_code(s)]]
                assert matmul([a[i]], F16, [[row[j]] for row in b], F16, acc=F64,
                              order="pairwise") == [[_f64_code(_host_pairwise(p))]]
                # blocks of 4: s = fsum(block 0); s = fsum([s] + block) ...
                # (fsum is the correctly rounded exact sum)
                s = math.fsum(p[:4])
                for m in range(4, K, 4):
                    s = math.fsum([s] + p[m:m + 4])
                assert matmul([a[i]], F16, [[row[j]] for row in b], F16, acc=F64,
                              order=4) == [[_f64_code(s)]]
                assert matmul([a[i]], F16, [[row[j]] for row in b], F16,
                              out=F64) == [[_f64_code(math.fsum(p))]]


# ------------------------------------------------------------------ conv2d

X33 = [[[[s8(v) for v in row] for row in ([1, 2, 3], [4, 5, 6], [7, 8, 9])]]]  # 1x1x3x3
W22 = [[[[s8(v) for v in row] for row in ([1, 2], [3, 4])]]]                   # 1x1x2x2


def test_conv2d_padding_and_stride_2():
    # padded 5x5 image, window origins (oy*2 - 1, ox*2 - 1):
    # (0,0): only x[0][0] = 1 under w[1][1] = 4          ->  4
    # (0,1): x[0][1] = 2 under w[1][0] = 3, x[0][2] = 3 under w[1][1] = 4 -> 6 + 12 = 18
    # (1,0): x[1][0] = 4 under w[0][1] = 2, x[2][0] = 7 under 4  -> 8 + 28 = 36
    # (1,1): 5*1 + 6*2 + 8*3 + 9*4 = 77
    expected = [[4, 18], [36, 77]]
    assert conv2d(X33, S8, W22, S8, stride=2, padding=1, acc=S16) == [[expected]]
    assert conv2d(X33, S8, W22, S8, stride=2, padding=1) == [[
        [[signed(v) for v in row] for row in expected]]]
    # stride (1, 2), padding (0, 1): Ho = (3 - 1 - 1)//1 + 1 = 2, Wo = (3+2-1-1)//2 + 1 = 2
    # (0,0) origin (0,-1): 1*2 + 4*4 = 18;   (0,1) origin (0,1): 2 + 6 + 15 + 24 = 47
    # (1,0) origin (1,-1): 4*2 + 7*4 = 36;   (1,1) origin (1,1): 77
    assert conv2d(X33, S8, W22, S8, stride=(1, 2), padding=(0, 1),
                  acc=S16) == [[[[18, 47], [36, 77]]]]
    # no padding, stride 1: 1+4+12+20 = 37, 2+6+15+24 = 47, 4+10+21+32 = 67, 77
    assert conv2d(X33, S8, W22, S8, acc=S16) == [[[[37, 47], [67, 77]]]]


def test_conv2d_batch_and_non_square_output():
    # N = 2, 2 x 4 images, kernel 1 x 2 = [1, 10]: Ho = 2, Wo = 3,
    # out[oy][ox] = x[oy][ox] + 10 * x[oy][ox + 1]
    x = [[[[1, 2, 3, 4], [5, 6, 7, 8]]], [[[0, 1, 0, 1], [2, 0, 2, 0]]]]
    w = [[[[1, 10]]]]
    assert conv2d(x, S8, w, S8, acc=S16) == [[[[21, 32, 43], [65, 76, 87]]],
                                             [[[10, 1, 10], [2, 20, 2]]]]


def test_conv2d_dilation():
    # dilation 2: Ho = (3 - 2*1 - 1)//1 + 1 = 1; taps (0,0) (0,2) (2,0) (2,2)
    # 1*1 + 3*2 + 7*3 + 9*4 = 64
    assert conv2d(X33, S8, W22, S8, dilation=2, acc=S16) == [[[[64]]]]


def test_conv2d_groups_2():
    # x: 1 x 2 x 2 x 2; w: 4 x 1 x 1 x 1 = [2, 3, -1, 1]; outputs 0, 1 read
    # channel 0, outputs 2, 3 read channel 1
    ch0, ch1 = [[1, 2], [3, 4]], [[5, 6], [7, 8]]
    x = [[[[s8(v) for v in row] for row in ch] for ch in (ch0, ch1)]]
    w = [[[[s8(v)]]] for v in (2, 3, -1, 1)]
    expected = [[[2 * v for v in row] for row in ch0], [[3 * v for v in row] for row in ch0],
                [[-v for v in row] for row in ch1], ch1]
    assert conv2d(x, S8, w, S8, groups=2) == [[[[signed(v) for v in row] for row in o]
                                               for o in expected]]
    assert conv2d(x, S8, w, S8, groups=2, acc=S16) == [[[[v % 2**16 for v in row]
                                                         for row in o] for o in expected]]
    # groups=2 with 2x2 kernels over 2 channels per group (C = 4, O = 2):
    # out 0 = sum of channels 0, 1 (w = 1); out 1 = channel 3 only (w = 1 on it)
    x4 = [[[[s8(c * 10 + v) for v in (1, 2)] for _ in range(2)] for c in range(4)]]
    ones, zeros = [[1, 1], [1, 1]], [[0, 0], [0, 0]]
    w4 = [[ones, ones], [zeros, ones]]
    # channel c holds rows [10c+1, 10c+2] twice: window sum 2*(20c + 3) = 40c + 6
    # out 0: (6) + (46) = 52; out 1: channel 3: 126
    assert conv2d(x4, S8, w4, S8, groups=2, acc=S16) == [[[[52]], [[126]]]]


def test_conv2d_reduction_order_c_slowest():
    # x: 1 x 2 x 1 x 2, channel 0 = [100, 100], channel 1 = [-100, 0]; w all ones.
    # Order (c, ky, kx): 100, 100, -100, 0 -> saturating s8: 100, 127, 27, 27.
    # (Order (ky, kx, c) would be 100, -100, 100, 0 -> 100.)
    x = [[[[s8(100), s8(100)]], [[s8(-100), s8(0)]]]]
    w = [[[[1, 1]], [[1, 1]]]]
    assert conv2d(x, S8, w, S8, acc=S8) == [[[[27]]]]
    assert conv2d(x, S8, w, S8) == [[[[(1, F(100))]]]]


def test_conv2d_padding_taps_are_plus_zero():
    # 1x1 image of 1.0, 1x1 kernel of -1.0, padding 1: 3x3 output; the
    # padding taps are +0, times -1 = -0; the centre is -1
    x = [[[[ONE]]]]
    w = [[[[M_ONE]]]]
    assert conv2d(x, F16, w, F16, padding=1, acc=F16) == [[[
        [N0, N0, N0], [N0, M_ONE, N0], [N0, N0, N0]]]]
    got = conv2d(x, F16, w, F16, padding=1)
    assert got[0][0][0][0] == (-1, 0) and got[0][0][1][1] == (-1, 1)
    # E8M0 has no zero to pad with
    with pytest.raises(ValueError, match="pad"):
        conv2d([[[[127]]]], E8M0, [[[[127]]]], E8M0, padding=1)
    # ... but needs none without padding: 2**0 * 2**0 = 1
    assert conv2d([[[[127]]]], E8M0, [[[[127]]]], E8M0) == [[[[(1, F(1))]]]]


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("order", ["tree", "Sequential", 0, -2, 1.5, True, None])
def test_bad_order(order):
    with pytest.raises(ValueError, match=repr(order).replace(".", r"\.")):
        matmul([[ONE]], F16, [[ONE]], F16, acc=F16, order=order)
    with pytest.raises(ValueError, match="order"):
        conv2d([[[[ONE]]]], F16, [[[[ONE]]]], F16, acc=F16, order=order)


@pytest.mark.parametrize("mode", ["stochastic", "stochastic_equal"])
def test_stochastic_modes_rejected(mode):
    with pytest.raises(ValueError, match="stochastic"):
        matmul([[ONE]], F16, [[ONE]], F16, acc=F16, rounding=mode)
    with pytest.raises(ValueError, match="stochastic"):
        matmul([[ONE]], F16, [[ONE]], F16, rounding=mode)      # exact: rejected too
    with pytest.raises(ValueError, match="stochastic"):
        conv2d([[[[ONE]]]], F16, [[[[ONE]]]], F16, rounding=mode)


def test_other_errors():
    with pytest.raises(ValueError, match="rounding mode"):
        matmul([[ONE]], F16, [[ONE]], F16, rounding="nearest")
    with pytest.raises(ValueError, match="shape"):
        matmul([[ONE, ONE]], F16, [[ONE]], F16)                 # K 2 vs 1
    with pytest.raises(ValueError, match="shape"):
        matmul([[ONE, ONE]], F16, [[ONE, ONE], [ONE]], F16)     # ragged b
    with pytest.raises(ValueError, match="shape"):
        matmul([[ONE]], F16, [[ONE]], F16, c=[[ONE, ONE]], fc=F16)
    with pytest.raises(ValueError, match="K == 0"):
        matmul([[]], F16, [], F16)
    with pytest.raises(ValueError, match="fc"):
        matmul([[ONE]], F16, [[ONE]], F16, c=[[ONE]])
    with pytest.raises(ValueError):
        matmul([[2**16]], F16, [[ONE]], F16)                    # not a float16 code
    with pytest.raises(ValueError, match="bias"):
        conv2d(X33, S8, W22, S8, c=[[0]], fc=S8)
    with pytest.raises(ValueError, match="groups"):
        conv2d(X33, S8, W22, S8, groups=2)
    with pytest.raises(ValueError, match="empty"):
        conv2d(X33, S8, W22, S8, dilation=3)                    # 2x2 kernel spans 4
    with pytest.raises(ValueError, match="stride"):
        conv2d(X33, S8, W22, S8, stride=0)


def test_hand_codes():
    # guard for the constants above
    from reference import decode
    assert decode(B_2M8, BF16) == (1, F(1, 256)) and decode(B_1P7, BF16) == (1, 1 + F(1, 128))
    assert decode(B_1P6, BF16) == (1, 1 + F(1, 64)) and decode(0x4001, BF16) == (1, 2 + F(1, 64))
    assert decode(ONE_1_8, F16) == (1, F(9, 8)) and decode(0x4110, F16) == (1, F(81, 32))
    assert decode(0x4088, F16) == (1, F(145, 64)) and decode(0x3A, E4M3FN) == (1, F(5, 4))
    assert decode(0x41, E4M3FN) == (1, F(9, 4)) and decode(MAX, F16) == (1, F(65504))
    assert decode(0x40E0, BF16) == (1, F(7)) and decode(0x3A12, BF16) == (1, F(73, 2**17))
    assert decode(0x3C00, BF16) == (1, F(1, 128)) and decode(0x1C00, F16) == (1, F(1, 256))
    e3m2 = FloatFormat(3, 2)
    assert [decode(c, e3m2) for c in (0x0C, 0x02, 0x0D, 0x0E, 0x1B)] == [
        (1, F(1)), (1, F(1, 8)), (1, F(5, 4)), (1, F(3, 2)), (1, F(14))]
    assert decode(24, S8_4) == (1, F(3, 2)) and decode(9, S8_1) == (1, F(9, 2))
