"""Bad input gets the documented exception, naming format, mode and index."""
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim


def _message(excinfo):
    return str(excinfo.value)


def test_nan_into_fixed_names_format_mode_and_index():
    x = np.array([[0.5, 1.0], [np.nan, 2.0]])
    with pytest.raises(ValueError) as e:
        fxsim.encode(x, "s16.8", "nearest_even")
    msg = _message(e)
    assert "s16.8" in msg and "nearest_even" in msg and "saturate" in msg and "(1, 0)" in msg


def test_inf_into_fixed():
    with pytest.raises(ValueError) as e:
        fxsim.encode([1.0, 2.0, -math.inf], fxsim.FixedFormat(8, 2), "down", "wrap")
    msg = _message(e)
    assert "s8.2" in msg and "down" in msg and "wrap" in msg and "(2,)" in msg


@pytest.mark.parametrize("name", ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn"])
def test_nan_into_format_without_nan(name):
    with pytest.raises(ValueError) as e:
        fxsim.encode(np.array([1.0, np.nan]), name)
    msg = _message(e)
    assert name in msg and "nearest_even" in msg and "(1,)" in msg


def test_nan_into_fixed_on_the_exact_path():
    with pytest.raises(ValueError, match=r"index \(1,\)"):
        fxsim.encode([Fraction(1, 3), float("nan")], fxsim.FixedFormat(100, 50))


@pytest.mark.parametrize("word", [0, -3])
def test_zero_width_is_refused(word):
    with pytest.raises(ValueError, match="word"):
        fxsim.FixedFormat(word, 0)


def test_bad_float_formats_are_refused():
    with pytest.raises(ValueError, match="64 bits"):
        fxsim.FloatFormat(11, 60)
    with pytest.raises(ValueError, match="special"):
        fxsim.FloatFormat(4, 3, special="ocp")
    with pytest.raises(ValueError, match="man must be 0"):
        fxsim.FloatFormat(8, 1, special="e8m0")


def test_unknown_mode_names():
    with pytest.raises(ValueError, match="unknown rounding mode 'round_half_up'.*nearest_even"):
        fxsim.encode([1.0], "e4m3fn", "round_half_up")
    with pytest.raises(ValueError, match="unknown overflow mode 'clip'"):
        fxsim.encode([1.0], "e4m3fn", overflow="clip")


def test_overflow_policy_must_fit_the_format():
    with pytest.raises(ValueError, match="wrap.*float8_e4m3fn.*ieee, nan, saturate, raise"):
        fxsim.encode([1.0], "float8_e4m3fn", overflow="wrap")
    with pytest.raises(ValueError, match="nan.*float4_e2m1fn"):
        fxsim.encode([1.0], "float4_e2m1fn", overflow="nan")
    with pytest.raises(ValueError, match="ieee.*s8.0"):
        fxsim.encode([1.0], "s8.0", overflow="ieee")


def test_overflow_raise_names_index_and_value():
    with pytest.raises(OverflowError) as e:
        fxsim.encode(np.array([1.0, 300.0, 500.0]), "float8_e4m3fn", "nearest_even", "raise")
    msg = _message(e)
    assert "500.0" in msg and "(2,)" in msg and "float8_e4m3fn" in msg and "raise" in msg
    with pytest.raises(OverflowError, match=r"index \(1,\).*s8.0"):
        fxsim.encode(np.array([127, 128], dtype=np.int64), "s8.0", "nearest_even", "raise")
    # the boundary: 127.5 rounds to 128 under nearest_even, 127 under down
    with pytest.raises(OverflowError):
        fxsim.encode([127.5], "s8.0", "nearest_even", "raise")
    assert int(fxsim.encode([127.5], "s8.0", "down", "raise")[0]) == 127


def test_stochastic_needs_a_random_source():
    with pytest.raises(ValueError, match="rng=.*random="):
        fxsim.encode([0.3], "s8.4", "stochastic")
    with pytest.raises(ValueError, match="only used by the stochastic modes"):
        fxsim.encode([0.3], "s8.4", "nearest_even", rng=1)
    with pytest.raises(ValueError, match="random_bits"):
        fxsim.encode([0.3], "s8.4", "stochastic", rng=1, random_bits=65)
    with pytest.raises(ValueError, match=r"random= value 16 at index \(1,\)"):
        fxsim.encode([0.3, 0.4], "s8.4", "stochastic", random=[3, 16], random_bits=4)
    with pytest.raises(ValueError, match="does not broadcast"):
        fxsim.encode([0.3, 0.4], "s8.4", "stochastic", random=[1, 2, 3])


def test_decode_refuses_codes_out_of_range():
    with pytest.raises(ValueError, match=r"code 256 at index \(2,\).*float8_e4m3fn"):
        fxsim.decode(np.array([0, 1, 256]), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"code 70000 at index \(1,\).*s16.8"):
        fxsim.decode(np.array([0, 70000], dtype=np.uint32), "s16.8")
    with pytest.raises(ValueError, match=r"negative"):
        fxsim.decode(np.array([0, -1]), "float16")
    with pytest.raises(ValueError, match="must be integers"):
        fxsim.decode(np.array([0.5]), "float16")


def test_unknown_format_name_teaches_the_spelling():
    with pytest.raises(ValueError, match="sW.F"):
        fxsim.format("z8.8")


def test_non_numbers_are_refused():
    with pytest.raises(ValueError, match="cannot encode 'abc'"):
        fxsim.encode(["abc"], "s8.0")
