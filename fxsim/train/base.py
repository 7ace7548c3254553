"""The layer protocol of :mod:`fxsim.train` and the two containers.

A layer has

* ``forward(x, *, training)`` -> y (float64) and ``backward(dy)`` -> dx
  (float64), the backward of the LAST forward (a layer keeps what its
  backward needs from that call);
* ``params``: dict name -> float64 array, the master copy (quantized copies
  are made from it in every forward); ``grads``: dict of the same names,
  filled by ``backward``; ``buffers``: non-learned state (running
  statistics);
* ``name``: its place in the model (set by the containers: ``"model.0"``,
  ``"model.2.body.1"``); with ``seed`` and ``step`` it keys the random
  stream of every stochastic slot (:func:`fxsim.train.quant.generator`).
  :meth:`Layer.set_step` and :meth:`Layer.set_seed` reach every sublayer.

Optimizers iterate :meth:`Layer.named_parameters` (``(qualified name,
layer, key)``) and update ``layer.params[key]`` in place or by assignment.
"""
from __future__ import annotations

from .quant import generator

__all__ = ["Layer", "Sequential", "Residual"]


class Layer:
    """Base class: no parameters, identity; subclasses override
    :meth:`forward` and :meth:`backward`."""

    def __init__(self, name=None):
        self.name = name
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.seed = 0
        self.step = 0

    # -- the protocol
    def forward(self, x, *, training):
        """Abstract: every layer defines its own forward pass."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward(x, *, training)")

    def backward(self, dy):
        """Abstract: every layer defines its own backward pass."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward(dy)")

    def __call__(self, x, *, training):
        return self.forward(x, training=training)

    # -- structure
    def children(self):
        """Direct sublayers (containers override)."""
        return []

    def set_name(self, name):
        self.name = name
        for key, child in self.named_children():
            child.set_name(f"{name}.{key}")

    def named_children(self):
        return [(str(i), c) for i, c in enumerate(self.children())]

    def layers(self):
        """This layer and every sublayer, depth first."""
        yield self
        for c in self.children():
            yield from c.layers()

    def named_parameters(self):
        """``(f"{layer.name}.{key}", layer, key)`` for every parameter."""
        return [(f"{lay.name}.{k}", lay, k) for lay in self.layers() for k in lay.params]

    def set_seed(self, seed):
        for lay in self.layers():
            lay.seed = int(seed)

    def set_step(self, step):
        for lay in self.layers():
            lay.step = int(step)

    def rng(self, slot):
        """The stream of ``slot`` in the current step of this layer."""
        return generator(self.seed, self.name if self.name is not None else "", slot, self.step)

    def zero_grads(self):
        for lay in self.layers():
            lay.grads = {}


class Sequential(Layer):
    """Layers applied in order; backward in reverse.  Names its children
    ``f"{name}.{i}"`` (default name ``"model"``)."""

    def __init__(self, *layers, name="model"):
        super().__init__(name)
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.items = list(layers)
        self.set_name(name)

    def children(self):
        return self.items

    def forward(self, x, *, training):
        for lay in self.items:
            x = lay.forward(x, training=training)
        return x

    def backward(self, dy):
        for lay in reversed(self.items):
            dy = lay.backward(dy)
        return dy


class Residual(Layer):
    """``y = body(x) + shortcut(x)`` (identity shortcut when None); the sum
    is float64.  ``dx = body.backward(dy) + shortcut.backward(dy)``, float64.
    Children are named ``body`` and ``shortcut``."""

    def __init__(self, body, shortcut=None, name=None):
        super().__init__(name)
        self.body = body
        self.shortcut = shortcut
        if name is not None:
            self.set_name(name)

    def named_children(self):
        out = [("body", self.body)]
        if self.shortcut is not None:
            out.append(("shortcut", self.shortcut))
        return out

    def children(self):
        return [c for _, c in self.named_children()]

    def forward(self, x, *, training):
        y = self.body.forward(x, training=training)
        s = x if self.shortcut is None else self.shortcut.forward(x, training=training)
        return y + s

    def backward(self, dy):
        dx = self.body.backward(dy)
        return dx + (dy if self.shortcut is None else self.shortcut.backward(dy))
