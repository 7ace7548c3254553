"""reference/blockfma.py: its hand-derived cases, and its building blocks
against values worked out by hand here."""
from fractions import Fraction

from reference import blockfma as ref


def test_hand_derived_cases():
    assert ref.self_check()


def test_decoders():
    assert ref.decode_fp8(0x01, "float8_e4m3fn") == ("num", 0, 1, -6, 3)     # 2**-9
    assert ref.decode_fp8(0x08, "float8_e4m3fn") == ("num", 0, 8, -6, 3)     # 2**-6
    assert ref.decode_fp8(0x7E, "float8_e4m3fn") == ("num", 0, 14, 8, 3)     # 448
    assert ref.decode_fp8(0xFF, "float8_e4m3fn")[0] == "nan"
    assert ref.decode_fp8(0x7C, "float8_e5m2")[0] == "inf"
    assert ref.decode_fp8(0x83, "float8_e5m2") == ("num", 1, 3, -14, 2)      # -3 * 2**-16
    assert ref.decode_f32(0x00000001) == ("num", Fraction(1, 2 ** 149))
    assert ref.decode_f32(0x80000000) == ("zero", -1)
    assert ref.encode_f32(Fraction(1, 2 ** 149)) == 1
    assert ref.encode_f32(Fraction(2) ** 128) == 0x7F800000


def test_truncations_and_roundings():
    assert ref.trunc_to(Fraction(-7, 4), Fraction(1, 2)) == Fraction(-3, 2)     # toward zero
    assert ref.truncate_out(Fraction(2 ** 24 + 3), 23) == 2 ** 24 + 2
    # below 2**-126 the grid stays at 2**(-126 - frac_out)
    assert ref.truncate_out(Fraction(3, 2 ** 140), 10) == 0
    assert ref.truncate_out(Fraction(3, 2 ** 137), 10) == Fraction(1, 2 ** 136)
    # float32 nearest-even: 1 + 2**-24 is a tie -> 1; 1 + 3 * 2**-24 -> 1 + 2**-22
    assert ref.round_f32(1 + Fraction(1, 2 ** 24)) == 1
    assert ref.round_f32(1 + Fraction(3, 2 ** 24)) == 1 + Fraction(1, 2 ** 22)
    assert ref.add_f32(Fraction(0), True, Fraction(0), True) == (0, True)      # -0 + -0
    assert ref.add_f32(Fraction(0), True, Fraction(0), False) == (0, False)    # -0 + +0
