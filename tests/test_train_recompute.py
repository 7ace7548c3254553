"""BN statistics recomputation over the training set (fxsim.train.recompute).

Oracles: an independent numpy pipeline that runs the same small networks
layer by layer, computing each normalization's mean and population
variance with numpy and normalizing by hand; and exact rational arithmetic
(fractions) for the stated estimator itself.
"""
import copy
from fractions import Fraction

import numpy as np
import pytest

from fxsim.train import (BatchNorm, Conv2d, FormatQuantizer, GemmSpec, GlobalAvgPool, GrahamBN,
                         Linear, RangeBN, ReLU, Residual, Sequential, Slots)
from fxsim.train.data import Dataset
from fxsim.train.loop import weights_sha256
from fxsim.train.recompute import after_training, channel_statistics, recompute_bn


def _randomize(model, rng):
    """Random gamma/beta and stale running statistics (so recomputation must change them)."""
    for lay in model.layers():
        if "gamma" in lay.params:
            lay.params["gamma"] = rng.uniform(0.5, 1.5, lay.params["gamma"].shape)
            lay.params["beta"] = rng.normal(size=lay.params["beta"].shape)
        if "running_mean" in lay.buffers and "running_var" in lay.buffers:
            lay.buffers["running_mean"] = rng.normal(size=lay.channels)
            lay.buffers["running_var"] = rng.uniform(0.5, 2.0, lay.channels)


def _bn(x, mean, var, gamma, beta, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape)
            + beta.reshape(shape))


def _np_stats(x):
    ax = (0,) if x.ndim == 2 else (0, 2, 3)
    return x.mean(axis=ax), x.var(axis=ax)


def _conv_net(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential(
        Conv2d(2, 3, 3, padding=1, rng=1), BatchNorm(3), ReLU(),
        Residual(Sequential(BatchNorm(3, affine=False), Conv2d(3, 3, 3, padding=1, rng=2))),
        GlobalAvgPool(), Linear(3, 4, rng=3), BatchNorm(4))
    _randomize(model, rng)
    x = rng.normal(size=(23, 2, 5, 5)) * 2.0 + 0.5
    return model, x


def test_conv_net_matches_an_independent_numpy_pipeline():
    model, x = _conv_net()
    conv1, bn1, _, res, _, lin, bn3 = model.items
    bn2, conv2 = res.body.items
    # the numpy pipeline: each normalization's statistics over the whole set, in order
    a1 = conv1.forward(x, training=False)
    m1, v1 = _np_stats(a1)
    r = np.maximum(_bn(a1, m1, v1, bn1.params["gamma"], bn1.params["beta"]), 0.0)
    m2, v2 = _np_stats(r)
    body = conv2.forward(_bn(r, m2, v2, np.ones(3), np.zeros(3)), training=False)
    g = np.sum(body + r, axis=(2, 3)) / 25
    a3 = lin.forward(g, training=False)
    m3, v3 = _np_stats(a3)
    expected_out = _bn(a3, m3, v3, bn3.params["gamma"], bn3.params["beta"])

    report = recompute_bn(model, x, batch_size=7)
    assert report == {"recomputed": [bn1.name, bn2.name, bn3.name], "unchanged": []}
    for lay, (m, v) in ((bn1, (m1, v1)), (bn2, (m2, v2)), (bn3, (m3, v3))):
        np.testing.assert_allclose(lay.buffers["running_mean"], m, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(lay.buffers["running_var"], v, rtol=1e-12)
        assert lay.buffers["num_batches"] == 1
    np.testing.assert_allclose(model.forward(x, training=False), expected_out, rtol=1e-10,
                               atol=1e-12)


def test_independent_of_batch_size_and_parameters_unchanged():
    # every GEMM through fxsim (stated order): the inputs of the normalizations, and so their
    # statistics, are bit-for-bit independent of the batching (float64 BLAS need not be)
    rng = np.random.default_rng(1)
    slots = Slots(input=FormatQuantizer("bfloat16"), weight=FormatQuantizer("bfloat16"))
    model = Sequential(
        Conv2d(2, 3, 3, padding=1, rng=1, slots=slots, gemm=GemmSpec()), BatchNorm(3), ReLU(),
        Residual(Sequential(BatchNorm(3, affine=False),
                            Conv2d(3, 3, 3, padding=1, rng=2, slots=slots, gemm=GemmSpec()))),
        GlobalAvgPool(), Linear(3, 4, rng=3, slots=slots, gemm=GemmSpec()), BatchNorm(4))
    _randomize(model, rng)
    x = rng.normal(size=(23, 2, 5, 5))
    before = weights_sha256(model)
    copies = [copy.deepcopy(model) for _ in range(3)]
    for m, bs in zip(copies, (1, 5, 1000)):
        recompute_bn(m, x, batch_size=bs)
    for m in copies[1:]:
        for a, b in zip(copies[0].layers(), m.layers()):
            for key in ("running_mean", "running_var"):
                if key in a.buffers:
                    assert np.array_equal(a.buffers[key], b.buffers[key])   # bit for bit
    assert weights_sha256(copies[0]) == before


def test_graham_bn_sees_the_quantized_statistics_of_earlier_layers():
    rng = np.random.default_rng(5)
    model = Sequential(Linear(6, 4, rng=1), GrahamBN(4, "s4.2"), ReLU(), Linear(4, 3, rng=2),
                       GrahamBN(3, "s4.2"))
    _randomize(model, rng)
    x = rng.normal(size=(40, 6))
    lin1, g1, _, lin2, g2 = model.items
    ref1, ref2 = copy.deepcopy(g1), copy.deepcopy(g2)
    a1 = lin1.forward(x, training=False)
    ref1.buffers["running_mean"], ref1.buffers["running_var"] = _np_stats(a1)
    a2 = lin2.forward(np.maximum(ref1.forward(a1, training=False), 0.0), training=False)
    m2, v2 = _np_stats(a2)
    recompute_bn(model, x, batch_size=9)
    np.testing.assert_allclose(g1.buffers["running_mean"], ref1.buffers["running_mean"],
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g1.buffers["running_var"], ref1.buffers["running_var"], rtol=1e-12)
    np.testing.assert_allclose(g2.buffers["running_mean"], m2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g2.buffers["running_var"], v2, rtol=1e-12)
    assert "num_batches" not in g2.buffers


def test_estimator_is_exactly_the_stated_one():
    """mean = round(sum)/n with the correctly rounded sum; var = round(sum of the float64
    squares of (x - mean))/n: checked with exact rationals."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3, 2, 2)) * np.array([1e-3, 1.0, 1e8]).reshape(1, 3, 1, 1) + 3.0
    mean, var = channel_statistics(x)
    for c in range(3):
        vals = [float(v) for v in x[:, c].ravel()]
        n = len(vals)
        m = float(sum(Fraction(v) for v in vals)) / n
        assert mean[c] == m
        squares = [(v - m) * (v - m) for v in vals]
        assert var[c] == float(sum(Fraction(s) for s in squares)) / n
    # population (divide-by-n) variance: numpy's var with ddof 0, to rounding
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-12)


def test_range_bn_is_reported_unchanged_and_after_training_uses_the_train_set():
    rng = np.random.default_rng(2)
    model = Sequential(Linear(5, 4, rng=1), RangeBN(4), ReLU(), Linear(4, 3, rng=2), BatchNorm(3))
    xtr, xte = rng.normal(size=(30, 5)), rng.normal(size=(10, 5)) + 100.0
    rbn = model.items[1]
    model.forward(xtr, training=True)          # give Range BN running statistics
    kept = {k: v.copy() for k, v in rbn.buffers.items()}
    data = Dataset(xtr, np.zeros(30, np.int64), xte, np.zeros(10, np.int64))
    report = after_training(model, data)
    assert report == {"recomputed": [model.items[4].name], "unchanged": [rbn.name]}
    for k, v in kept.items():
        assert np.array_equal(rbn.buffers[k], v)
    a = model.items[3].forward(np.maximum(rbn.forward(model.items[0].forward(xtr, training=False),
                                                      training=False), 0), training=False)
    np.testing.assert_allclose(model.items[4].buffers["running_mean"], a.mean(axis=0), rtol=1e-12,
                               atol=1e-14)


def test_bad_input():
    model, x = _conv_net()
    with pytest.raises(ValueError, match="batch_size"):
        recompute_bn(model, x, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        recompute_bn(model, x[:0])
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        channel_statistics(np.zeros((2, 3, 4)))
    shared = BatchNorm(3)
    twice = Sequential(shared, ReLU(), shared)
    with pytest.raises(ValueError, match="more than once"):
        recompute_bn(twice, np.ones((4, 3)))
