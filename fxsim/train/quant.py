"""Quantization slots of a training layer: the quantizer specs and their
random streams.

A *quantizer* turns a float64 tensor into a :class:`fxsim.QArray` (its
values, exact) and says how a gradient passes back through it (``ste``).
Three kinds, each reusing :mod:`fxsim.nn.quantizers` or the codec:

=========================  ==================================================
:class:`FormatQuantizer`   any fxsim format, rounding (all fourteen modes,
                           stochastic ones with a seeded stream), overflow:
                           ``fxsim.asarray(x, fmt, rounding, overflow)``
:class:`MinMaxQuantizer`   Banner et al.'s GEMMLOWP min-max quantizer
                           (:func:`fxsim.nn.gemmlowp_quantize`), optionally
                           with running min/max (the authors' momentum rule)
:class:`SignQuantizer`     +-scale (Hubara's sign, McDonnell's scaled sign)
=========================  ==================================================

Each layer owns its quantizer instances (a layer deep-copies the
:class:`Slots` it is given, so running statistics are never shared).

Random streams.  A stochastic quantizer draws from
:func:`generator` ``(seed, layer, slot, step)``: a ``numpy`` Generator
(PCG64) seeded by ``SeedSequence([seed, h(layer), h(slot), step])`` with
``h`` the first 8 bytes of the SHA-256 of the UTF-8 name, so a draw depends
on nothing but those four values -- not on call order, not on threads.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np

from .. import formats as formats_mod
from ..array import QArray, asarray, from_bits
from ..formats import FixedFormat
from ..modes import Rounding
from ..nn import quantizers as nnq

__all__ = ["generator", "Affine", "FormatQuantizer", "MinMaxQuantizer", "SignQuantizer", "Slots",
           "SLOT_NAMES", "as_values"]

SLOT_NAMES = ("input", "weight", "grad_dx", "grad_dw", "weight_grad")


def _name_hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(str(name).encode("utf-8")).digest()[:8], "little")


def generator(seed, layer, slot, step) -> np.random.Generator:
    """The random stream of one tensor in one step: PCG64 seeded by
    ``SeedSequence([seed, h(layer), h(slot), step])`` (see the module doc).
    ``seed`` and ``step`` are integers >= 0."""
    for what, v in (("seed", seed), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"generator: {what} must be an integer >= 0, got {v!r}")
    ss = np.random.SeedSequence([int(seed), _name_hash(layer), _name_hash(slot), int(step)])
    return np.random.Generator(np.random.PCG64(ss))


class Affine:
    """A per-tensor affinely quantized tensor, value ``delta * code + min``
    (gemmlowp's form, zero point folded into ``min``): ``codes`` a QArray in
    ``u{bits}.0``, ``delta`` and ``min`` float64 scalars, ``values`` the
    exact float64 values.  GEMMs run on the codes (see
    :func:`fxsim.train.gemm.matmul`)."""

    def __init__(self, codes, delta, min_value, values):
        self.codes, self.delta, self.min = codes, float(delta), float(min_value)
        self.values = values

    @property
    def shape(self):
        return self.codes.shape

    @property
    def T(self):
        return Affine(self.codes.T, self.delta, self.min, self.values.T)


def as_values(q) -> np.ndarray:
    """float64 values of a quantizer's result (QArray, Affine) or of a float
    array."""
    if isinstance(q, QArray):
        return q.to_float()
    if isinstance(q, Affine):
        return q.values
    return np.asarray(q, dtype=np.float64)


class _Quantizer:
    """Protocol: ``q(x, rng=None, training=True) -> QArray``; ``q.stochastic``
    (does it need a stream); ``q.ste(x, g)``: the gradient with respect to
    ``x`` given the gradient ``g`` with respect to ``q(x)`` (default:
    straight through, ``g`` unchanged)."""
    stochastic = False

    def ste(self, x, g):
        return g


@dataclass
class FormatQuantizer(_Quantizer):
    """Round into an fxsim format: ``fxsim.asarray(x, fmt, rounding,
    overflow, rng=, random_bits=)`` -- one rounding by the core.  Stochastic
    modes draw ``random_bits`` bits per element in C order from the slot's
    stream.  Gradient: straight through."""
    fmt: object
    rounding: str = "nearest_even"
    overflow: object = None
    random_bits: int = 32

    def __post_init__(self):
        self.fmt = formats_mod.format(self.fmt)
        self.rounding = Rounding(self.rounding).value

    @property
    def stochastic(self):
        return Rounding(self.rounding).is_stochastic

    def __repr__(self):
        return (f"FormatQuantizer({self.fmt.name!r}, rounding={self.rounding!r}, "
                f"overflow={self.overflow!r}, random_bits={self.random_bits})")

    def __call__(self, x, rng=None, training=True) -> QArray:
        if self.stochastic and rng is None:
            raise ValueError(f"FormatQuantizer({self.fmt.name}, {self.rounding}): needs a stream")
        return asarray(np.asarray(x, dtype=np.float64), self.fmt, self.rounding, self.overflow,
                       rng=rng if self.stochastic else None, random_bits=self.random_bits)


class MinMaxQuantizer(_Quantizer):
    """Banner et al.'s GEMMLOWP-style quantizer, :func:`fxsim.nn.gemmlowp_quantize`:
    ``delta = (max - min) / (2**bits - 1)``, codes rounded once by the core,
    value ``q * delta + min`` (exact in float64).  Per tensor
    (``channel_axis=None``) the result is an :class:`Affine` (codes in
    ``u{bits}.0`` plus delta and min: GEMMs run on the codes); per channel a
    float64 QArray of the values (GEMMs on float64 operands take fxsim's
    slow general engine: use ``gemm=None`` there).

    ``statistic``: ``"tensor"`` (min/max of the tensor, or of each slice
    along ``channel_axis``) or ``"sample_mean"`` (the batch mean of the
    per-sample min/max, axis 0 the batch: the paper's activation statistic).
    ``running=True``: in training the batch statistic quantizes and updates
    ``running_min``/``running_max`` as ``run = momentum * run + (1 -
    momentum) * new`` (``momentum`` weights the OLD value, buffers start at
    0: the authors' ``QuantMeasure``); in inference the running values
    quantize.  ``rounding="stochastic"`` (gradients) draws from the slot's
    stream.  ``last`` keeps the last :class:`fxsim.nn.quantizers.MinMaxQuantized`
    (codes, delta, min, max) for golden vectors.  Gradient: straight through.
    """

    def __init__(self, bits, *, rounding="nearest_even", statistic="tensor", channel_axis=None,
                 running=False, momentum=0.1, random_bits=32):
        if statistic not in ("tensor", "sample_mean"):
            raise ValueError(f"MinMaxQuantizer: statistic must be 'tensor' or 'sample_mean', "
                             f"got {statistic!r}")
        if statistic == "sample_mean" and channel_axis is not None:
            raise ValueError("MinMaxQuantizer: statistic='sample_mean' is per tensor; "
                             "channel_axis needs statistic='tensor'")
        self.bits = int(bits)
        self.rounding = Rounding(rounding).value
        self.statistic = statistic
        self.channel_axis = channel_axis
        self.running = bool(running)
        self.momentum = float(momentum)
        self.random_bits = int(random_bits)
        self.running_min = None
        self.running_max = None
        self.last = None

    @property
    def stochastic(self):
        return Rounding(self.rounding).is_stochastic

    def __repr__(self):
        return (f"MinMaxQuantizer({self.bits}, rounding={self.rounding!r}, "
                f"statistic={self.statistic!r}, channel_axis={self.channel_axis!r}, "
                f"running={self.running}, momentum={self.momentum})")

    def _batch_stats(self, x):
        if self.statistic == "sample_mean":
            flat = x.reshape(len(x), -1)
            return np.mean(flat.min(axis=1)), np.mean(flat.max(axis=1))
        if self.channel_axis is None:
            return np.min(x), np.max(x)
        axes = tuple(a for a in range(x.ndim) if a != self.channel_axis % x.ndim)
        return np.amin(x, axis=axes, keepdims=True), np.amax(x, axis=axes, keepdims=True)

    def __call__(self, x, rng=None, training=True):
        x = np.asarray(x, dtype=np.float64)
        if self.stochastic and rng is None:
            raise ValueError("MinMaxQuantizer: stochastic rounding needs a stream")
        if self.running and not training:
            if self.running_min is None:
                raise ValueError("MinMaxQuantizer: inference before any training step has no "
                                 "running min/max")
            lo, hi = self.running_min, self.running_max
        else:
            lo, hi = self._batch_stats(x)
            if self.running:
                m = self.momentum
                run_lo = 0.0 if self.running_min is None else self.running_min
                run_hi = 0.0 if self.running_max is None else self.running_max
                self.running_min = m * run_lo + (1.0 - m) * lo
                self.running_max = m * run_hi + (1.0 - m) * hi
        r = nnq.gemmlowp_quantize(x, self.bits, channel_axis=self.channel_axis, min_value=lo,
                                  max_value=hi, rounding=self.rounding,
                                  rng=rng if self.stochastic else None,
                                  random_bits=self.random_bits)
        self.last = r
        values = np.asarray(r.value, dtype=np.float64).reshape(x.shape)
        if self.channel_axis is None:
            codes = from_bits(np.asarray(r.code).reshape(x.shape),
                              FixedFormat(self.bits, 0, signed=False))
            return Affine(codes, np.reshape(r.delta, ()), np.reshape(r.min, ()), values)
        return asarray(values)


class SignQuantizer(_Quantizer):
    """``scale * sign(x)`` (``sign(0) = +1``, :func:`fxsim.nn.sign`).
    ``scale == 1``: a QArray in ``s2.0`` (codes of +-1); otherwise a float64
    QArray of ``+-scale`` (exact).  ``ste="identity"`` passes the gradient
    unchanged and unscaled (McDonnell; also Hubara's weights, which are
    clipped to [-1, 1]); ``ste="hubara"`` passes it where ``|x| <= 1``
    (:func:`fxsim.nn.ste_grad`).  :meth:`mcdonnell` builds McDonnell's
    constant He scale ``sqrt(2 / (F**2 C_in))``."""

    def __init__(self, scale=1.0, ste="identity"):
        if ste not in ("identity", "hubara"):
            raise ValueError(f"SignQuantizer: ste must be 'identity' or 'hubara', got {ste!r}")
        self.scale = float(scale)
        self.ste_rule = ste

    def __repr__(self):
        return f"SignQuantizer(scale={self.scale!r}, ste={self.ste_rule!r})"

    @classmethod
    def mcdonnell(cls, F, C_in):
        return cls(nnq.mcdonnell_scale(F, C_in), "identity")

    def __call__(self, x, rng=None, training=True) -> QArray:
        s = nnq.sign(np.asarray(x, dtype=np.float64))
        if self.scale == 1.0:
            return asarray(np.asarray(s), "s2.0")
        return asarray(np.asarray(self.scale * s, dtype=np.float64))

    def ste(self, x, g):
        return g if self.ste_rule == "identity" else nnq.ste_grad(x, g)


@dataclass
class Slots:
    """The named quantization slots of a GEMM layer; each None (float64) or
    a quantizer.

    ``input``: x before the forward GEMM (its copy is also dW's operand);
    ``weight``: W before the forward GEMM (its copy is also dX's operand);
    ``grad_dx``: the copy of dy that enters dX = dy @ W.T;
    ``grad_dw``: the copy of dy that enters dW = x.T @ dy (Banner et al.'s
    gradient bifurcation is ``grad_dx`` != ``grad_dw``; give both the same
    spec for one gradient quantizer -- each slot has its own stream);
    ``weight_grad``: dW after its GEMM."""
    input: object = None
    weight: object = None
    grad_dx: object = None
    grad_dw: object = None
    weight_grad: object = None

    def names(self):
        return tuple(f.name for f in fields(self))
