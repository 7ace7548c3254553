"""The training loop of :mod:`fxsim.train`.

:func:`fit` runs ``epochs`` epochs of :func:`train_epoch` and an
:func:`evaluate` on the test set after each.  One step (global number
``k``, counted from 0 over the whole run, so every stochastic slot draws a
fresh stream per step)::

    model.set_step(k)
    optimizer.lr = schedule(epoch + b / batches_per_epoch)    (if a schedule)
    model.zero_grads()
    value = loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    optimizer.step()

The epoch's ``train_loss`` is the mean of the batch losses (``sum`` in
batch order, divided by the batch count).  :func:`evaluate` runs
``model.forward(x, training=False)`` (running statistics) batch by batch
and counts ``argmax(logits) == y`` (first maximum on ties).
:func:`weights_sha256` is the SHA-256 of the parameters' float64
little-endian C-order bytes in ``named_parameters()`` order.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np

from .data import batches, num_batches

__all__ = ["train_epoch", "evaluate", "fit", "weights_sha256"]


def weights_sha256(model) -> str:
    """Hex SHA-256 of the parameters' bytes (see the module doc)."""
    h = hashlib.sha256()
    for _, lay, key in model.named_parameters():
        h.update(np.ascontiguousarray(lay.params[key], dtype="<f8").tobytes())
    return h.hexdigest()


def train_epoch(model, loss, optimizer, x, y, *, batch_size=64, seed=0, epoch=0, step=0,
                schedule=None, drop_last=False):
    """One epoch over ``(x, y)`` shuffled by ``(seed, epoch)``, the first
    step numbered ``step``.  Returns ``(mean batch loss, next step)``."""
    nb = num_batches(len(x), batch_size, drop_last)
    total, count = 0.0, 0
    for b, (xb, yb) in enumerate(batches(x, y, batch_size, seed=seed, epoch=epoch,
                                         drop_last=drop_last)):
        model.set_step(step)
        if schedule is not None:
            optimizer.lr = float(schedule(epoch + b / nb))
        model.zero_grads()
        value = loss.forward(model.forward(xb, training=True), yb)
        if not np.isfinite(value):
            raise FloatingPointError(f"train_epoch: loss is {value} at epoch {epoch}, "
                                     f"step {step}")
        model.backward(loss.backward())
        optimizer.step()
        total += value
        count += 1
        step += 1
    return total / max(count, 1), step


def evaluate(model, x, y, *, loss=None, batch_size=256):
    """``{"accuracy": fraction correct, "loss": mean over samples}`` in
    inference mode (``"loss"`` only with a ``loss``; batch means weighted
    by batch size, summed in order)."""
    correct, total, n = 0, 0.0, len(x)
    for i in range(0, n, batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        z = model.forward(xb, training=False)
        correct += int(np.sum(np.argmax(z, axis=1) == yb))
        if loss is not None:
            total += loss.forward(z, yb) * len(xb)
    out = {"accuracy": correct / n if n else 0.0}
    if loss is not None:
        out["loss"] = total / n if n else 0.0
    return out


def fit(model, loss, optimizer, data, epochs, seed, progress=True, *, batch_size=64,
        schedule=None, drop_last=False, stream=None):
    """Train ``model`` on ``data`` (a :class:`fxsim.train.data.Dataset`)
    for ``epochs`` epochs: ``model.set_seed(seed)``, shuffles by ``seed``,
    steps numbered globally from 0 (see the module doc).  ``progress``: a
    line per epoch on ``stream`` (default stderr): epoch, train loss, test
    accuracy.  Returns the history ``{"train_loss": [per epoch],
    "test_accuracy": [per epoch], "lr": [at the end of each epoch],
    "steps": int, "weights_sha256": str}``."""
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0:
        raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
    stream = sys.stderr if stream is None else stream
    model.set_seed(seed)
    hist = {"train_loss": [], "test_accuracy": [], "lr": []}
    step = 0
    for epoch in range(int(epochs)):
        value, step = train_epoch(model, loss, optimizer, data.x_train, data.y_train,
                                  batch_size=batch_size, seed=seed, epoch=epoch, step=step,
                                  schedule=schedule, drop_last=drop_last)
        acc = evaluate(model, data.x_test, data.y_test)["accuracy"]
        hist["train_loss"].append(value)
        hist["test_accuracy"].append(acc)
        hist["lr"].append(optimizer.lr)
        if progress:
            print(f"epoch {epoch + 1}/{epochs}  loss {value:.4f}  test accuracy {acc:.4f}",
                  file=stream, flush=True)
    hist["steps"] = step
    hist["weights_sha256"] = weights_sha256(model)
    return hist
