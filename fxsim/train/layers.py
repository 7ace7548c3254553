"""Layers with weights: :class:`Linear` and :class:`Conv2d`, each with the
named quantization slots of :class:`fxsim.train.quant.Slots` and three
stated GEMMs (:mod:`fxsim.train.gemm`).

One training step of a layer, slot by slot (``Q_s`` = the quantizer in
slot ``s``, identity when None; every stochastic slot draws from its own
stream ``(seed, layer name, slot, step)``)::

    forward:   xq = Q_input(x)       wq = Q_weight(W)
               y  = GEMM_forward(xq, wq)  (+ b, float64)
    backward:  dx = GEMM_dx(Q_grad_dx(dy), wq^T)     then Q_input.ste
               dW = Q_weight_grad(GEMM_dw(xq^T, Q_grad_dw(dy)))  then Q_weight.ste
               db = sum of dy over the batch (and positions), float64 numpy

The forward copies ``xq``/``wq`` are the backward's operands (what a
datapath stores).  The master ``W`` stays float64 in ``params["weight"]``.
"""
from __future__ import annotations

import copy

import numpy as np

from . import gemm as gm
from .base import Layer
from .quant import Slots, as_values

__all__ = ["GemmLayer", "Linear", "Conv2d", "init_weight"]


def init_weight(shape, fan_in, fan_out, init, rng):
    """Initial float64 weights: ``"glorot_uniform"`` (U(-a, a),
    ``a = sqrt(6 / (fan_in + fan_out))``, as BinaryNet), ``"he_normal"``
    (N(0, 2 / fan_in)) or ``"uniform1"`` (U(-1, 1)), drawn by
    ``numpy.random.default_rng(rng)`` (a seed or a Generator)."""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if init == "glorot_uniform":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return g.uniform(-a, a, shape)
    if init == "he_normal":
        return g.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if init == "uniform1":
        return g.uniform(-1.0, 1.0, shape)
    raise ValueError(f"init must be 'glorot_uniform', 'he_normal' or 'uniform1', got {init!r}")


class GemmLayer(Layer):
    """Shared part of layers with weights: ``slots`` (deep-copied:
    quantizers with state are the layer's own), ``gemms`` (the resolved
    ``gemm=`` argument, keys ``forward``/``dx``/``dw``)."""

    def __init__(self, slots=None, gemm="auto", name=None):
        super().__init__(name)
        if slots is not None and not isinstance(slots, Slots):
            raise ValueError(f"slots must be a fxsim.train.Slots, got {slots!r}")
        self.slots = copy.deepcopy(slots) if slots is not None else Slots()
        self.gemms = gm.resolve(gemm)
        self.cache = {}

    def quantize(self, slot, x, training):
        """``x`` through the quantizer in ``slot``: a QArray, or ``x`` as
        float64 when the slot is None."""
        q = getattr(self.slots, slot)
        if q is None:
            return np.asarray(x, dtype=np.float64)
        return q(x, rng=self.rng(slot) if q.stochastic else None, training=training)

    def ste(self, slot, x, g):
        q = getattr(self.slots, slot)
        return g if q is None else q.ste(x, g)

    def describe(self) -> dict:
        """The layer's arithmetic, for a manifest: each slot's quantizer
        (``repr``, None for float64) and each GEMM's spec (a
        :meth:`GemmSpec.describe` dict, ``"auto"`` or None)."""
        gemms = {k: (v.describe() if isinstance(v, gm.GemmSpec) else v)
                 for k, v in self.gemms.items()}
        slots = {k: (None if getattr(self.slots, k) is None else repr(getattr(self.slots, k)))
                 for k in self.slots.names()}
        return {"layer": type(self).__name__, "name": self.name, "slots": slots, "gemms": gemms}

    def gradient_copies(self, dy):
        """The two quantized copies of the output gradient: for dX (slot
        ``grad_dx``) and for dW (slot ``grad_dw``; Banner's bifurcation)."""
        dy = np.asarray(dy, dtype=np.float64)
        return self.quantize("grad_dx", dy, True), self.quantize("grad_dw", dy, True)

    def weight_grad(self, dwq):
        return as_values(self.quantize("weight_grad", dwq, True))


class Linear(GemmLayer):
    """``y = x @ W + b`` with ``x`` (N, in), ``W`` (in, out) in
    ``params["weight"]``, ``b`` (out,) in ``params["bias"]`` (``bias=True``;
    added in float64).  ``init``/``rng``: see :func:`init_weight`.
    ``slots``: :class:`~fxsim.train.quant.Slots`; ``gemm``: see
    :mod:`fxsim.train.gemm`."""

    def __init__(self, in_features, out_features, *, bias=True, init="glorot_uniform", rng=0,
                 slots=None, gemm="auto", name=None):
        super().__init__(slots, gemm, name)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.params["weight"] = init_weight((self.in_features, self.out_features),
                                            self.in_features, self.out_features, init, rng)
        if bias:
            self.params["bias"] = np.zeros(self.out_features)

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Linear {self.name}: x must be (N, {self.in_features}), "
                             f"got {x.shape}")
        xq = self.quantize("input", x, training)
        wq = self.quantize("weight", self.params["weight"], training)
        y = gm.matmul(xq, wq, self.gemms["forward"])
        if "bias" in self.params:
            y = y + self.params["bias"]
        self.cache = {"x": x, "xq": xq, "wq": wq}
        return y

    def backward(self, dy):
        c = self.cache
        dy = np.asarray(dy, dtype=np.float64)
        dyx, dyw = self.gradient_copies(dy)
        dx = gm.matmul(dyx, c["wq"].T, self.gemms["dx"])
        dwq = gm.matmul(c["xq"].T, dyw, self.gemms["dw"])
        self.grads["weight"] = self.ste("weight", self.params["weight"], self.weight_grad(dwq))
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=0)
        return self.ste("input", c["x"], dx)


class Conv2d(GemmLayer):
    """2-d convolution (cross-correlation) of ``x`` (N, C, H, W) with
    ``W`` (O, C, kh, kw) in ``params["weight"]``, ``stride``, zero
    ``padding``; bias (O,) optional (``bias=False`` default; float64).

    GEMMs: forward :func:`fxsim.conv2d` (reduction over (c, kh, kw));
    dX one transposed convolution (reduction over (o, kh, kw), see
    :func:`fxsim.train.gemm.conv2d_dx`); dW one GEMM over (n, ho, wo)
    (:func:`fxsim.train.gemm.conv2d_dw`)."""

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, padding=0, bias=False,
                 init="he_normal", rng=0, slots=None, gemm="auto", name=None):
        super().__init__(slots, gemm, name)
        kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
        self.stride, self.padding = stride, padding
        shape = (int(out_channels), int(in_channels), int(kh), int(kw))
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.params["weight"] = init_weight(shape, fan_in, fan_out, init, rng)
        if bias:
            self.params["bias"] = np.zeros(int(out_channels))

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        xq = self.quantize("input", x, training)
        wq = self.quantize("weight", self.params["weight"], training)
        y = gm.conv2d(xq, wq, self.stride, self.padding, self.gemms["forward"])
        if "bias" in self.params:
            y = y + self.params["bias"].reshape(1, -1, 1, 1)
        self.cache = {"x": x, "xq": xq, "wq": wq}
        return y

    def backward(self, dy):
        c = self.cache
        dy = np.asarray(dy, dtype=np.float64)
        dyx, dyw = self.gradient_copies(dy)
        w = self.params["weight"]
        dx = gm.conv2d_dx(dyx, c["wq"], c["x"].shape, self.stride, self.padding,
                          self.gemms["dx"])
        dwq = gm.conv2d_dw(c["xq"], dyw, w.shape, self.stride, self.padding, self.gemms["dw"])
        self.grads["weight"] = self.ste("weight", w, self.weight_grad(dwq))
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))
        return self.ste("input", c["x"], dx)
