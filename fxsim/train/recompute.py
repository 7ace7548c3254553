"""Batch-norm statistics recomputed over the training set after training,
as McDonnell (2018) does.

:func:`recompute_bn` replaces the running statistics of every
:class:`~fxsim.train.norm.BatchNorm` and :class:`~fxsim.train.norm.GrahamBN`
of a trained model by the statistics of the WHOLE training set as the
trained network in inference mode delivers it to that layer, layer by
layer in forward order:

1. The layers are taken in the order in which a forward pass reaches them
   (found by running one batch in inference mode; every layer reached must
   be reached once per forward).
2. For layer ``j`` (layers ``1 .. j-1`` already recomputed) the training
   set runs through ``model.forward(x, training=False)`` in batches of
   ``batch_size`` in its stored order; each batch stops at layer ``j``,
   whose input ``x_j`` (float64) is collected.  Layers before ``j`` use
   their recomputed statistics, so what ``j`` sees is what it will see in
   inference.
3. Per channel ``c``, over all ``n`` values of the channel (every sample,
   and for (N, C, H, W) input every spatial position)::

       mean_c = fsum(x_c) / n
       var_c  = fsum((x_c - mean_c) ** 2) / n        (population variance)

   ``fsum`` is :func:`math.fsum`, the correctly rounded sum of its float64
   terms (so the result does not depend on order, batching or threads);
   ``x - mean`` and its square are each one float64 rounding, the two
   divisions by ``n`` one rounding each.  The estimator is the population
   (biased, divide-by-``n``) variance: the statistic a training-mode
   batch norm computes over its batch, here over the whole training set at
   once -- not the unbiased running variance of PyTorch's convention.
4. ``buffers["running_mean"] = mean``, ``buffers["running_var"] = var``
   (float64, one value per channel); a :class:`BatchNorm`'s
   ``num_batches`` becomes 1 (one batch: the whole set).

The result is exact up to those stated roundings and reproducible bit for
bit.  It does not depend on ``batch_size`` when every layer before a
normalization treats samples independently in inference and every GEMM
runs through fxsim (a stated order: rows are independent).  Exceptions: a
:class:`~fxsim.train.quant.MinMaxQuantizer` without running statistics
(its inference range is the batch's), and GEMMs of the float64 model
(numpy/BLAS, whose summation order may change with the batch shape: the
statistics then move in the last bits).  Other normalization layers
(:class:`~fxsim.train.norm.RangeBN`, :class:`~fxsim.train.norm.ShiftBN`)
are left unchanged and listed in the returned report.  No parameter
changes; caches of the last forward are overwritten.
"""
from __future__ import annotations

import math

import numpy as np

from .norm import BatchNorm, GrahamBN, RangeBN, ShiftBN

__all__ = ["recompute_bn", "channel_statistics", "after_training"]

RECOMPUTED = (BatchNorm, GrahamBN)
UNCHANGED = (RangeBN, ShiftBN)


class _Stop(Exception):
    """Raised by a capture hook to end a forward pass at its layer."""


def channel_statistics(x):
    """``(mean, var)`` per channel of ``x`` ((N, C) or (N, C, H, W),
    float64) by the estimator of the module doc (population variance,
    ``math.fsum``)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 4):
        raise ValueError(f"recompute_bn: a normalized input must be (N, C) or (N, C, H, W), "
                         f"got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("recompute_bn: the training set is empty")
    flat = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)     # (C, n)
    n = flat.shape[1]
    mean = np.array([math.fsum(row) / n for row in flat])
    d = flat - mean[:, None]
    var = np.array([math.fsum(row) / n for row in d * d])
    return mean, var


def _forward_order(model, x):
    """The normalization layers (recomputed kinds) in the order one
    inference forward of ``x`` reaches them."""
    order = []
    targets = [lay for lay in model.layers() if isinstance(lay, RECOMPUTED)]

    def hook(layer):
        method = type(layer).forward

        def forward(v, *, training):
            order.append(layer)
            return method(layer, v, training=training)
        return forward

    try:
        for lay in targets:
            lay.forward = hook(lay)
        model.forward(x, training=False)
    finally:
        for lay in targets:
            lay.__dict__.pop("forward", None)
    if len(set(map(id, order))) != len(order):
        raise ValueError("recompute_bn: a normalization layer is reached more than once per "
                         "forward pass (a shared layer): its statistics are not defined")
    return order


def _collect(model, layer, x_train, batch_size):
    """The input of ``layer`` over the whole training set (inference)."""
    parts = []

    def capture(v, *, training):
        parts.append(np.array(v, dtype=np.float64))
        raise _Stop

    layer.forward = capture
    try:
        for i in range(0, len(x_train), batch_size):
            try:
                model.forward(x_train[i:i + batch_size], training=False)
            except _Stop:
                continue
            raise RuntimeError(f"recompute_bn: the forward pass did not reach {layer.name}")
    finally:
        layer.__dict__.pop("forward", None)
    return np.concatenate(parts, axis=0)


def recompute_bn(model, x_train, *, batch_size=256):
    """Recompute the running statistics of every :class:`BatchNorm` and
    :class:`GrahamBN` in ``model`` over ``x_train`` (see the module doc).
    Returns ``{"recomputed": [layer names in forward order], "unchanged":
    [names of RangeBN/ShiftBN layers left as they were]}``."""
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"recompute_bn: batch_size must be an integer >= 1, got {batch_size!r}")
    x_train = np.asarray(x_train, dtype=np.float64)
    if len(x_train) == 0:
        raise ValueError("recompute_bn: the training set is empty")
    order = _forward_order(model, x_train[:1])
    for layer in order:
        mean, var = channel_statistics(_collect(model, layer, x_train, int(batch_size)))
        if mean.shape != (layer.channels,):
            raise ValueError(f"recompute_bn: {layer.name} has {layer.channels} channels but its "
                             f"input has {mean.shape[0]}")
        layer.buffers["running_mean"] = mean
        layer.buffers["running_var"] = var
        if isinstance(layer, BatchNorm):
            layer.buffers["num_batches"] = 1
    return {"recomputed": [lay.name for lay in order],
            "unchanged": [lay.name for lay in model.layers() if isinstance(lay, UNCHANGED)]}


def after_training(model, data, *, batch_size=256):
    """:func:`recompute_bn` over ``data.x_train`` (a
    :class:`~fxsim.train.data.Dataset`): the ``after_training`` hook of a
    :class:`~fxsim.train.presets.Run`."""
    return recompute_bn(model, data.x_train, batch_size=batch_size)
