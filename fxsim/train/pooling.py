"""Pooling and reshaping layers, float64 (no padding).

* :class:`MaxPool2d` -- window maximum; the gradient goes to ONE element
  per window, the first maximum in (ky, kx) row-major order (numpy
  ``argmax``); overlapping windows add their gradients (``numpy.add.at``,
  in window order).
* :class:`AvgPool2d` -- window mean: numpy's sum over the window's
  ``kh*kw`` values divided by ``kh*kw``; gradient ``dy / (kh*kw)`` to each
  element (added, as above, where windows overlap).
* :class:`GlobalAvgPool` -- mean over H and W: (N, C, H, W) -> (N, C).
* :class:`Flatten` -- (N, ...) -> (N, prod(...)), C order.
"""
from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ["MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten"]


class _Pool(Layer):
    def __init__(self, kernel_size, stride=None, name=None):
        super().__init__(name)
        self.k = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else tuple(kernel_size)
        s = self.k if stride is None else stride
        self.s = (s, s) if np.ndim(s) == 0 else tuple(s)

    def _windows(self, x):
        """(N, C, Ho, Wo, kh*kw) window values, and the input row/column of
        each (ho, wo, tap)."""
        n, c, h, w = x.shape
        (kh, kw), (sh, sw) = self.k, self.s
        ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{type(self).__name__}: a {kh}x{kw} window does not fit {h}x{w}")
        rows = (np.arange(ho)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None])
        cols = (np.arange(wo)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :])
        rows = np.broadcast_to(rows, (ho, wo, kh, kw)).reshape(ho, wo, kh * kw)
        cols = np.broadcast_to(cols, (ho, wo, kh, kw)).reshape(ho, wo, kh * kw)
        return x[:, :, rows, cols], rows, cols

    def _scatter(self, shape, contrib, rows, cols):
        dx = np.zeros(shape)
        n, c = shape[:2]
        ho, wo, t = rows.shape
        ni = np.arange(n)[:, None, None, None, None]
        ci = np.arange(c)[None, :, None, None, None]
        np.add.at(dx, (ni, ci, rows[None, None], cols[None, None]), contrib)
        return dx


class MaxPool2d(_Pool):
    """Max pooling, ``kernel_size``, ``stride`` (default: the kernel)."""

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        win, rows, cols = self._windows(x)
        arg = np.argmax(win, axis=-1)
        self.cache = (x.shape, arg, rows, cols, win.shape)
        return np.take_along_axis(win, arg[..., None], -1)[..., 0]

    def backward(self, dy):
        shape, arg, rows, cols, wshape = self.cache
        contrib = np.zeros(wshape)
        np.put_along_axis(contrib, arg[..., None], np.asarray(dy, dtype=np.float64)[..., None], -1)
        return self._scatter(shape, contrib, rows, cols)


class AvgPool2d(_Pool):
    """Average pooling, ``kernel_size``, ``stride`` (default: the kernel)."""

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        win, rows, cols = self._windows(x)
        t = win.shape[-1]
        self.cache = (x.shape, rows, cols, win.shape)
        return np.sum(win, axis=-1) / t

    def backward(self, dy):
        shape, rows, cols, wshape = self.cache
        dy = np.asarray(dy, dtype=np.float64)
        contrib = np.broadcast_to((dy / wshape[-1])[..., None], wshape)
        return self._scatter(shape, contrib, rows, cols)


class GlobalAvgPool(Layer):
    """``mean over (H, W)`` (numpy's sum / (H*W)): (N, C, H, W) -> (N, C);
    gradient ``dy / (H*W)`` everywhere."""

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        self.shape = x.shape
        return np.sum(x, axis=(2, 3)) / (x.shape[2] * x.shape[3])

    def backward(self, dy):
        n, c, h, w = self.shape
        dy = np.asarray(dy, dtype=np.float64) / (h * w)
        return np.broadcast_to(dy[:, :, None, None], self.shape).copy()


class Flatten(Layer):
    """(N, ...) -> (N, prod(...)) in C order; backward reshapes back."""

    def forward(self, x, *, training):
        x = np.asarray(x, dtype=np.float64)
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return np.asarray(dy, dtype=np.float64).reshape(self.shape)
