"""Optimizers of :mod:`fxsim.train`: the papers' update rules in float64,
with every formula's order of operations fixed (so a run is reproducible
bit for bit).

An optimizer holds ``model.named_parameters()`` (qualified name, layer,
key) and, per parameter, float64 state arrays in ``state[name]``.
:meth:`Optimizer.step` performs ONE update of every parameter that has a
gradient, in named order, with the step counter ``t`` (1 for the first
step) and learning rate ``lr`` (``optimizer.lr``; a schedule sets it)::

    g  = layer.grads[key]                                    (float64)
    g  = g + weight_decay * w          if weight_decay and the name is in `decay`
    d  = RULE(g, state, t, lr)         the step (subtracted), see each class
    w' = w - s * d                     s = lr_scale[name] (default 1: w' = w - d)
    w' = clip(w', lo, hi)              if the name is in `clip` (BinaryNet: [-1, 1])
    w' = Q(w')                         if `update_quantizer` is set and the name is in `quantize`
    layer.params[key] = w'

Every operation above is one IEEE float64 operation per element, left to
right as written (``np.clip`` and ``max`` are exact).  ``Q`` is a
:mod:`fxsim.train.quant` quantizer (e.g. ``FormatQuantizer("float32")``
for Banner et al.'s fp32 weight update, or a lower format); a stochastic
``Q`` draws from :func:`fxsim.train.quant.generator` ``(seed, name,
"update", t)``.

Selections (``clip``, ``decay``, ``quantize``): None (no parameter),
``"all"``, an iterable of qualified names, or a predicate ``f(name, layer,
key) -> bool``.  :func:`binary_weights` names the weights whose ``weight``
slot is a :class:`~fxsim.train.quant.SignQuantizer`;
:func:`glorot_lr_scales` gives BinaryNet's per-layer learning-rate scales.
"""
from __future__ import annotations

import numpy as np

from ..nn.quantizers import ap2
from .layers import Conv2d, GemmLayer, Linear
from .quant import SignQuantizer, as_values, generator

__all__ = ["Optimizer", "SGD", "Adam", "AdaMax", "ShiftAdaMax", "select", "binary_weights",
           "glorot_lr_scales"]


def select(spec):
    """A predicate ``f(name, layer, key)`` from a selection (see the module
    doc)."""
    if spec is None:
        return lambda name, layer, key: False
    if isinstance(spec, str):
        if spec == "all":
            return lambda name, layer, key: True
        raise ValueError(f"selection: a string must be 'all', got {spec!r} "
                         "(give a list for one name)")
    if callable(spec):
        return spec
    names = frozenset(spec)
    return lambda name, layer, key: name in names


def binary_weights(model):
    """Qualified names of the ``weight`` parameters whose layer quantizes the
    weight with a :class:`SignQuantizer` (binary weights: clip these)."""
    return [name for name, lay, key in model.named_parameters()
            if key == "weight" and isinstance(lay, GemmLayer)
            and isinstance(lay.slots.weight, SignQuantizer)]


def glorot_lr_scales(model, names=None):
    """BinaryNet's per-layer learning-rate scale, as in Courbariaux and
    Hubara's code (``W_LR_scale = 1 / H`` with ``H = sqrt(1.5 / (fan_in +
    fan_out))``, their "Glorot" H -- half the Glorot-uniform bound
    ``sqrt(6 / (fan_in + fan_out))``): a dict qualified name -> scale for the
    ``weight`` of every :class:`Linear` (fans ``in``, ``out``) and
    :class:`Conv2d` (fans ``C_in*kh*kw``, ``C_out*kh*kw``), restricted to
    ``names`` when given (e.g. :func:`binary_weights`).  Computed as
    ``1.0 / np.sqrt(1.5 / (fan_in + fan_out))`` in float64."""
    keep = None if names is None else frozenset(names)
    out = {}
    for name, lay, key in model.named_parameters():
        if key != "weight" or (keep is not None and name not in keep):
            continue
        w = lay.params[key]
        if isinstance(lay, Linear):
            fan_in, fan_out = w.shape
        elif isinstance(lay, Conv2d):
            o, c, kh, kw = w.shape
            fan_in, fan_out = c * kh * kw, o * kh * kw
        else:
            continue
        out[name] = float(1.0 / np.sqrt(1.5 / (fan_in + fan_out)))
    return out


class Optimizer:
    """Common part (see the module doc).  ``model``: a layer (its
    ``named_parameters()`` at construction are the optimized ones); ``lr``;
    ``weight_decay`` (L2 added to the gradient) on the names in ``decay``
    (default all); ``lr_scale``: dict name -> float; ``clip``: selection
    clipped to ``clip_range``; ``update_quantizer``: quantizer of the new
    master value, on the names in ``quantize`` (default all); ``seed``: of
    the update quantizer's streams.  ``t``: the number of steps taken."""

    def __init__(self, model, lr, *, weight_decay=0.0, decay="all", lr_scale=None, clip=None,
                 clip_range=(-1.0, 1.0), update_quantizer=None, quantize="all", seed=0):
        self.params = list(model.named_parameters())
        if not self.params:
            raise ValueError("optimizer: the model has no parameters")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.decay = select(decay)
        self.lr_scale = dict(lr_scale or {})
        unknown = set(self.lr_scale) - {n for n, _, _ in self.params}
        if unknown:
            raise ValueError(f"optimizer: lr_scale names unknown parameters {sorted(unknown)}")
        self.clip = select(clip)
        self.clip_range = (float(clip_range[0]), float(clip_range[1]))
        self.update_quantizer = update_quantizer
        self.quantize = select(quantize)
        self.seed = int(seed)
        self.t = 0
        self.state = {name: {} for name, _, _ in self.params}

    def rule(self, g, state, t, lr):
        """Abstract: each optimizer's step ``d`` for gradient ``g``."""
        raise NotImplementedError(f"{type(self).__name__} does not define rule(g, state, t, lr)")

    def zero_state(self, w):
        return np.zeros_like(w, dtype=np.float64)

    def step(self):
        """One update of every parameter with a gradient (see the module
        doc); increments ``t`` first."""
        self.t += 1
        t, lr = self.t, self.lr
        for name, lay, key in self.params:
            if key not in lay.grads:
                continue
            w = np.asarray(lay.params[key], dtype=np.float64)
            g = np.asarray(lay.grads[key], dtype=np.float64)
            if g.shape != w.shape:
                raise ValueError(f"optimizer: gradient of {name} has shape {g.shape}, "
                                 f"parameter {w.shape}")
            if self.weight_decay and self.decay(name, lay, key):
                g = g + self.weight_decay * w
            d = self.rule(g, self.state[name], t, lr)
            s = self.lr_scale.get(name)
            w = w - d if s is None else w - s * d
            if self.clip(name, lay, key):
                w = np.clip(w, *self.clip_range)
            q = self.update_quantizer
            if q is not None and self.quantize(name, lay, key):
                rng = generator(self.seed, name, "update", t) if q.stochastic else None
                w = as_values(q(w, rng=rng, training=True)).reshape(w.shape)
            lay.params[key] = np.array(w, dtype=np.float64)


class SGD(Optimizer):
    """SGD with momentum (PyTorch's form, no dampening, no Nesterov)::

        momentum == 0:  d = lr * g
        otherwise:      buf = momentum * buf + g      (buf starts at 0)
                        d = lr * buf
    """

    def __init__(self, model, lr, *, momentum=0.0, nesterov=False, **kw):
        if nesterov:
            raise ValueError("SGD: Nesterov momentum is not implemented (nesterov=False)")
        super().__init__(model, lr, **kw)
        self.momentum = float(momentum)

    def rule(self, g, state, t, lr):
        if self.momentum == 0.0:
            return lr * g
        buf = state.get("momentum")
        if buf is None:
            buf = self.zero_state(g)
        buf = self.momentum * buf + g
        state["momentum"] = buf
        return lr * buf


class Adam(Optimizer):
    """Adam (Kingma and Ba, Algorithm 1)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * (g * g)
        mhat = m / (1 - beta1**t)
        vhat = v / (1 - beta2**t)
        d = lr * mhat / (sqrt(vhat) + eps)     ((lr * mhat) / (sqrt(vhat) + eps))

    ``beta1**t`` is Python's float power; ``(1 - beta1)`` is computed once
    as a float64.  m, v start at 0."""

    def __init__(self, model, lr=1e-3, *, beta1=0.9, beta2=0.999, eps=1e-8, **kw):
        super().__init__(model, lr, **kw)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def rule(self, g, state, t, lr):
        b1, b2 = self.beta1, self.beta2
        m = state.get("m", self.zero_state(g))
        v = state.get("v", self.zero_state(g))
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * (g * g)
        state["m"], state["v"] = m, v
        mhat = m / (1.0 - b1 ** t)
        vhat = v / (1.0 - b2 ** t)
        return lr * mhat / (np.sqrt(vhat) + self.eps)


class AdaMax(Optimizer):
    """AdaMax (Kingma and Ba, Algorithm 2; ``eps`` as Lasagne, which
    BinaryNet's code uses)::

        m = beta1 * m + (1 - beta1) * g
        u = maximum(beta2 * u, |g|)
        a = lr / (1 - beta1**t)                (a Python float)
        d = a * m / (u + eps)                  ((a * m) / (u + eps))
    """

    def __init__(self, model, lr=2e-3, *, beta1=0.9, beta2=0.999, eps=1e-8, **kw):
        super().__init__(model, lr, **kw)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def moments(self, g, state):
        m = state.get("m", self.zero_state(g))
        u = state.get("u", self.zero_state(g))
        m = self.beta1 * m + (1.0 - self.beta1) * g
        u = np.maximum(self.beta2 * u, np.abs(g))
        state["m"], state["u"] = m, u
        return m, u

    def rule(self, g, state, t, lr):
        m, u = self.moments(g, state)
        a = lr / (1.0 - self.beta1 ** t)
        return a * m / (u + self.eps)


class ShiftAdaMax(AdaMax):
    """Hubara et al.'s shift-based AdaMax: AdaMax with both step-size
    multiplications replaced by multiplications with powers of two
    (:func:`fxsim.nn.ap2`, exact shifts).  Defaults ``lr = alpha = 2**-10``,
    ``1 - beta1 = 2**-3``, ``1 - beta2 = 2**-10`` (the paper's)::

        m = beta1 * m + (1 - beta1) * g        (beta1 = 0.875: exact constants)
        u = maximum(beta2 * u, |g|)
        a = AP2(lr / (1 - beta1**t))           (the bias-corrected step size)
        d = (a * m) * AP2(1 / (u + eps))

    The paper writes the update ``theta - (alpha >> (1 - beta1)) * m >>
    v**-1``; reading ``>>`` as multiplication by an AP2 value, the bias
    correction ``1 - beta1**t`` (the paper names ``beta**t``) is the one of
    AdaMax.  Where ``u == 0`` (``g`` was always 0) ``m == 0`` and ``d == 0``.
    """

    def __init__(self, model, lr=2.0 ** -10, *, beta1=1.0 - 2.0 ** -3, beta2=1.0 - 2.0 ** -10,
                 eps=1e-8, **kw):
        super().__init__(model, lr, beta1=beta1, beta2=beta2, eps=eps, **kw)

    def rule(self, g, state, t, lr):
        m, u = self.moments(g, state)
        a = float(ap2(lr / (1.0 - self.beta1 ** t)))
        return (a * m) * ap2(1.0 / (u + self.eps))
