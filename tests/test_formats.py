"""Formats: presets against ml_dtypes' finfo and the OCP numbers, names
that parse back, immutability."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given

import fxsim
from test_hypothesis import formats as any_format

# Largest finite values from the OCP FP8 / MX specs and IEEE 754.
KNOWN_MAX = {
    "float8_e4m3fn": 448, "float8_e5m2": 57344, "float8_e4m3fnuz": 240, "float8_e5m2fnuz": 57344,
    "float8_e4m3b11fnuz": 30, "float8_e3m4": 15.5, "float8_e4m3": 240, "float6_e3m2fn": 28,
    "float6_e2m3fn": 7.5, "float4_e2m1fn": 6, "float8_e8m0fnu": 2.0 ** 127, "float16": 65504,
    "bfloat16": 3.3895313892515355e38, "float32": float(np.finfo(np.float32).max),
    "float64": float(np.finfo(np.float64).max), "int8": 127, "uint8": 255, "int16": 32767,
}


@pytest.mark.parametrize("name", list(KNOWN_MAX))
def test_preset_max(name):
    assert fxsim.format(name).max == KNOWN_MAX[name]


@pytest.mark.parametrize("name", [n for n in fxsim.formats.PRESETS if n.startswith(("float8", "float6_", "float4", "bfloat"))])
def test_presets_against_ml_dtypes_finfo(name):
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is a test-only oracle")
    info = ml_dtypes.finfo(getattr(ml_dtypes, name))
    fmt = fxsim.format(name)
    assert fmt.max == float(info.max)
    assert fmt.tiny == float(info.smallest_normal)
    assert fmt.eps == float(info.eps)
    assert fmt.width == info.bits


@pytest.mark.parametrize("name", list(fxsim.formats.PRESETS))
def test_preset_names_parse_back(name):
    fmt = fxsim.format(name)
    assert fxsim.format(fmt.name) == fmt
    assert eval(repr(fmt), {"FixedFormat": fxsim.FixedFormat, "FloatFormat": fxsim.FloatFormat}) == fmt


@given(any_format)
def test_any_format_name_parses_back(fmt):
    assert fxsim.format(fmt.name) == fmt
    assert eval(repr(fmt), {"FixedFormat": fxsim.FixedFormat, "FloatFormat": fxsim.FloatFormat}) == fmt


def test_spellings():
    assert fxsim.format("s16.8") == fxsim.FixedFormat(16, 8)
    assert fxsim.format("u8.-2") == fxsim.FixedFormat(8, -2, signed=False)
    assert fxsim.format("e4m3fn") is fxsim.formats.float8_e4m3fn
    assert fxsim.format("e4m3b11fnuz") == fxsim.FloatFormat(4, 3, bias=11, special="fnuz")
    assert fxsim.format("e3m3_finite_nosub") == fxsim.FloatFormat(3, 3, special="finite", subnormals=False)
    assert fxsim.format("e8m0fnu") is fxsim.formats.float8_e8m0fnu
    assert fxsim.format("s8.0n") == fxsim.FixedFormat(8, 0, narrow=True)
    assert fxsim.format("S8.6_narrow") == fxsim.FixedFormat(8, 6, narrow=True)
    assert fxsim.FixedFormat(4, -1, narrow=True).name == "s4.-1n"
    assert fxsim.formats.float8_e4m3fnuz.bias == 8 and fxsim.formats.float8_e5m2fnuz.bias == 16


def test_formats_are_immutable_and_hashable():
    fmt = fxsim.FixedFormat(16, 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fmt.word = 8
    assert len({fmt, fxsim.FixedFormat(16, 8), fxsim.format("s16.8")}) == 1
    assert len({fxsim.formats.float8_e4m3fn, fxsim.FloatFormat(4, 3, special="fn")}) == 1


def test_fixed_limits():
    fmt = fxsim.FixedFormat(8, 4)
    assert (fmt.min, fmt.max, fmt.eps) == (-8.0, 127 / 16, 1 / 16)
    ufmt = fxsim.FixedFormat(8, -2, signed=False)
    assert (ufmt.min, ufmt.max, ufmt.eps) == (0.0, 255 * 4.0, 4.0)
    nfmt = fxsim.FixedFormat(8, 4, narrow=True)
    assert (nfmt.min, nfmt.max, nfmt.eps) == (-127 / 16, 127 / 16, 1 / 16)
    assert nfmt.overflows == (fxsim.Overflow.SATURATE, fxsim.Overflow.RAISE)
    assert fxsim.FixedFormat(8, 4).overflows == (fxsim.Overflow.WRAP, fxsim.Overflow.SATURATE,
                                                 fxsim.Overflow.RAISE)


def test_special_value_facts_per_kind():
    """The policy table of fxsim._kernels.specialize, as each format reports it."""
    F = fxsim.formats
    O = fxsim.Overflow
    assert (F.float8_e5m2.has_inf, F.float8_e5m2.has_nan, F.float8_e5m2.default_overflow) \
        == (True, True, O.IEEE)
    assert F.float8_e5m2.overflows == (O.IEEE, O.NAN, O.SATURATE, O.RAISE)
    e5m0 = fxsim.FloatFormat(5, 0)                  # inf, but no NaN without fraction bits
    assert (e5m0.has_inf, e5m0.has_nan) == (True, False)
    assert e5m0.overflows == (O.IEEE, O.SATURATE, O.RAISE)
    for fmt in (F.float8_e4m3fn, F.float8_e4m3fnuz, F.float8_e8m0fnu):
        assert (fmt.has_inf, fmt.has_nan, fmt.default_overflow) == (False, True, O.NAN)
    assert F.float4_e2m1fn.overflows == (O.SATURATE, O.RAISE)
    assert F.float4_e2m1fn.default_overflow == O.SATURATE and not F.float4_e2m1fn.has_nan
    # canonical NaN codes and their sign (quiet NaN, all ones, the -0 pattern, 0xFF)
    nan = {name: (int(F.PRESETS[name].exact_spec.nan_code), F.PRESETS[name].exact_spec.nan_signed)
           for name in ("float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e8m0fnu")}
    assert nan == {"float8_e5m2": (0x7E, True), "float8_e4m3fn": (0x7F, True),
                   "float8_e4m3fnuz": (0x80, False), "float8_e8m0fnu": (0xFF, False)}
    assert [F.PRESETS[n].max_code for n in ("float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz",
                                            "float6_e2m3fn", "float8_e8m0fnu")] \
        == [0x7B, 0x7E, 0x7F, 0x1F, 0xFE]


def test_mode_codes_match_the_core():
    from fxsim._kernels import core
    for mode in fxsim.Rounding:
        assert mode.code == getattr(core, mode.name), mode
    for policy in fxsim.Overflow:
        assert policy.code == getattr(core, policy.name), policy
