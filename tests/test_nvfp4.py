"""fxsim.nvfp4 against reference/nvfp4.py (exact rationals); torchao's
nvfp4_quantize is reported where installed, never asserted."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fxsim
from fxsim import nvfp4
from reference import nvfp4 as ref


def check(q, x, axis=-1, scale=None):
    x64 = np.asarray(x, dtype=np.float64)
    moved = np.moveaxis(x64, axis, -1)
    amax = Fraction(float(np.max(np.abs(x64)))) if x64.size else 0
    s = ref.tensor_scale(amax) if scale is None else Fraction(float(scale))
    assert Fraction(float(q.tensor_scale)) == s
    assert q.scales.fmt == fxsim.format("ue4m3") and q.elements.fmt == fxsim.formats.float4_e2m1fn
    sc = np.moveaxis(q.scales.bits, axis, -1)
    el = np.moveaxis(q.elements.bits, axis, -1)
    deq = np.moveaxis(q.dequantize(), axis, -1)
    for idx in np.ndindex(moved.shape[:-1]):
        row = [float(v) for v in moved[idx]]
        _, scodes, ecodes = ref.quantize_row(row, s)
        assert [int(c) for c in sc[idx]] == scodes
        assert [int(c) for c in el[idx]] == ecodes
        for j, e in enumerate(ecodes):
            assert Fraction(float(deq[idx][j])) == ref.dequantize(e, scodes[j // 16], s)


def test_repr_shape_and_formats():
    q = nvfp4.quantize(np.arange(40, dtype=np.float32).reshape(2, 20))
    assert q.shape == (2, 20) and q.scales.shape == (2, 2) and q.block == 16
    assert "NVFP4Array(shape=(2, 20), axis=1, block=16, nblocks=2" in repr(q)
    assert q.tensor_scale.dtype == np.float32
    check(q, np.arange(40, dtype=np.float32).reshape(2, 20))


def test_zeros_and_all_equal_blocks():
    z = np.zeros((2, 32))
    z[1, 3] = -0.0
    q = nvfp4.quantize(z)
    assert q.tensor_scale == 1.0 and not q.scales.bits.any()
    assert int(q.elements.bits[1, 3]) == 0x8                 # -0 kept
    check(q, z)
    e = np.full((3, 16), -2.5, np.float32)
    q = nvfp4.quantize(e)
    check(q, e)
    assert set(q.elements.to_float().ravel()) == {-6.0}       # x / (S_b S) ~ -6
    assert np.allclose(q.dequantize(), -2.5, rtol=2 ** -3)


def test_scale_saturation_and_subnormal_and_zero_scales():
    """A given (small) tensor scale saturates S_b at 448; a block far below the
    tensor amax gets a subnormal S_b, and one below half of 2**-9 gets 0."""
    x = np.zeros((3, 16))
    x[0, :4] = [1000.0, -3.0, 0.5, 7.0]
    x[1, :2] = [0.01, 1e-3]                      # S_b ~ 0.01 * 0.448: subnormal (2**-8)
    x[2, :2] = [1e-7, -2e-8]                      # S_b rounds to 0
    q = nvfp4.quantize(x)
    check(q, x)
    s = q.scales.to_float()
    assert s[0, 0] == 448.0 and 0 < s[1, 0] < 2.0 ** -6 and s[2, 0] == 0
    assert q.elements.to_float()[2, :2].tolist() == [0.0, -0.0]
    small = nvfp4.quantize(x, tensor_scale=np.float32(0.01))
    check(small, x, scale=np.float32(0.01))
    assert small.scales.to_float()[0, 0] == 448.0 and small.elements.to_float()[0, 0] == 6.0


def test_ties_go_to_even():
    """S = 1 (amax 2688), S_b = 448 for block 0; block 1 has amax 6 * 2 = 12
    -> S_b = 2: elements x / 2 = 1.25 (tie 1 / 1.5 -> 1), 2.5 (-> 2),
    3.5 (-> 4), 5 (-> 4)."""
    x = np.zeros((2, 16))
    x[0, 0] = 2688.0
    x = x.reshape(-1)
    x[16:21] = [12.0, 2.5, 5.0, 7.0, 10.0]
    q = nvfp4.quantize(x)
    check(q, x)
    assert q.tensor_scale == 1.0 and q.scales.to_float()[1] == 2.0
    assert q.elements.to_float()[16:21].tolist() == [6.0, 1.0, 2.0, 4.0, 4.0]


def test_scale_ties_go_to_even():
    """S = 1: block maxima 6 * 4.25 and 6 * 4.75 are exact ties of UE4M3
    (4 | 4.5 | 5): 4.25 -> 4 (even), 4.75 -> 5 (even)."""
    x = np.zeros(48)
    x[0], x[16], x[32] = 2688.0, 25.5, -28.5
    q = nvfp4.quantize(x)
    check(q, x)
    assert q.tensor_scale == 1.0 and q.scales.to_float().tolist() == [448.0, 4.0, 5.0]


def test_exact_inputs_other_than_float_arrays():
    from fractions import Fraction as F
    q = nvfp4.quantize([F(1, 2), 3, -2.5, 0])
    check(q, np.array([0.5, 3.0, -2.5, 0.0]))
    with pytest.raises(ValueError, match=r"value 1/3 at index \(1,\) is not exactly a float64"):
        nvfp4.quantize(np.array([F(1), F(1, 3)], dtype=object))


def test_axis_and_partial_blocks():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 37, 3)).astype(np.float32)
    for axis in (0, 1, 2, -2):
        q = nvfp4.quantize(x, axis=axis)
        assert q.axis == axis % 3
        check(q, x, axis)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 40)),
                  elements=st.one_of(
                      # magnitudes >= 1e-30 (or 0): amax / 2688 stays inside float32's range
                      # (tiny tensors raise, see test_tensor_scale_out_of_float32_raises)
                      st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
                      .filter(lambda v: v == 0 or abs(v) >= 1e-30),
                      st.integers(-64, 64).map(lambda k: k / 4),
                      st.sampled_from([0.0, -0.0, 2688.0, 1e-30]))),
       st.integers(-2, 1))
def test_random_against_reference(x, axis):
    q = nvfp4.quantize(x, axis=axis)
    check(q, x, axis)
    f32 = q.dequantize(np.float32)
    assert np.array_equal(f32, q.dequantize().astype(np.float32))


def test_errors():
    with pytest.raises(ValueError, match=r"NVFP4 has no NaN or infinity.*index \(1, 0\)"):
        nvfp4.quantize(np.array([[1.0], [np.inf]]))
    with pytest.raises(ValueError, match=r"tensor_scale"):
        nvfp4.quantize(np.ones(4), tensor_scale=-1.0)
    with pytest.raises(ValueError, match=r"scalar"):
        nvfp4.quantize(np.float32(1))
    with pytest.raises(ValueError, match=r"axis 3 is out of range"):
        nvfp4.quantize(np.ones((2, 2)), axis=3)
    with pytest.raises(ValueError, match=r"overflows or underflows"):
        nvfp4.quantize(np.array([1e300]))


def test_torchao_is_reported():
    """torchao's nvfp4_quantize with the recipe's per-tensor scale: report how
    many scale and element codes differ from fxsim's exact recipe."""
    try:
        import torch
        from torchao.prototype.mx_formats.nvfp4_tensor import (nvfp4_quantize,
                                                               per_tensor_amax_to_scale)
        from torchao.prototype.mx_formats.kernels import f4_unpacked_to_f32, unpack_uint4
    except Exception:  # noqa: BLE001
        pytest.skip("torchao is not importable")
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((32, 64)) * np.exp2(rng.integers(-6, 6, (32, 1)))).astype(np.float32)
    x[0, :16] = 0.0
    x[1, :16] = 1e-6
    q = nvfp4.quantize(x)
    check(q, x)
    t = torch.from_numpy(x)
    pts = per_tensor_amax_to_scale(torch.max(torch.abs(t)))
    scales, data = nvfp4_quantize(t, 16, pts)
    peer_s = scales.view(torch.uint8).numpy()
    peer_e = f4_unpacked_to_f32(unpack_uint4(data)).numpy()
    differ = [(tuple(int(k) for k in i), int(q.scales.bits[tuple(i)]), int(peer_s[tuple(i)]))
              for i in np.argwhere(peer_s != q.scales.bits)]
    print(f"\n[peer report] torchao nvfp4: tensor scale {float(pts)} vs fxsim "
          f"{float(q.tensor_scale)}; scale codes equal {int(np.sum(peer_s == q.scales.bits))}/"
          f"{peer_s.size} (block, fxsim code, torchao code: {differ}); element values equal "
          f"{int(np.sum(peer_e == q.elements.to_float()))}/{x.size}")


def test_building_from_codes_is_checked():
    q = nvfp4.quantize(np.arange(20.0))
    again = nvfp4.NVFP4Array(fxsim.from_bits(q.elements.bits, "float4_e2m1fn"),
                             fxsim.from_bits(q.scales.bits, "ue4m3"), q.tensor_scale, -1)
    assert again.axis == 0 and np.array_equal(again.dequantize(), q.dequantize())
    with pytest.raises(ValueError, match=r"scales have shape \(1,\).*need \(2,\)"):
        nvfp4.NVFP4Array(q.elements, fxsim.from_bits(q.scales.bits[:1], "ue4m3"),
                         q.tensor_scale, 0)
    with pytest.raises(ValueError, match=r"tensor_scale"):
        nvfp4.NVFP4Array(q.elements, q.scales, 0.5, 0)
    with pytest.raises(ValueError, match=r"NaN \(code 0x7F\) at index \(1,\)"):
        nvfp4.NVFP4Array(q.elements, fxsim.from_bits(np.uint8([1, 0x7F]), "ue4m3"),
                         q.tensor_scale, 0)
    with pytest.raises(ValueError, match=r"ue4m3"):
        nvfp4.NVFP4Array(q.elements, fxsim.from_bits(q.scales.bits, "float8_e4m3fn"),
                         q.tensor_scale, 0)


def test_tensor_scale_out_of_float32_raises():
    # amax / 2688 rounds to 0 in float32 (below 2**-150) or to inf: refused, never a wrong scale
    for x in ([7.95621751e-59], [-1e-46, 0.0], [1e300]):
        with pytest.raises(ValueError, match="overflows or underflows float32; pass tensor_scale="):
            nvfp4.quantize(np.array(x))
