"""The convolutional presets of ``fxsim train``: McDonnell's 1-bit-weight
residual network, Graham's k-bit normalized activations, and the float CNN
of the same shape (the baseline of Graham's).

All three train on scikit-learn's 8x8 digits as (1, 8, 8) images
(:func:`fxsim.train.data.load_digits`, pixels ``x / 8 - 1`` in [-1, 1],
the split seeded by the run's seed; 1437 training, 360 test images);
``quick=True`` on seeded Gaussian blobs of the same shape
(:func:`fxsim.train.data.blobs`, 96 training and 48 test samples, width 4,
one epoch) -- seconds, every layer runs.

**Arithmetic of every GEMM** (forward, dX, dW of every convolution and of
the linear layer): operands in ``bfloat16`` -- the layer input, the
weights and both copies of the output gradient, each rounded once
(nearest even) from float64 by a slot quantizer -- and the reduction
through :func:`fxsim.conv2d` / :func:`fxsim.matmul` with a ``float32``
accumulator in sequential order, nearest even (:data:`GEMM`; bfloat16
products are exact in float32, so fxsim's hardware engine runs it).  The
weight gradient is the float32 accumulator's value (decoded exactly).  The
pixels are multiples of 1/8 in [-1, 1], exact in bfloat16.  Everything
else (batch norm, activations, pooling, the loss, SGD/Adam) is the
float64 model of :mod:`fxsim.train`.  McDonnell's weights are
``+-scale``, with ``scale = sqrt(2 / (F**2 C_in))``
(:func:`fxsim.nn.mcdonnell_scale`) rounded once into bfloat16 (8
significant bits; e.g. 0.11785 -> 0.117676 for F = 3, C_in = 16): the
weights stay one bit plus one constant per layer.  No GEMM here has two
+-1 operands (the activations are multi-bit), so none takes the binary
kernels.

The builders take keyword options beyond the preset protocol for the
``training`` study's variants (plain sign, other widths, other k).
"""
from __future__ import annotations

import numpy as np

from .. import formats as formats_mod
from ..array import asarray
from ..nn import quantizers as nnq
from .activations import ReLU
from .base import Residual, Sequential
from .data import blobs, load_digits
from .gemm import GemmSpec
from .layers import Conv2d, Linear
from .losses import SoftmaxCrossEntropy
from .norm import BatchNorm, GrahamBN
from .optim import SGD, Adam
from .pooling import AvgPool2d, GlobalAvgPool, MaxPool2d
from .presets import Run
from .quant import FormatQuantizer, Slots
from .recompute import after_training as recompute_after_training
from .schedules import CosineRestarts

__all__ = ["mcdonnell_resnet", "graham_cnn", "float_cnn", "ScaledSign", "GEMM", "OPERAND",
           "z_format"]

#: the format of every GEMM operand
OPERAND = "bfloat16"
#: the accumulation of every GEMM (forward, dX, dW)
GEMM = GemmSpec(acc="float32", order="sequential")


class ScaledSign:
    """McDonnell's 1-bit weight quantizer: ``scale * sign(w)`` (``sign(0) =
    +1``, :func:`fxsim.nn.sign`), the value ``+-scale`` rounded once into
    ``fmt`` (nearest even) -- a QArray holding two values.  The gradient
    passes straight through, unscaled and unmasked (McDonnell)."""
    stochastic = False

    def __init__(self, scale, fmt=OPERAND):
        self.scale = float(scale)
        if not self.scale > 0:
            raise ValueError(f"ScaledSign: scale must be > 0, got {scale!r}")
        self.fmt = formats_mod.format(fmt)

    def __repr__(self):
        return f"ScaledSign(scale={self.scale!r}, fmt={self.fmt.name!r})"

    def __call__(self, x, rng=None, training=True):
        s = np.asarray(nnq.sign(np.asarray(x, dtype=np.float64)), dtype=np.float64)
        return asarray(self.scale * s, self.fmt, "nearest_even")

    def ste(self, x, g):
        return g


def _operand():
    return FormatQuantizer(OPERAND, "nearest_even")


def _slots(weight=None):
    """bfloat16 input, weight (or ``weight``), and both gradient copies."""
    return Slots(input=_operand(), weight=weight if weight is not None else _operand(),
                 grad_dx=_operand(), grad_dw=_operand())


def _data(seed, quick):
    """load_digits as (1, 8, 8) images; quick: seeded 8x8 blobs (96 train,
    48 test; no scikit-learn needed)."""
    if quick:
        return blobs(seed, n_train=96, n_test=48).images((1, 8, 8))
    return load_digits(seed).images((1, 8, 8))


def _epochs(epochs, default):
    e = default if epochs is None else epochs
    if isinstance(e, bool) or int(e) != e or e < 0:
        raise ValueError(f"preset: epochs must be an integer >= 0, got {epochs!r}")
    return int(e)


# ---------------------------------------------------------------- McDonnell
def mcdonnell_resnet(seed, *, epochs=None, quick=False, sign="scaled", width=None,
                     recompute=True):
    """McDonnell (2018): a small wide-ResNet-style pre-activation network
    with 1-bit weights ``+-sqrt(2 / (F**2 C_in))`` in every convolution
    (first and last included), batch norm without learned scale and offset
    (gamma = 1, beta = 0), SGD with momentum 0.9 and weight decay 5e-4 on
    the float64 master weights, SGDR (cosine warm restarts, T_0 = 1 epoch,
    T_mult = 2: 15 epochs = 4 periods, lr 0.1 down to 1e-4), and the BN
    statistics recomputed over the training set after training
    (:mod:`fxsim.train.recompute`).

    Net (width ``w``, default 32; quick: 4)::

        conv3x3(1 -> w)                                              8x8
        block(w, stride 2): avgpool2(x) + conv3x3(relu(bn(conv3x3/2(relu(bn(x))))))   -> 4x4
        block(w, stride 1): x + conv3x3(relu(bn(conv3x3(relu(bn(x))))))
        bn, relu, conv1x1(w -> 10), bn, global average pool -> logits

    (Downsampling right after the stem keeps the run within minutes: the
    float <-> bfloat16 conversions of fxsim's codec, not the GEMMs,
    dominate the time of this net, and they scale with the activations.)

    ``sign="plain"``: the same with weights +-1 (scale 1), for the study's
    scaled-vs-plain comparison.  ``recompute=False`` keeps the running
    statistics of training.  Softmax cross-entropy, batch 64."""
    if sign not in ("scaled", "plain"):
        raise ValueError(f"mcdonnell_resnet: sign must be 'scaled' or 'plain', got {sign!r}")
    w = int(width if width is not None else (4 if quick else 32))
    g = np.random.default_rng([int(seed), 2018])

    def conv(cin, cout, k, stride=1):
        scale = nnq.mcdonnell_scale(k, cin) if sign == "scaled" else 1.0
        return Conv2d(cin, cout, k, stride=stride, padding=k // 2, init="he_normal", rng=g,
                      slots=_slots(ScaledSign(scale)), gemm=GEMM)

    def bn(c):
        return BatchNorm(c, affine=False)

    def block(stride):
        body = Sequential(bn(w), ReLU(), conv(w, w, 3, stride), bn(w), ReLU(), conv(w, w, 3))
        return Residual(body, None if stride == 1 else AvgPool2d(2))

    model = Sequential(conv(1, w, 3), block(2), block(1),
                       bn(w), ReLU(), conv(w, 10, 1), bn(10), GlobalAvgPool())
    e = _epochs(epochs, 1 if quick else 15)
    lr_max, lr_min = 0.1, 1e-4
    opt = SGD(model, lr_max, momentum=0.9, weight_decay=5e-4)
    return Run(
        name="mcdonnell-resnet", seed=int(seed), model=model, loss=SoftmaxCrossEntropy(),
        optimizer=opt, data=_data(seed, quick), epochs=e, batch_size=32 if quick else 64,
        schedule=CosineRestarts(lr_max, 1, 2, lr_min),
        after_training=recompute_after_training if recompute else None,
        description=("McDonnell 2018: 1-bit weights +-sqrt(2/(F^2 C_in)) (bfloat16), BN without "
                     "gamma/beta, residual CNN on 8x8 digits, SGD + SGDR, BN recomputed"),
        config={"paper": "McDonnell 2018", "width": w, "sign": sign,
                "weight": "scale*sign(W), scale=sqrt(2/(F^2*C_in)) rounded to bfloat16; STE: "
                          "gradient unscaled, unmasked",
                "operands": OPERAND, "gemm": GEMM.describe(), "bn": "gamma=1, beta=0 unlearned",
                "bn_recompute": bool(recompute), "optimizer": "SGD momentum 0.9, wd 5e-4",
                "schedule": f"CosineRestarts({lr_max}, T_0=1, T_mult=2, lr_min={lr_min})",
                "quick": bool(quick)})


# ---------------------------------------------------------------- Graham / float
def z_format(bits):
    """The k-bit format of Graham's normalized activation: signed fixed
    point ``s{k}.{k-2}`` -- range [-2, 2 - 2**(2-k)] (in units of the
    standard deviation), step ``2**(2-k)``; saturating.  ``k >= 2``."""
    if isinstance(bits, bool) or int(bits) != bits or bits < 2:
        raise ValueError(f"graham_cnn: bits must be an integer >= 2, got {bits!r}")
    return formats_mod.FixedFormat(int(bits), int(bits) - 2)


def _cnn(seed, epochs, quick, norm, bits, width, name):
    w = int(width if width is not None else (4 if quick else 16))
    g = np.random.default_rng([int(seed), 2017])
    fmt = z_format(bits) if norm == "graham" else None

    def conv(cin, cout):
        return Conv2d(cin, cout, 3, padding=1, init="he_normal", rng=g, slots=_slots(),
                      gemm=GEMM)

    def bn(c):
        return GrahamBN(c, fmt) if norm == "graham" else BatchNorm(c)

    model = Sequential(conv(1, w), bn(w), ReLU(), MaxPool2d(2), conv(w, 2 * w), bn(2 * w),
                       ReLU(), conv(2 * w, 2 * w), bn(2 * w), ReLU(), GlobalAvgPool(),
                       Linear(2 * w, 10, init="glorot_uniform", rng=g, slots=_slots(), gemm=GEMM))
    e = _epochs(epochs, 1 if quick else 15)
    lr = 2e-3
    what = (f"Graham 2017: BN's normalized activation z in {fmt.name} ({bits} bits)"
            if norm == "graham" else "float CNN of graham-cnn's shape (standard BN)")
    return Run(
        name=name, seed=int(seed), model=model, loss=SoftmaxCrossEntropy(),
        optimizer=Adam(model, lr), data=_data(seed, quick), epochs=e,
        batch_size=32 if quick else 64, schedule=CosineRestarts(lr, max(e, 1), 1, 0.0),
        description=f"{what}; bfloat16 GEMM operands, float32 sequential accumulation",
        config={"paper": "Graham 2017" if norm == "graham" else "baseline", "width": w,
                "norm": norm, "z_format": None if fmt is None else fmt.name,
                "z_bits": None if fmt is None else int(bits), "operands": OPERAND,
                "gemm": GEMM.describe(), "optimizer": f"Adam lr {lr}",
                "schedule": f"cosine from {lr} to 0 over {max(e, 1)} epochs",
                "quick": bool(quick)})


def graham_cnn(seed, *, epochs=None, quick=False, bits=4, width=None):
    """Graham (2017): a 3-layer CNN whose every batch norm is
    :class:`~fxsim.train.norm.GrahamBN` with the normalized activation
    ``z`` rounded (nearest even, saturating) into ``z_format(bits)``
    (default 4 bits: ``s4.2``, values -2 .. 1.75 in steps of 1/4) before
    ``gamma * z + beta``; straight-through gradient.  Net (width ``w``,
    default 16; quick: 4)::

        conv3x3(1 -> w), bn, relu, maxpool2 (8x8 -> 4x4),
        conv3x3(w -> 2w), bn, relu, conv3x3(2w -> 2w), bn, relu,
        global average pool, linear(2w -> 10)

    (Pooling right after the first layer keeps the run within minutes:
    fxsim's float <-> bfloat16 conversions dominate and scale with the
    activations.)

    Adam (lr 2e-3) with one cosine period to 0 over the run, batch 64,
    15 epochs, softmax cross-entropy."""
    return _cnn(seed, epochs, quick, "graham", bits, width, "graham-cnn")


def float_cnn(seed, *, epochs=None, quick=False, width=None):
    """The float baseline of :func:`graham_cnn`: the same net, data,
    optimizer, GEMM arithmetic and seeds, with standard
    :class:`~fxsim.train.norm.BatchNorm` (float64 ``z``)."""
    return _cnn(seed, epochs, quick, "batchnorm", None, width, "float-cnn")
