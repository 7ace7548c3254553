"""The MLP presets of ``fxsim train``: a 64-W-W-10 perceptron on
scikit-learn's 8x8 digits (:func:`fxsim.train.data.load_digits`, pixels
scaled to [-1, 1], the held-out split of :data:`SPLIT_SEED` for every run
seed), trained four ways.

======================  =====================================================
``float-mlp``           the baseline: bfloat16 copies of inputs, weights and
                        gradients, float32 sequential accumulation, BN +
                        ReLU, softmax cross-entropy, Adam, float64 master
                        weights
``bnn-mlp``             Hubara et al.'s BinaryNet: +-1 weights (sign of the
                        real weights, clipped to [-1, 1] after each update),
                        +-1 activations (sign with the ``|x| <= 1`` STE), BN,
                        square hinge loss, AdaMax with BinaryNet's
                        per-layer learning-rate scale; the first layer's
                        input the digits as exact fixed point
``shift-bnn-mlp``       the same with shift-based BN and shift-based AdaMax
                        (its per-layer scale rounded to a power of two)
``banner8-mlp``         Banner et al.'s 8-bit training: GEMMLOWP min-max
                        8-bit inputs (running min/max) and weights, 8-bit
                        stochastic copy of the layer gradient for dX, 16-bit
                        stochastic copy for dW (the bifurcation), Range BN,
                        ReLU, fp32 weight update
======================  =====================================================

Every GEMM (forward, dX, dW) runs through :func:`fxsim.matmul` (or the
XNOR-popcount kernel) with the :class:`~fxsim.train.gemm.GemmSpec` named
in the preset's ``config["gemms"]``:

* ``BF16_F32``: bfloat16 operands (nearest-even copies; +-1 and the
  digits' fixed-point values are exact in bfloat16), float32 accumulator,
  sequential order, nearest even -- every float GEMM of the float and
  binary presets;
* ``BINARY``: both operands +-1 (``s2.0``), XNOR-popcount
  (:func:`fxsim.binary.matmul`): exact integers;
* ``FIRST_BINARY``: the binary nets' first layer, input in ``s5.3`` (the
  digits ``k/8 - 1``, exact) times +-1 weights into an ``s16.3`` fixed
  accumulator (no rounding; ``|sum| <= 64`` never wraps): the exact sum,
  equal to Hubara et al.'s sum over the input's bit planes;
* ``INT32``: the GEMMLOWP codes (``u8.0`` x ``u8.0``, ``u8.0`` x
  ``u16.0``) into an ``s32.0`` accumulator (exact: ``K * 255 * 65535 <
  2**31`` for ``K <= 128``), the affine corrections combined in float64
  (:func:`fxsim.train.gemm.matmul`).

Batch norm, losses and optimizers are the float64 model arithmetic of
:mod:`fxsim.train.norm`, :mod:`.losses` and :mod:`.optim`.  Every preset:
batches of 64, one cosine period from ``lr`` to 0 over the run
(:class:`~fxsim.train.schedules.CosineRestarts` with ``T_0`` = epochs),
initial weights from :func:`fxsim.train.quant.generator` ``(seed,
"model.i", "init", 0)``; default epochs 20 (float), 25 (binary), 15
(8-bit).  BinaryNet's choices kept: no bias before a BN, BN ``eps = 1e-4``,
a BN after the last layer, square hinge loss, Glorot-uniform init.
``shift-bnn-mlp``'s ShiftBN keeps no running statistics, so its test
accuracy is measured with the statistics of each test batch (256, then
104 samples).

``quick=True`` (tests): seeded blobs (64 train / 32 test samples of 64
features), width 16, 2 epochs of batches of 32 -- every layer, slot and
GEMM kind of the full preset runs, in seconds.
"""
from __future__ import annotations

import numpy as np

from ..array import QArray, from_bits
from ..nn.quantizers import ap2
from .activations import ReLU
from .base import Sequential
from .data import blobs, load_digits
from .gemm import GemmSpec
from .layers import Linear
from .losses import SoftmaxCrossEntropy, SquareHinge
from .norm import BatchNorm, RangeBN, ShiftBN
from .optim import AdaMax, Adam, ShiftAdaMax, binary_weights, glorot_lr_scales
from .presets import Run
from .quant import Affine, FormatQuantizer, MinMaxQuantizer, SignQuantizer, Slots, generator
from .schedules import CosineRestarts

__all__ = ["float_mlp", "bnn_mlp", "shift_bnn_mlp", "banner8_mlp", "TwinLinear", "SPLIT_SEED",
           "BF16_F32", "BINARY", "FIRST_BINARY", "INT32"]

#: the seed of the digits' train/test split, the same for every run seed
SPLIT_SEED = 0

BF16_F32 = GemmSpec(acc="float32", order="sequential")
BINARY = GemmSpec(binary=True)
FIRST_BINARY = GemmSpec(acc="s16.3", order="sequential")
INT32 = GemmSpec(acc="s32.0", order="sequential")


class TwinLinear(Linear):
    """:class:`~fxsim.train.layers.Linear` whose fixed-point operands (the
    +-1 ``s2.0`` of a sign slot, the ``s5.3`` input, the ``u8.0`` codes of
    a min-max quantizer) enter the float backward GEMMs as bfloat16
    QArrays of exactly the same values (:func:`float_twin`; ``twin`` names
    the cached copies: ``"xq"`` the dW operand, ``"wq"`` the dX operand).
    A GEMM's result depends only on its operands' values and its spec, so
    this changes no bit; it lets fxsim run a float32 accumulation on its
    IEEE kernel (a fixed-point operand beside a float one takes the
    general, slower engine).  The forward GEMM sees the operands as they
    are (``s2.0`` x ``s2.0``: XNOR-popcount)."""

    def __init__(self, *args, twin=("xq", "wq"), **kw):
        super().__init__(*args, **kw)
        self.twin = tuple(twin)

    def describe(self) -> dict:
        out = super().describe()
        out["twin"] = {"dw" if k == "xq" else "dx": "a fixed-point operand enters as the "
                       "bfloat16 QArray of the same values" for k in self.twin}
        return out

    def forward(self, x, *, training):
        y = super().forward(x, training=training)
        for key in self.twin:
            self.cache[key] = float_twin(self.cache[key])
        return y


def float_twin(q):
    """A fixed-point QArray (or the codes of an :class:`~fxsim.train.quant.Affine`)
    as a bfloat16 QArray of the same values when every value is exact in
    bfloat16 (checked); anything else unchanged.  The values are the
    two's-complement (or unsigned) integers of the codes times
    ``2**-frac``, computed exactly in float64 for widths up to 53 bits."""
    if isinstance(q, Affine):
        codes = float_twin(q.codes)
        return q if codes is q.codes else Affine(codes, q.delta, q.min, q.values)
    if not isinstance(q, QArray) or q.fmt.is_float or q.fmt.width > 53:
        return q
    ints = q.bits.astype(np.int64)
    if q.fmt.signed:
        ints = np.where(ints >= (1 << (q.fmt.width - 1)), ints - (1 << q.fmt.width), ints)
    v = ints * 2.0 ** -q.fmt.frac
    f32 = v.astype(np.float32)
    top = f32.view(np.uint32) >> np.uint32(16)
    if not np.array_equal((top << np.uint32(16)).view(np.float32).astype(np.float64), v):
        return q
    return from_bits(top.astype(np.uint16), "bfloat16")


def _data(seed, quick):
    if quick:
        d = blobs(seed, n_train=64, n_test=32, spread=1.0)
        # into [-1, 1] on the digits' grid of eighths, as the binary nets' s5.3 input expects
        f = lambda a: np.clip(np.round(a * 4.0) / 8.0, -1.0, 1.0)  # noqa: E731
        d.x_train, d.x_test = f(d.x_train), f(d.x_test)
        return d
    return load_digits(SPLIT_SEED)


def _init(seed, index):
    return generator(int(seed), f"model.{index}", "init", 0)


def _shape(quick, width, epochs, default_epochs):
    w = 16 if quick else width
    e = (2 if quick else default_epochs) if epochs is None else int(epochs)
    batch = 32 if quick else 64
    return w, e, batch


def _gemm_table(**specs):
    return {k: v.describe() for k, v in specs.items()}


# ----------------------------------------------------------------- float
def float_mlp(seed, *, epochs=None, quick=False, width=256, lr=2e-3):
    """Float baseline: bfloat16 operands, float32 accumulation, BN, ReLU, Adam; digits."""
    w, e, batch = _shape(quick, width, epochs, 20)
    bf = FormatQuantizer("bfloat16")
    slots = Slots(input=bf, weight=bf, grad_dx=bf, grad_dw=bf)
    dims = [64, w, w, 10]
    layers = []
    for i in range(3):
        layers.append(Linear(dims[i], dims[i + 1], bias=(i == 2), init="he_normal",
                             rng=_init(seed, len(layers)), slots=slots, gemm=BF16_F32))
        if i < 2:
            layers += [BatchNorm(dims[i + 1]), ReLU()]
    model = Sequential(layers)
    opt = Adam(model, lr)
    return Run("float-mlp", seed, model, SoftmaxCrossEntropy(), opt, _data(seed, quick), e, batch,
               schedule=CosineRestarts(lr, T_0=max(e, 1), lr_min=0.0),
               description="float baseline MLP 64-%d-%d-10: bfloat16 operands, float32 "
                           "sequential accumulation, BN, ReLU, Adam" % (w, w),
               config=dict(width=w, batch_size=batch, optimizer="Adam", lr=lr,
                              schedule=f"cosine from {lr} to 0 over {e} epochs",
                              loss="softmax cross-entropy",
                              gemms=_gemm_table(all=BF16_F32),
                              data="blobs (quick)" if quick else
                              f"load_digits, split seed {SPLIT_SEED}"))


# ----------------------------------------------------------------- binary (Hubara)
def _binary_model(seed, w, norm):
    bf = FormatQuantizer("bfloat16")
    sign_w = SignQuantizer(1.0, ste="identity")
    first = Slots(input=FormatQuantizer("s5.3", overflow="saturate"), weight=sign_w,
                  grad_dx=bf, grad_dw=bf)
    hidden = Slots(input=SignQuantizer(1.0, ste="hubara"), weight=sign_w, grad_dx=bf, grad_dw=bf)
    dims = [64, w, w, 10]
    layers = []
    for i in range(3):
        spec = {"forward": FIRST_BINARY if i == 0 else BINARY, "dx": BF16_F32, "dw": BF16_F32}
        layers.append(TwinLinear(dims[i], dims[i + 1], bias=False, init="glorot_uniform",
                                 rng=_init(seed, len(layers)), slots=first if i == 0 else hidden,
                                 gemm=spec))
        layers.append(norm(dims[i + 1]))
    return Sequential(layers)


def _binary_run(name, seed, epochs, quick, width, lr, shift):
    w, e, batch = _shape(quick, width, epochs, 25)
    norm = (lambda c: ShiftBN(c, eps=1e-4)) if shift else (lambda c: BatchNorm(c, eps=1e-4))
    model = _binary_model(seed, w, norm)
    clip = binary_weights(model)
    scales = glorot_lr_scales(model, clip)
    if shift:
        scales = {k: float(ap2(v)) for k, v in scales.items()}
        opt = ShiftAdaMax(model, lr, clip=clip, lr_scale=scales)
    else:
        opt = AdaMax(model, lr, clip=clip, lr_scale=scales)
    bn = "shift-based BN" if shift else "BN"
    optname = "shift-based AdaMax" if shift else "AdaMax"
    return Run(name, seed, model, SquareHinge(), opt, _data(seed, quick), e, batch,
               schedule=CosineRestarts(lr, T_0=max(e, 1), lr_min=0.0),
               description=f"Hubara et al. BNN MLP 64-{w}-{w}-10: +-1 weights and activations "
                           f"(STE), XNOR-popcount GEMMs, {bn}, square hinge, {optname}",
               config=dict(width=w, batch_size=batch, optimizer=optname, lr=lr,
                              lr_scale=scales, clip="binary weights to [-1, 1]",
                              schedule=f"cosine from {lr} to 0 over {e} epochs",
                              loss="square hinge", norm=bn,
                              gemms=_gemm_table(first_forward=FIRST_BINARY,
                                                hidden_forward=BINARY, dx_dw=BF16_F32),
                              data="blobs (quick)" if quick else
                              f"load_digits, split seed {SPLIT_SEED}"))


def bnn_mlp(seed, *, epochs=None, quick=False, width=256, lr=3e-3):
    """Hubara et al.: +-1 weights and activations (STE), XNOR-popcount GEMMs, BN, AdaMax; digits."""
    return _binary_run("bnn-mlp", seed, epochs, quick, width, lr, shift=False)


def shift_bnn_mlp(seed, *, epochs=None, quick=False, width=256, lr=2.0 ** -8):
    """Hubara et al.: bnn-mlp with shift-based BN and shift-based AdaMax (AP2 steps); digits."""
    return _binary_run("shift-bnn-mlp", seed, epochs, quick, width, lr, shift=True)


# ----------------------------------------------------------------- 8-bit (Banner)
def banner8_mlp(seed, *, epochs=None, quick=False, width=256, lr=2e-3, variant="paper"):
    """Banner et al.: 8-bit weights/activations/gradients, 16-bit dW copy, Range BN, int32 GEMMs."""
    w, e, batch = _shape(quick, width, epochs, 15)
    slots = Slots(input=MinMaxQuantizer(8, statistic="sample_mean", running=True, momentum=0.1),
                  weight=MinMaxQuantizer(8),
                  grad_dx=MinMaxQuantizer(8, rounding="stochastic"),
                  grad_dw=FormatQuantizer("bfloat16", "stochastic"))
    specs = {"forward": INT32, "dx": INT32, "dw": BF16_F32}
    dims = [64, w, w, 10]
    layers = []
    for i in range(3):
        layers.append(TwinLinear(dims[i], dims[i + 1], bias=(i == 2), init="he_normal",
                                 rng=_init(seed, len(layers)), slots=slots, gemm=specs,
                                 twin=("xq",)))
        if i < 2:
            layers += [RangeBN(dims[i + 1], variant=variant), ReLU()]
    model = Sequential(layers)
    opt = Adam(model, lr, update_quantizer=FormatQuantizer("float32"))
    return Run("banner8-mlp", seed, model, SoftmaxCrossEntropy(), opt, _data(seed, quick), e,
               batch, schedule=CosineRestarts(lr, T_0=max(e, 1), lr_min=0.0),
               description=f"Banner et al. 8-bit MLP 64-{w}-{w}-10: GEMMLOWP 8-bit activations "
                           "and weights, 8-bit dX / 16-bit dW gradient copies, Range BN, "
                           "int32 GEMMs, fp32 update",
               config=dict(width=w, batch_size=batch, optimizer="Adam", lr=lr,
                              update="float32", range_bn=variant,
                              schedule=f"cosine from {lr} to 0 over {e} epochs",
                              loss="softmax cross-entropy",
                              gemms=_gemm_table(forward=INT32, dx=INT32, dw=BF16_F32),
                              data="blobs (quick)" if quick else
                              f"load_digits, split seed {SPLIT_SEED}"))
