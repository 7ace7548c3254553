"""Table-driven encoding equals the core it was built from.

float16 inputs and float32 inputs into narrow float formats are encoded by
looking up the core's answer for every (top bits, sticky) pattern.  The
oracle is the identity: the same values as float64 arrays go through the
core directly.
"""
import numpy as np
import pytest

import fxsim
from oracle import DETERMINISTIC

NARROW = [n for n, f in fxsim.formats.PRESETS.items() if f.is_float and f.man <= 6]


def _float32_inputs():
    rng = np.random.default_rng(5)
    random_bits = rng.integers(0, 1 << 32, size=200_000, dtype=np.uint64).astype(np.uint32)
    # every sign/exponent with low-bit patterns that decide ties: 0, 1, 0x8000, 0xffff
    top = np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)
    edges = np.concatenate([top | np.uint32(low) for low in (0, 1, 0x8000, 0x7FFF, 0xFFFF)])
    return np.concatenate([random_bits, edges]).view(np.float32)


X32 = _float32_inputs()


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("name", NARROW)
def test_float32_table_equals_core(name, mode):
    fmt = fxsim.format(name)
    x = X32 if fmt.has_nan else X32[~np.isnan(X32)]
    for policy in fmt.overflows:
        if policy.value == "raise":
            x_ok = x[np.abs(x) <= fmt.max / 2]
            if not fmt.signed:  # unsigned: negative values (E8M0: zero too) raise as well
                x_ok = x_ok[(x_ok > 0) | np.isnan(x_ok) | ((x_ok == 0) & (fmt.special != "e8m0"))]
        else:
            x_ok = x
        table = fxsim.encode(x_ok, fmt, mode, policy)
        with np.errstate(invalid="ignore"):  # numpy notes signalling NaNs becoming quiet
            wide = x_ok.astype(np.float64)
        core = fxsim.encode(wide, fmt, mode, policy)
        bad = np.flatnonzero(table != core)
        assert bad.size == 0, (name, mode, policy.value, x_ok[bad[0]])


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float4_e2m1fn", "s8.4", "int8"])
def test_table_errors_name_the_first_offending_index(name):
    fmt = fxsim.format(name)
    x16 = np.array([1.0, 2.0, np.nan, np.inf], np.float16)
    with pytest.raises(ValueError if not fmt.has_nan else OverflowError, match=r"index \((2|3),\)"):
        fxsim.encode(x16 if not fmt.has_nan else x16[[0, 1, 3]], fmt, "nearest_even", "raise")
