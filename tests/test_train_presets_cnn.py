"""The CNN presets (fxsim.train.presets_cnn): quick runs of every preset, the stated
arithmetic of their layers (checked against independent oracles: a pure-Python bfloat16
rounding and a numpy float32 sequential accumulation), the study options, bad options."""
import math

import numpy as np
import pytest

from fxsim.nn import mcdonnell_scale
from fxsim.train import BatchNorm, Conv2d, GrahamBN, Linear
from fxsim.train.layers import GemmLayer
from fxsim.train.loop import evaluate, fit, weights_sha256
from fxsim.train.presets import build
from fxsim.train import presets_cnn as pc
from fxsim.train.quant import FormatQuantizer

NAMES = ("mcdonnell-resnet", "graham-cnn", "float-cnn")


def bf16(v):
    """float64 -> nearest-even bfloat16 value (8 significant bits), pure Python; normal
    range only (what these tests need)."""
    v = float(v)
    if v == 0.0:
        return 0.0
    m, e = math.frexp(v)                      # v = m * 2**e, 0.5 <= |m| < 1
    return math.ldexp(round(math.ldexp(m, 8)), e - 8)   # round(): ties to even, exact input


def _train(run):
    hist = fit(run.model, run.loss, run.optimizer, run.data, run.epochs, run.seed,
               progress=False, batch_size=run.batch_size, schedule=run.schedule)
    if run.after_training is not None:
        run.after_training(run.model, run.data)
    return hist


@pytest.mark.parametrize("name", NAMES)
def test_quick_preset_trains_every_layer_reproducibly(name):
    run = build(name, 3, quick=True)
    assert run.name == name and run.seed == 3 and run.epochs == 1
    assert run.data.x_train.shape == (96, 1, 8, 8) and run.data.x_test.shape == (48, 1, 8, 8)
    hist = _train(run)
    assert len(hist["train_loss"]) == 1 and np.isfinite(hist["train_loss"][0])
    # every parameter received a gradient in the last step: every layer ran backward
    for qname, lay, key in run.model.named_parameters():
        assert key in lay.grads and lay.grads[key].shape == lay.params[key].shape, qname
    acc = evaluate(run.model, run.data.x_test, run.data.y_test)["accuracy"]
    assert 0.0 <= acc <= 1.0
    again = build(name, 3, quick=True)
    _train(again)
    assert weights_sha256(again.model) == weights_sha256(run.model)
    assert (run.after_training is not None) == (name == "mcdonnell-resnet")


def _gemm_layers(model):
    return [lay for lay in model.layers() if isinstance(lay, GemmLayer)]


@pytest.mark.parametrize("name", NAMES)
def test_every_gemm_is_stated_bfloat16_operands_float32_sequential(name):
    run = build(name, 0, quick=True)
    layers = _gemm_layers(run.model)
    assert layers
    for lay in layers:
        assert lay.gemms == {"forward": pc.GEMM, "dx": pc.GEMM, "dw": pc.GEMM}
        assert pc.GEMM.acc == "float32" and pc.GEMM.order == "sequential"
        for slot in ("input", "grad_dx", "grad_dw"):
            q = getattr(lay.slots, slot)
            assert isinstance(q, FormatQuantizer) and q.fmt.name == "bfloat16"
            assert q.rounding == "nearest_even"
        if name == "mcdonnell-resnet":
            assert isinstance(lay.slots.weight, pc.ScaledSign)
        else:
            assert lay.slots.weight.fmt.name == "bfloat16"


def test_mcdonnell_weights_are_one_bit_with_the_bfloat16_he_scale():
    for sign in ("scaled", "plain"):
        run = pc.mcdonnell_resnet(0, quick=True, sign=sign)
        convs = [lay for lay in run.model.layers() if isinstance(lay, Conv2d)]
        assert len(convs) == 6
        for lay in convs:
            o, c, k, _ = lay.params["weight"].shape
            scale = bf16(mcdonnell_scale(k, c)) if sign == "scaled" else 1.0
            q = lay.quantize("weight", lay.params["weight"], True).to_float()
            w = lay.params["weight"]
            assert np.array_equal(q, np.where(w >= 0, scale, -scale))
    # BN without learned gamma/beta: the only parameters are the convolution weights
    run = pc.mcdonnell_resnet(0, quick=True)
    assert {key for _, _, key in run.model.named_parameters()} == {"weight"}
    assert all(not lay.affine for lay in run.model.layers() if isinstance(lay, BatchNorm))


def test_stem_convolution_matches_numpy_float32_sequential_sum():
    run = build("graham-cnn", 1, quick=True)
    conv = run.model.items[0]
    x = run.data.x_train[:3]
    w = conv.params["weight"]
    xb = np.vectorize(bf16)(x).astype(np.float32)
    wb = np.vectorize(bf16)(w).astype(np.float32)
    y = conv.forward(x, training=False)
    n, _, h, wd = x.shape
    o = w.shape[0]
    padded = np.zeros((n, 1, h + 2, wd + 2), np.float32)
    padded[:, :, 1:-1, 1:-1] = xb
    expected = np.zeros((n, o, h, wd))
    for b in range(n):
        for oc in range(o):
            for i in range(h):
                for j in range(wd):
                    prods = [padded[b, 0, i + ki, j + kj] * wb[oc, 0, ki, kj]   # exact in f32
                             for ki in range(3) for kj in range(3)]
                    s = np.float32(prods[0])
                    for p in prods[1:]:
                        s = np.float32(s + p)
                    expected[b, oc, i, j] = s
    assert np.array_equal(y, expected)


def test_graham_and_float_cnn_share_shape_and_initial_weights():
    for quick in (True,):
        g = pc.graham_cnn(4, quick=quick)
        f = pc.float_cnn(4, quick=quick)
        gp, fp = g.model.named_parameters(), f.model.named_parameters()
        assert [n for n, _, _ in gp] == [n for n, _, _ in fp]
        for (_, la, ka), (_, lb, kb) in zip(gp, fp):
            assert np.array_equal(la.params[ka], lb.params[kb])
        gbn = [lay for lay in g.model.layers() if isinstance(lay, GrahamBN)]
        fbn = [lay for lay in f.model.layers() if isinstance(lay, BatchNorm)]
        assert len(gbn) == len(fbn) == 3
        assert all(lay.fmt == pc.z_format(4) for lay in gbn)
        assert sum(isinstance(lay, Linear) for lay in g.model.layers()) == 1


@pytest.mark.parametrize("bits, name, lo, hi", [(2, "s2.0", -2.0, 1.0), (4, "s4.2", -2.0, 1.75),
                                                (8, "s8.6", -2.0, 2.0 - 2.0 ** -6)])
def test_z_format(bits, name, lo, hi):
    fmt = pc.z_format(bits)
    assert (fmt.name, fmt.min, fmt.max) == (name, lo, hi)
    run = pc.graham_cnn(0, quick=True, bits=bits)
    assert all(lay.fmt == fmt for lay in run.model.layers() if isinstance(lay, GrahamBN))


def test_bad_options():
    with pytest.raises(ValueError, match="bits must be an integer >= 2"):
        pc.graham_cnn(0, quick=True, bits=1)
    with pytest.raises(ValueError, match="bits"):
        pc.z_format(True)
    with pytest.raises(ValueError, match="sign must be 'scaled' or 'plain'"):
        pc.mcdonnell_resnet(0, quick=True, sign="binary")
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        pc.float_cnn(0, quick=True, epochs=-1)
    with pytest.raises(ValueError, match="scale must be > 0"):
        pc.ScaledSign(0.0)


def test_default_presets_use_the_digits():
    pytest.importorskip("sklearn")
    for name, width in (("mcdonnell-resnet", 32), ("graham-cnn", 16), ("float-cnn", 16)):
        run = build(name, 0)
        assert run.epochs == 15 and run.batch_size == 64
        assert run.data.x_train.shape == (1437, 1, 8, 8) and run.data.x_test.shape == (360, 1, 8, 8)
        assert run.config["width"] == width and run.config["quick"] is False
        assert run.model.items[0].params["weight"].shape == (width, 1, 3, 3)
