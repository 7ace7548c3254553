"""fxsim.train layers in float64: every backward against central finite
differences of its forward, and forwards/backwards against plain numpy
written here (loops, no fxsim)."""
import numpy as np
import pytest

import fxsim
from fxsim import train


def _num_grad(f, arr, h=1e-6):
    """Central differences of the scalar f() with respect to every element of
    ``arr`` (modified in place and restored)."""
    g = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + h
        up = f()
        arr[i] = old - h
        down = f()
        arr[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def _check(layer, x, rtol=1e-5, atol=1e-7, seed=0):
    """Backward of ``sum(g * forward(x))`` against finite differences, for x
    and every parameter."""
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x, training=True)
    g = np.random.default_rng(seed).normal(size=y.shape)
    dx = layer.backward(g)
    grads = {k: v.copy() for k, v in layer.grads.items()}

    def loss():
        return float(np.sum(g * layer.forward(x, training=True)))

    np.testing.assert_allclose(dx, _num_grad(loss, x), rtol=rtol, atol=atol)
    for key, p in layer.params.items():
        np.testing.assert_allclose(grads[key], _num_grad(loss, p), rtol=rtol, atol=atol,
                                   err_msg=key)
    return y, dx, grads


def _away_from_zero(shape, seed, gap=0.05):
    x = np.random.default_rng(seed).normal(size=shape)
    return np.where(np.abs(x) < gap, np.sign(x + 1e-300) * gap + x, x)


# ---------------------------------------------------------------- finite differences
def test_linear_fd():
    lay = train.Linear(5, 4, rng=1)
    lay.params["bias"][:] = [0.1, -0.2, 0.3, 0.0]
    _check(lay, np.random.default_rng(2).normal(size=(3, 5)))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_conv2d_fd(stride, padding):
    lay = train.Conv2d(2, 3, 3, stride=stride, padding=padding, bias=True, rng=3)
    lay.params["bias"][:] = [0.5, -0.5, 0.25]
    _check(lay, np.random.default_rng(4).normal(size=(2, 2, 5, 6)))


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_fd(shape, affine):
    lay = train.BatchNorm(shape[1], affine=affine)
    if affine:
        lay.params["gamma"][:] = np.linspace(0.5, 1.5, shape[1])
        lay.params["beta"][:] = np.linspace(-1, 1, shape[1])
    _check(lay, np.random.default_rng(5).normal(size=shape) * 2 + 1)
    assert set(lay.params) == ({"gamma", "beta"} if affine else set())


def test_batchnorm_inference_fd():
    lay = train.BatchNorm(3)
    x = np.random.default_rng(6).normal(size=(8, 3))
    lay.forward(x, training=True)
    y = lay.forward(x, training=False)
    g = np.random.default_rng(7).normal(size=y.shape)
    dx = lay.backward(g)
    np.testing.assert_allclose(
        dx, _num_grad(lambda: float(np.sum(g * lay.forward(x, training=False))), x), rtol=1e-6)


@pytest.mark.parametrize("layer", [train.ReLU(), train.HardTanh(), train.Flatten(),
                                   train.GlobalAvgPool(), train.AvgPool2d(2),
                                   train.AvgPool2d(3, stride=1), train.MaxPool2d(2),
                                   train.MaxPool2d(3, stride=2)],
                         ids=lambda l: type(l).__name__)
def test_parameterless_fd(layer):
    x = _away_from_zero((2, 2, 5, 5), 8) * 0.7
    if isinstance(layer, train.HardTanh):
        x = np.where(np.abs(np.abs(x) - 1) < 0.05, x * 0.8, x)
    _check(layer, x)


def test_residual_and_sequential_fd():
    body = train.Sequential(train.Linear(4, 4, rng=9), train.HardTanh(), train.Linear(4, 4, rng=10))
    net = train.Sequential(train.Residual(body), train.Linear(4, 2, rng=11), name="net")
    x = np.random.default_rng(12).normal(size=(3, 4)) * 0.3
    _check(net, x)
    names = [n for n, _, _ in net.named_parameters()]
    assert names == ["net.0.body.0.weight", "net.0.body.0.bias", "net.0.body.2.weight",
                     "net.0.body.2.bias", "net.1.weight", "net.1.bias"]


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_range_bn_fd(variant):
    lay = train.RangeBN(3, variant=variant, num_chunks=2)
    lay.params["gamma"][:] = [1.0, 0.5, 2.0]
    _check(lay, np.random.default_rng(13).normal(size=(8, 3)), rtol=1e-5)
    assert np.all(lay.buffers["running_inv_scale"] > 0)


def _ap2(v):
    """Plain numpy AP2 (no float64 sits on a geometric midpoint)."""
    return np.where(v == 0, 0.0, np.sign(v) * 2.0 ** np.round(np.log2(np.abs(v) + (v == 0))))


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 2, 2)])
def test_shift_bn_against_numpy(shape):
    x = np.random.default_rng(22).normal(size=shape) * 3 + 1
    lay = train.ShiftBN(3)
    lay.params["gamma"][:] = [0.7, -1.3, 3.0]
    lay.params["beta"][:] = [0.1, 0.2, -0.3]
    y = lay.forward(x, training=True)
    ax = (0,) if x.ndim == 2 else (0, 2, 3)
    keep = (1, 3) + (1,) * (x.ndim - 2)
    c = x - x.mean(axis=ax, keepdims=True)
    var = np.mean(c * _ap2(c), axis=ax, keepdims=True)
    s = _ap2(1 / np.sqrt(var + 1e-5))
    xhat = c * s
    g = _ap2(lay.params["gamma"]).reshape(keep)
    assert np.array_equal(y, g * xhat + lay.params["beta"].reshape(keep))
    assert np.array_equal(y, fxsim.nn.shift_bn(x, lay.params["gamma"], lay.params["beta"]))
    dy = np.random.default_rng(23).normal(size=shape)
    dxhat = dy * g
    want = s * (dxhat - dxhat.mean(axis=ax, keepdims=True)
                - xhat * np.mean(dxhat * xhat, axis=ax, keepdims=True))
    np.testing.assert_allclose(lay.backward(dy), want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(lay.grads["gamma"], np.sum(dy * xhat, axis=ax), rtol=1e-13)


def test_graham_bn_float64_is_batchnorm():
    x = np.random.default_rng(14).normal(size=(6, 3)) + 2
    gb, bn = train.GrahamBN(3, "float64"), train.BatchNorm(3)
    for lay in (gb, bn):
        lay.params["gamma"][:] = [1.0, -0.5, 2.0]
    np.testing.assert_allclose(gb.forward(x, training=True), bn.forward(x, training=True),
                               rtol=1e-13, atol=1e-13)
    g = np.random.default_rng(15).normal(size=x.shape)
    np.testing.assert_allclose(gb.backward(g), bn.backward(g), rtol=1e-12, atol=1e-13)
    _check(train.GrahamBN(3, "float64"), x)


def test_graham_bn_saturating_ste_zeroes_saturated():
    x = np.array([[0.0], [0.1], [0.2], [10.0]])          # z of the last one is about 1.73
    lay = train.GrahamBN(1, "s3.1", ste="saturate")      # s3.1 holds [-2, 1.5]
    lay.forward(x, training=True)
    z, zq = lay.cache.z[:, 0], lay.cache.z_q[:, 0]
    assert z[-1] > 1.5 and zq[-1] == 1.5 and np.all(np.abs(z[:-1]) <= 1.5)
    dy = np.array([[1.0], [2.0], [-1.0], [3.0]])
    dzm = np.where(np.abs(z) <= 1.5, dy[:, 0], 0.0)
    sigma = np.sqrt(x.var() + 1e-5)
    expected = (dzm - dzm.mean() - zq * np.mean(dzm * zq)) / sigma
    np.testing.assert_allclose(lay.backward(dy)[:, 0], expected, rtol=1e-12)
    assert np.isclose(lay.grads["gamma"][0], np.sum(dy[:, 0] * zq))


@pytest.mark.parametrize("loss", [train.SoftmaxCrossEntropy(), train.SquareHinge()],
                         ids=lambda l: type(l).__name__)
def test_losses_fd(loss):
    z = np.random.default_rng(16).normal(size=(4, 5)) * 2
    labels = np.array([0, 3, 4, 3])
    loss.forward(z, labels)
    dz = loss.backward()
    np.testing.assert_allclose(dz, _num_grad(lambda: loss.forward(z, labels), z), rtol=1e-6,
                               atol=1e-9)


# ---------------------------------------------------------------- plain numpy
def _conv_loops(x, w, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return y


def _conv_loops_backward(x, w, dy, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            sl = (slice(None), slice(None), slice(i * stride, i * stride + kh),
                  slice(j * stride, j * stride + kw))
            dxp[sl] += np.einsum("no,ockl->nckl", dy[:, :, i, j], w)
            dw += np.einsum("no,nckl->ockl", dy[:, :, i, j], xp[sl])
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0), (2, 1), (3, 2)])
def test_conv2d_against_loops(stride, pad):
    rng = np.random.default_rng(17)
    x = rng.normal(size=(2, 3, 7, 6))
    lay = train.Conv2d(3, 2, 3, stride=stride, padding=pad, rng=18)
    y = lay.forward(x, training=True)
    np.testing.assert_allclose(y, _conv_loops(x, lay.params["weight"], stride, pad), rtol=1e-12)
    dy = rng.normal(size=y.shape)
    dx = lay.backward(dy)
    ex, ew = _conv_loops_backward(x, lay.params["weight"], dy, stride, pad)
    np.testing.assert_allclose(dx, ex, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lay.grads["weight"], ew, rtol=1e-12)


def test_linear_and_bn_against_formulas():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(5, 4))
    lin = train.Linear(4, 3, rng=20)
    y = lin.forward(x, training=True)
    w = lin.params["weight"]
    assert np.allclose(y, [[sum(x[i, k] * w[k, j] for k in range(4)) for j in range(3)]
                           for i in range(5)])
    dy = rng.normal(size=y.shape)
    assert np.allclose(lin.backward(dy), dy @ w.T)
    assert np.allclose(lin.grads["weight"], x.T @ dy) and np.allclose(lin.grads["bias"], dy.sum(0))
    bn = train.BatchNorm(3, momentum=0.5)
    z = bn.forward(y, training=True)
    mu, sd = y.mean(0), y.std(0)
    assert np.allclose(z, (y - mu) / np.sqrt(sd ** 2 + 1e-5))
    assert np.allclose(bn.buffers["running_mean"], 0.5 * mu)
    assert np.allclose(bn.buffers["running_var"], 0.5 + 0.5 * y.var(0, ddof=1))


def test_batchnorm_cumulative_recompute():
    bn = train.BatchNorm(2, momentum=None)
    batches = [np.random.default_rng(s).normal(size=(4, 2)) * (s + 1) for s in range(3)]
    for b in batches:
        bn.forward(b, training=True)
    assert np.allclose(bn.buffers["running_mean"], np.mean([b.mean(0) for b in batches], axis=0))
    assert np.allclose(bn.buffers["running_var"],
                       np.mean([b.var(0, ddof=1) for b in batches], axis=0))


def test_pooling_against_loops():
    x = np.random.default_rng(21).normal(size=(2, 2, 4, 6))
    x[0, 0, 0, :2] = 5.0                      # a tie: the first max takes the gradient
    mp, ap = train.MaxPool2d(2), train.AvgPool2d(2)
    ym, ya = mp.forward(x, training=True), ap.forward(x, training=True)
    em, ea = np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 3))
    dxm = np.zeros_like(x)
    for n, c, i, j in np.ndindex(2, 2, 2, 3):
        win = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        em[n, c, i, j], ea[n, c, i, j] = win.max(), win.mean()
        a, b = divmod(int(np.argmax(win)), 2)
        dxm[n, c, 2 * i + a, 2 * j + b] = 1.0
    assert np.array_equal(ym, em) and np.allclose(ya, ea)
    assert np.array_equal(mp.backward(np.ones_like(ym)), dxm)
    assert np.allclose(ap.backward(np.ones_like(ya)), np.full(x.shape, 0.25))


def test_sign_activations_and_ste():
    x = np.array([-2.0, -1.0, -0.5, -0.0, 0.0, 0.3, 1.0, 1.5])
    dy = np.arange(1.0, 9.0)
    s, m = train.Sign(), train.McDonnellSign()
    expected = np.array([-1, -1, -1, 1, 1, 1, 1, 1.0])
    assert np.array_equal(s.forward(x, training=True), expected)
    assert np.array_equal(m.forward(x, training=True), expected)
    assert np.array_equal(s.backward(dy), np.where(np.abs(x) <= 1, dy, 0.0))
    assert np.array_equal(m.backward(dy), dy)


def test_quant_relu_dorefa():
    x = np.array([-0.5, 0.0, 0.2, 0.5, 0.9, 1.0, 1.7])
    q = train.QuantReLU(2)
    y = q.forward(x, training=True)
    assert np.allclose(y, np.round(np.clip(x, 0, 1) * 3) / 3)
    assert np.array_equal(q.backward(np.ones(7)), [0, 1, 1, 1, 1, 1, 0.0])


def test_losses_against_formulas():
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    labels = np.array([0, 2])
    ce = train.SoftmaxCrossEntropy()
    got = ce.forward(z, labels)                 # stable: no overflow at 1000
    assert np.isclose(got, (0.0 + (np.log(np.exp(1) + np.exp(2) + np.exp(3)) - 3)) / 2)
    sh = train.SquareHinge()
    t = np.array([[1, -1, -1], [-1, -1, 1.0]])
    assert np.isclose(sh.forward(z, labels), np.mean(np.maximum(0, 1 - t * z) ** 2))


def test_plain_sgd_steps_reduce_the_loss():
    """The protocol composes: a few SGD steps on a separable synthetic set."""
    rng = np.random.default_rng(24)
    x = rng.normal(size=(32, 6))
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    net = train.Sequential(train.Linear(6, 8, rng=25), train.BatchNorm(8), train.HardTanh(),
                           train.Linear(8, 2, rng=26))
    loss = train.SoftmaxCrossEntropy()
    first = None
    for step in range(20):
        net.set_step(step)
        value = loss.forward(net.forward(x, training=True), labels)
        first = value if first is None else first
        net.backward(loss.backward())
        for _, lay, key in net.named_parameters():
            lay.params[key] = lay.params[key] - 0.5 * lay.grads[key]
    assert value < 0.5 * first
