"""Activations with their (straight-through) gradients, float64.

==================  ================================  ===========================
layer               forward                           backward
==================  ================================  ===========================
:class:`ReLU`       ``max(x, 0)``                     ``dy`` where ``x > 0``
:class:`HardTanh`   ``clip(x, -1, 1)``                ``dy`` where ``|x| <= 1``
:class:`Sign`       ``sign(x)`` (+1 at 0)             Hubara's STE: ``dy`` where
                                                      ``|x| <= 1``
:class:`McDonnellSign` ``sign(x)``                    ``dy`` unchanged (unscaled,
                                                      unmasked)
:class:`QuantReLU`  DoReFa ``quantize_k(clip(x,0,1))``  ``dy`` where ``0 <= x <= 1``
==================  ================================  ===========================

Sign and the STE are :func:`fxsim.nn.sign` / :func:`fxsim.nn.ste_grad`;
the k-bit grid is :func:`fxsim.nn.dorefa_activations` (codes rounded once
by the core; ``rounding`` any mode, stochastic from the layer's stream
``(seed, name, "activation", step)``).  Elementwise comparisons and
selections only: exact.
"""
from __future__ import annotations

import numpy as np

from ..modes import Rounding
from ..nn import quantizers as nnq
from .base import Layer

__all__ = ["ReLU", "HardTanh", "Sign", "McDonnellSign", "QuantReLU"]


class _Elementwise(Layer):
    def forward(self, x, *, training):
        self.x = np.asarray(x, dtype=np.float64)
        return self.f(self.x, training)

    def backward(self, dy):
        return self.df(self.x, np.asarray(dy, dtype=np.float64))


class ReLU(_Elementwise):
    """``max(x, 0)``; gradient ``dy`` where ``x > 0`` (0 at x = 0)."""

    def f(self, x, training):
        return np.maximum(x, 0.0)

    def df(self, x, dy):
        return np.where(x > 0, dy, 0.0)


class HardTanh(_Elementwise):
    """``clip(x, -1, 1)``; gradient ``dy`` where ``|x| <= 1``."""

    def f(self, x, training):
        return np.clip(x, -1.0, 1.0)

    def df(self, x, dy):
        return np.where(np.abs(x) <= 1.0, dy, 0.0)


class Sign(_Elementwise):
    """Hubara et al.'s binary activation: ``sign(x)`` (+1 for x >= 0);
    straight-through estimator ``dy`` where ``|x| <= 1`` (both ends
    included), else 0."""

    def f(self, x, training):
        return np.asarray(nnq.sign(x), dtype=np.float64)

    def df(self, x, dy):
        return np.asarray(nnq.ste_grad(x, dy), dtype=np.float64)


class McDonnellSign(_Elementwise):
    """McDonnell's sign: ``sign(x)``; the gradient passes unscaled and
    unmasked (``dx = dy``)."""

    def f(self, x, training):
        return np.asarray(nnq.sign(x), dtype=np.float64)

    def df(self, x, dy):
        return dy.copy()


class QuantReLU(_Elementwise):
    """DoReFa's k-bit activation ``quantize_k(clip(x, 0, 1))`` (values
    ``q / (2**k - 1)``); gradient straight through the rounding and through
    the clip's slope: ``dy`` where ``0 <= x <= 1``, else 0."""

    def __init__(self, bits, rounding="nearest_even", random_bits=32, name=None):
        super().__init__(name)
        self.bits = int(bits)
        self.rounding = Rounding(rounding).value
        self.random_bits = int(random_bits)

    def f(self, x, training):
        stochastic = Rounding(self.rounding).is_stochastic
        rng = self.rng("activation") if stochastic else None
        return np.asarray(nnq.dorefa_activations(x, self.bits, self.rounding, rng=rng,
                                                 random_bits=self.random_bits), dtype=np.float64)

    def df(self, x, dy):
        return np.where((x >= 0.0) & (x <= 1.0), dy, 0.0)
