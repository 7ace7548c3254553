"""Peer libraries as test-only oracles (installed by `make test`, extra `peers`).

* ml_dtypes: every type it shares with fxsim, on float32 inputs (where its
  conversion rounds once), bit for bit, and every code decoded;
* APyTypes: every fixed-point quantization mode it shares with fxsim, with
  saturation and wrapping.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
from oracle import ref_encode, same_floats

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is a test-only oracle: pip install -e '.[peers]'")
try:
    import apytypes
except ImportError:  # the APyTypes test below says so when it is missing
    apytypes = None

ML_TYPES = {
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2": ml_dtypes.float8_e5m2,
    "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz, "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "float8_e4m3b11fnuz": ml_dtypes.float8_e4m3b11fnuz, "float8_e3m4": ml_dtypes.float8_e3m4,
    "float8_e4m3": ml_dtypes.float8_e4m3, "float6_e3m2fn": ml_dtypes.float6_e3m2fn,
    "float6_e2m3fn": ml_dtypes.float6_e2m3fn, "float4_e2m1fn": ml_dtypes.float4_e2m1fn,
    "float8_e8m0fnu": ml_dtypes.float8_e8m0fnu, "bfloat16": ml_dtypes.bfloat16,
    "float16": np.float16,
}


def _hard_float32_inputs(fmt):
    """Every float16 value, every code's value and the midpoints between
    neighbouring codes, one float32 ulp either side, and random values."""
    parts = [np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)]
    codes = np.arange(min(1 << fmt.width, 1 << 16), dtype=np.uint64)
    values = fxsim.decode(codes, fmt)
    values = np.sort(values[np.isfinite(values)])
    mids = (values[:-1] + values[1:]) / 2  # exact in float64
    for v in (values, mids):
        v32 = v.astype(np.float32)
        v32 = v32[v32.astype(np.float64) == v]  # only the exactly representable ones
        parts += [v32, np.nextafter(v32, np.float32(np.inf)), np.nextafter(v32, np.float32(-np.inf))]
    rng = np.random.default_rng(1)
    parts.append((rng.standard_normal(100_000) * min(fmt.max, 1e38) / 4).astype(np.float32))
    parts.append(np.array([np.inf, -np.inf, 0.0, -0.0, 3.4e38, -3.4e38, 1e-45], np.float32))
    return np.concatenate(parts)


@pytest.mark.parametrize("name", list(ML_TYPES))
def test_encode_matches_ml_dtypes_on_float32(name):
    fmt = fxsim.format(name)
    x = _hard_float32_inputs(fmt)
    if not fmt.has_nan:
        x = x[~np.isnan(x)]  # ml_dtypes turns NaN into -0 here; fxsim refuses (ValueError)
    ours = fxsim.encode(x, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own overflow notices
        theirs = x.astype(ML_TYPES[name]).view(f"uint{8 * np.dtype(ML_TYPES[name]).itemsize}")
    theirs = theirs.astype(np.uint64) & np.uint64((1 << fmt.width) - 1)
    bad = np.flatnonzero(ours != theirs)
    # Known, documented differences -- fxsim must then agree with reference/:
    # numpy keeps NaN payloads where fxsim gives the canonical quiet NaN;
    # ml_dtypes rounds float32 subnormals just above 2**-127 up to 2**-126 in E8M0.
    known = np.isnan(x[bad]) if name == "float16" else np.zeros(bad.size, bool)
    if name == "float8_e8m0fnu":
        known |= np.abs(x[bad]) < np.finfo(np.float32).tiny
    for i in bad[known]:
        assert int(ours[i]) == ref_encode(float(x[i]), fmt), x[i]
    bad = bad[~known]
    assert bad.size == 0, (f"{name}: {bad.size} mismatches, first at {x[bad[0]]!r}: "
                           f"fxsim 0x{int(ours[bad[0]]):x}, ml_dtypes 0x{int(theirs[bad[0]]):x}")


@pytest.mark.parametrize("name", list(ML_TYPES))
def test_decode_matches_ml_dtypes(name):
    fmt = fxsim.format(name)
    dtype = np.dtype(ML_TYPES[name])
    codes = np.arange(1 << fmt.width, dtype=f"uint{8 * dtype.itemsize}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = codes.view(dtype).astype(np.float64)
    assert same_floats(fxsim.decode(codes, fmt), theirs).all()


def test_float64_input_is_rounded_once(record_property):
    """fxsim rounds float64 input once: -431.99999999999994 is -416 in E4M3FN
    (reference/ agrees; -448 would be the double rounding through float32).

    ml_dtypes is only reported here, never asserted: up to 0.6 it cast float64
    through float32 and gave -448; 0.7.0 rounds once and gives -416 too.
    (torch 2.13 still double-rounds float64 -> float8.)"""
    x = np.array([-431.99999999999994])
    fmt = fxsim.formats.float8_e4m3fn
    assert int(fxsim.encode(x, fmt)[0]) == ref_encode(x[0], fmt) == 0xFD
    assert fxsim.quantize(x, fmt)[0] == -416.0
    theirs = float(x.astype(ml_dtypes.float8_e4m3fn).astype(np.float64)[0])
    record_property(f"ml_dtypes {ml_dtypes.__version__} float64 -> e4m3fn", theirs)
    if theirs != -416.0:
        warnings.warn(f"ml_dtypes {ml_dtypes.__version__} rounds float64 -431.99999999999994 to {theirs} "
                      f"in float8_e4m3fn (double rounding through float32; fixed in 0.7.0)")


APY_MODES = {
    "down": "TRN", "up": "TRN_INF", "toward_zero": "TRN_ZERO", "away": "TRN_AWAY",
    "nearest_up": "RND", "nearest_zero": "RND_ZERO", "nearest_away": "RND_INF",
    "nearest_down": "RND_MIN_INF", "nearest_even": "RND_CONV", "nearest_odd": "RND_CONV_ODD",
    "jam": "JAM", "odd": "JAM_UNBIASED",
}


@pytest.mark.skipif(apytypes is None, reason="APyTypes is a test-only oracle: pip install -e '.[peers]'")
@given(data=st.data(), mode=st.sampled_from(sorted(APY_MODES)),
       overflow=st.sampled_from(["saturate", "wrap"]))
def test_fixed_point_matches_apytypes(data, mode, overflow):
    int_bits = data.draw(st.integers(1, 12))
    frac_bits = data.draw(st.integers(0, 12))
    fmt = fxsim.FixedFormat(int_bits + frac_bits, frac_bits)
    # exact inputs: dyadic values with up to 20 fraction bits, up to 2**14
    ints = data.draw(st.lists(st.integers(-(1 << 34), 1 << 34), min_size=1, max_size=50))
    x = np.array(ints, dtype=np.float64) / 2.0 ** 20
    source = apytypes.APyFixedArray.from_array(x, int_bits=16, frac_bits=20)
    cast = source.cast(int_bits=int_bits, frac_bits=frac_bits,
                       quantization=getattr(apytypes.QuantizationMode, APY_MODES[mode]),
                       overflow=apytypes.OverflowMode.SAT if overflow == "saturate" else apytypes.OverflowMode.WRAP)
    theirs = np.asarray(cast.to_bits(), dtype=np.uint64).reshape(-1)
    ours = fxsim.encode(x, fmt, mode, overflow)
    assert (ours == theirs).all(), (fmt, mode, overflow, x[ours != theirs][:3])
