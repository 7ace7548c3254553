"""The stated GEMMs of a training layer.

Every layer with weights runs three products -- ``forward`` (y = x W),
``dx`` (dX = dy W^T) and ``dw`` (dW = x^T dy) -- and says for each how it
accumulates, with a :class:`GemmSpec` (operand formats are those of the
quantized operands; the spec gives accumulator, order, optional product
format, output format and the modes of each rounding step).

A layer's ``gemm=`` argument:

* ``"auto"`` (default): a GEMM with at least one quantized operand (a
  QArray from a slot) runs through :func:`fxsim.matmul` /
  :func:`fxsim.conv2d` with ``GemmSpec()`` (float32 accumulator,
  sequential order, nearest even); the unquantized operand enters as an
  exact float64 QArray.  A GEMM of two float operands is the float model:
  float64 numpy (BLAS; summation order unspecified).
* ``None``: every GEMM in float64 numpy on the operands' values
  ("fake quantization": fast, not bit-exact in its sums).
* a :class:`GemmSpec`: every GEMM through fxsim with it;
* a dict with keys among ``"forward"``, ``"dx"``, ``"dw"`` (missing keys:
  ``"auto"``), each value one of the above.

The result of an fxsim GEMM is its QArray in the accumulator (or ``out``)
format, decoded to float64 (exact for every preset format).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import binary as fx_binary
from .. import formats as formats_mod
from ..array import QArray, asarray, from_bits
from ..im2col import geometry, patches
from ..linalg import conv2d as fx_conv2d
from ..linalg import matmul as fx_matmul
from .quant import Affine, as_values

__all__ = ["GemmSpec", "GEMMS", "resolve", "matmul", "conv2d", "conv2d_dx", "conv2d_dw"]

GEMMS = ("forward", "dx", "dw")


@dataclass(frozen=True)
class GemmSpec:
    """How one GEMM accumulates (the arguments of :func:`fxsim.matmul`):
    ``acc`` (format, or None for the exact sum rounded once into ``out``),
    ``order`` (``"sequential"``, ``"pairwise"`` or a block size), ``mul``
    (round each product into it; None: exact products), ``out`` (cast the
    accumulator into it), ``rounding``/``overflow`` of every step.

    ``binary=True``: where both operands are +-1 (``s2.0`` QArrays holding
    only +-1, as :class:`~fxsim.train.quant.SignQuantizer` makes them), the
    product runs by XNOR-popcount (:func:`fxsim.binary.matmul`,
    :func:`fxsim.binary.conv2d` with true zero padding): exact integers, the
    accumulation fields unused.  Other operands take the fields as usual."""
    acc: object = "float32"
    order: object = "sequential"
    mul: object = None
    out: object = None
    rounding: str = "nearest_even"
    overflow: object = None
    binary: bool = False

    def kwargs(self):
        return dict(acc=self.acc, order=self.order, mul=self.mul, out=self.out,
                    rounding=self.rounding, overflow=self.overflow)

    def describe(self):
        f = (lambda v: None if v is None else formats_mod.format(v).name)
        return {"acc": f(self.acc), "order": self.order, "mul": f(self.mul), "out": f(self.out),
                "rounding": self.rounding, "overflow": self.overflow, "binary": self.binary}


def _one(v, what):
    if v is None or v == "auto" or isinstance(v, GemmSpec):
        return v
    raise ValueError(f"gemm: {what} must be 'auto', None or a GemmSpec, got {v!r}")


def resolve(gemm) -> dict:
    """A layer's ``gemm=`` argument as ``{"forward": .., "dx": .., "dw": ..}``."""
    if isinstance(gemm, dict):
        bad = set(gemm) - set(GEMMS)
        if bad:
            raise ValueError(f"gemm: unknown keys {sorted(bad)}; use {GEMMS}")
        return {k: _one(gemm.get(k, "auto"), k) for k in GEMMS}
    return {k: _one(gemm, k) for k in GEMMS}


def _plan(spec, *operands):
    """The GemmSpec to run through fxsim, or None for float64 numpy."""
    if spec == "auto":
        quantized = any(isinstance(o, (QArray, Affine)) for o in operands)
        return GemmSpec() if quantized else None
    return spec


def _q(v):
    if isinstance(v, QArray):
        return v
    return asarray(as_values(v))


def _f(v):
    return as_values(v)


def matmul(a, b, spec):
    """``a @ b`` (2-d) under ``spec`` (see the module doc); float64 out.

    :class:`~fxsim.train.quant.Affine` operands (``a = da*A + ma``, ``b =
    db*B + mb``; a plain operand has ``d = 1``, ``m = 0``) run gemmlowp's
    decomposition: ``a @ b = da*db*(A @ B) + da*mb*(A @ 1) + ma*db*(1 @ B)
    + ma*mb*K``, each product through :func:`fxsim.matmul` under ``plan``
    (the sums ``A @ 1``, ``1 @ B`` with a ``u1.0`` ones vector), the
    combination in float64, left to right, terms with a zero coefficient
    left out."""
    plan = _plan(spec, a, b)
    if plan is None:
        return _f(a) @ _f(b)
    if plan.binary and _pm1(a) and _pm1(b):
        return fx_binary.matmul(a.to_float(), b.to_float()).astype(np.float64)
    if not (isinstance(a, Affine) or isinstance(b, Affine)):
        return fx_matmul(_q(a), _q(b), **plan.kwargs()).to_float()
    (A, da, ma), (B, db, mb) = _affine(a), _affine(b)
    k = A.shape[1]
    out = (da * db) * fx_matmul(A, B, **plan.kwargs()).to_float()
    if mb != 0:
        ones = from_bits(np.ones((k, 1), np.uint8), "u1.0")
        out = out + (da * mb) * fx_matmul(A, ones, **plan.kwargs()).to_float()
    if ma != 0:
        ones = from_bits(np.ones((1, k), np.uint8), "u1.0")
        out = out + (ma * db) * fx_matmul(ones, B, **plan.kwargs()).to_float()
    if ma != 0 and mb != 0:
        out = out + (ma * mb) * float(k)
    return out


_SIGN = formats_mod.format("s2.0")


def _pm1(v):
    """Is ``v`` an s2.0 QArray of +-1 only (codes 1 and 3)?"""
    return isinstance(v, QArray) and v.fmt == _SIGN and bool(np.all(v.bits & 1))


def _affine(v):
    if isinstance(v, Affine):
        return v.codes, v.delta, v.min
    return _q(v), 1.0, 0.0


def conv2d(x, w, stride, padding, spec):
    """Forward convolution ``x`` (N, C, H, W) with ``w`` (O, C, kh, kw).
    fxsim: :func:`fxsim.conv2d` (reduction over (c, kh, kw), channel
    slowest).  float64: im2col + numpy matmul.  float64 out."""
    plan = _plan(spec, x, w)
    if plan is not None and plan.binary and _pm1(x) and _pm1(w):
        return fx_binary.conv2d(x.to_float(), w.to_float(), stride, padding,
                                pad_value=0).astype(np.float64)
    if plan is not None:
        return fx_conv2d(_q(x), _q(w), stride, padding, **plan.kwargs()).to_float()
    xf, wf = _f(x), _f(w)
    g = geometry("conv2d", xf.shape, wf.shape, stride, padding, 1, 1)
    cols = patches(xf, g, fill=0.0)                                  # (N, Ho*Wo, C*kh*kw)
    y = cols @ wf.reshape(g.o, -1).T                                 # (N, Ho*Wo, O)
    return np.ascontiguousarray(y.transpose(0, 2, 1).reshape(g.n, g.o, g.ho, g.wo))


def _codes(v):
    """(codes or float64 values, format or None); an Affine operand enters
    a convolution as its float64 values (the affine decomposition is done
    for matmul only)."""
    return (v.bits, v.fmt) if isinstance(v, QArray) else (as_values(v), None)


def _wrap(arr, fmt):
    return arr if fmt is None else from_bits(np.ascontiguousarray(arr), fmt)


def conv2d_dx(dy, w, xshape, stride, padding, spec):
    """dX of a convolution as ONE convolution (a transposed convolution):
    ``dy`` dilated by the stride (zeros between its entries), padded by
    ``k - 1`` (zeros: code 0, +0 in every format), correlated with the
    filters rotated by 180 degrees and with input/output channels swapped;
    the result covers the padded input, which is cropped by ``padding``.
    The reduction runs over (o, kh, kw), filter channel slowest; the
    inserted zeros take part as +0 products (as padding does in the
    forward).  Input rows no output reads get exactly 0."""
    n, c, h, wd = xshape
    o, _, kh, kw = np.shape(w.bits if isinstance(w, QArray) else w)
    g = geometry("conv2d_dx", xshape, (o, c, kh, kw), stride, padding, 1, 1)
    dyc, dyfmt = _codes(dy)
    dil = np.zeros((n, o, (g.ho - 1) * g.sh + 1, (g.wo - 1) * g.sw + 1), dyc.dtype)
    dil[:, :, ::g.sh, ::g.sw] = dyc
    wc, wfmt = _codes(w)
    rot = wc.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    full = conv2d(_wrap(dil, dyfmt), _wrap(rot, wfmt), 1, (kh - 1, kw - 1), spec)
    out = np.zeros((n, c, h + 2 * g.ph, wd + 2 * g.pw))
    out[:, :, :full.shape[2], :full.shape[3]] = full
    return np.ascontiguousarray(out[:, :, g.ph:g.ph + h, g.pw:g.pw + wd])


def conv2d_dw(x, dy, wshape, stride, padding, spec):
    """dW of a convolution as one GEMM: ``dy`` as (O, N*Ho*Wo) times the
    patches of ``x`` as (N*Ho*Wo, C*kh*kw) (padding: code 0).  The reduction
    runs over (n, ho, wo), batch slowest.  float64 (O, C, kh, kw) out."""
    xc, xfmt = _codes(x)
    g = geometry("conv2d_dw", xc.shape, wshape, stride, padding, 1, 1)
    fill = 0 if xfmt is not None else 0.0
    cols = patches(xc, g, fill=fill).reshape(g.n * g.ho * g.wo, -1)
    dyc, dyfmt = _codes(dy)
    dymat = dyc.transpose(1, 0, 2, 3).reshape(g.o, -1)
    r = matmul(_wrap(dymat, dyfmt), _wrap(cols, xfmt), spec)
    return r.reshape(wshape)
