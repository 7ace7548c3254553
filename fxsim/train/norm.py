"""Batch-normalization layers, float64 model arithmetic.

Statistics per channel over the batch (and spatial positions): axes (0,)
of (N, C) input, (0, 2, 3) of (N, C, H, W).  ``affine=False`` fixes
``gamma = 1``, ``beta = 0`` unlearned (McDonnell); otherwise they are
``params["gamma"]``/``params["beta"]`` (initialized to 1 and 0).

* :class:`BatchNorm` -- standard BN, written here (numpy, float64):
  ``mean = sum(x)/n`` (numpy's pairwise sum), ``var = mean((x - mean)**2)``
  (biased), ``xhat = (x - mean) / sqrt(var + eps)``, ``y = gamma*xhat + beta``.
  Running statistics (PyTorch's convention: ``momentum`` weights the NEW
  value, the running variance is the unbiased ``var * n / (n - 1)``):
  ``run = (1 - momentum) * run + momentum * batch``; ``momentum=None`` is
  the cumulative average over the batches seen since
  :meth:`BatchNorm.reset_running` -- after training, reset and run the
  training set through with ``training=True`` to recompute the statistics
  over it, as McDonnell does (no parameter changes without an optimizer).
  Backward: ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) /
  sqrt(var + eps)``, ``dxhat = dy * gamma``; in inference
  ``dx = dxhat / sqrt(running_var + eps)``.
* :class:`RangeBN` -- Banner et al.'s Range BN, a wrapper of
  :func:`fxsim.nn.range_bn` / :func:`fxsim.nn.range_bn_backward`
  (``variant="paper"`` or ``"code"``; running statistics in the authors'
  convention, ``momentum`` weighting the OLD value).
* :class:`ShiftBN` -- Hubara et al.'s shift-based BN, forward by
  :func:`fxsim.nn.shift_bn`; backward with shifts (see the class).
* :class:`GrahamBN` -- Graham's BN with the normalized activation ``z``
  quantized into ``fmt`` between normalize and scale/shift, a wrapper of
  :func:`fxsim.nn.graham_bn` / :func:`fxsim.nn.graham_bn_backward`.
"""
from __future__ import annotations

import numpy as np

from .. import formats as formats_mod
from ..modes import Rounding
from ..nn import norm as nn_norm
from ..nn.quantizers import ap2
from .base import Layer

__all__ = ["BatchNorm", "RangeBN", "ShiftBN", "GrahamBN"]


def _axes(x):
    if x.ndim == 2:
        return (0,)
    if x.ndim == 4:
        return (0, 2, 3)
    raise ValueError(f"batch norm: x must be (N, C) or (N, C, H, W), got shape {x.shape}")


def _keep(x, v):
    return np.reshape(v, (1, -1) + (1,) * (x.ndim - 2))


class _NormLayer(Layer):
    def __init__(self, channels, affine, name):
        super().__init__(name)
        self.channels = int(channels)
        self.affine = bool(affine)
        if self.affine:
            self.params["gamma"] = np.ones(self.channels)
            self.params["beta"] = np.zeros(self.channels)

    def gamma_beta(self):
        if self.affine:
            return self.params["gamma"], self.params["beta"]
        return np.ones(self.channels), np.zeros(self.channels)

    def store_grads(self, dgamma, dbeta):
        if self.affine:
            self.grads["gamma"] = np.asarray(dgamma, dtype=np.float64).reshape(self.channels)
            self.grads["beta"] = np.asarray(dbeta, dtype=np.float64).reshape(self.channels)


class BatchNorm(_NormLayer):
    """Standard batch norm (see the module doc).  ``buffers``:
    ``running_mean`` (0), ``running_var`` (1), ``num_batches`` (0)."""

    def __init__(self, channels, *, eps=1e-5, momentum=0.1, affine=True, name=None):
        super().__init__(channels, affine, name)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.reset_running()

    def reset_running(self):
        self.buffers = {"running_mean": np.zeros(self.channels),
                        "running_var": np.ones(self.channels), "num_batches": 0}

    def _update(self, mean, var, n):
        b = self.buffers
        unbiased = var * (n / (n - 1)) if n > 1 else var
        b["num_batches"] += 1
        m = 1.0 / b["num_batches"] if self.momentum is None else self.momentum
        b["running_mean"] = (1.0 - m) * b["running_mean"] + m * mean
        b["running_var"] = (1.0 - m) * b["running_var"] + m * unbiased

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        ax = _axes(x)
        gamma, beta = self.gamma_beta()
        if training:
            n = x.size // x.shape[1]
            mean = np.mean(x, axis=ax)
            c = x - _keep(x, mean)
            var = np.mean(c * c, axis=ax)
            self._update(mean, var, n)
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
            c = x - _keep(x, mean)
        sigma = np.sqrt(var + self.eps)
        xhat = c / _keep(x, sigma)
        self.cache = {"xhat": xhat, "sigma": sigma, "training": training, "axes": ax}
        return _keep(x, gamma) * xhat + _keep(x, beta)

    def backward(self, dy):
        c = self.cache
        dy = np.asarray(dy, dtype=np.float64)
        xhat, ax = c["xhat"], c["axes"]
        gamma, _ = self.gamma_beta()
        self.store_grads(np.sum(dy * xhat, axis=ax), np.sum(dy, axis=ax))
        dxhat = dy * _keep(dy, gamma)
        if c["training"]:
            dxhat = (dxhat - np.mean(dxhat, axis=ax, keepdims=True)
                     - xhat * np.mean(dxhat * xhat, axis=ax, keepdims=True))
        return dxhat / _keep(dy, c["sigma"])


class RangeBN(_NormLayer):
    """Range BN (:func:`fxsim.nn.range_bn`): ``variant`` ``"paper"``
    (``C(n) = 1/sqrt(2 ln n)``, range over the channel) or ``"code"`` (the
    authors': ``num_chunks`` chunks, mean chunk range, the code's
    constant); ``eps`` added to the scale; ``buffers`` ``running_mean`` and
    ``running_inv_scale`` (start at 0, ``run = momentum * run + (1 -
    momentum) * new``).  Backward: :func:`fxsim.nn.range_bn_backward` (the
    range's subgradient goes to the first max/min)."""

    def __init__(self, channels, *, variant="paper", eps=1e-5, num_chunks=16, momentum=0.1,
                 affine=True, name=None):
        super().__init__(channels, affine, name)
        self.variant, self.eps = variant, float(eps)
        self.num_chunks, self.momentum = int(num_chunks), float(momentum)
        self.buffers = {"running_mean": np.zeros(self.channels),
                        "running_inv_scale": np.zeros(self.channels)}

    def forward(self, x, *, training):
        gamma, beta = self.gamma_beta()
        y, cache = nn_norm.range_bn(
            x, gamma, beta, variant=self.variant, eps=self.eps, num_chunks=self.num_chunks,
            running_mean=self.buffers["running_mean"],
            running_inv_scale=self.buffers["running_inv_scale"], momentum=self.momentum,
            training=training)
        if training:
            self.buffers = {"running_mean": np.array(cache.running_mean, dtype=np.float64),
                            "running_inv_scale": np.array(cache.running_inv_scale,
                                                          dtype=np.float64)}
        self.cache = cache
        return y

    def backward(self, dy):
        dx, dgamma, dbeta = nn_norm.range_bn_backward(dy, self.cache)
        self.store_grads(dgamma, dbeta)
        return dx


class ShiftBN(_NormLayer):
    """Shift-based BN (Hubara et al.), forward :func:`fxsim.nn.shift_bn`:
    ``C = x - mean``, ``var = mean(C * AP2(C))``, ``xhat = C * AP2(1 /
    sqrt(var + eps))``, ``y = AP2(gamma) * xhat + beta``.  ``xhat`` is
    ``shift_bn(x, 1, 0)`` (AP2(1) = 1 and ``+ 0`` are exact), so
    ``y = AP2(gamma) * xhat + beta`` is the same value; the per-channel shift
    ``s = AP2(1 / sqrt(var + eps))`` is read back exactly as ``xhat / C`` at
    the channel's largest ``|C|`` (a power of two; 0 for a constant channel).

    Backward -- the BN gradient with every multiplication by ``gamma`` or by
    the inverse deviation replaced by a shift by its AP2 value, the
    dependence of ``s`` and ``AP2`` on ``x`` treated as constant:
    ``dxhat = dy * AP2(gamma)``, ``dx = s * (dxhat - mean(dxhat) - xhat *
    mean(dxhat * xhat))``; ``dgamma = sum(dy * xhat)`` (straight through
    AP2), ``dbeta = sum(dy)``.  (A stated choice of this golden model: check
    it against the paper's algorithm before relying on it.)  Running
    statistics are not kept: inference uses batch statistics."""

    def __init__(self, channels, *, eps=1e-5, affine=True, name=None):
        super().__init__(channels, affine, name)
        self.eps = float(eps)

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        ax = _axes(x)
        gamma, beta = self.gamma_beta()
        xhat = nn_norm.shift_bn(x, 1.0, 0.0, eps=self.eps)
        c = x - np.mean(x, axis=ax, keepdims=True)
        flat_c = np.moveaxis(c, 1, -1).reshape(-1, self.channels)
        flat_h = np.moveaxis(xhat, 1, -1).reshape(-1, self.channels)
        k = np.argmax(np.abs(flat_c), axis=0)
        top_c, top_h = flat_c[k, np.arange(self.channels)], flat_h[k, np.arange(self.channels)]
        shift = np.where(top_c != 0, top_h / np.where(top_c != 0, top_c, 1.0), 0.0)
        self.cache = {"xhat": xhat, "shift": shift, "axes": ax}
        return _keep(x, ap2(gamma)) * xhat + _keep(x, beta)

    def backward(self, dy):
        c = self.cache
        dy = np.asarray(dy, dtype=np.float64)
        xhat, ax = c["xhat"], c["axes"]
        gamma, _ = self.gamma_beta()
        self.store_grads(np.sum(dy * xhat, axis=ax), np.sum(dy, axis=ax))
        dxhat = dy * _keep(dy, ap2(gamma))
        dxhat = (dxhat - np.mean(dxhat, axis=ax, keepdims=True)
                 - xhat * np.mean(dxhat * xhat, axis=ax, keepdims=True))
        return dxhat * _keep(dy, c["shift"])


class GrahamBN(_NormLayer):
    """Graham's BN (:func:`fxsim.nn.graham_bn`): ``z = (x - mean) /
    sqrt(var + eps)`` rounded once into ``fmt`` (``rounding``, ``overflow``;
    stochastic modes draw from the stream ``(seed, name, "z", step)``), then
    ``y = gamma * z_q + beta``.  Running statistics as :class:`BatchNorm`
    (PyTorch convention, unbiased running variance) normalize in inference.

    Backward: :func:`fxsim.nn.graham_bn_backward` (uses only the stored
    ``z_q``).  ``ste="identity"``: straight through the rounding
    everywhere; ``ste="saturate"``: the gradient with respect to ``z`` is 0
    where ``z`` lay outside ``[fmt.min, fmt.max]`` (the format saturated)."""

    def __init__(self, channels, fmt, *, rounding="nearest_even", overflow=None, eps=1e-5,
                 momentum=0.1, affine=True, ste="identity", random_bits=32, name=None):
        super().__init__(channels, affine, name)
        if ste not in ("identity", "saturate"):
            raise ValueError(f"GrahamBN: ste must be 'identity' or 'saturate', got {ste!r}")
        self.fmt = formats_mod.format(fmt)
        self.rounding, self.overflow = Rounding(rounding).value, overflow
        self.eps, self.momentum, self.ste_rule = float(eps), float(momentum), ste
        self.random_bits = int(random_bits)
        self.buffers = {"running_mean": np.zeros(self.channels),
                        "running_var": np.ones(self.channels)}

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        gamma, beta = self.gamma_beta()
        rng = self.rng("z") if Rounding(self.rounding).is_stochastic else None
        stats = {} if training else {"mean": self.buffers["running_mean"],
                                     "var": self.buffers["running_var"]}
        y, cache = nn_norm.graham_bn(x, self.fmt, gamma, beta, eps=self.eps,
                                     rounding=self.rounding, overflow=self.overflow, rng=rng,
                                     random_bits=self.random_bits, **stats)
        if training:
            n = x.size // x.shape[1]
            var = np.reshape(cache.var, self.channels)
            unbiased = var * (n / (n - 1)) if n > 1 else var
            m = self.momentum
            self.buffers = {
                "running_mean": (1 - m) * self.buffers["running_mean"]
                + m * np.reshape(cache.mean, self.channels),
                "running_var": (1 - m) * self.buffers["running_var"] + m * unbiased}
        self.cache = cache
        return y

    def backward(self, dy):
        dy = np.asarray(dy, dtype=np.float64)
        dx, dgamma, dbeta = nn_norm.graham_bn_backward(dy, self.cache)
        if self.ste_rule == "saturate":
            z = self.cache.z
            inside = (z >= self.fmt.min) & (z <= self.fmt.max)
            dx, _, _ = nn_norm.graham_bn_backward(np.where(inside, dy, 0.0), self.cache)
        self.store_grads(dgamma, dbeta)
        return dx
