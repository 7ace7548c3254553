"""ml_dtypes and torch arrays in and out of fxsim (fxsim.interop).

Codes move by bit views: every code of every 8-bit (and smaller) type and
all 65536 codes of bfloat16/float16 round-trip bit for bit through both
peers.  Each peer dtype is the fxsim format of its name: fxsim's value of
every code is checked against reference/ and against the peer's own
float64 conversion (what its dtype means).  As inputs, peer arrays are
exact in their own format: encoding one equals encoding its exact values
(reference/ for the 8-bit types).  A peer's own conversions are compared
but only reported (warnings), never asserted.
"""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fxsim
import reference as ref
from tests.oracle import ref_format, ref_float, same_floats

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is a test-only peer")


def _ml_types():
    """Every ml_dtypes scalar type that is a real number type."""
    out = {}
    for name in dir(ml_dtypes):
        kind = getattr(ml_dtypes, name)
        if isinstance(kind, type) and issubclass(kind, np.generic) and "complex" not in name:
            out[name] = np.dtype(kind)
    out["float16"] = np.dtype(np.float16)  # numpy's own, the other 16-bit float of the peers
    return out


ML_TYPES = _ml_types()


def all_codes(fmt):
    """Every code of a format of at most 16 bits, in its code dtype."""
    return np.arange(1 << fmt.width, dtype=np.uint64).astype(fxsim.exact.codes_dtype(fmt))


def ref_floats(codes, fmt):
    """The oracle's float64 value of each code: reference/ for formats of at
    most 8 bits; for the 16-bit ones identities of IEEE binary32/binary16
    (a bfloat16 code is the top half of the float32 with the same value)."""
    if fmt == fxsim.formats.bfloat16:
        with np.errstate(invalid="ignore"):  # signaling NaNs become quiet ones
            return (codes.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    if fmt == fxsim.formats.float16:
        return codes.view(np.float16).astype(np.float64)
    assert fmt.width <= 8
    return np.array([ref_float(c, fmt) for c in codes.tolist()], np.float64)


def test_the_peer_types_are_the_ones_of_ml_dtypes_0_7():
    assert {"bfloat16", "float8_e4m3fn", "float8_e5m3fnu", "float4_e2m1fn", "float6_e2m3fn",
            "int1", "int2", "int4", "uint1", "uint2", "uint4", "float8_e8m0fnu"} <= set(ML_TYPES)


@pytest.mark.parametrize("name", sorted(ML_TYPES))
def test_every_code_of_every_ml_dtypes_type(name):
    dtype = ML_TYPES[name]
    fmt = fxsim.format(dtype)
    assert fxsim.format(getattr(ml_dtypes, name, dtype)) == fmt == fxsim.format(name)
    codes = all_codes(fmt)
    arr = codes.astype(f"uint{dtype.itemsize * 8}").view(dtype)
    q = fxsim.from_ml_dtypes(arr)
    assert q.fmt == fmt and np.array_equal(q.bits, codes)
    back = q.to_ml_dtypes()
    assert back.dtype == dtype and np.array_equal(back.view(f"uint{dtype.itemsize * 8}"), codes)
    # the values: fxsim's against reference/, and the peer's meaning of its dtype
    mine = fxsim.decode(codes, fmt)
    assert same_floats(mine, ref_floats(codes, fmt)).all()
    with np.errstate(invalid="ignore"):  # ml_dtypes flags NaN codes
        peer = arr.astype(np.float64)
    bad = np.flatnonzero(~same_floats(mine, peer))
    assert not bad.size, (f"{name}: fxsim's format {fmt.name} gives {mine[bad[0]]} for code "
                          f"{int(codes[bad[0]]):#x}, ml_dtypes {peer[bad[0]]}")
    # exact input in its own format: the same codes as encoding the exact float64 values
    for target, mode in (("float8_e4m3fn", "nearest_even"), ("float4_e2m1fn", "toward_zero"),
                         ("bfloat16", "up")):
        keep = ~np.isnan(mine) if target == "float4_e2m1fn" else slice(None)
        got = fxsim.encode(arr[keep], target, mode, "saturate")
        assert np.array_equal(got, fxsim.encode(mine[keep], target, mode, "saturate"))
    if fmt.width <= 8:  # and against reference/ itself
        want = [ref.encode(v, ref_format(fxsim.format("float8_e4m3fn")), "nearest_even",
                           "saturate") for v in mine.tolist()]
        assert fxsim.encode(arr, "float8_e4m3fn", overflow="saturate").tolist() == want


def test_bfloat16_input_is_rounded_once_from_its_exact_value():
    x = np.array([0.1, -0.3, 1e-3, 460.0, -0.0], np.float64).astype(ml_dtypes.bfloat16)
    exact = [float(v) for v in x.astype(np.float64)]  # bfloat16 -> float64 is exact
    rf = ref_format(fxsim.format("float8_e4m3fn"))
    want = [ref.encode(v, rf, "nearest_even", "saturate") for v in exact]
    assert fxsim.encode(x, "e4m3fn", overflow="saturate").tolist() == want
    assert fxsim.asarray(x, "fp8_e4m3", overflow="saturate").bits.tolist() == want
    assert int(fxsim.encode(ml_dtypes.bfloat16(0.1), "e4m3fn")) == want[0]  # a scalar too


def test_int4_input_and_mx_quantizer_input():
    x = np.arange(-8, 8).astype(ml_dtypes.int4)
    assert fxsim.asarray(x, "bfloat16").to_float().tolist() == list(range(-8, 8))
    y = (np.arange(64, dtype=np.float64) / 7).astype(ml_dtypes.bfloat16)
    a = fxsim.mx.quantize(y, "float8_e4m3fn")
    b = fxsim.mx.quantize(y.astype(np.float64), "float8_e4m3fn")
    assert np.array_equal(a.elements.bits, b.elements.bits)
    assert np.array_equal(a.scales.bits, b.scales.bits)


def test_ml_dtypes_errors_name_the_format_or_index():
    bad = np.array([3, 0xF0], np.uint8).view(ml_dtypes.int4)  # high bits set: not an int4 code
    with pytest.raises(ValueError, match=r"index \(1,\).*s4\.0"):
        fxsim.from_ml_dtypes(bad)
    with pytest.raises(ValueError, match="s16.8"):
        fxsim.asarray([1.0], "s16.8").to_ml_dtypes()
    with pytest.raises(ValueError, match="bool"):
        fxsim.from_ml_dtypes(np.array([True]))
    with pytest.raises(ValueError, match="complex"):
        fxsim.encode(np.zeros(2, ml_dtypes.complex32), "e4m3fn")
    q = fxsim.asarray([1.5], "float32")  # numpy's own types need no ml_dtypes
    assert q.to_ml_dtypes().dtype == np.float32 and fxsim.from_ml_dtypes(q.to_ml_dtypes()).fmt == q.fmt


# ---------------------------------------------------------------- torch
TORCH_NAMES = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
               "float8_e8m0fnu", "bfloat16", "float16", "int8", "uint8"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_every_code_through_torch(name):
    torch = pytest.importorskip("torch", reason="torch is a test-only peer")
    if not hasattr(torch, name):
        pytest.skip(f"torch {torch.__version__} has no {name}")
    dtype = getattr(torch, name)
    fmt = fxsim.format(dtype)
    assert fmt == fxsim.format(name)
    codes = all_codes(fmt)
    size = codes.dtype.itemsize * 8
    t = torch.from_numpy(codes.view(f"int{size}").copy()).view(dtype)
    q = fxsim.from_torch(t)
    assert q.fmt == fmt and np.array_equal(q.bits, codes)
    back = q.to_torch()
    assert back.dtype == dtype
    assert np.array_equal(back.view(getattr(torch, f"int{size}")).numpy().view(f"uint{size}"), codes)
    mine = fxsim.decode(codes, fmt)
    assert same_floats(mine, ref_floats(codes, fmt)).all()
    peer = t.to(torch.float64).numpy()
    bad = np.flatnonzero(~same_floats(mine, peer))
    assert not bad.size, (f"torch.{name}: fxsim's {fmt.name} gives {mine[bad[0]]} for code "
                          f"{int(codes[bad[0]]):#x}, torch {peer[bad[0]]}")
    finite = ~np.isnan(mine)
    got = fxsim.encode(t[torch.from_numpy(finite)], "float4_e2m1fn", "nearest_even")
    assert np.array_equal(got, fxsim.encode(mine[finite], "float4_e2m1fn", "nearest_even"))


def test_torch_tensors_of_any_layout_and_wide_dtypes():
    torch = pytest.importorskip("torch", reason="torch is a test-only peer")
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4).t().requires_grad_()
    q = fxsim.from_torch(x)
    assert q.fmt == fxsim.formats.float32 and q.to_float().tolist() == x.detach().numpy().tolist()
    assert fxsim.encode(x, "int8").tolist() == x.detach().numpy().astype(np.int8).tolist()
    for name, values in (("float64", [-0.0, 1e300, math.inf]), ("int64", [-(1 << 63), 5]),
                         ("uint64", [(1 << 64) - 1, 0]), ("int16", [-32768, 7]),
                         ("uint32", [(1 << 32) - 1, 1])):
        dtype = getattr(torch, name)
        fmt = fxsim.format(dtype)
        q = fxsim.asarray(np.array(values, dtype=name), fmt)
        t = q.to_torch()
        assert t.dtype == dtype and np.array_equal(fxsim.from_torch(t).bits, q.bits)
    with pytest.raises(ValueError, match="float8_e4m3b11fnuz"):
        fxsim.asarray([1.0], "float8_e4m3b11fnuz").to_torch()
    with pytest.raises(ValueError, match="s4.0"):
        fxsim.asarray([1], "int4").to_torch()
    with pytest.raises(TypeError, match="torch.Tensor"):
        fxsim.from_torch(np.zeros(2))


def test_peer_conversion_is_reported_not_asserted():
    """fxsim's float32 -> float8_e4m3fn (every code's value and the midpoints
    between neighbours, one float32 ulp either side) is asserted against
    reference/; torch's own conversion of the same inputs is only reported."""
    torch = pytest.importorskip("torch", reason="torch is a test-only peer")
    fmt = fxsim.format("float8_e4m3fn")
    v = fxsim.decode(all_codes(fmt), fmt)
    v = np.sort(v[np.isfinite(v)])
    mids = ((v[1:] + v[:-1]) / 2).astype(np.float32)
    x = np.concatenate([v.astype(np.float32), mids, np.nextafter(mids, np.float32(np.inf)),
                        np.nextafter(mids, np.float32(-np.inf))])
    mine = fxsim.encode(torch.from_numpy(x), fmt, overflow="saturate")
    rf = ref_format(fmt)
    assert mine.tolist() == [ref.encode(float(e), rf, "nearest_even", "saturate") for e in x]
    theirs = torch.from_numpy(x).to(torch.float8_e4m3fn).view(torch.uint8).numpy()
    differ = int(np.count_nonzero(theirs != mine))
    if differ:
        warnings.warn(f"torch {torch.__version__} float32 -> float8_e4m3fn differs from the "
                      f"correctly rounded code on {differ} of {x.size} inputs", stacklevel=1)


def test_fxsim_imports_without_the_peers():
    code = ("import sys; sys.modules['ml_dtypes'] = None; sys.modules['torch'] = None\n"
            "import fxsim, numpy as np\n"
            "q = fxsim.asarray([1.5, -2.0], 'float32')\n"
            "assert q.to_ml_dtypes().dtype == np.float32\n"
            "try:\n    fxsim.asarray([1.5], 'e4m3fn').to_ml_dtypes()\nexcept ImportError as e:\n"
            "    assert 'ml_dtypes' in str(e)\nelse:\n    raise SystemExit('no ImportError')\n"
            "assert fxsim.encode(np.array([1.5]), 'e4m3fn').tolist() == [60]\n"
            "print('ok')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "ok", run.stderr[-2000:]
    run = subprocess.run([sys.executable, "-c", "import sys, fxsim; print(sorted(m for m in "
                          "('ml_dtypes', 'torch') if m in sys.modules))"],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "[]", run.stderr[-2000:]


def test_asarray_without_format_keeps_a_peer_arrays_own_format():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    a = np.array([0.1, -2.0, 448.0], dtype=ml_dtypes.float8_e4m3fn)
    q = fxsim.asarray(a)
    assert q.fmt == fxsim.format("float8_e4m3fn")
    assert np.array_equal(q.bits, a.view(np.uint8))
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.5, -0.25, 3.0e38], dtype=torch.bfloat16)
    r = fxsim.asarray(t)
    assert r.fmt == fxsim.format("bfloat16")
    assert np.array_equal(r.bits, t.view(torch.int16).numpy().view(np.uint16))
