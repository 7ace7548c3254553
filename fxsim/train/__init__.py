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

__all__ = [
    "Layer", "Sequential", "Residual", "GemmSpec", "GemmLayer", "Linear", "Conv2d",
    "BatchNorm", "RangeBN", "ShiftBN", "GrahamBN",
    "ReLU", "HardTanh", "Sign", "McDonnellSign", "QuantReLU",
    "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten", "SoftmaxCrossEntropy", "SquareHinge",
    "FormatQuantizer", "MinMaxQuantizer", "SignQuantizer", "Slots", "generator",
]
