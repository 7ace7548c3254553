"""NVIDIA's NVFP4: blocks of 16 E2M1 elements, a UE4M3 block scale, a float32
tensor scale.

Element ``i`` of block ``b`` stands for ``v_i = P_i * S_b * S``: ``P_i`` an
E2M1 value (``float4_e2m1fn``: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives),
``S_b`` an unsigned E4M3 value (``fxsim.format("ue4m3")``: 2**-9 .. 448, with
subnormals; E4M3FN with the sign bit 0) and ``S`` one float32 per tensor.

The recipe (NVIDIA's two-level scaling as torchao 0.18's ``nvfp4_quantize``
with a per-tensor scale and Transformer Engine's NVFP4 kernels compute it,
read in their source), with each rounding stated:

1. ``amax = max |x|`` over the whole tensor (exact).
2. ``S = fl32(amax / (6 * 448))``: the exact quotient rounded ONCE to
   float32, nearest-even -- torchao's ``per_tensor_amax_to_scale`` (a
   float32 division of a float32 amax: the same value for float32 input).
   ``amax = 0`` gives ``S = 1.0`` (Transformer Engine's rule for a zero
   amax; torchao would divide 0 by 0).  Transformer Engine keeps the
   reciprocal, ``S_enc = fl32(2688 / amax)``, and decodes with
   ``fl32(1 / S_enc)``, which can differ from ``S`` in its last bit.  An ``S``
   that overflows float32 or underflows to 0 (``amax`` beyond
   ``2688 * 3.4e38`` or below ``2688 * 2**-150``: float64 or subnormal
   float32 inputs only) is a ValueError.  ``tensor_scale=`` gives ``S``
   instead (a positive finite float32, e.g. calibrated).
3. ``S_b = UE4M3(block_amax / (6 * S))``: the exact quotient rounded ONCE
   into UE4M3, nearest-even, subnormals kept, saturating to 448 (CUDA's
   ``cvt.rn.satfinite.e4m3``); a block whose quotient rounds to 0 gets
   ``S_b = 0``.
4. ``P_i = E2M1(x_i / (S_b * S))``: the exact quotient (``S_b * S`` is exact
   in float64) rounded ONCE into E2M1, nearest-even, saturating to ±6
   (``cvt.rn.satfinite.e2m1``).  Signs of zeros are kept.  In a block with
   ``S_b = 0`` every element is a zero of ``x_i``'s sign (its value is 0
   either way).

Every rounding is fxsim's core (``fxsim.divide`` into float32, ue4m3 and
float4_e2m1fn with ``rounding="nearest_even"``; ``overflow="saturate"`` for
the last two); nothing else rounds.  Where the runtimes differ: torchao computes step 3 as
``fl32(fl32(block_amax / 6) / S)`` before the E4M3 cast (two float32
roundings first), clamps the quotient to ``[2**-6, 448]`` (no subnormal
scales, no zero scale), and step 4 as ``x * fl32(fl32(1 / S) / S_b)`` in
float32; Transformer Engine multiplies by float32 reciprocals too.  Those
float32 steps can move a value across a rounding boundary (the tests
report how often torchao's answer differs); fxsim rounds the exact
quotients.

Blocks run along ``axis`` (default: the last).  A length that is not a
multiple of 16 is accepted: the last block is partial, and its scale comes
from its own elements only -- what padding with zeros and dropping the pad
gives (zeros cannot change a maximum).

:meth:`NVFP4Array.dequantize` returns ``P_i * S_b * S`` exactly as float64
(2 + 4 + 24 significant bits, exponents within float64's normal range), or
with ``dtype=numpy.float32`` that exact value rounded once to float32
(nearest-even) -- what a float32 dequantization computing ``P_i * S_b``
(exact in float32) and then ``* S`` (one rounding) gives.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from . import blocking
from . import formats as _formats
from .array import QArray, asarray, wrap_codes
from .ops import divide

BLOCK = 16
E2M1 = _formats.float4_e2m1fn
#: 6 * 448: E2M1's largest value times UE4M3's.
TENSOR_DIVISOR = 2688


def scale_format():
    """The block scale format, ``fxsim.format("ue4m3")``."""
    return _formats.format("ue4m3")


@dataclasses.dataclass(frozen=True, eq=False)
class NVFP4Array:
    """An array in NVFP4 (see the module docstring).

    Attributes
    ----------
    elements : QArray
        float4_e2m1fn codes, shaped like the data.
    scales : QArray
        ue4m3 codes, shaped like the data with ``axis`` replaced by the
        number of blocks ``ceil(n / 16)``.
    tensor_scale : numpy.float32
        The per-tensor scale ``S``.
    axis : int
        The blocked axis (non-negative).
    """

    elements: QArray
    scales: QArray
    tensor_scale: np.float32
    axis: int

    block = BLOCK

    def __post_init__(self):
        where = "NVFP4Array"
        if not isinstance(self.elements, QArray) or self.elements.fmt != E2M1:
            raise ValueError(f"{where}: elements must be a QArray of format float4_e2m1fn")
        if not isinstance(self.scales, QArray) or self.scales.fmt != scale_format():
            raise ValueError(f"{where}: scales must be a QArray of format ue4m3")
        if self.elements.ndim == 0:
            raise ValueError(f"{where}: elements must have at least one dimension")
        axis = blocking.normalize_axis(self.axis, self.elements.ndim, where)
        expected = list(self.elements.shape)
        expected[axis] = blocking.nblocks(expected[axis], BLOCK)
        if tuple(expected) != self.scales.shape:
            raise ValueError(f"{where}: scales have shape {self.scales.shape}; elements of shape "
                             f"{self.elements.shape} in blocks of 16 along axis {axis} need "
                             f"{tuple(expected)}")
        s = np.asarray(self.tensor_scale)
        if s.ndim or s.dtype != np.float32 or not np.isfinite(s) or s <= 0:
            raise ValueError(f"{where}: tensor_scale = {self.tensor_scale!r} must be one positive "
                             "finite numpy.float32")
        if (self.scales.bits == 0x7F).any():
            raise ValueError(f"{where}: a block scale is NaN (code 0x7F) at index "
                             f"{blocking.first_index(self.scales.bits == 0x7F)}")
        object.__setattr__(self, "axis", axis)

    @property
    def shape(self) -> tuple:
        return self.elements.shape

    def dequantize(self, dtype=np.float64) -> np.ndarray:
        """``P_i * S_b * S``: exact float64, or rounded once to float32."""
        if dtype not in (np.float64, np.float32):
            raise ValueError("NVFP4Array.dequantize: dtype must be numpy.float64 or numpy.float32")
        n = self.shape[self.axis]
        sb = blocking.expand(self.scales.to_float(), BLOCK, self.axis, n)
        values = self.elements.to_float() * sb * np.float64(self.tensor_scale)  # exact
        return values.astype(dtype)

    def __repr__(self) -> str:
        return (f"NVFP4Array(shape={self.shape}, axis={self.axis}, block={BLOCK}, "
                f"nblocks={self.scales.shape[self.axis]}, "
                f"tensor_scale={float(self.tensor_scale)!r})")


def _tensor_scale(amax, given, where):
    f32 = _formats.float32
    if given is not None:
        s = np.asarray(given)
        if s.ndim or s.dtype.kind not in "fiu" or not np.isfinite(s) or s <= 0 \
                or np.float32(s) != s:
            raise ValueError(f"{where}: tensor_scale = {given!r} must be one positive finite "
                             "float32 value")
        return np.float32(s)
    if amax == 0:
        return np.float32(1.0)
    q = divide(asarray(np.array([amax]), "float64"), asarray(np.array([float(TENSOR_DIVISOR)]),
                                                             "float64"),
               out=f32, rounding="nearest_even", overflow="ieee")
    s = np.float32(q.to_float()[0])
    if not np.isfinite(s) or s == 0:
        raise ValueError(f"{where}: the tensor scale amax / 2688 = {Fraction(amax) / 2688} "
                         "overflows or underflows float32; pass tensor_scale=")
    return s


def _float64_values(x, where):
    """``x`` read exactly (:func:`fxsim.blocking.input_array`) as float64, or a
    ValueError naming the first value that float64 cannot hold."""
    arr = blocking.input_array(x, where)
    if arr.dtype != object:
        return arr
    out = np.empty(arr.shape, dtype=np.float64)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        f = float(v)
        if not isinstance(v, float) and Fraction(f) != v:
            raise ValueError(f"{where}: value {v} at index "
                             f"{tuple(int(k) for k in np.unravel_index(i, arr.shape))} is not "
                             "exactly a float64; NVFP4 quantization here reads float64 values")
        flat[i] = f
    return out


def quantize(x, axis: int = -1, *, tensor_scale=None) -> NVFP4Array:
    """``x`` in NVFP4 along ``axis``, by the recipe of the module docstring.

    ``x``: any array-like fxsim reads exactly (float16/32/64, integers,
    QArrays, Fractions) whose values are float64 numbers (a ValueError names
    the first one that is not), at least one dimension, no NaN or infinity
    (a ValueError naming the first index).  ``tensor_scale``: None (the
    recipe's ``fl32(amax / 2688)``) or a positive finite float32."""
    where = f"nvfp4.quantize (axis {axis!r})"
    x64 = _float64_values(x, where)
    if x64.ndim == 0:
        raise ValueError(f"{where}: the input must have at least one dimension, got a scalar")
    bad = ~np.isfinite(x64)
    if bad.any():
        raise ValueError(f"{where}: NVFP4 has no NaN or infinity; value {x64[bad][0]} at index "
                         f"{blocking.first_index(bad)}")
    axis = blocking.normalize_axis(axis, x64.ndim, where)
    n = x64.shape[axis]
    amax = float(np.max(np.abs(x64))) if x64.size else 0.0
    s = _tensor_scale(amax, tensor_scale, where)
    ue4m3 = scale_format()
    bamax = blocking.from_block_layout(
        blocking.to_blocks(np.abs(x64), BLOCK, axis, 0.0).max(axis=-1, initial=0.0), axis)
    denom = np.float64(6.0) * np.float64(s)  # exact
    scales = divide(asarray(bamax, "float64"), asarray(np.full(bamax.shape, denom), "float64"),
                    out=ue4m3, rounding="nearest_even", overflow="saturate")
    d = blocking.expand(scales.to_float(), BLOCK, axis, n) * np.float64(s)  # S_b * S, exact
    zero = d == 0
    elems = divide(asarray(x64, "float64"), asarray(np.where(zero, 1.0, d), "float64"),
                   out=E2M1, rounding="nearest_even", overflow="saturate")
    codes = np.where(zero, np.where(np.signbit(x64), 0x8, 0x0), elems.bits).astype(np.uint8)
    return NVFP4Array(wrap_codes(codes, E2M1), scales, s, axis)
