"""Regression tests for the traps other libraries fell into (DESIGN.md)."""
import re

import numpy as np
import pytest
from numba import njit

import fxsim
from fxsim._kernels import core
from oracle import ref_encode

NEAREST = [m.value for m in fxsim.Rounding if m.value.startswith("nearest")]


@pytest.mark.parametrize("mode", NEAREST)
def test_just_below_a_half_never_rounds_up(mode):
    # numfi rounds 0.49999999999999994 to 1; it is below the tie, so every
    # nearest mode gives 0 (and -0 for the negative value)
    x = np.array([0.49999999999999994, -0.49999999999999994])
    assert fxsim.decode(fxsim.encode(x, "s8.0", mode), "s8.0").tolist() == [0.0, 0.0]


def test_modes_are_named_for_what_they_do_on_ties():
    # QPyTorch's "nearest" and qonnx's HALF_UP are half-away; here each tie
    # rule has its own name: 0.5, 1.5, -0.5, -1.5 onto the integers
    x = np.array([0.5, 1.5, -0.5, -1.5])
    expect = {"nearest_even": [0, 2, 0, -2], "nearest_odd": [1, 1, -1, -1],
              "nearest_away": [1, 2, -1, -2], "nearest_zero": [0, 1, 0, -1],
              "nearest_up": [1, 2, 0, -1], "nearest_down": [0, 1, -1, -2]}
    for mode, values in expect.items():
        assert fxsim.quantize(x, "s8.0", mode).tolist() == values, mode


def test_the_top_binade_of_e4m3fn():
    # pychop's Chop(4,3) maps 256..500 to 0; here every value there lands on
    # the nearest grid point 256, 288, ..., 448 (spacing 32) or overflows
    x = np.arange(256.0, 501.0)
    q = fxsim.quantize(x, "float8_e4m3fn", "nearest_even")
    finite = x <= 464  # 464 is the tie between 448 and 480, which goes to even (448)
    assert (np.abs(q[finite] - x[finite]) <= 16).all() and (q[finite] % 32 == 0).all()
    assert np.isnan(q[~finite]).all()


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "s8.3", "float6_e2m3fn"])
def test_round_to_odd_leaves_exact_values_alone(name):
    # pychop's round-to-odd changes exact values
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    values = fxsim.decode(codes, fmt)
    finite = np.isfinite(values)
    assert (fxsim.encode(values[finite], fmt, "odd") == codes[finite]).all()


def test_signed_codes_are_sign_extended():
    # APyTypes reads numpy unsigned bit patterns without sign extension
    assert fxsim.decode(np.array([0xFF, 0x80, 0x7F], dtype=np.uint8), "s8.0").tolist() == [-1, -128, 127]
    assert fxsim.decode(np.uint64(0xFFFF), "s16.8") == -1 / 256


def test_directed_float_overflow_follows_ieee():
    # APyTypes sends directed-mode overflow to max finite; IEEE 754 7.4 says
    # rounding toward +inf overflows a positive value to +inf
    x = np.array([1e6, -1e6])
    assert fxsim.quantize(x, "float8_e5m2", "up").tolist() == [np.inf, -57344.0]
    assert fxsim.quantize(x, "float8_e5m2", "down").tolist() == [57344.0, -np.inf]
    assert fxsim.quantize(x, "float8_e5m2", "toward_zero").tolist() == [57344.0, -57344.0]
    for mode in ("up", "down", "toward_zero"):
        assert list(fxsim.encode(x, "float8_e5m2", mode)) == [ref_encode(v, fxsim.formats.float8_e5m2, mode) for v in x]


def test_the_core_has_no_floating_point_arithmetic():
    # Numba turns uint64 + int64 into float64 silently; the core must stay in
    # integers.  Compile it (uncached) and read the machine IR.
    @njit
    def one(code, src, dst, mode, ovf, r, R):
        neg, M, E, cls = core.split_code(code, src)
        return core.round_code(neg, M, E, False, cls, dst, mode, ovf, r, R)

    args = (np.uint64(0x3FD3333333333333), fxsim.formats.float64.kernel_spec,
            fxsim.formats.float8_e4m3fn.kernel_spec, np.int64(12), np.int64(3), np.uint64(2**32 - 1),
            np.int64(32))
    # 0.3 lies 0.6 of the way from 0x29 (0.28125) to 0x2a (0.3125): stochastic
    # rounding with the largest r rounds up
    assert one(*args) == (0x2A, 0)
    ir = "".join(one.inspect_llvm().values())
    assert not re.findall(r"= (fadd|fsub|fmul|fdiv|frem|uitofp|sitofp|fptoui|fptosi) ", ir)
