"""Names users type (fxsim.aliases): aliases, TI's Q notation, dtypes as
formats, and the "did you mean" of an unknown name."""
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim import aliases
from fxsim.formats import PRESETS, FixedFormat, FloatFormat


@pytest.mark.parametrize("alias", sorted(aliases.ALIASES))
def test_every_alias_is_its_target_in_any_case(alias):
    target = fxsim.format(aliases.ALIASES[alias])
    assert fxsim.format(alias) == target
    assert fxsim.format(alias.upper()) == target
    assert alias not in PRESETS  # an alias never hides a preset


@pytest.mark.parametrize("alias,definition", [
    # the definitions, as the sources state them (not as fxsim spells them)
    ("bf16", FloatFormat(8, 7)), ("fp16", FloatFormat(5, 10)), ("fp32", FloatFormat(8, 23)),
    ("fp64", FloatFormat(11, 52)), ("tf32", FloatFormat(8, 10)),
    ("fp8_e4m3", FloatFormat(4, 3, special="fn")),  # OCP OFP8 E4M3: no inf, max 448
    ("fp8_e5m2", FloatFormat(5, 2)), ("fp6_e3m2", FloatFormat(3, 2, special="finite")),
    ("fp6_e2m3", FloatFormat(2, 3, special="finite")), ("fp4", FloatFormat(2, 1, special="finite")),
    ("ue8m0", FloatFormat(8, 0, special="e8m0")),
    ("int4", FixedFormat(4, 0)), ("uint4", FixedFormat(4, 0, signed=False)),
])
def test_aliases_mean_what_the_ecosystem_means(alias, definition):
    assert fxsim.format(alias) == definition
    if alias == "fp8_e4m3":
        assert fxsim.format(alias).max == 448.0 and not fxsim.format(alias).has_inf


@pytest.mark.parametrize("name,m,n,signed", [
    ("Q3.12", 3, 12, True), ("q0.15", 0, 15, True), ("Q7.8", 7, 8, True), ("Q15", 0, 15, True),
    ("Q31", 0, 31, True), ("Q0.0", 0, 0, True), ("UQ1.15", 1, 15, False), ("uq8.0", 8, 0, False),
])
def test_q_notation_is_tis(name, m, n, signed):
    fmt = fxsim.format(name)
    step = Fraction(1, 2 ** n)
    if signed:  # TI: sign bit + m integer bits + n fraction bits; range [-2**m, 2**m - 2**-n]
        assert fmt.width == 1 + m + n
        assert (fmt.min_exact, fmt.max_exact) == (-Fraction(2) ** m, Fraction(2) ** m - step)
    else:  # UQm.n: m + n bits, [0, 2**m - 2**-n]
        assert fmt.width == m + n
        assert (fmt.min_exact, fmt.max_exact) == (0, Fraction(2) ** m - step)
    assert fmt.eps == float(step)


def test_q_notation_examples_and_the_ambiguous_uqn():
    assert fxsim.format("Q3.12") == fxsim.format("s16.12")
    assert fxsim.format("Q15") == fxsim.format("s16.15")
    with pytest.raises(ValueError, match="ambiguous"):
        fxsim.format("UQ15")


def test_numpy_and_ml_dtypes_dtypes_are_formats():
    assert fxsim.format(np.float32) == fxsim.format(np.dtype("float32")) == PRESETS["float32"]
    assert fxsim.format(np.int8) == PRESETS["int8"] and fxsim.format(np.uint64) == PRESETS["uint64"]
    ml_dtypes = pytest.importorskip("ml_dtypes")
    assert fxsim.format(ml_dtypes.float8_e4m3fn) == PRESETS["float8_e4m3fn"]
    assert fxsim.format(np.dtype(ml_dtypes.bfloat16)) == PRESETS["bfloat16"]
    assert fxsim.format(ml_dtypes.int4) == FixedFormat(4, 0)
    for bad in (np.bool_, np.complex64, np.dtype("O"), np.dtype([("a", "f4")]), np.longdouble,
                ml_dtypes.complex32):
        with pytest.raises(ValueError, match="has no fxsim format"):
            fxsim.format(bad)
    with pytest.raises(ValueError, match="a format is"):
        fxsim.format(3)


def test_torch_dtypes_are_formats():
    torch = pytest.importorskip("torch")
    assert fxsim.format(torch.bfloat16) == PRESETS["bfloat16"]
    assert fxsim.format(torch.float8_e4m3fn) == PRESETS["float8_e4m3fn"]
    assert fxsim.format(torch.half) == PRESETS["float16"]
    for bad in (torch.bool, torch.complex64, torch.float4_e2m1fn_x2):
        with pytest.raises(ValueError, match="has no fxsim format"):
            fxsim.format(bad)


@pytest.mark.parametrize("typo,suggested", [
    ("fp8", "fp8_e4m3"), ("bfloat", "bfloat16"), ("e4m3fnz", "e4m3fnuz"), ("flaot32", "float32"),
    ("bf61", "bf16"), ("unit8", "uint8"),
])
def test_unknown_names_say_did_you_mean(typo, suggested):
    with pytest.raises(ValueError) as err:
        fxsim.format(typo)
    text = str(err.value)
    assert text.startswith(f"unknown format {typo!r}: did you mean ") and repr(suggested) in text


def test_unknown_names_far_from_everything_get_no_guess():
    with pytest.raises(ValueError) as err:
        fxsim.format("xyzzy")
    assert "did you mean" not in str(err.value) and "unknown format 'xyzzy'" in str(err.value)


def test_the_listing_names_every_alias_and_q_notation():
    lines = aliases.listing()
    for alias, target in aliases.ALIASES.items():
        assert any(line.split() == [alias, "=", target] for line in lines)
    assert any(line.startswith("Qm.n") for line in lines)
