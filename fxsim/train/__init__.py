"""Training quantized networks with the papers' rules, framework-free: the
foundation (layers with forward and backward, quantization slots, stated
GEMMs).  Optimizers, data, presets, the loop and ``fxsim train`` build on
this API.

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
from .activations import HardTanh, McDonnellSign, QuantReLU, ReLU, Sign
from .base import Layer, Residual, Sequential
from .gemm import GemmSpec
from .layers import Conv2d, GemmLayer, Linear
from .losses import SoftmaxCrossEntropy, SquareHinge
from .norm import BatchNorm, GrahamBN, RangeBN, ShiftBN
from .pooling import AvgPool2d, Flatten, GlobalAvgPool, MaxPool2d
from .quant import FormatQuantizer, MinMaxQuantizer, SignQuantizer, Slots, generator
from .optim import SGD, AdaMax, Adam, Optimizer, ShiftAdaMax, binary_weights, glorot_lr_scales
from .schedules import Constant, CosineRestarts, StepDecay
from .data import Dataset, batches, blobs, load_digits, mnist1d
from .loop import evaluate, fit, train_epoch, weights_sha256

__all__ = [
    "Layer", "Sequential", "Residual", "GemmSpec", "GemmLayer", "Linear", "Conv2d",
    "BatchNorm", "RangeBN", "ShiftBN", "GrahamBN",
    "ReLU", "HardTanh", "Sign", "McDonnellSign", "QuantReLU",
    "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten", "SoftmaxCrossEntropy", "SquareHinge",
    "FormatQuantizer", "MinMaxQuantizer", "SignQuantizer", "Slots", "generator",
    "Optimizer", "SGD", "Adam", "AdaMax", "ShiftAdaMax", "binary_weights", "glorot_lr_scales",
    "Constant", "StepDecay", "CosineRestarts",
    "Dataset", "blobs", "load_digits", "mnist1d", "batches",
    "train_epoch", "evaluate", "fit", "weights_sha256",
]
