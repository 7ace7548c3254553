"""Learning-rate schedules: callables ``schedule(epoch) -> lr`` of a float
epoch ``e >= 0`` (``fit`` calls them before every step with ``e = epoch +
batch / batches_per_epoch``, so per-epoch rules see whole epochs through
``floor`` and SGDR anneals per step as Loshchilov and Hutter do).  Each
formula is float64, evaluated as written.

* :class:`Constant` -- ``lr``.
* :class:`StepDecay` -- ``lr * gamma**floor(e / step)`` (``gamma ** k``
  Python's float power of an int ``k``).
* :class:`CosineRestarts` -- SGDR (Loshchilov and Hutter): periods
  ``T_0, T_0*T_mult, T_0*T_mult**2, ...`` epochs; with ``T_cur`` the epochs
  since the current period began and ``T_i`` its length,
  ``lr_min + 0.5 * (lr_max - lr_min) * (1 + cos(pi * T_cur / T_i))``
  (``math.cos``, ``math.pi``).  ``T_mult == 1`` gives
  ``T_cur = e - T_0 * floor(e / T_0)``.
"""
from __future__ import annotations

import math

__all__ = ["Constant", "StepDecay", "CosineRestarts"]


def _epoch(e):
    e = float(e)
    if not e >= 0.0 or math.isinf(e):
        raise ValueError(f"schedule: epoch must be a finite number >= 0, got {e!r}")
    return e


class Constant:
    def __init__(self, lr):
        self.lr = float(lr)

    def __call__(self, epoch):
        _epoch(epoch)
        return self.lr

    def __repr__(self):
        return f"Constant({self.lr!r})"


class StepDecay:
    def __init__(self, lr, step, gamma=0.1):
        if not step > 0:
            raise ValueError(f"StepDecay: step must be > 0, got {step!r}")
        self.lr, self.step, self.gamma = float(lr), float(step), float(gamma)

    def __call__(self, epoch):
        k = int(math.floor(_epoch(epoch) / self.step))
        return self.lr * self.gamma ** k

    def __repr__(self):
        return f"StepDecay({self.lr!r}, step={self.step!r}, gamma={self.gamma!r})"


class CosineRestarts:
    def __init__(self, lr_max, T_0, T_mult=1, lr_min=0.0):
        if not T_0 > 0:
            raise ValueError(f"CosineRestarts: T_0 must be > 0, got {T_0!r}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineRestarts: T_mult must be an integer >= 1, got {T_mult!r}")
        self.lr_max, self.lr_min = float(lr_max), float(lr_min)
        self.T_0, self.T_mult = float(T_0), T_mult

    def period(self, epoch):
        """``(T_cur, T_i)`` at ``epoch``."""
        e = _epoch(epoch)
        if self.T_mult == 1:
            return e - self.T_0 * math.floor(e / self.T_0), self.T_0
        start, length = 0.0, self.T_0
        while e >= start + length:
            start += length
            length *= self.T_mult
        return e - start, length

    def __call__(self, epoch):
        t_cur, t_i = self.period(epoch)
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1.0 + math.cos(math.pi * t_cur
                                                                                  / t_i))

    def __repr__(self):
        return (f"CosineRestarts({self.lr_max!r}, T_0={self.T_0!r}, T_mult={self.T_mult!r}, "
                f"lr_min={self.lr_min!r})")
