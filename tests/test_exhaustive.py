"""Exhaustive checks where the space is small.

* every code of every preset of at most 8 bits: decode against reference/,
  and decode -> encode gives the code back;
* every float16 input (all 65536 bit patterns) into every such preset, in
  every deterministic mode and under every overflow policy, against
  reference/.
"""
import math

import numpy as np
import pytest

import fxsim
from oracle import DETERMINISTIC, SMALL_PRESETS, ref_encode, ref_float, same_floats


@pytest.mark.parametrize("name", SMALL_PRESETS)
def test_every_code_decodes_like_reference(name):
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    expected = [ref_float(c, fmt) for c in codes]
    assert same_floats(fxsim.decode(codes, fmt), expected).all()
    exact = fxsim.decode(codes, fmt, exact=True)
    for code, value, want in zip(codes, exact, expected):
        if isinstance(value, float):
            assert math.isnan(value) == math.isnan(want) and (math.isnan(want) or value == want)
        else:
            assert value == want, (hex(int(code)), value, want)


@pytest.mark.parametrize("name", SMALL_PRESETS)
def test_every_code_reencodes_to_itself(name):
    fmt = fxsim.format(name)
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    values = fxsim.decode(codes, fmt)
    again = fxsim.encode(values, fmt) if not np.isnan(values).any() or fmt.has_nan else None
    nan = np.isnan(values)
    if again is None:  # cannot happen: a format without NaN has no NaN codes
        pytest.fail(f"{name} decoded a NaN but has no NaN")
    assert (again[~nan] == codes[~nan]).all()
    if nan.any():
        canonical = {ref_encode(math.nan, fmt), ref_encode(-math.nan, fmt)}
        assert set(int(c) for c in again[nan]) <= canonical


FLOAT16_INPUTS = np.arange(1 << 16, dtype=np.uint16).view(np.float16)


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("name", SMALL_PRESETS)
def test_every_float16_input(name, mode):
    """All 65536 float16 inputs, every overflow policy of the format.

    The policy only matters where a result overflows, so the reference is
    asked once per input with the default policy, and once more per policy
    for every input beyond the range or whose result is an end of the range,
    inf or NaN; fxsim is run on the whole array under every policy.
    """
    fmt = fxsim.format(name)
    xs = FLOAT16_INPUTS.astype(np.float64).tolist()
    default = fmt.default_overflow.value
    base = [ref_encode(x, fmt, mode, default) for x in xs]
    top = float(fmt.max_exact)
    bottom = -top if fmt.is_float else float(fmt.min_exact)
    # Results at the ends of the range, inf or NaN may be overflows (jam can
    # push even an exact max beyond it): ask the reference again for those.
    ends = {ref_encode(v, fmt, "nearest_even", "saturate") for v in (top, bottom)}
    ends |= {c for c in range(1 << fmt.width) if not math.isfinite(ref_float(c, fmt))}
    sensitive = [i for i, (x, b) in enumerate(zip(xs, base)) if x > top or x < bottom or b in ends]
    for policy in fmt.overflows:
        expected = list(base)
        if policy.value != default:
            for i in sensitive:
                expected[i] = ref_encode(xs[i], fmt, mode, policy.value)
        ok = np.array([isinstance(e, int) for e in expected])
        got = fxsim.encode(FLOAT16_INPUTS[ok], fmt, mode, policy)
        want = np.array([e for e in expected if isinstance(e, int)], dtype=np.uint64)
        mismatch = np.flatnonzero(got != want)
        assert mismatch.size == 0, (
            f"{name} {mode} {policy.value}: first mismatch at float16 "
            f"{FLOAT16_INPUTS[ok][mismatch[0]]!r}: fxsim 0x{int(got[mismatch[0]]):x}, "
            f"reference 0x{int(want[mismatch[0]]):x}")
        # the inputs the reference refuses must be refused too, with its error
        for i in np.flatnonzero(~ok)[:50]:
            with pytest.raises(expected[i]):
                fxsim.encode(FLOAT16_INPUTS[i:i + 1], fmt, mode, policy)
