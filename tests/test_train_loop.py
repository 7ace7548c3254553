"""fxsim.train loop: a tiny synthetic run learns; same seed -> the same
weights_sha256 across two runs and on 1 vs 2 threads for a run whose
slots are quantized (so fxsim's kernels run); the history's shape."""
import io

import numpy as np
import pytest

from fxsim import train
from fxsim._kernels import jit
from fxsim.train import FormatQuantizer, Slots


def _mlp(quantized=False):
    slots = None
    if quantized:
        e4m3 = FormatQuantizer("float8_e4m3fn")
        slots = Slots(input=e4m3, weight=e4m3,
                      grad_dx=FormatQuantizer("float8_e5m2", "stochastic"),
                      grad_dw=FormatQuantizer("bfloat16", "stochastic"))
    return train.Sequential(train.Linear(64, 16, rng=1, slots=slots), train.BatchNorm(16),
                            train.ReLU(), train.Linear(16, 10, rng=2, slots=slots))


def _fit(model, data, epochs, opt=None, **kw):
    opt = opt or train.SGD(model, 0.05, momentum=0.9)
    return train.fit(model, train.SoftmaxCrossEntropy(), opt, data, epochs, 7,
                     stream=io.StringIO(), **kw)


def test_tiny_run_loss_decreases_and_history():
    data = train.blobs(0, n_train=96, n_test=40, spread=2.0)
    stream = io.StringIO()
    model = _mlp()
    hist = train.fit(model, train.SoftmaxCrossEntropy(), train.Adam(model, 0.01), data, 2, 0,
                     batch_size=32, stream=stream)
    assert len(hist["train_loss"]) == len(hist["test_accuracy"]) == 2
    assert hist["train_loss"][1] < hist["train_loss"][0]
    assert 0.0 <= hist["test_accuracy"][1] <= 1.0 and hist["steps"] == 6
    assert hist["weights_sha256"] == train.weights_sha256(model)
    assert stream.getvalue().count("epoch") == 2 and "loss" in stream.getvalue()
    assert stream.getvalue().splitlines()[0].startswith("epoch 1/2")


def test_schedule_sets_lr_per_step():
    data = train.blobs(0, n_train=40, n_test=10)
    model = _mlp()
    hist = _fit(model, data, 2, batch_size=20, schedule=train.StepDecay(0.1, 1, 0.5))
    assert hist["lr"] == [0.1, 0.05]


def test_same_seed_same_weights_and_another_seed_differs():
    data = train.blobs(3, n_train=48, n_test=16)
    h = [_fit(_mlp(True), data, 1, batch_size=16)["weights_sha256"] for _ in range(2)]
    assert h[0] == h[1]
    m = _mlp(True)
    other = train.fit(m, train.SoftmaxCrossEntropy(), train.SGD(m, 0.05, momentum=0.9), data, 1,
                      8, stream=io.StringIO(), batch_size=16)["weights_sha256"]
    assert other != h[0]


@pytest.mark.skipif(jit.pool_size() < 2, reason="needs a Numba pool of 2 threads")
def test_one_and_two_threads_same_weights():
    data = train.blobs(4, n_train=32, n_test=8)
    out = []
    for n in (1, 2):
        with jit.exact_threads(n):
            model = _mlp(True)
            out.append(_fit(model, data, 1, batch_size=16,
                            opt=train.ShiftAdaMax(model, clip=["model.0.weight"])))
            assert jit.last_threads() == n  # fxsim's parallel kernels ran on n threads
    assert out[0]["weights_sha256"] == out[1]["weights_sha256"]
    assert out[0]["train_loss"] == out[1]["train_loss"]


def test_evaluate_counts_argmax():
    model = train.Sequential(train.Linear(2, 2, bias=False))
    model.items[0].params["weight"] = np.eye(2)
    x, y = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]), np.array([0, 0, 0])
    r = train.evaluate(model, x, y, loss=train.SoftmaxCrossEntropy(), batch_size=2)
    assert r["accuracy"] == 2 / 3 and r["loss"] > 0
