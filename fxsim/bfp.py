"""Block floating point: one shared exponent per block, fixed-point mantissas.

Each block of ``block`` consecutive elements along ``axis`` shares an
integer exponent ``e``; element ``i`` is a ``mantissa_bits``-bit two's
complement integer ``m_i`` and stands for ``m_i * 2**e``.  This is the
"shared exponent, integer mantissas" tensor format of Flexpoint (Köster et
al., "Flexpoint: An Adaptive Numerical Format for Efficient Training of Deep
Neural Networks", NeurIPS 2017), here with one exponent per block instead of
per tensor, and the exponent taken from the block's own maximum (Flexpoint's
Autoflex predicts it from past maxima instead).

The exponent rule.  With ``M = max |v_i|`` over the block and
``p = mantissa_bits``::

    e = floor(log2(M)) - (p - 2)

so that ``M / 2**e`` lies in ``[2**(p-2), 2**(p-1))``: the largest magnitude
uses the top magnitude bit of the signed mantissa, and every ``v_i / 2**e``
lies in ``(-2**(p-1), 2**(p-1))`` before rounding.  Rounding can carry a
magnitude up to ``2**(p-1)``, one past the largest positive mantissa
``2**(p-1) - 1``.  Such a mantissa **saturates** to ``±(2**(p-1) - 1)``: the
exponent is never bumped, so the other elements keep their precision, and
the saturated element is off by less than one unit ``2**e``.  By default
(``symmetric=True``) the range is symmetric, so a negative value rounding to
``-2**(p-1)`` saturates too and that code is never produced; this is what
makes quantize -> dequantize -> quantize reproduce exponents and mantissas
(a mantissa ``-2**(p-1)`` would requantize with exponent ``e + 1``).  With
``symmetric=False`` the full two's complement range is used and
``-2**(p-1)`` is kept.

Other choices: an all-zero block gets exponent 0 and zero mantissas; NaN or
inf anywhere is a ValueError (fixed-point mantissas have neither) naming the
first offending index; the last block along the axis may be partial (its
exponent comes from its own elements); ``mantissa_bits >= 2``.

Exactness.  ``v_i / 2**e`` is exact (``numpy.ldexp`` on float64 when the
product is a float64, checked by scaling back, else ``Fraction``), and
rounded ONCE by fxsim's rounding core (``fxsim.encode`` with
``overflow="saturate"``, which performs the saturation above) into
``FixedFormat(mantissa_bits, 0, narrow=True)`` -- the symmetric range --
or, with ``symmetric=False``, ``FixedFormat(mantissa_bits, 0)``.  The
mantissas are stored as codes of ``FixedFormat(mantissa_bits, 0)`` either
way (a narrowed format limits what rounding produces; every code reads the
same).  The exponents are exact integers.  ``dequantize`` gives
``m_i * 2**e`` as float64, correctly rounded (``exact=True`` gives
Fractions).  For float64 inputs with ``mantissa_bits <= 53`` it is exact
(the value has at most 53 significant bits and lies on float64's grid: when
``e < -1074`` every ``v_i / 2**e`` is an integer, left alone by rounding),
with two exceptions: ``jam`` rounding, which sets the last bit even of
exact values and so can set one below ``2**-1074``; and, with
``symmetric=False``, a mantissa ``-2**(p-1)`` in a block whose maximum is
in float64's top binade, which stands for ``-2**1024`` and becomes -inf.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from . import blocking, codec, exact
from . import formats as _formats
from .array import QArray, wrap_codes


@dataclasses.dataclass(frozen=True, eq=False)
class BFPArray:
    """An array in block floating point.

    Attributes
    ----------
    exponents : numpy.ndarray of int64
        Shared exponents, shaped like the data with ``axis`` replaced by the
        number of blocks ``ceil(n / block)``.
    mantissas : QArray
        Two's complement integers, format ``FixedFormat(mantissa_bits, 0)``,
        shaped like the data.
    block : int
    axis : int
        The blocked axis (non-negative).

    Element ``j`` along ``axis`` is ``mantissas[j] * 2**exponents[j // block]``.
    """

    exponents: np.ndarray
    mantissas: QArray
    block: int
    axis: int

    def __post_init__(self):
        where = "BFPArray"
        m = self.mantissas
        if not isinstance(m, QArray) or m.fmt.is_float or not m.fmt.signed or m.fmt.frac != 0:
            raise ValueError(f"{where}: mantissas must be a QArray of a signed "
                             "FixedFormat(word, 0)")
        block = blocking.check_block(self.block, f"{where} (mantissas {m.fmt.name})")
        if m.ndim == 0:
            raise ValueError(f"{where}: mantissas must have at least one dimension")
        axis = blocking.normalize_axis(self.axis, m.ndim,
                                       f"{where} (mantissas {m.fmt.name}, block {block})")
        exps = np.asarray(self.exponents)
        if exps.dtype.kind not in "iu" and not (exps.dtype == object and all(
                isinstance(v, (int, np.integer)) for v in exps.reshape(-1))):
            raise ValueError(f"{where}: exponents must be integers, got dtype {exps.dtype}")
        expected = list(m.shape)
        expected[axis] = blocking.nblocks(expected[axis], block)
        if tuple(expected) != exps.shape:
            raise ValueError(f"{where}: exponents have shape {exps.shape}; mantissas of shape "
                             f"{m.shape} in blocks of {block} along axis {axis} need "
                             f"{tuple(expected)}")
        object.__setattr__(self, "exponents", exps)
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "axis", axis)

    @property
    def mantissa_bits(self) -> int:
        return self.mantissas.fmt.word

    @property
    def shape(self) -> tuple:
        return self.mantissas.shape

    def dequantize(self, exact: bool = False) -> np.ndarray:
        """See :func:`dequantize`."""
        return dequantize(self, exact=exact)

    def __repr__(self) -> str:
        return (f"BFPArray(shape={self.shape}, mantissa_bits={self.mantissa_bits}, "
                f"block={self.block}, axis={self.axis}, nblocks={self.exponents.shape[self.axis]})")


def quantize(x, mantissa_bits: int = 8, block: int = 16, axis: int = -1, rounding="nearest_even",
             *, symmetric: bool = True, rng=None, random=None, random_bits: int = 32) -> BFPArray:
    """``x`` in block floating point (see the module docstring for the rule).

    Parameters
    ----------
    x : array_like
        At least one dimension, finite.  float16/32/64 and integer arrays,
        Python ints, Fractions, Decimals and QArrays are read exactly.
    mantissa_bits : int
        Bits of each two's complement mantissa, sign included (>= 2).
    block : int
        Elements per block along ``axis``; the last block may be partial.
    axis : int
    rounding : str
        Any fxsim rounding mode for the mantissas (default: ties to even).
    symmetric : bool
        Round into the narrowed ``FixedFormat(p, 0, narrow=True)``, which
        saturates to ``±(2**(p-1) - 1)`` (default), never producing the code
        ``-2**(p-1)``; False: saturate to the full two's complement range.
    rng, random, random_bits
        Random source for the stochastic modes, as in :func:`fxsim.encode`
        (one draw per element of ``x``, in C order of ``x``).

    Returns
    -------
    BFPArray

    Raises
    ------
    ValueError
        NaN or inf in ``x`` (naming the first index), bad arguments.
    """
    if isinstance(mantissa_bits, (bool, np.bool_)) \
            or not isinstance(mantissa_bits, (int, np.integer)) or mantissa_bits < 2:
        raise ValueError(f"bfp.quantize (block {block!r}, axis {axis!r}): mantissa_bits must be "
                         "an integer >= 2 (sign and at least one magnitude bit), "
                         f"got {mantissa_bits!r}")
    p = int(mantissa_bits)
    fmt = _formats.FixedFormat(p, 0)
    where = f"bfp.quantize (mantissas {fmt.name}, block {block!r}, axis {axis!r})"
    block = blocking.check_block(block, where)
    rounding, overflow = codec.resolve_modes(fmt, rounding, "saturate")
    arr = blocking.input_array(x, where)
    if arr.ndim == 0:
        raise ValueError(f"{where}: the input must have at least one dimension, got a scalar")
    axis = blocking.normalize_axis(axis, arr.ndim, where)
    n = arr.shape[axis]

    if arr.dtype == object:
        rat, finite = blocking.exact_finite(arr)
    else:
        finite = np.isfinite(arr)
    if not finite.all():
        index = blocking.first_index(~finite)
        raise ValueError(f"{where}: {arr[index]} at index {index} has no block floating point "
                         f"representation (fixed-point mantissas have no NaN or inf); replace or "
                         f"clip it first")
    if arr.dtype == object:
        amax = blocking.to_blocks(np.abs(rat), block, axis, Fraction(0)).max(axis=-1)
        exps = np.empty(amax.shape, dtype=object)
        flat = exps.reshape(-1)
        for i, a in enumerate(amax.reshape(-1)):
            flat[i] = 0 if a == 0 else exact.floor_log2(a) - (p - 2)
        try:
            exps = exps.astype(np.int64)
        except OverflowError:
            pass  # astronomically large exponents stay Python ints
    else:
        amax = blocking.to_blocks(np.abs(arr), block, axis, 0.0).max(axis=-1)
        _, ex = np.frexp(amax)  # amax = m * 2**ex, 0.5 <= m < 1: floor(log2 amax) = ex - 1
        exps = np.where(amax == 0, 0, ex.astype(np.int64) - 1 - (p - 2))
    exps = blocking.from_block_layout(exps, axis)

    e = blocking.expand(exps, block, axis, n)
    skip = np.zeros(arr.shape, dtype=bool)
    scaled = None
    if arr.dtype != object and e.dtype != object:
        scaled = blocking.scale_fast(arr, e, skip)
    if scaled is None:
        values = arr if arr.dtype == object else exact.exact_values(arr, where)
        scaled = blocking.scale_exact(values, e, skip)
    # one rounding; the symmetric range is the narrowed format's saturation
    target = _formats.FixedFormat(p, 0, narrow=True) if symmetric else fmt
    codes = np.asarray(codec.encode(scaled, target, rounding, overflow, rng=rng, random=random,
                                    random_bits=random_bits)).reshape(arr.shape)
    return BFPArray(exps, wrap_codes(codes, fmt), block, axis)


def dequantize(b: BFPArray, exact: bool = False) -> np.ndarray:
    """The values ``m_i * 2**e`` of a :class:`BFPArray`, shaped like its mantissas.

    float64: exact whenever float64 holds the value (for float64 input and
    ``mantissa_bits <= 53`` nearly always; see the module docstring), else
    the nearest float64 (ties to even, one rounding; beyond float64's
    range, inf).  With ``exact=True``: an
    object array of ``Fraction``.
    """
    if not isinstance(b, BFPArray):
        raise ValueError(f"bfp.dequantize: give a BFPArray, got {type(b).__name__}")
    n = b.shape[b.axis]
    e = blocking.expand(b.exponents, b.block, b.axis, n)
    if not exact and b.mantissa_bits <= 53 and e.dtype != object:
        m = b.mantissas.to_float()  # integers below 2**53: exact
        big = np.abs(e) > 4000  # beyond any float64 result: keep ldexp's exponent argument sane
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(m, np.where(big, np.sign(e) * 4000, e))
    ints = b.mantissas.to_exact()
    out = np.empty(b.shape, dtype=object)
    flat = out.reshape(-1)
    for i, (m, k) in enumerate(zip(ints.reshape(-1), e.reshape(-1))):
        flat[i] = m * Fraction(2) ** int(k)
    if exact:
        return out
    return np.asarray(codec.decode(codec.encode(out, _formats.float64), _formats.float64),
                      dtype=np.float64).reshape(b.shape)
