"""fxsim.train optimizers, schedules and data: each update rule against
values derived by hand from its formula (scalar float arithmetic in the
rule's stated order, or exact dyadic literals), shift-AdaMax's AP2 step
sizes as literal powers of two, clipping, BinaryNet's learning-rate scale,
the update quantizer, the schedules' formulas, and the seeded data."""
import math
import sys
import types

import numpy as np
import pytest

import fxsim
from fxsim import train
from fxsim.train import data as tdata
from fxsim.train import optim, schedules
from fxsim.train.quant import FormatQuantizer, SignQuantizer, Slots


def _model(w, slots=None):
    """A one-layer model whose weight is ``w`` (1-d values as an (n, 1)
    Linear weight), no bias."""
    w = np.asarray(w, dtype=np.float64).reshape(-1, 1)
    lay = train.Linear(len(w), 1, bias=False, slots=slots)
    lay.params["weight"] = w.copy()
    return train.Sequential(lay), lay


def _run(opt, lay, grads):
    out = []
    for g in grads:
        lay.grads["weight"] = np.asarray(g, dtype=np.float64).reshape(-1, 1)
        opt.step()
        out.append(lay.params["weight"].ravel().copy())
    return out


def test_sgd_momentum_and_weight_decay_dyadic():
    m, lay = _model([1.0])
    out = _run(optim.SGD(m, 0.25, momentum=0.5), lay, [[0.5], [0.25], [-1.0]])
    # buf 0.5 -> w 0.875; buf 0.5*0.5+0.25 = 0.5 -> 0.75; buf 0.25-1 = -0.75 -> 0.9375
    assert [o[0] for o in out] == [0.875, 0.75, 0.9375]
    m, lay = _model([1.0])
    out = _run(optim.SGD(m, 0.5, weight_decay=0.5), lay, [[0.5], [0.0]])
    # g' = 0.5 + 0.5*1 = 1 -> w 0.5; g' = 0 + 0.25 -> w 0.375
    assert [o[0] for o in out] == [0.5, 0.375]


def test_adam_three_steps_match_formula():
    w0, grads = [0.3, -1.2], [[0.1, -2.0], [-0.3, 0.5], [0.7, 1e-3]]
    m_, lay = _model(w0)
    out = _run(optim.Adam(m_, 0.01, beta1=0.9, beta2=0.999, eps=1e-8), lay, grads)
    for i in range(2):
        w, m, v = w0[i], 0.0, 0.0
        for t, g in enumerate(grads, 1):
            g = g[i]
            m = 0.9 * m + (1.0 - 0.9) * g
            v = 0.999 * v + (1.0 - 0.999) * (g * g)
            mhat, vhat = m / (1.0 - 0.9 ** t), v / (1.0 - 0.999 ** t)
            w = w - 0.01 * mhat / (math.sqrt(vhat) + 1e-8)
            assert out[t - 1][i] == w
    # the first Adam step is lr * sign(g) up to eps
    assert abs(out[0][0] - (0.3 - 0.01)) < 1e-9


def test_adamax_three_steps_match_formula():
    w0, grads = [0.3, -1.2], [[0.1, -2.0], [-0.3, 0.5], [0.7, 0.0]]
    m_, lay = _model(w0)
    out = _run(optim.AdaMax(m_, 0.002), lay, grads)
    for i in range(2):
        w, m, u = w0[i], 0.0, 0.0
        for t, g in enumerate(grads, 1):
            g = g[i]
            m = 0.9 * m + (1.0 - 0.9) * g
            u = max(0.999 * u, abs(g))
            a = 0.002 / (1.0 - 0.9 ** t)
            w = w - a * m / (u + 1e-8)
            assert out[t - 1][i] == w


def test_shift_adamax_defaults_and_hand_derived_steps():
    m_, lay = _model([0.5, -0.25])
    opt = optim.ShiftAdaMax(m_)
    assert (opt.lr, 1 - opt.beta1, 1 - opt.beta2) == (2.0 ** -10, 2.0 ** -3, 2.0 ** -10)
    grads = [[0.3, -2.0], [0.1, 1.0], [-0.5, 0.25]]
    out = _run(opt, lay, grads)
    # AP2 step sizes a_t = AP2(2**-10 / (1 - 0.875**t)): 2**-10/0.125 = 2**-7 (t=1),
    # 2**-10/0.234375 = 2**-7.91 -> 2**-8 (t=2), 2**-10/0.330078 = 2**-8.37 -> 2**-8 (t=3).
    a = [2.0 ** -7, 2.0 ** -8, 2.0 ** -8]
    # AP2(1/u): element 0: u = 0.3, 0.2997, 0.5 -> 1/u = 3.33, 3.34, 2.0 -> 4, 4, 2;
    # element 1: u = 2, 1.998, 1.996 -> 1/u ~ 0.5 -> 0.5 each step.
    inv = [[4.0, 0.5], [4.0, 0.5], [2.0, 0.5]]
    for i, w in enumerate([0.5, -0.25]):
        m = 0.0
        for t, g in enumerate(grads):
            m = 0.875 * m + 0.125 * g[i]
            w = w - (a[t] * m) * inv[t][i]
            assert out[t][i] == w
    # element 1 is dyadic throughout: m = -0.25, -0.09375, -0.05078125
    assert out[0][1] == -0.25 + 2.0 ** -7 * 0.25 * 0.5
    assert out[1][1] == out[0][1] + 2.0 ** -8 * 0.09375 * 0.5


def test_shift_adamax_step_sizes_are_powers_of_two():
    m_, lay = _model([0.0])
    out = _run(optim.ShiftAdaMax(m_), lay, [[1.0]] * 5)
    # g = 1: u = 1, AP2(1/(1+eps)) = 1, m_t = 1 - 0.875**t; a_t = 2**-7, -8, -8, -9, -9
    steps = -np.diff(np.concatenate([[0.0], [o[0] for o in out]]))
    m = [1 - 0.875 ** t for t in range(1, 6)]
    expect = [2.0 ** -7 * m[0], 2.0 ** -8 * m[1], 2.0 ** -8 * m[2], 2.0 ** -9 * m[3],
              2.0 ** -9 * m[4]]
    assert np.allclose(steps, expect, rtol=1e-12, atol=0)


def test_clipping_binary_weights_only():
    slots = Slots(weight=SignQuantizer())
    lay = train.Linear(2, 2, slots=slots, name="fc")
    other = train.Linear(2, 2, name="out")
    model = train.Sequential(lay, other)
    names = optim.binary_weights(model)
    assert names == ["model.0.weight"]
    lay.params["weight"] = np.array([[0.75, -0.75], [0.25, 0.0]])
    other.params["weight"] = np.array([[0.75, -0.75], [0.25, 0.0]])
    for layer in (lay, other):
        layer.grads = {"weight": np.array([[-1.0, 1.0], [0.75, 0.0]]),
                       "bias": np.array([-4.0, 0.0])}
    optim.SGD(model, 0.5, clip=names).step()
    assert np.array_equal(lay.params["weight"], [[1.0, -1.0], [-0.125, 0.0]])
    assert np.array_equal(other.params["weight"], [[1.25, -1.25], [-0.125, 0.0]])
    assert np.array_equal(lay.params["bias"], [2.0, 0.0])  # biases not clipped


def test_glorot_lr_scale_applied_to_the_step():
    model = train.Sequential(train.Linear(6, 4, name="a"), train.Conv2d(3, 2, 3))
    model.items[1].params["weight"] = np.zeros((2, 3, 3, 3))
    scales = optim.glorot_lr_scales(model)
    assert scales == {"model.0.weight": 1 / math.sqrt(1.5 / 10),
                      "model.1.weight": 1 / math.sqrt(1.5 / (27 + 18))}
    lay = model.items[0]
    w0 = lay.params["weight"].copy()
    g = np.full((6, 4), 0.125)
    lay.grads["weight"] = g
    optim.SGD(model, 0.01, lr_scale=scales).step()
    assert np.array_equal(lay.params["weight"], w0 - scales["model.0.weight"] * (0.01 * g))
    with pytest.raises(ValueError, match="unknown"):
        optim.SGD(model, 0.01, lr_scale={"nope": 1.0})


def test_update_quantizer_rounds_the_new_master():
    m_, lay = _model([0.3, -1.2, 1 / 3])
    opt = optim.SGD(m_, 0.1, update_quantizer=FormatQuantizer("bfloat16"))
    g = np.array([0.01, 0.02, -0.7])
    _run(opt, lay, [g])
    raw = np.array([0.3, -1.2, 1 / 3]) - 0.1 * g
    assert np.array_equal(lay.params["weight"].ravel(),
                          fxsim.decode(fxsim.encode(raw, "bfloat16"), "bfloat16"))
    # stochastic: the stream is (seed, name, "update", t): two optimizers agree
    res = []
    for _ in range(2):
        m_, lay = _model([0.3, -1.2, 1 / 3])
        o = optim.SGD(m_, 0.1, update_quantizer=FormatQuantizer("e4m3fn", "stochastic"), seed=3)
        res.append(_run(o, lay, [g, g]))
    assert all(np.array_equal(a, b) for a, b in zip(*res))


def test_schedules_formulas():
    assert schedules.Constant(0.1)(7.5) == 0.1
    s = schedules.StepDecay(0.1, step=2, gamma=0.5)
    assert [s(e) for e in (0, 1.9, 2, 5)] == [0.1, 0.1, 0.05, 0.1 * 0.5 ** 2]
    c = schedules.CosineRestarts(0.1, T_0=2, T_mult=2, lr_min=0.001)
    f = lambda tc, ti: 0.001 + 0.5 * (0.1 - 0.001) * (1 + math.cos(math.pi * tc / ti))  # noqa
    assert c(0) == 0.1 and c(1) == f(1, 2) and c(2) == 0.1
    assert c(5) == f(3, 4) and c(6) == 0.1 and c(6.5) == f(0.5, 8)
    c1 = schedules.CosineRestarts(1.0, T_0=3)
    assert c1(4.5) == 0.0 + 0.5 * (1.0 - 0.0) * (1.0 + math.cos(math.pi * 1.5 / 3))
    with pytest.raises(ValueError):
        s(-1)


def test_blobs_and_batches_seeded():
    a, b = train.blobs(1, n_train=50, n_test=20), train.blobs(1, n_train=50, n_test=20)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (50, 64) and a.classes == 10
    assert train.blobs(2, n_train=50, n_test=20).x_train[0, 0] != a.x_train[0, 0]
    assert a.images((1, 8, 8)).x_test.shape == (20, 1, 8, 8)
    e0 = [yb for _, yb in train.batches(a.x_train, np.arange(50), 16, seed=0, epoch=0)]
    e1 = [yb for _, yb in train.batches(a.x_train, np.arange(50), 16, seed=0, epoch=1)]
    assert [len(v) for v in e0] == [16, 16, 16, 2]
    assert sorted(np.concatenate(e0)) == list(range(50))
    assert not np.array_equal(np.concatenate(e0), np.concatenate(e1))
    again = [yb for _, yb in train.batches(a.x_train, np.arange(50), 16, seed=0, epoch=0)]
    assert all(np.array_equal(u, v) for u, v in zip(e0, again))


def test_optional_datasets_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"fxsim\[train\]"):
        tdata.load_digits(0)
    with pytest.raises(ImportError, match=r"fxsim\[train\]"):
        tdata.mnist1d(0)


def test_load_digits_split_and_scale_with_a_stand_in(monkeypatch):
    x = np.arange(1797 * 64).reshape(1797, 64) % 17
    ds = types.ModuleType("sklearn.datasets")
    ds.load_digits = lambda: types.SimpleNamespace(data=x.astype(float),
                                                   target=np.arange(1797) % 10)
    pkg = types.ModuleType("sklearn")
    pkg.datasets = ds
    monkeypatch.setitem(sys.modules, "sklearn", pkg)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", ds)
    d = tdata.load_digits(5)
    perm = np.random.default_rng(5).permutation(1797)
    assert d.x_test.shape == (360, 64) and d.x_train.shape == (1437, 64)
    assert np.array_equal(d.x_test, x[perm[:360]] / 8.0 - 1.0)
    assert np.array_equal(d.y_train, perm[360:] % 10)
    assert d.x_train.min() == -1.0 and d.x_train.max() == 1.0
    assert tdata.load_digits(5, flat=False, scale="unit").x_train.shape == (1437, 1, 8, 8)


def test_mnist1d_seed_and_scale_with_a_stand_in(monkeypatch):
    seen = {}

    def make_dataset(args):
        seen["seed"], seen["num_samples"] = args.seed, args.num_samples
        g = np.random.default_rng(args.seed)
        return {"x": g.normal(size=(8, 40)), "y": np.arange(8) % 10,
                "x_test": g.normal(size=(4, 40)), "y_test": np.arange(4)}

    md = types.ModuleType("mnist1d.data")
    md.get_dataset_args = lambda as_dict=False: types.SimpleNamespace(seed=42, num_samples=5000)
    md.make_dataset = make_dataset
    pkg = types.ModuleType("mnist1d")
    pkg.data = md
    monkeypatch.setitem(sys.modules, "mnist1d", pkg)
    monkeypatch.setitem(sys.modules, "mnist1d.data", md)
    d = tdata.mnist1d(9, num_samples=12)
    assert seen == {"seed": 9, "num_samples": 12}
    assert d.x_train.min() == -1.0 and d.x_train.max() == 1.0
    raw = make_dataset(types.SimpleNamespace(seed=9, num_samples=12))
    lo, hi = raw["x"].min(), raw["x"].max()
    assert np.array_equal(d.x_test, (raw["x_test"] - lo) / (hi - lo) * 2.0 - 1.0)
    assert d.y_train.dtype == np.int64
