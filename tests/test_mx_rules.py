"""fxsim.mx scale rules (floor, ceil, even, rceil) against reference/mx_rules.py.

reference/mx_rules.py finds each block's power of two by plain searches on
Fractions; fxsim computes it from frexp and exact comparisons.  torchao
(optional) is compared where installed: its answers are reported, never
asserted (peers change); the two torchao defects named in issue 17 get
regression tests asserting fxsim's exact answer on inputs built so that the
defect shows (checked by emulating torchao's float32 steps with numpy).
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reference as ref
from fxsim import mx
from reference import mx_rules
from reference.formats import PRESETS as REF

NAMES = ["float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn",
         "mxint8"]
RULES = ["floor", "ceil", "even", "rceil"]
# The element formats' constants, written from the OCP spec's tables (not from fxsim).
EMAX = {"float8_e4m3fn": 8, "float8_e5m2": 15, "float6_e3m2fn": 4, "float6_e2m3fn": 2,
        "float4_e2m1fn": 2, "mxint8": 0}
MBITS = {"float8_e4m3fn": 3, "float8_e5m2": 2, "float6_e3m2fn": 2, "float6_e2m3fn": 3,
         "float4_e2m1fn": 1, "mxint8": 6}
MAXV = {"float8_e4m3fn": 448, "float8_e5m2": 57344, "float6_e3m2fn": 28,
        "float6_e2m3fn": Fraction(15, 2), "float4_e2m1fn": 6, "mxint8": Fraction(127, 64)}
REF_ELEM = {**{n: REF[n] for n in NAMES[:-1]}, "mxint8": ref.FixedFormat(8, 6, narrow=True)}


def oracle(x, name, block, axis, rule, rounding="nearest_even"):
    x = np.asarray(x, dtype=object)
    axis %= x.ndim
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    nb = -(-n // block)
    scales = np.zeros(moved.shape[:-1] + (nb,), dtype=object)
    elems = np.empty(moved.shape, dtype=object)
    for idx in np.ndindex(moved.shape[:-1]):
        for b in range(nb):
            span = range(b * block, min(n, (b + 1) * block))
            vals = [moved[idx + (j,)] for j in span]
            code, codes = mx_rules.quantize_block(vals, REF_ELEM[name], rule, EMAX[name],
                                                  MBITS[name], MAXV[name], rounding)
            scales[idx + (b,)] = code
            for j, c in zip(span, codes or [None] * len(vals)):
                elems[idx + (j,)] = c
    return np.moveaxis(scales, -1, axis), np.moveaxis(elems, -1, axis)


def check(q, x, name, block, axis, rule, rounding="nearest_even"):
    scales, elems = oracle(x, name, block, axis, rule, rounding)
    assert [int(c) for c in q.scales.bits.ravel()] == list(scales.ravel())
    got = [None if e is None else int(c) for c, e in zip(q.elements.bits.ravel(), elems.ravel())]
    assert got == list(elems.ravel())


def test_constants_are_the_spec_tables():
    for name in NAMES:
        fmt = mx.element_format(name)
        assert mx.MAX_ELEM[fmt] == MAXV[name] and mx.MBITS[fmt] == MBITS[name]
        if fmt.is_float:
            assert fmt.max == MAXV[name] and fmt.man == MBITS[name]


def test_unknown_rule_is_a_clear_error():
    with pytest.raises(ValueError, match=r"float4_e2m1fn.*scale_rule='round'.*floor, ceil, even, "
                                         r"rceil"):
        mx.quantize(np.ones(4), "e2m1", scale_rule="round")


# ------------------------------------------------------------ every threshold
def _threshold_magnitudes():
    """Block maxima at and beside every place a rule can change its mind:
    powers of two, each format's even threshold 2 - 2**-(m+1) and max_elem
    significand, at binades from the clamps at both ends to the middle."""
    sigs = {1.0, 2.0 - 2.0 ** -52}
    for name in NAMES:
        sigs.add(2.0 - 2.0 ** -(MBITS[name] + 1))
        s = float(MAXV[name])
        while s >= 2:
            s /= 2
        sigs.add(s)
    mags = set()
    for s in sigs:
        for nudge in (-2.0 ** -52, 0.0, 2.0 ** -52, 2.0 ** -20, -2.0 ** -20):
            for k in list(range(-130, -109)) + [-140, -1, 0, 5] + list(range(125, 144)):
                mags.add(float(np.ldexp(s + nudge * s, k)))
    return sorted(m for m in mags if 0 < m < np.inf)


MAGS = _threshold_magnitudes()


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", NAMES)
def test_every_threshold_against_reference(name, rule):
    """Each magnitude as the maximum of a block of 4 (with three smaller
    values: a half-way one, its negative, zero), all rules, all formats."""
    a = np.array(MAGS)
    x = np.stack([a, -a * 0.75, a * (1 + 2.0 ** -3) / 2, np.zeros_like(a)], axis=-1)
    q = mx.quantize(x, name, block=4, scale_rule=rule)
    check(q, x, name, 4, -1, rule)


@pytest.mark.parametrize("rule", RULES)
def test_zero_nan_and_inf_blocks(rule):
    x = np.array([[0.0, -0.0, 0.0, 0.0], [1.0, np.nan, 2.0, 3.0], [-np.inf, 1.0, 0.0, 1.0],
                  [1e300, 1.0, 0, 0]])
    q = mx.quantize(x, "e4m3", block=4, scale_rule=rule)
    check(q, x, "float8_e4m3fn", 4, -1, rule)
    assert list(q.scales.bits) == [0, 0xFF, 0xFF, 0xFE if rule == "rceil" else 0xFF]


# ------------------------------------------------------------ random data
@st.composite
def values(draw):
    kind = draw(st.sampled_from(["grid", "pow2", "near", "zero", "any"]))
    sign = draw(st.sampled_from([1.0, -1.0]))
    if kind == "grid":
        return sign * draw(st.integers(0, 1023)) * 2.0 ** draw(st.integers(-140, 130))
    if kind == "pow2":
        return sign * 2.0 ** draw(st.integers(-160, 160))
    if kind == "near":
        k = draw(st.integers(-130, 130))
        s = draw(st.sampled_from([1.0, 1.5, 1.75, 1.875, 1.9375, 1.984375, 1.75 + 2 ** -4]))
        return sign * s * 2.0 ** k * (1 + draw(st.sampled_from([-1, 0, 1])) * 2.0 ** -52)
    if kind == "zero":
        return sign * 0.0
    return draw(st.floats(allow_nan=False, allow_infinity=False, width=64))


@given(st.lists(st.integers(1, 5), min_size=1, max_size=3).flatmap(
    lambda shape: hnp.arrays(np.float64, tuple(shape), elements=values())),
    st.integers(1, 6), st.integers(-3, 2), st.sampled_from(NAMES), st.sampled_from(RULES),
    st.sampled_from(["nearest_even", "toward_zero", "up"]))
def test_random_against_reference(x, block, axis, name, rule, rounding):
    axis = axis % x.ndim
    q = mx.quantize(x, name, block=block, axis=axis, scale_rule=rule, rounding=rounding)
    check(q, x, name, block, axis, rule, rounding)


@given(st.lists(st.fractions(min_value=-10 ** 6, max_value=10 ** 6, max_denominator=10 ** 9),
                min_size=1, max_size=12), st.sampled_from(NAMES), st.sampled_from(RULES))
def test_exact_path_against_reference(vals, name, rule):
    """Fractions (not float64) take fxsim's exact path."""
    x = np.empty(len(vals), dtype=object)
    x[:] = vals
    q = mx.quantize(x, name, block=5, scale_rule=rule)
    check(q, x, name, 5, -1, rule)


def test_rceil_never_saturates_and_floor_may():
    """rceil is the least X with |V_i| / X <= max_elem: no element is clamped."""
    x = np.array([7.5, -1.0, 0.25, 0.0])  # 7.5 > 6 at floor's X = 1
    floor = mx.quantize(x, "e2m1", block=4)
    rceil = mx.quantize(x, "e2m1", block=4, scale_rule="rceil")
    assert floor.dequantize()[0] == 6.0 and floor.scales.bits[0] == 127
    assert rceil.scales.bits[0] == 128 and rceil.dequantize()[0] == 8.0


# ------------------------------------------------------------ torchao's two defects
def _report(what, got):
    print(f"\n[peer report] {what}: {got}")


def _torchao_to_mx(x32, elem, block, rule):
    """(scale codes, element values as float64) from torchao, or None."""
    try:
        import torch
        from torchao.prototype.mx_formats.config import ScaleCalculationMode
        from torchao.prototype.mx_formats.mx_tensor import to_mx
    except Exception:  # noqa: BLE001  (absent or broken peer: nothing to report)
        return None
    mode = {"floor": ScaleCalculationMode.FLOOR, "ceil": ScaleCalculationMode.CEIL,
            "even": ScaleCalculationMode.EVEN, "rceil": ScaleCalculationMode.RCEIL}[rule]
    dtype = {"e4m3": torch.float8_e4m3fn, "e2m1": torch.float4_e2m1fn_x2}[elem]
    scale, data = to_mx(torch.from_numpy(x32.reshape(1, -1)), dtype, block, mode)
    codes = scale.view(torch.uint8).numpy().ravel()
    if elem == "e4m3":
        vals = data.to(torch.float32).numpy().astype(np.float64).ravel()
    else:
        from torchao.prototype.mx_formats.kernels import f4_unpacked_to_f32, unpack_uint4
        vals = f4_unpacked_to_f32(unpack_uint4(data.view(torch.uint8))).numpy().ravel()
    return codes, vals.astype(np.float64)


def test_floor_scale_2_pow_minus_127_divides_by_2_pow_minus_127():
    """torchao's FLOOR path clamps the float scale to 2**-126 before dividing,
    so elements of a block whose E8M0 scale is 2**-127 come out halved.
    fxsim divides by the scale it stores."""
    x = np.zeros(32, dtype=np.float32)
    x[:3] = np.float32(1.5 * 2.0 ** -119), np.float32(-2.0 ** -121), np.float32(2.0 ** -125)
    q = mx.quantize(x, "e4m3", block=32)
    check(q, x, "float8_e4m3fn", 32, -1, "floor")
    assert q.scales.bits[0] == 0                                    # 2**-127
    assert list(q.elements.to_float()[:3]) == [384.0, -64.0, 4.0]   # x / 2**-127
    assert np.array_equal(q.dequantize(), x.astype(np.float64))     # exact round trip
    # the defect's arithmetic: dividing by 2**-126 instead gives other elements
    assert float(x[0]) / 2.0 ** -126 == 192.0
    peer = _torchao_to_mx(x, "e4m3", 32, "floor")
    if peer is not None:
        _report("torchao FLOOR, scale 2**-127 block: scale code, first elements",
                (int(peer[0][0]), list(peer[1][:3])))


def test_rceil_uses_the_exact_quotient_not_a_float32_log2():
    """torchao's CPU RCEIL is ceil(float32 log2(float32 A / 6)): for A just
    above 6 * 2**10, log2 of 1024 * (1 + 2**-23) rounds to 10 in float32 and
    the scale is 2**10 (the top element then saturates to 6).  The exact rule:
    A / 6 > 2**10, so X = 2**11."""
    a = np.nextafter(np.float32(6144.0), np.float32(np.inf))
    x = np.zeros(32, dtype=np.float32)
    x[0], x[1] = a, np.float32(-3.0)
    descale = np.float32(a) / np.float32(6.0)
    assert descale > 1024 and np.ceil(np.log2(descale)) == 10     # the defect shows here
    q = mx.quantize(x, "e2m1", block=32, scale_rule="rceil")
    check(q, x, "float4_e2m1fn", 32, -1, "rceil")
    assert q.scales.bits[0] == 127 + 11
    assert q.elements.to_float()[0] == 3.0                         # 6144.0005 / 2048, to nearest
    peer = _torchao_to_mx(x, "e2m1", 32, "rceil")
    if peer is not None:
        _report("torchao RCEIL, A = nextafter(6144): scale code, first element",
                (int(peer[0][0]), float(peer[1][0])))


def test_rceil_subnormal_quotient_is_not_rounded_onto_2_pow_minus_127():
    """A = 6 * 2**-127 + 2**-148 (a float32): the float32 quotient A / 6 is
    subnormal and rounds to exactly 2**-127, so a float32 recipe gives
    2**-127; the exact quotient is above it, so the least power of two >= it
    is 2**-126."""
    a = np.float32(6 * 2.0 ** -127 + 2.0 ** -148)
    assert float(a) == 6 * 2.0 ** -127 + 2.0 ** -148
    assert np.float32(a) / np.float32(6) == np.float32(2.0 ** -127)
    x = np.zeros(32, dtype=np.float32)
    x[0] = a
    q = mx.quantize(x, "e2m1", block=32, scale_rule="rceil")
    check(q, x, "float4_e2m1fn", 32, -1, "rceil")
    assert q.scales.bits[0] == 1
    peer = _torchao_to_mx(x, "e2m1", 32, "rceil")
    if peer is not None:
        _report("torchao RCEIL, A = 6*2**-127 + 2**-148: scale code", int(peer[0][0]))


def _float32_threshold_blocks():
    """Blocks of 32 float32 values whose maxima sit on and one float32 ulp
    beside every threshold of every rule (normal range, away from the
    clamps), with a smaller negative companion each."""
    sigs = {1.0, 1.5, 1.75, 1.875, 1.9375, 1.96875, 1.984375, 1.9921875}
    mags = sorted({float(np.float32(np.ldexp(sg * (1 + d * 2.0 ** -23), k)))
                   for sg in sigs for d in (-1, 0, 1) for k in (-90, -3, 0, 1, 2, 7, 8, 9, 60)})
    x = np.zeros((len(mags), 32), np.float32)
    x[:, 0] = mags
    x[:, 1] = -np.float32(mags) * np.float32(0.625)
    return x.reshape(-1)


def test_rceil_scale_2_pow_minus_127_divides_by_2_pow_minus_127():
    """torchao's RCEIL takes the reciprocal of a 2**-127 scale (code 0) as 1.0
    (Transformer Engine's convention for a zero exponent), so such a block's
    elements are not scaled up at all.  fxsim divides by 2**-127."""
    x = np.zeros(32, np.float32)
    x[:2] = np.float32(2.0 ** -126), np.float32(-2.0 ** -128)
    q = mx.quantize(x, "e2m1", block=32, scale_rule="rceil")
    check(q, x, "float4_e2m1fn", 32, -1, "rceil")
    assert q.scales.bits[0] == 0 and list(q.elements.to_float()[:2]) == [2.0, -0.5]
    assert np.array_equal(q.dequantize(), x.astype(np.float64))
    peer = _torchao_to_mx(x, "e2m1", 32, "rceil")
    if peer is not None:
        _report("torchao RCEIL, scale 2**-127 block: scale code, first elements",
                (int(peer[0][0]), list(peer[1][:2])))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("data", ["random", "thresholds"])
def test_torchao_agreement_is_reported(rule, data):
    """Random float32 data and float32 threshold maxima (normal range): fxsim
    is asserted against the reference; how often torchao agrees is reported."""
    rng = np.random.default_rng(17)
    x = (rng.standard_normal(64 * 32) * np.exp2(rng.integers(-20, 20, 64 * 32))).astype(
        np.float32) if data == "random" else _float32_threshold_blocks()
    for elem, name in (("e4m3", "float8_e4m3fn"), ("e2m1", "float4_e2m1fn")):
        q = mx.quantize(x, elem, block=32, scale_rule=rule)
        check(mx.quantize(x[:256], elem, block=32, scale_rule=rule), x[:256], name, 32, -1, rule)
        if data == "thresholds":
            blocks = x.reshape(-1, 32)
            check(mx.quantize(blocks[:, :2], elem, block=2, scale_rule=rule), blocks[:, :2], name,
                  2, -1, rule)
        peer = _torchao_to_mx(x, elem, 32, rule)
        if peer is not None:
            same_scales = int(np.sum(peer[0] == q.scales.bits))
            same_elems = int(np.sum(peer[1] == q.elements.to_float()))
            _report(f"torchao {rule} {elem} {data}: equal scales / elements",
                    f"{same_scales}/{q.scales.size}, {same_elems}/{x.size}")
