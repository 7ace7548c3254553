"""Golden vectors of one training step, for a hardware testbench.

:func:`write_step_vectors` runs a :class:`~fxsim.train.presets.Run` exactly
as :func:`fxsim.train.loop.fit` does (seed, shuffled batches, global step
numbers, learning-rate schedule) up to step ``step``, and records that
step: every layer's forward input and output, the quantized copy in each
slot of a GEMM layer (in its own format), the three GEMM outputs, every
layer's output and input gradient, every parameter's gradient and its
value before and after the optimizer's update, and the buffers (running
statistics) after the step.  Files, through :mod:`fxsim.io`:

* ``golden.npz`` (:func:`fxsim.io.write_npz`) with the manifest (also
  written as ``manifest.json``); one ``NAME.memh`` per array (row-major
  codes, :func:`fxsim.io.write_memh`).

Array names (``L`` a layer's qualified name, e.g. ``model.0``):

=============================  ==============================================
``batch.x``, ``batch.y``       the step's mini-batch (float64; labels s32.0)
``L.forward.x``/``.y``         the layer's input and output (float64)
``L.slot.S``                   the copy made by slot ``S`` (input, weight,
                               grad_dx, grad_dw, weight_grad): a QArray in
                               the quantizer's format; a min-max (affine)
                               copy as ``L.slot.S.codes`` plus the float64
                               scalars ``.delta`` and ``.min`` (value =
                               ``delta * code + min``)
``L.gemm.forward``/``.dx``/``.dw``  each GEMM's output (float64 values of its
                               accumulator, before bias and STE), recomputed
                               from the recorded operands with the layer's
                               spec (:mod:`fxsim.train.gemm`)
``L.backward.dy``/``.dx``      the gradient arriving at the layer's output
                               and the one it passes to its input (float64)
``L.grad.K``                   the gradient of parameter ``K`` (float64)
``L.param.K.before``/``.after``  the parameter before and after the update
``L.buffer.K``                 buffer ``K`` after the step (float64)
``loss.dlogits``               the loss gradient (float64)
=============================  ==============================================

float64 arrays are stored as IEEE binary64 codes (format ``float64``:
exact).  The manifest's ``extra`` holds the preset, seed, step, epoch,
batch index, learning rate, loss value, the layer order, each GEMM layer's
slots and GEMM specs (:meth:`~fxsim.train.layers.GemmLayer.describe`) and
the optimizer's settings.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import io
from ..array import QArray, asarray, from_bits
from . import gemm as gm
from .data import batches, num_batches
from .layers import Conv2d, GemmLayer, Linear
from .quant import Affine

__all__ = ["write_step_vectors", "step_batches", "leaf_layers"]


def _f64(v) -> QArray:
    return from_bits(np.ascontiguousarray(v, dtype="<f8").view(np.uint64), "float64")


def leaf_layers(model):
    """The layers without sublayers, depth first (the ones that compute)."""
    return [lay for lay in model.layers() if not lay.children()]


def step_batches(run):
    """``(step, epoch, batch index, batches per epoch, x, y)`` in the order
    :func:`fxsim.train.loop.fit` takes them (epochs beyond ``run.epochs``
    continue the same seeded stream)."""
    x, y = run.data.x_train, run.data.y_train
    nb = num_batches(len(x), run.batch_size)
    step, epoch = 0, 0
    while True:
        for b, (xb, yb) in enumerate(batches(x, y, run.batch_size, seed=run.seed, epoch=epoch)):
            yield step, epoch, b, nb, xb, yb
            step += 1
        epoch += 1


def _one_step(run, k, epoch, b, nb, xb, yb):
    """One step exactly as :func:`fxsim.train.loop.train_epoch` takes it."""
    run.model.set_step(k)
    if run.schedule is not None:
        run.optimizer.lr = float(run.schedule(epoch + b / nb))
    run.model.zero_grads()
    value = run.loss.forward(run.model.forward(xb, training=True), yb)
    if not np.isfinite(value):
        raise FloatingPointError(f"golden: loss is {value} at step {k}")
    dlogits = run.loss.backward()
    run.model.backward(dlogits)
    run.optimizer.step()
    return value, dlogits


class _Recorder:
    """Instance-level wrappers of each leaf layer's forward, backward and
    (GEMM layers) quantize; removed by :meth:`close`."""

    def __init__(self, layers):
        self.layers, self.rec = layers, {}
        for lay in layers:
            self._wrap(lay)

    def _wrap(self, lay):
        rec = self.rec.setdefault(lay.name, {"slots": {}})
        forward, backward = lay.forward, lay.backward

        def fwd(x, *, training):
            y = forward(x, training=training)
            rec["x"], rec["y"] = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
            return y

        def bwd(dy):
            dx = backward(dy)
            rec["dy"], rec["dx"] = np.array(dy, dtype=np.float64), np.array(dx, dtype=np.float64)
            return dx
        lay.forward, lay.backward = fwd, bwd
        if isinstance(lay, GemmLayer):
            quantize = lay.quantize

            def q(slot, x, training):
                out = quantize(slot, x, training)
                if getattr(lay.slots, slot) is not None:
                    rec["slots"][slot] = out
                return out
            lay.quantize = q

    def close(self):
        for lay in self.layers:
            for attr in ("forward", "backward", "quantize"):
                lay.__dict__.pop(attr, None)


def _gemm_outputs(lay, slots):
    """The three GEMM outputs of a Linear/Conv2d layer from its recorded
    copies (the slots' results; a slot left None is the float64 value)."""
    x, w = slots["input"], slots["weight"]
    gx, gw = slots["grad_dx"], slots["grad_dw"]
    if isinstance(lay, Linear):
        return {"forward": gm.matmul(x, w, lay.gemms["forward"]),
                "dx": gm.matmul(gx, w.T, lay.gemms["dx"]),
                "dw": gm.matmul(x.T, gw, lay.gemms["dw"])}
    if isinstance(lay, Conv2d):
        xshape = np.shape(x.codes if isinstance(x, Affine) else x)
        wshape = lay.params["weight"].shape
        return {"forward": gm.conv2d(x, w, lay.stride, lay.padding, lay.gemms["forward"]),
                "dx": gm.conv2d_dx(gx, w, xshape, lay.stride, lay.padding, lay.gemms["dx"]),
                "dw": gm.conv2d_dw(x, gw, wshape, lay.stride, lay.padding, lay.gemms["dw"])}
    return {}


def _put(arrays, name, v):
    if isinstance(v, Affine):
        arrays[f"{name}.codes"] = v.codes
        arrays[f"{name}.delta"] = _f64(np.array([v.delta]))
        arrays[f"{name}.min"] = _f64(np.array([v.min]))
    elif isinstance(v, QArray):
        arrays[name] = v
    else:
        arrays[name] = _f64(v)


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return repr(v)


def write_step_vectors(run, out_dir, step=0) -> dict:
    """Run ``run`` up to step ``step`` (steps numbered from 0 over the whole
    run, as :func:`fxsim.train.loop.fit`) and write that step's golden
    vectors into ``out_dir`` (see the module doc).  ``run`` is trained in
    place by ``step + 1`` steps.  Returns the manifest (as read back)."""
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError(f"write_step_vectors: step must be an integer >= 0, got {step!r}")
    os.makedirs(out_dir, exist_ok=True)
    model = run.model
    model.set_seed(run.seed)
    leaves = leaf_layers(model)
    params = [(n, lay, k) for n, lay, k in model.named_parameters()]
    for k, epoch, b, nb, xb, yb in step_batches(run):
        if k < step:
            _one_step(run, k, epoch, b, nb, xb, yb)
            continue
        before = {n: np.array(lay.params[key], dtype=np.float64) for n, lay, key in params}
        recorder = _Recorder(leaves)
        try:
            value, dlogits = _one_step(run, k, epoch, b, nb, xb, yb)
        finally:
            recorder.close()
        break
    arrays = {"batch.x": _f64(xb), "batch.y": asarray(np.asarray(yb, dtype=np.int64), "s32.0")}
    layers_info = []
    for lay in leaves:
        r = recorder.rec[lay.name]
        info = {"name": lay.name, "type": type(lay).__name__}
        if isinstance(lay, GemmLayer):
            info.update(lay.describe())
        layers_info.append(info)
        if "x" not in r:
            continue
        arrays[f"{lay.name}.forward.x"] = _f64(r["x"])
        arrays[f"{lay.name}.forward.y"] = _f64(r["y"])
        for slot, v in r["slots"].items():
            _put(arrays, f"{lay.name}.slot.{slot}", v)
        if isinstance(lay, GemmLayer) and "dy" in r:
            with_none = {s: r["slots"].get(s) for s in ("input", "weight", "grad_dx", "grad_dw")}
            with_none["input"] = r["slots"].get("input", r["x"])
            with_none["weight"] = r["slots"].get("weight", before[f"{lay.name}.weight"])
            for s in ("grad_dx", "grad_dw"):
                if with_none[s] is None:
                    with_none[s] = r["dy"]
            for g, v in _gemm_outputs(lay, with_none).items():
                arrays[f"{lay.name}.gemm.{g}"] = _f64(v)
        if "dy" in r:
            arrays[f"{lay.name}.backward.dy"] = _f64(r["dy"])
            arrays[f"{lay.name}.backward.dx"] = _f64(r["dx"])
        for key in lay.params:
            if key in lay.grads:
                arrays[f"{lay.name}.grad.{key}"] = _f64(lay.grads[key])
            arrays[f"{lay.name}.param.{key}.before"] = _f64(before[f"{lay.name}.{key}"])
            arrays[f"{lay.name}.param.{key}.after"] = _f64(lay.params[key])
        for key, v in lay.buffers.items():
            arrays[f"{lay.name}.buffer.{key}"] = _f64(np.asarray(v, dtype=np.float64))
    arrays["loss.dlogits"] = _f64(dlogits)
    opt = run.optimizer
    extra = {
        "preset": run.name, "seed": int(run.seed), "step": int(step), "epoch": int(epoch),
        "batch": int(b), "batch_size": int(run.batch_size), "lr": float(opt.lr),
        "loss": {"type": type(run.loss).__name__, "value": float(value)},
        "optimizer": {"type": type(opt).__name__, "t": int(opt.t), "lr": float(opt.lr),
                      "settings": {k: _jsonable(v) for k, v in vars(opt).items()
                                   if k not in ("params", "state", "decay", "clip", "quantize",
                                                "update_quantizer")},
                      "update_quantizer": repr(opt.update_quantizer)},
        "layers": layers_info,
        "description": run.description,
        "naming": __doc__.split("Array names")[1].split("float64 arrays")[0].strip(),
        "values": "float64 arrays hold IEEE binary64 codes of float64 values (exact); "
                  "slot copies hold codes in the quantizer's format",
    }
    for name, q in arrays.items():
        io.write_memh(os.path.join(out_dir, f"{name}.memh"), q)
    path = os.path.join(out_dir, "golden.npz")
    io.write_npz(path, arrays, seeds={"run": int(run.seed)},
                 layers=[lay.name for lay in leaves], extra=extra)
    _, manifest = io.read_npz(path)
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return manifest
