"""fxsim.train quantization slots and stated GEMMs: a quantized Linear
step's three GEMMs against reference/linalg on the operands' codes, the
convolution GEMMs against the float model, and the random streams
(same seed -> same bits; another step, slot or layer -> other draws)."""
import numpy as np
import pytest

import fxsim
import reference as ref
from fxsim import train
from fxsim.train import gemm as tgemm
from fxsim.train.quant import FormatQuantizer, MinMaxQuantizer, SignQuantizer, Slots
from oracle import ref_format


def _ref_matmul(a, b, spec):
    """reference.matmul on the codes of two QArrays, decoded to float64."""
    kw = {k: (None if v is None else ref_format(fxsim.format(v))) for k, v in
          (("acc", spec.acc), ("mul", spec.mul), ("out", spec.out))}
    codes = ref.matmul(np.asarray(a.bits).astype(object).tolist(), ref_format(a.fmt),
                       np.asarray(b.bits).astype(object).tolist(), ref_format(b.fmt),
                       order=spec.order, rounding=spec.rounding, **kw)
    fmt = fxsim.format(spec.out if spec.out is not None else spec.acc)
    return fxsim.decode(np.array(codes, dtype=np.uint64), fmt)


@pytest.mark.parametrize("spec", [tgemm.GemmSpec("bfloat16"), tgemm.GemmSpec("float16", order=3),
                                  tgemm.GemmSpec("float32", order="pairwise")],
                         ids=["bf16-seq", "f16-block3", "f32-pairwise"])
def test_quantized_linear_gemms_equal_reference(spec):
    rng = np.random.default_rng(0)
    slots = Slots(input=FormatQuantizer("float8_e4m3fn"), weight=FormatQuantizer("float8_e4m3fn"),
                  grad_dx=FormatQuantizer("float8_e5m2"), grad_dw=FormatQuantizer("bfloat16"))
    lay = train.Linear(7, 3, bias=False, rng=1, slots=slots, gemm=spec, name="fc")
    x = rng.normal(size=(4, 7))
    y = lay.forward(x, training=True)
    xq, wq = lay.cache["xq"], lay.cache["wq"]
    assert xq.fmt == wq.fmt == fxsim.format("float8_e4m3fn")
    assert np.array_equal(xq.bits, fxsim.encode(x, "float8_e4m3fn"))
    assert np.array_equal(y, _ref_matmul(xq, wq, spec))
    dy = rng.normal(size=y.shape) * 0.1
    dx = lay.backward(dy)
    dyx, dyw = fxsim.asarray(dy, "float8_e5m2"), fxsim.asarray(dy, "bfloat16")
    assert np.array_equal(dx, _ref_matmul(dyx, wq.T, spec))
    assert np.array_equal(lay.grads["weight"], _ref_matmul(xq.T, dyw, spec))


def test_bifurcated_dy_and_weight_grad_slot():
    """grad_dx and grad_dw quantize dy differently; weight_grad rounds dW."""
    rng = np.random.default_rng(2)
    slots = Slots(grad_dx=FormatQuantizer("s8.4"), grad_dw=None,
                  weight_grad=FormatQuantizer("bfloat16"))
    # acc=None: each sum exact, rounded once into float64 (float64 x float64
    # operands with acc="float64" trip fxsim.matmul's engine choice: see the report)
    lay = train.Linear(3, 2, bias=False, slots=slots, gemm=tgemm.GemmSpec(None, out="float64"))
    x = rng.normal(size=(5, 3))
    lay.forward(x, training=True)
    dy = rng.normal(size=(5, 2))
    dx = lay.backward(dy)
    w = lay.params["weight"]
    np.testing.assert_allclose(dx, fxsim.quantize(dy, "s8.4") @ w.T, rtol=1e-14)
    dw64 = fxsim.matmul(x.T, dy, out="float64").to_float()   # the dW GEMM, then the slot
    assert np.array_equal(lay.grads["weight"], fxsim.quantize(dw64, "bfloat16"))
    assert np.array_equal(lay.grads["weight"], fxsim.quantize(lay.grads["weight"], "bfloat16"))


def test_gemm_modes():
    x = np.random.default_rng(3).normal(size=(3, 4))
    q = Slots(input=FormatQuantizer("float8_e4m3fn"))
    auto = train.Linear(4, 2, bias=False, slots=q)
    fake = train.Linear(4, 2, bias=False, slots=q, gemm=None)
    mixed = train.Linear(4, 2, bias=False, slots=q, gemm={"forward": tgemm.GemmSpec("bfloat16")})
    ya, yf, ym = (l.forward(x, training=True) for l in (auto, fake, mixed))
    xq = fxsim.quantize(x, "float8_e4m3fn")
    w = auto.params["weight"]
    assert np.array_equal(ya, fxsim.matmul(fxsim.asarray(xq, "float8_e4m3fn"), w,
                                           acc="float32").to_float())
    np.testing.assert_allclose(yf, xq @ w, rtol=1e-15)
    assert np.array_equal(ym, fxsim.quantize(ym, "bfloat16"))
    with pytest.raises(ValueError):
        train.Linear(2, 2, gemm={"backward": None})


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), (2, 1)])
def test_quantized_conv_gemms_match_float_model(stride, padding):
    """With a float64 accumulator the products (exact) and sums of the
    quantized conv's three GEMMs agree with the float model on the
    quantized values to float64 rounding; bits are the quantized operands'."""
    rng = np.random.default_rng(4)
    slots = Slots(input=FormatQuantizer("float8_e4m3fn"), weight=FormatQuantizer("s6.4"),
                  grad_dx=FormatQuantizer("float8_e5m2"), grad_dw=FormatQuantizer("float8_e5m2"))
    q = train.Conv2d(2, 3, 3, stride=stride, padding=padding, rng=5, slots=slots,
                     gemm=tgemm.GemmSpec("float64"))
    f = train.Conv2d(2, 3, 3, stride=stride, padding=padding, rng=5)
    f.params["weight"] = fxsim.quantize(q.params["weight"], "s6.4")
    x = rng.normal(size=(2, 2, 5, 5))
    yq, yf = q.forward(x, training=True), f.forward(fxsim.quantize(x, "float8_e4m3fn"),
                                                    training=True)
    np.testing.assert_allclose(yq, yf, rtol=1e-12, atol=1e-12)
    dy = rng.normal(size=yq.shape)
    dxq = q.backward(dy)
    dxf = f.backward(fxsim.quantize(dy, "float8_e5m2"))
    np.testing.assert_allclose(dxq, dxf, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(q.grads["weight"], f.grads["weight"], rtol=1e-12, atol=1e-12)


def test_conv_forward_bits_equal_fxsim_conv2d():
    rng = np.random.default_rng(6)
    slots = Slots(input=FormatQuantizer("int8"), weight=FormatQuantizer("int8"))
    spec = tgemm.GemmSpec("s16.0", overflow="saturate")
    lay = train.Conv2d(2, 2, 3, padding=1, init="uniform1", rng=7, slots=slots, gemm=spec)
    lay.params["weight"] *= 100
    x = rng.integers(-128, 128, (1, 2, 4, 4)).astype(np.float64)
    y = lay.forward(x, training=True)
    w8 = np.round(lay.params["weight"]).astype(np.int8)
    want = fxsim.conv2d(x.astype(np.int8), w8, padding=1, acc="s16.0", overflow="saturate")
    assert np.array_equal(y, want.to_float())


# ---------------------------------------------------------------- streams
def _stochastic_layer():
    slots = Slots(input=FormatQuantizer("float8_e4m3fn", "stochastic"),
                  grad_dx=FormatQuantizer("float8_e5m2", "stochastic"),
                  grad_dw=MinMaxQuantizer(4, rounding="stochastic"))
    net = train.Sequential(train.Linear(6, 5, rng=8, slots=slots), train.ReLU(),
                           train.Linear(5, 3, rng=9, slots=slots), name="net")
    net.set_seed(1234)
    return net


def _run(net, step):
    net.set_step(step)
    x = np.random.default_rng(10).normal(size=(4, 6))
    y = net.forward(x, training=True)
    dx = net.backward(np.random.default_rng(11).normal(size=y.shape))
    return [y, dx] + [lay.grads[k] for _, lay, k in net.named_parameters()]


def test_stochastic_slots_reproducible():
    a, b = _run(_stochastic_layer(), 0), _run(_stochastic_layer(), 0)
    for u, v in zip(a, b):
        assert np.array_equal(u.view(np.uint64), v.view(np.uint64))
    c = _run(_stochastic_layer(), 1)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])
    other = _stochastic_layer()
    other.set_seed(99)
    assert not np.array_equal(a[0], _run(other, 0)[0])


def test_stream_is_independent_of_call_order():
    g1 = train.generator(5, "net.0", "grad_dx", 3).integers(0, 2 ** 32, 8)
    train.generator(5, "net.0", "input", 3).integers(0, 2 ** 32, 100)
    g2 = train.generator(5, "net.0", "grad_dx", 3).integers(0, 2 ** 32, 8)
    assert np.array_equal(g1, g2)
    others = [train.generator(5, "net.1", "grad_dx", 3), train.generator(5, "net.0", "grad_dw", 3),
              train.generator(5, "net.0", "grad_dx", 4), train.generator(6, "net.0", "grad_dx", 3)]
    for g in others:
        assert not np.array_equal(g.integers(0, 2 ** 32, 8), g1)


def test_stochastic_quantizer_uses_its_stream():
    lay = train.Linear(4, 2, slots=Slots(input=FormatQuantizer("s4.2", "stochastic")), name="L")
    lay.set_seed(3)
    lay.set_step(7)
    x = np.random.default_rng(12).normal(size=(3, 4))
    lay.forward(x, training=True)
    want = fxsim.encode(x, "s4.2", "stochastic", rng=train.generator(3, "L", "input", 7))
    assert np.array_equal(lay.cache["xq"].bits, want)


# ---------------------------------------------------------------- quantizers
def test_minmax_running_statistics_and_codes():
    q = MinMaxQuantizer(8, statistic="sample_mean", running=True, momentum=0.1)
    x = np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]])
    v = q(x, training=True)
    lo, hi = np.mean([0.0, -1.0]), np.mean([2.0, 3.0])
    assert np.isclose(q.running_min, 0.9 * lo) and np.isclose(q.running_max, 0.9 * hi)
    r = fxsim.nn.gemmlowp_quantize(x, 8, min_value=lo, max_value=hi)
    assert np.array_equal(v.values, r.value) and np.array_equal(v.codes.bits, r.code)
    assert np.array_equal(q.last.code, r.code) and v.delta == r.delta.item()
    inf = q(x, training=False)
    r2 = fxsim.nn.gemmlowp_quantize(x, 8, min_value=0.9 * lo, max_value=0.9 * hi)
    assert np.array_equal(inf.values, r2.value)


def test_sign_quantizer_weights():
    w = np.array([[-0.3, 0.0], [2.0, -1.5]])
    s = SignQuantizer()(w)
    assert s.fmt == fxsim.format("s2.0") and np.array_equal(s.to_float(), [[-1, 1], [1, -1]])
    m = SignQuantizer.mcdonnell(3, 16)
    assert np.array_equal(m(w).to_float(), fxsim.nn.scaled_sign(w, 3, 16))
    g = np.ones_like(w)
    assert np.array_equal(m.ste(w, g), g)
    assert np.array_equal(SignQuantizer(ste="hubara").ste(w, g), [[1, 1], [0, 0]])
    lay = train.Linear(2, 2, bias=False, slots=Slots(weight=SignQuantizer(ste="hubara")))
    lay.params["weight"] = w.copy()
    x = np.array([[1.0, 2.0]])
    assert np.array_equal(lay.forward(x, training=True), [[1.0, -1.0]])
    lay.backward(np.ones((1, 2)))
    assert np.array_equal(lay.grads["weight"], [[1, 1], [0, 0]])


def test_slots_are_copied_per_layer():
    shared = Slots(input=MinMaxQuantizer(8, running=True))
    a, b = train.Linear(2, 2, slots=shared), train.Linear(2, 2, slots=shared)
    a.forward(np.ones((2, 2)), training=True)
    assert a.slots.input.running_min is not None and b.slots.input.running_min is None
    assert shared.input.running_min is None


def test_minmax_affine_gemms_gemmlowp_decomposition():
    """Banner-style Linear: per-tensor min-max operands run as integer GEMMs
    on the codes (exact s32 accumulator) plus the affine terms; equal to the
    float64 product of the quantized values up to float64 rounding."""
    rng = np.random.default_rng(13)
    slots = Slots(input=MinMaxQuantizer(8, statistic="sample_mean", running=True),
                  weight=MinMaxQuantizer(8), grad_dx=MinMaxQuantizer(8, rounding="stochastic"),
                  grad_dw=FormatQuantizer("float32"))
    spec = {"forward": tgemm.GemmSpec("s32.0"), "dx": tgemm.GemmSpec("s32.0"),
            "dw": tgemm.GemmSpec("float64")}
    lay = train.Linear(6, 4, rng=14, slots=slots, gemm=spec, name="fc")
    x = rng.normal(size=(5, 6))
    y = lay.forward(x, training=True)
    xq, wq = lay.cache["xq"], lay.cache["wq"]
    assert isinstance(xq, train.quant.Affine) and xq.codes.fmt == fxsim.format("u8.0")
    r = fxsim.nn.gemmlowp_quantize(x, 8, min_value=x.min(1).mean(), max_value=x.max(1).mean())
    assert np.array_equal(xq.codes.bits, r.code) and np.array_equal(xq.values, r.value)
    np.testing.assert_allclose(y - lay.params["bias"], xq.values @ wq.values, rtol=1e-12,
                               atol=1e-12)
    dy = rng.normal(size=y.shape)
    dx = lay.backward(dy)
    dyq = fxsim.nn.gemmlowp_quantize(dy, 8, rounding="stochastic",
                                     rng=train.generator(0, "fc", "grad_dx", 0)).value
    np.testing.assert_allclose(dx, dyq @ wq.values.T, rtol=1e-12, atol=1e-12)
    dw = xq.values.T @ fxsim.quantize(dy, "float32")
    np.testing.assert_allclose(lay.grads["weight"], dw, rtol=1e-12, atol=1e-12)


def test_describe_states_slots_and_gemms():
    lay = train.Linear(2, 2, slots=Slots(input=FormatQuantizer("e4m3fn"),
                                         grad_dx=MinMaxQuantizer(8, rounding="stochastic")),
                       gemm={"forward": tgemm.GemmSpec("bfloat16", order=4)}, name="fc1")
    d = lay.describe()
    assert d["name"] == "fc1" and d["slots"]["weight"] is None
    assert "e4m3fn" in d["slots"]["input"] and "stochastic" in d["slots"]["grad_dx"]
    assert d["gemms"]["forward"] == {"acc": "bfloat16", "order": 4, "mul": None, "out": None,
                                     "rounding": "nearest_even", "overflow": None, "binary": False}
    assert d["gemms"]["dx"] == "auto"


def test_binary_gemms_by_xnor_popcount():
    """Sign inputs and weights with GemmSpec(binary=True): forward by
    XNOR-popcount, equal to the exact integer product; the gradient GEMMs
    (non-binary dy) take the spec's accumulator."""
    rng = np.random.default_rng(15)
    slots = Slots(input=SignQuantizer(), weight=SignQuantizer())
    spec = tgemm.GemmSpec("float32", binary=True)
    lin = train.Linear(70, 3, bias=False, rng=16, slots=slots, gemm=spec)
    x = rng.normal(size=(4, 70))
    y = lin.forward(x, training=True)
    assert np.array_equal(y, np.sign(x + (x == 0)) @ np.sign(lin.params["weight"]))
    dy = rng.normal(size=y.shape)
    dx = lin.backward(dy)
    sw = fxsim.asarray(np.sign(lin.params["weight"]), "s2.0")
    assert np.array_equal(dx, fxsim.matmul(dy, sw.T, acc="float32").to_float())
    conv = train.Conv2d(3, 2, 3, padding=1, rng=17, slots=slots, gemm=spec)
    xc = rng.normal(size=(2, 3, 5, 5))
    yc = conv.forward(xc, training=True)
    want = fxsim.conv2d(np.sign(xc).astype(np.int8), np.sign(conv.params["weight"]).astype(np.int8),
                        padding=1)
    assert np.array_equal(yc, want.to_float())
