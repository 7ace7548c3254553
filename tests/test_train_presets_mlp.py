"""The MLP presets (fxsim.train.presets_mlp) in their quick setting: each
builds and trains with every layer, slot and GEMM kind running; the GEMMs
run with the stated operand formats (binary ones through XNOR-popcount);
the bfloat16 twin of a fixed-point operand changes no bit; a two-step run
gives the same weights on 1 and 2 threads and across runs; the digits
setting uses the fixed split."""
import io
import json

import numpy as np
import pytest

import fxsim
from fxsim import binary
from fxsim._kernels import jit
from fxsim.train import presets, presets_mlp as pm
from fxsim.train import fit, weights_sha256
from fxsim.train.quant import Affine

MLP = ["float-mlp", "bnn-mlp", "shift-bnn-mlp", "banner8-mlp"]


def _fit(run, epochs=None):
    return fit(run.model, run.loss, run.optimizer, run.data, run.epochs if epochs is None
               else epochs, run.seed, batch_size=run.batch_size, schedule=run.schedule,
               stream=io.StringIO())


@pytest.mark.parametrize("name", MLP)
def test_quick_preset_trains_every_layer(name):
    run = presets.build(name, 3, quick=True)
    assert run.name == name and run.seed == 3 and run.epochs == 2 and run.description
    json.dumps(run.config)  # JSON-able for result.json
    assert run.config["gemms"] and run.config["width"] == 16
    before = {n: lay.params[k].copy() for n, lay, k in run.model.named_parameters()}
    hist = _fit(run)
    assert hist["steps"] == 4 and len(hist["train_loss"]) == 2
    assert all(np.isfinite(hist["train_loss"]))
    for n, lay, k in run.model.named_parameters():
        assert k in lay.grads, n                      # every layer's backward ran
        assert not np.array_equal(lay.params[k], before[n]), n  # and every parameter moved
    assert presets.build(name, 3, quick=True, epochs=5).epochs == 5


def test_binary_presets_state_their_gemms(monkeypatch):
    """bnn-mlp: the hidden forward GEMMs multiply +-1 by +-1 through
    fxsim.binary.matmul (exact integers); the first layer multiplies the
    s5.3 input by s2.0 weights; weights are clipped to [-1, 1]."""
    calls = []
    real = binary.matmul

    def counting(a, b):
        calls.append((a.shape, b.shape))
        out = real(a, b)
        np.testing.assert_array_equal(out, np.asarray(a, np.int64) @ np.asarray(b, np.int64))
        return out
    monkeypatch.setattr(binary, "matmul", counting)
    run = presets.build("bnn-mlp", 0, quick=True)
    first, hidden, last = run.model.items[0], run.model.items[2], run.model.items[4]
    run.model.forward(run.data.x_train[:8], training=True)
    assert calls == [((8, 16), (16, 16)), ((8, 16), (16, 10))]
    xq = first.cache["xq"]  # the twin of the s5.3 input: the same values
    np.testing.assert_array_equal(xq.to_float(), run.data.x_train[:8])  # exact in s5.3
    assert first.slots.input.fmt.name == "s5.3" and first.gemms["forward"] == pm.FIRST_BINARY
    assert hidden.gemms["forward"].binary and last.gemms["dx"] == pm.BF16_F32
    _fit(run, 1)
    for lay in (first, hidden, last):
        assert np.abs(lay.params["weight"]).max() <= 1.0
    assert run.optimizer.lr_scale and all(v > 1 for v in run.optimizer.lr_scale.values())
    shift = presets.build("shift-bnn-mlp", 0, quick=True)
    for v in shift.optimizer.lr_scale.values():  # powers of two: shifts
        assert v == 2.0 ** np.round(np.log2(v))


def test_banner8_operands_are_gemmlowp_codes():
    run = presets.build("banner8-mlp", 0, quick=True)
    lay = run.model.items[0]
    run.model.forward(run.data.x_train[:8], training=True)
    assert isinstance(lay.cache["wq"], Affine) and lay.cache["wq"].codes.fmt.name == "u8.0"
    assert isinstance(lay.cache["xq"], Affine)
    assert lay.cache["xq"].codes.fmt.name == "bfloat16"  # the dW twin of the u8 codes
    assert lay.gemms["forward"] == pm.INT32 and lay.gemms["dw"] == pm.BF16_F32
    assert lay.slots.grad_dx.bits == 8 and lay.slots.grad_dw.fmt.name == "bfloat16"
    assert run.optimizer.update_quantizer.fmt.name == "float32"


@pytest.mark.parametrize("fmt", ["s2.0", "s5.3", "u8.0", "s4.2"])
def test_float_twin_is_exact_for_every_code(fmt):
    f = fxsim.formats.format(fmt)
    q = fxsim.from_bits(np.arange(1 << f.width), f)
    twin = pm.float_twin(q)
    assert twin.fmt.name == "bfloat16"
    np.testing.assert_array_equal(twin.to_float(), q.to_float())
    a = Affine(q, 0.5, -1.0, q.to_float() * 0.5 - 1.0)
    t = pm.float_twin(a)
    assert t.delta == 0.5 and t.min == -1.0 and t.codes.fmt.name == "bfloat16"


def test_float_twin_leaves_what_bfloat16_cannot_hold():
    q = fxsim.from_bits(np.array([0, 257, 65535]), "u16.0")  # 257 needs 9 significand bits
    assert pm.float_twin(q) is q
    f = fxsim.asarray(np.array([0.1]), "float32")
    assert pm.float_twin(f) is f
    plain = np.ones(3)
    assert pm.float_twin(plain) is plain


@pytest.mark.parametrize("name", ["bnn-mlp", "banner8-mlp"])
def test_twin_changes_no_bit(name):
    runs = [presets.build(name, 1, quick=True) for _ in range(2)]
    for lay in runs[1].model.layers():
        if isinstance(lay, pm.TwinLinear):
            lay.twin = ()
    out = [_fit(r, 1) for r in runs]
    assert out[0]["weights_sha256"] == out[1]["weights_sha256"]
    assert out[0]["train_loss"] == out[1]["train_loss"]


@pytest.mark.skipif(jit.pool_size() < 2, reason="needs a Numba pool of 2 threads")
@pytest.mark.parametrize("name", MLP)
def test_two_steps_same_bits_on_one_and_two_threads_and_across_runs(name):
    shas = []
    for n in (1, 2, 2):
        with jit.exact_threads(n):
            run = presets.build(name, 5, quick=True)
            hist = _fit(run, 1)
            assert hist["steps"] == 2
            assert jit.last_threads() == n  # fxsim's parallel kernels ran on n threads
        shas.append((hist["weights_sha256"], hist["train_loss"], weights_sha256(run.model)))
    assert shas[0] == shas[1] == shas[2]


def test_digits_setting_uses_the_fixed_split():
    pytest.importorskip("sklearn.datasets")
    a, b = presets.build("float-mlp", 0), presets.build("bnn-mlp", 1)
    np.testing.assert_array_equal(a.data.x_test, b.data.x_test)
    assert a.data.x_train.shape == (1437, 64) and a.config["width"] == 256
    assert a.model.items[0].params["weight"].shape == (64, 256)
    assert not np.array_equal(a.model.items[0].params["weight"],
                              presets.build("float-mlp", 1).model.items[0].params["weight"])
