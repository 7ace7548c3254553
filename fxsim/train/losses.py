"""Losses: ``forward(logits, labels) -> float`` (the batch mean) and
``backward() -> dlogits`` (float64, the gradient of that mean).

* :class:`SoftmaxCrossEntropy` -- stable log-sum-exp, float64 numpy:
  ``m = max_j z_j``, ``lse = m + log(sum_j exp(z_j - m))``,
  ``loss = mean_i(lse_i - z_{i, y_i})``; gradient
  ``(softmax(z) - onehot(y)) / N`` with ``softmax = exp(z - lse)``.
* :class:`SquareHinge` -- BinaryNet's loss: targets ``t = 2*onehot(y) - 1``,
  ``loss = mean over all N*K elements of max(0, 1 - t*z)**2`` (the Theano
  code's ``T.mean(T.sqr(T.maximum(0., 1. - y * out)))``); gradient
  ``-2 t max(0, 1 - t z) / (N*K)``.

``labels``: integer class indices (N,).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SoftmaxCrossEntropy", "SquareHinge", "onehot"]


def onehot(labels, k):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-d integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got {labels.min()}..{labels.max()}")
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _logits(z, labels):
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) != len(labels):
        raise ValueError(f"logits must be (N, K) with N = {len(labels)} labels, got {z.shape}")
    return z


class SoftmaxCrossEntropy:
    """Softmax cross-entropy, mean over the batch (see the module doc)."""

    def forward(self, logits, labels):
        labels = np.asarray(labels)
        z = _logits(logits, labels)
        m = np.max(z, axis=1, keepdims=True)
        lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
        t = onehot(labels, z.shape[1])
        self.cache = (z, lse, t)
        return float(np.mean(lse[:, 0] - z[np.arange(len(z)), labels]))

    def backward(self):
        z, lse, t = self.cache
        return (np.exp(z - lse) - t) / len(z)


class SquareHinge:
    """BinaryNet's square hinge loss (see the module doc)."""

    def forward(self, logits, labels):
        labels = np.asarray(labels)
        z = _logits(logits, labels)
        t = 2.0 * onehot(labels, z.shape[1]) - 1.0
        margin = np.maximum(0.0, 1.0 - t * z)
        self.cache = (t, margin)
        return float(np.mean(margin * margin))

    def backward(self):
        t, margin = self.cache
        return -2.0 * t * margin / margin.size
