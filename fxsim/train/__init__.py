"""Training quantized networks with the papers' rules, framework-free:
layers with forward and backward, quantization slots, stated GEMMs,
optimizers, data, the loop, the presets and ``fxsim train``.

The names below are imported on first use (PEP 562), so that ``import
fxsim.train`` -- and the ``fxsim`` command, which registers ``fxsim train``
-- stays cheap; ``from fxsim.train import Linear`` works as usual.

=====================  ======================================================
:mod:`.base`           the layer protocol (``forward(x, *, training)``,
                       ``backward(dy)``, ``params``/``grads``/``buffers``,
                       names, seed and step), :class:`Sequential`,
                       :class:`Residual`
:mod:`.quant`          quantizers for the slots (:class:`FormatQuantizer`,
                       :class:`MinMaxQuantizer`, :class:`SignQuantizer`),
                       :class:`Slots`, :class:`~.quant.Affine` (min-max
                       codes + delta + min), the per-tensor random streams
:mod:`.gemm`           :class:`GemmSpec` and the three stated GEMMs of a
                       layer (forward, dX, dW; matmul and convolution)
:mod:`.layers`         :class:`Linear`, :class:`Conv2d`
:mod:`.norm`           :class:`BatchNorm`, :class:`RangeBN`, :class:`ShiftBN`,
                       :class:`GrahamBN`
:mod:`.activations`    :class:`ReLU`, :class:`HardTanh`, :class:`Sign`,
                       :class:`McDonnellSign`, :class:`QuantReLU`
:mod:`.pooling`        :class:`MaxPool2d`, :class:`AvgPool2d`,
                       :class:`GlobalAvgPool`, :class:`Flatten`
:mod:`.losses`         :class:`SoftmaxCrossEntropy`, :class:`SquareHinge`
:mod:`.optim`          :class:`SGD`, :class:`Adam`, :class:`AdaMax`,
                       :class:`ShiftAdaMax` (Hubara), clipping, BinaryNet's
                       :func:`glorot_lr_scales`, an update quantizer
:mod:`.schedules`      :class:`Constant`, :class:`StepDecay`,
                       :class:`CosineRestarts` (SGDR)
:mod:`.data`           :func:`blobs`, :func:`load_digits`, :func:`mnist1d`,
                       :func:`batches` (seeded)
:mod:`.loop`           :func:`fit`, :func:`train_epoch`, :func:`evaluate`,
                       :func:`weights_sha256`
:mod:`.presets`        :class:`Run`, :data:`PRESETS`, :func:`build`
:mod:`.presets_mlp`    ``float-mlp``, ``bnn-mlp``, ``shift-bnn-mlp``,
                       ``banner8-mlp`` on load_digits
:mod:`.presets_cnn`    ``mcdonnell-resnet``, ``graham-cnn``, ``float-cnn``
:mod:`.recompute`      BN statistics recomputed over the training set
:mod:`.command`        ``fxsim train``: :func:`~.command.train_preset`,
                       result.json
:mod:`.golden`         :func:`write_step_vectors`: golden vectors of one
                       training step
:mod:`.curves`         the learning-curve PNG
=====================  ======================================================

A step::

    model = Sequential(Linear(64, 32, slots=Slots(input=FormatQuantizer("e4m3fn"),
                                                  weight=FormatQuantizer("e4m3fn"))),
                       BatchNorm(32), Sign(), Linear(32, 10))
    model.set_seed(0); model.set_step(k)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    for qualified_name, layer, key in model.named_parameters():
        layer.params[key] -= lr * layer.grads[key]
"""
from __future__ import annotations

import importlib

#: exported name -> submodule of fxsim.train that defines it
_WHERE = {
    "ReLU": "activations", "HardTanh": "activations", "Sign": "activations",
    "McDonnellSign": "activations", "QuantReLU": "activations",
    "Layer": "base", "Residual": "base", "Sequential": "base",
    "GemmSpec": "gemm",
    "Conv2d": "layers", "GemmLayer": "layers", "Linear": "layers",
    "SoftmaxCrossEntropy": "losses", "SquareHinge": "losses",
    "BatchNorm": "norm", "GrahamBN": "norm", "RangeBN": "norm", "ShiftBN": "norm",
    "AvgPool2d": "pooling", "Flatten": "pooling", "GlobalAvgPool": "pooling",
    "MaxPool2d": "pooling",
    "FormatQuantizer": "quant", "MinMaxQuantizer": "quant", "SignQuantizer": "quant",
    "Slots": "quant", "generator": "quant",
    "SGD": "optim", "AdaMax": "optim", "Adam": "optim", "Optimizer": "optim",
    "ShiftAdaMax": "optim", "binary_weights": "optim", "glorot_lr_scales": "optim",
    "Constant": "schedules", "CosineRestarts": "schedules", "StepDecay": "schedules",
    "Dataset": "data", "batches": "data", "blobs": "data", "load_digits": "data",
    "mnist1d": "data",
    "evaluate": "loop", "fit": "loop", "train_epoch": "loop", "weights_sha256": "loop",
    "Run": "presets", "PRESETS": "presets", "build": "presets",
    "train_preset": "command", "write_step_vectors": "golden",
}

__all__ = list(_WHERE)


#: the submodules, reachable as attributes too (``fxsim.train.quant.Affine``)
_MODULES = ("activations", "base", "command", "curves", "data", "gemm", "golden", "layers",
            "loop", "losses", "norm", "optim", "pooling", "presets", "presets_cnn",
            "presets_mlp", "quant", "recompute", "schedules")


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE) | set(_MODULES))
