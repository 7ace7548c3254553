"""Matrix products and convolutions with an explicit accumulation model.

``matmul(a, b, c, mul=, acc=, out=, order=, rounding=, overflow=)``
computes ``c + a @ b`` the way a datapath does, stated exactly:

1. **Products** ``a[i, k] * b[k, j]`` are exact, or -- when ``mul`` is
   given -- each rounded once into ``mul``.
2. **Accumulation.** ``acc=None``: the exact sum (fixed point: exact in a
   grown format, as :func:`fxsim.dot`; otherwise rounded once into
   ``out``).  With an ``acc`` format every addition is rounded (float) or
   rounded and then wrapped/saturated (fixed, per ``overflow``) into
   ``acc``, in the stated ``order``:

   * ``"sequential"``: ``s = c`` (cast into ``acc``) or, without ``c``,
     the first product rounded into ``acc``; then ``s = round(s + p_k)``
     for k = 0, 1, ... (k = 1, ... without ``c``);
   * ``"pairwise"``: an adder tree over the products: level by level,
     neighbours ``(2i, 2i+1)`` are added and each sum rounded into ``acc``;
     an odd last element moves up a level unchanged; the root is rounded
     into ``acc`` (K = 1); then ``c`` (cast into ``acc``) is added with one
     more rounding;
   * an integer ``B``: blocks of B consecutive products are summed exactly
     and each block sum is added with one rounding -- tensor-core style:
     the sequential rule over block sums (B = 1 is sequential).

   IEEE 754 rules throughout (NaN, inf, signed zeros; a NaN result is the
   canonical NaN with the sign bit clear).
3. **Output**: the accumulator's format, or cast once more into ``out``.

The reduction of :func:`conv2d` runs over (c, kh, kw): input channel
slowest, filter column fastest; zero padding takes part as +0 products.

Work is split over output elements only, so results do not depend on the
number of threads.  Engines (all exact to the contract; the first whose
test takes the case runs it):

* fixed operands, ``acc=None``: exact integer GEMM (float BLAS only where
  every partial sum is provably an integer below 2**24 / 2**53, int64 or
  Python ints otherwise);
* float operands, ``acc=None``: :mod:`fxsim.linalg_exact` -- operands cut
  into integer slices whose float64 BLAS GEMMs are exact in any summation
  order, the slice products summed exactly and rounded once by the core
  (``out`` a float format of at most 51 significand bits; rows or columns
  with inf/NaN, and every other case, by the general exact sum);
* ``float32``/``float64`` accumulators under nearest_even (default
  overflow) with float operands whose products are exact in them (by their
  formats, or -- bfloat16 into float32 -- by the operands' exponent range):
  sequentially, the machine's own IEEE additions in a tiled kernel; in
  blocks of B, each block summed exactly in binary64 (a per-block exponent
  bound proves it; outputs it cannot prove go to the exact block kernel)
  and added with one IEEE rounding;
* fixed accumulators whose steps need no rounding: an integer kernel;
* sequential accumulation into any other format: one kernel that rounds an
  exact fused multiply-add per step through the core;
* blocks into a float accumulator of at most 51 significand bits, when
  products and block sums are exact in float64: one kernel that keeps each
  block sum exactly as a float64 expansion (Shewchuk) and rounds it once
  through the core;
* the pairwise order as one call of :mod:`fxsim.ops` per tree level over all
  pairs and outputs (row chunks bound the memory);
* otherwise (``mul=``, formats too wide for 64-bit words) step by step
  through :mod:`fxsim.ops` (each step one call over all outputs), slower
  but general.

Every kernel that uses the machine's IEEE arithmetic first checks, on each
of its threads, that the FPU does not flush subnormals (FTZ/DAZ) and hands
the product to the core otherwise.  This module checks the arguments and
chooses the engine; the engines live beside it: the general ones (exact
sums, step by step) in :mod:`fxsim.linalg_stepwise`, the kernel engines in
:mod:`fxsim.linalg_engines`, the sliced exact sum in :mod:`fxsim.linalg_exact`.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import codec, ops
from . import formats as _formats
from . import linalg_engines as engines
from . import linalg_exact as exact_engine
from . import linalg_stepwise as stepwise
from . import linalg_units as units
from .linalg_units import UNITS, BlockFMA
from .array import QArray, wrap_codes
from .im2col import geometry, patches

__all__ = ["matmul", "conv2d", "BlockFMA", "UNITS"]


# ---------------------------------------------------------------- checking
def _check_order(order, name):
    if isinstance(order, str) and order in ("sequential", "pairwise"):
        return order
    if isinstance(order, numbers.Integral) and not isinstance(order, bool) and order >= 1:
        return int(order)
    raise ValueError(f"{name}: order must be 'sequential', 'pairwise' or a block size >= 1, "
                     f"got {order!r}")


_modes = stepwise.accumulator_modes   # (rounding, overflow) of an accumulation, checked
_broadcast = stepwise.broadcast


def _matmul_shapes(a, b, name):
    """2-d views and the result shape of numpy's matmul rules."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{name}: operands must have at least one axis, got shapes "
                         f"{a.shape} and {b.shape}")
    a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"{name}: reduction lengths differ: a {a.shape} ({a.fmt.name}) has "
                         f"K={a2.shape[-1]}, b {b.shape} ({b.fmt.name}) has K={b2.shape[-2]}")
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: batch shapes of {a.shape} and {b.shape} do not broadcast") from None
    shape = batch + ((a2.shape[-2],) if a.ndim > 1 else ()) + ((b2.shape[-1],) if b.ndim > 1 else ())
    return a2, b2, batch, shape


# ---------------------------------------------------------------- engine choice
def _matmul2d(a, b, c, mul, acc, out, order, rounding, overflow, name):
    """One 2-d product; ``rounding``/``overflow`` as the user gave them.
    The first kernel engine whose test says it is exact for the case runs
    it; the stepwise engine is exact for every case."""
    if acc is None:
        s = None
        if exact_engine.exact_ok(a, b, c, out):
            s = exact_engine.exact_engine(a, b, c, out, rounding, overflow, name)
        return s if s is not None else stepwise.exact_sum(a, b, c, out, rounding, overflow, name)
    racc, oacc = _modes(acc, rounding, overflow, name)   # the accumulator's own modes
    if mul is None and engines.hardware_ok(a, b, acc, order, racc, oacc):
        s = engines.hardware_engine(a, b, c, acc, racc, oacc, name)
    elif mul is None and engines.fixed_ok(a, b, c, acc, order, racc, oacc):
        s = engines.fixed_engine(a, b, c, acc, order, racc, oacc, name)
    elif mul is None and order == "sequential" and engines.core_ok(a, b, acc, racc, oacc):
        s = engines.core_engine(a, b, c, acc, racc, oacc, name)
    elif mul is None and engines.ieee_block_ok(a, b, acc, order, racc, oacc):
        s = engines.ieee_block_engine(a, b, c, acc, order, racc, oacc, name)
    elif mul is None and engines.block_ok(a, b, acc, order):
        s = engines.block_engine(a, b, c, acc, order, racc, oacc, name)
    else:
        s = stepwise.stepwise(a, b, c, mul, acc, order, racc, oacc, (rounding, overflow), name)
    if out is not None:  # a cast even when out == acc (jam changes exact values)
        try:
            s = ops.cast(s, out, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise stepwise.step_error(err, name, f"the result into out={out.name}") from None
    return s


# ---------------------------------------------------------------- public
def matmul(a, b, c=None, mul=None, acc=None, out=None, order="sequential",
           rounding="nearest_even", overflow=None) -> QArray:
    """``c + a @ b`` with numpy's matmul shapes and a stated accumulation.

    Parameters
    ----------
    a, b : QArray or numpy float/int arrays (read exactly in their formats)
        ``a`` (..., M, K), ``b`` (..., K, N); 1-d operands as in numpy.
    c : optional addend, broadcast to the result (cast into ``acc`` first).
    mul : format, optional
        Round each product into it (default: products exact).
    acc : format, optional
        The accumulator; every addition is rounded into it (floats) or
        rounded and wrapped/saturated (fixed).  None: exact accumulation.
    out : format, optional
        Cast the result into it (acc=None: the one rounding of the exact
        sum; default for fixed operands: exact in a grown format; for float
        operands: :func:`fxsim.result_format`).
    order : "sequential", "pairwise" or an int B (blocks of B products
        summed exactly, then added) -- see the module docstring -- or a
        :class:`BlockFMA` unit (a tensor-core model, presets in ``UNITS``:
        FP8, float16, bfloat16 or TF32 operands, float32 c and result;
        see :mod:`fxsim.linalg_units`).
    rounding, overflow : the modes of every rounding step (deterministic
        modes only; overflow None: each format's default).

    Returns a QArray in ``out``, else ``acc``, else the exact format."""
    name = "matmul"
    if units.is_unit(order):  # a block-FMA matrix unit: fxsim.linalg_units
        units.check_modes(order, mul, acc, out, rounding, overflow, name)
        return units.blockfma_matmul(a, b, c, order, name)
    order = _check_order(order, name)
    a = ops.as_operand(a, b if isinstance(b, QArray) else None, name)
    b = ops.as_operand(b, a, name)
    c = None if c is None else ops.as_operand(c, a, name)
    mul = None if mul is None else _formats.format(mul)
    acc = None if acc is None else _formats.format(acc)
    out = None if out is None else _formats.format(out)
    for fmt in (mul, acc, out):
        if fmt is not None:
            _modes(fmt, rounding, overflow, name)
    if acc is None and mul is not None:
        raise ValueError(f"{name}: mul={mul.name} rounds the products but acc=None sums exactly; "
                         "give acc= as well (e.g. acc='float32')")
    a2, b2, batch, shape = _matmul_shapes(a, b, name)
    m, n = a2.shape[-2], b2.shape[-1]
    if c is not None:
        try:
            np.broadcast_shapes(c.shape, shape)
        except ValueError:
            raise ValueError(f"{name}: c of shape {c.shape} does not broadcast to the result "
                             f"shape {shape}") from None
        c = _broadcast(c, shape).reshape(batch + (m, n))
    a2 = _broadcast(a2, batch + a2.shape[-2:])
    b2 = _broadcast(b2, batch + b2.shape[-2:])
    results = [_matmul2d(a2[idx], b2[idx], None if c is None else c[idx], mul, acc, out, order,
                         rounding, overflow, name)
               for idx in np.ndindex(*batch)]
    bits = results[0].bits if not batch else np.stack([r.bits for r in results])
    res = wrap_codes(bits.reshape(batch + (m, n)), results[0].fmt)
    return res.reshape(shape)


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, *, mul=None, acc=None, out=None,
           order="sequential", rounding="nearest_even", overflow=None) -> QArray:
    """2-d convolution (cross-correlation) of ``x`` (N, C, H, W) with ``w``
    (O, C // groups, kh, kw) under :func:`matmul`'s accumulation model.

    Each output is the reduction over (c, kh, kw) -- channel slowest, filter
    column fastest -- of ``x * w`` in that order (``order`` applies to this
    sequence); zero padding enters as +0 values of ``x``'s format.  Equal to
    ``matmul(im2col(x), w.reshape(O, -1).T)`` per group."""
    name = "conv2d"
    x = ops.as_operand(x, w if isinstance(w, QArray) else None, name)
    w = ops.as_operand(w, x, name)
    g = geometry(name, x.shape, w.shape, stride, padding, dilation, groups)
    og = g.o // groups
    if (g.ph or g.pw) and codec.decode(np.zeros(1, np.uint8), x.fmt)[0] != 0:
        raise ValueError(f"{name}: format {x.fmt.name} has no zero to pad with; give padding=0 "
                         "or cast x into a format with a zero")
    parts = []
    for grp in range(groups):
        cols = patches(x.bits[:, grp * g.cg:(grp + 1) * g.cg], g, fill=0)  # code 0 is +0
        wmat = w.bits[grp * og:(grp + 1) * og].reshape(og, g.cg * g.kh * g.kw).T
        r = matmul(wrap_codes(cols.reshape(g.n * g.ho * g.wo, -1), x.fmt),
                   wrap_codes(np.ascontiguousarray(wmat), w.fmt),
                   mul=mul, acc=acc, out=out, order=order, rounding=rounding, overflow=overflow)
        parts.append(r.bits.reshape(g.n, g.ho, g.wo, og).transpose(0, 3, 1, 2))
    return wrap_codes(np.ascontiguousarray(np.concatenate(parts, axis=1)), r.fmt)
