"""OCP Microscaling (MX) block formats, v1.0.

An MX block is ``k`` private elements ``P_i`` (each in an element format)
and one shared scale ``X`` (E8M0: a power of two); element ``i`` stands for
``v_i = X * P_i``.  Sections below are those of the *OCP Microscaling
Formats (MX) Specification, version 1.0* (Open Compute Project, September
2023):

* §5.1: a block is ``X`` plus ``k`` elements, ``v_i = X * P_i``; if ``X`` is
  NaN every value of the block is NaN, whatever the elements hold.
* §5.2, Table 1: the concrete formats MXFP8 (E5M2 or E4M3 elements), MXFP6
  (E3M2, E2M3), MXFP4 (E2M1) and MXINT8 (INT8), all with ``k = 32`` and an
  E8M0 scale.
* §5.3: element types.  FP8 follows the OCP 8-bit floating point spec
  (E4M3: no inf, NaN ``S.1111.111``, max 448; E5M2: IEEE-like, max 57344);
  FP6 (E3M2, max 28; E2M3, max 7.5) and FP4 (E2M1, max 6) have no inf and no
  NaN; all have subnormals.  §5.3.4 (Table 6): INT8 is 8-bit two's
  complement with an implicit scale ``2**-6`` (1 sign, 1 integer and 6
  fraction bits: values ``-2 .. 1 63/64`` in steps of ``1/64``); the most
  negative code (-2) *may* be left unused for symmetry.
* §5.4.1, Table 7: E8M0 is an unsigned biased exponent (bias 127) for the
  powers of two ``2**-127 .. 2**127``; ``0xFF`` is NaN; no zero, no inf.
* §6.3, conversion of ``k`` scalars ``V_i`` to an MX block (the spec's
  recommended algorithm, followed here exactly):
  (1) ``X`` is the largest power of two ``<= max_i |V_i|``, divided by the
  largest power of two representable in the element type; that is
  ``X = 2**(floor(log2(max_i |V_i|)) - emax_elem)``, ``emax_elem`` the
  exponent of the element format's largest normal: E4M3 8, E5M2 15,
  E3M2 4, E2M3 2, E2M1 2, INT8 0 (its largest power of two is 1.0);
  (2) ``P_i`` is ``V_i / X`` quantized to the element type, normal numbers
  beyond the element's max normal clamped to it, keeping the sign;
  roundTiesToEven must be supported, other roundings may be.
  Rouhani et al., "Microscaling Data Formats for Deep Learning"
  (arXiv:2310.10537), Algorithm 1, writes the same rule in this closed
  form; ``microsoft/microxcaling`` (``mx/mx_ops.py``: ``_shared_exponents``,
  ``_quantize_mx``) implements it.
* §4: detailed scale algorithms and element encodings under a NaN scale are
  outside the spec's scope; the choices fxsim makes there are listed below.

Scale rules (``scale_rule=``).  With ``A = max_i |V_i|`` the EXACT block
maximum (never a rounded logarithm, never a float32 copy of ``A``),
``emax`` the element's ``emax_elem`` (above), ``m`` its fraction bits at the
top binade (``MBITS``: E4M3 3, E5M2 2, E3M2 2, E2M3 3, E2M1 1, MXINT8 6) and
``max_elem`` its largest finite magnitude (``MAX_ELEM``: 448, 57344, 28,
7.5, 6, 127/64)::

    floor  X = 2**(floor(log2 A) - emax)                  OCP MX v1.0 sec. 6.3 (default)
    ceil   X = 2**(ceil(log2 A) - emax)
    even   X = 2**(floor(log2 R_m(A)) - emax)
             R_m(A) = A rounded to m fraction bits, ties AWAY from zero
             = floor(log2 A) + [A / 2**floor(log2 A) >= 2 - 2**-(m+1)]
    rceil  X = 2**ceil(log2(A / max_elem))   the least power of two >= A / max_elem

then ``log2 X`` is clamped below to -127 (the least E8M0 scale, also for
``A = 0``).  Above 127 (reachable from float64 inputs only): ``floor``,
``ceil`` and ``even`` give the NaN scale 0xFF (as the floor rule always
did, and as torchao's clamp to 128 does); ``rceil`` gives ``2**127`` (0xFE),
CUDA's ``satfinite``.  The elements are then ``V_i / X`` rounded once, as
below.  Sources: torchao 0.18 ``ScaleCalculationMode``
(``torchao/prototype/mx_formats/config.py`` and ``mx_tensor.py``): CEIL adds
1 to the float32 exponent field when the mantissa field is non-zero; EVEN
adds ``1 << (23 - m - 1)`` to the float32 bit pattern of ``A`` and clears
the mantissa field (round half away, then take the exponent: the equation
above, despite its name); RCEIL is cuBLAS's "Computing scaling and
conversion factors for FP8 with UE8M0 scales": ``cvt.rp.satfinite.ue8m0``
(round toward +inf, saturating) of ``A / max_elem``.  ``rceil`` never needs
the element clamp: ``|V_i| / X <= max_elem``.

Where fxsim deliberately differs from torchao (regression-tested in
``tests/test_mx_rules.py``): torchao's FLOOR/CEIL/EVEN path clamps the float
scale to ``2**-126`` (float32's least normal) before dividing, so a block
whose E8M0 scale is ``2**-127`` has its elements divided by ``2**-126``
(half the values the stored scale says); its CPU RCEIL takes
``ceil(float32 log2(float32 A / max_elem))``, and a float32 ``log2`` of a
value just above ``2**k`` rounds to ``k`` (so the scale is one binade too
small and the block's top element saturates); its RCEIL also takes the
reciprocal of a ``2**-127`` scale (code 0) as 1.0, leaving such a block's
elements unscaled.  Its float32 quotient
``A / max_elem`` may also round down onto ``2**-127`` in float32's
subnormal range; fxsim takes the exact quotient.  fxsim uses the exact
``A`` in every rule.  Elsewhere (float32 blocks in the normal range) every
rule agrees with torchao 0.18 code for code on the blocks the tests report
on.  A block holding NaN or an infinity gets the NaN scale under every rule
(below); CUDA's ``cvt.rp.satfinite`` of an infinite ``A / max_elem`` would
give 0xFE.

What fxsim does where the spec leaves room (each one tested):

* **floor(log2 max)** is computed exactly (``numpy.frexp`` on float64, exact
  integer arithmetic otherwise), so a block maximum of ``2**k * (1 - 2**-20)``
  gets ``floor = k - 1`` -- and its largest elements then round beyond the
  element's max normal and are clamped to it, as §6.3 (2) says.
* **Shared exponent below -127** (tiny blocks): clamped to -127, the least
  E8M0 scale (as microxcaling); elements too small for ``2**-127`` times the
  element's smallest subnormal round to zero.
* **Shared exponent above 127** (only float64 or wider inputs reach it): the
  scale is NaN, as microxcaling and as E8M0's own overflow: no MX block
  holds such a value.
* **A block holding NaN or ±inf**: scale NaN (``0xFF``; §5.1 then makes every
  value of the block NaN), as microxcaling (where ``max|V|`` is NaN or inf);
  E8M0 has no inf.  The element codes of such a block are all 0 (their
  encoding is out of the spec's scope, §4).
* **An all-zero block** (``floor(log2 0)`` is undefined): scale ``2**-127``
  (code 0; the limit of the rule as the maximum goes to 0, clamped), all
  elements zero, signs of zeros kept in float elements.  microxcaling gives
  the same scale for the FP element formats; for MXINT8 it gives
  ``2**-126``.  Either scale represents the zeros exactly.
* **Overflow of an element** after rounding: clamped to ± max normal
  (``overflow="saturate"``, §6.3 (2)).  For FP8 the OFP8 spec also defines
  the non-saturating conversion: pass ``overflow="ieee"`` (E5M2: to inf)
  or ``"nan"``.
* **MXINT8's -2.0**: §5.3.4 (Table 6) gives INT8's largest symmetric
  magnitude as ``2 - 2**-6`` (codes ±127) and lets the most negative code
  (0x80, -2.0) go unused; §6.3 (2) clamps to the max normal keeping the
  sign.  Taking ``2 - 2**-6`` as that max normal, by default
  (``int8_symmetric=True``) elements are rounded into the narrowed s8.6,
  ``FixedFormat(8, 6, narrow=True)`` (``MXINT8_SYMMETRIC``, range
  ``±(2 - 2**-6)``): an element that rounds to -2.0 is clamped to
  ``-(2 - 2**-6)`` and 0x80 is never produced (as microxcaling).  This also
  makes quantize -> dequantize -> quantize reproduce the codes: -2.0 * X
  would otherwise requantize with scale 2X.  The clamp is the rounding
  core's overflow step, so ``overflow="raise"`` raises there too, and
  ``overflow="wrap"`` needs ``int8_symmetric=False`` (a narrowed format does
  not wrap).  ``int8_symmetric=False`` uses the full two's complement s8.6
  range (saturating to -2.0 and ``2 - 2**-6``).  Either way the elements
  are stored as MXINT8's s8.6 codes: a narrowed format only limits what
  rounding produces, every code reads the same.
* **Partial last block**: the last block along the axis may hold fewer than
  ``block`` elements; its scale comes from its own elements only (as if
  padded with zeros, which §6.2 assumes and which cannot change a maximum
  magnitude).
* **Rounding**: ``nearest_even`` by default, any fxsim mode by name
  (microxcaling's default "nearest" is ``nearest_away``).

Exactness.  The scale is exact: a power of two in E8M0's range, whose code
is ``shared_exp + 127``, so there is nothing to round.  ``V_i / X =
V_i * 2**-shared_exp`` is computed exactly -- with ``numpy.ldexp`` on float64
when every product is a float64 (checked by scaling back), otherwise as a
``Fraction`` -- and then rounded ONCE into the element format by fxsim's
rounding core (``fxsim.encode``), which also applies the clamp.  There is no
intermediate rounding: no float32 step, no floating-point division.
``dequantize`` is exact: an element value has at most 8 significant bits and
lies within ``[2**-16, 2**16]`` in magnitude (or is 0, inf, NaN), the scale
is ``2**-127 .. 2**127``, so each product is a float64 in the normal range.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from . import blocking, codec, exact
from . import formats as _formats
from .array import QArray, wrap_codes

E8M0 = _formats.float8_e8m0fnu
MXINT8 = _formats.FixedFormat(8, 6)
#: What MXINT8 elements are rounded into with ``int8_symmetric=True``: s8.6
#: narrowed to ``±(2 - 2**-6)`` (codes ±127; 0x80 is never produced).
MXINT8_SYMMETRIC = _formats.FixedFormat(8, 6, narrow=True)

#: emax_elem of each element format: the exponent of its largest normal
#: (spec §5.3, Tables 2-6; for INT8 the largest power of two is 1.0).
EMAX_ELEM = {
    _formats.float8_e4m3fn: 8,
    _formats.float8_e5m2: 15,
    _formats.float6_e3m2fn: 4,
    _formats.float6_e2m3fn: 2,
    _formats.float4_e2m1fn: 2,
    MXINT8: 0,
}

#: Largest finite magnitude of each element format (``rceil``'s max_elem).
MAX_ELEM = {
    _formats.float8_e4m3fn: Fraction(448),
    _formats.float8_e5m2: Fraction(57344),
    _formats.float6_e3m2fn: Fraction(28),
    _formats.float6_e2m3fn: Fraction(15, 2),
    _formats.float4_e2m1fn: Fraction(6),
    MXINT8: Fraction(127, 64),
}

#: Fraction bits of each element format at its top binade (``even``'s m).
MBITS = {
    _formats.float8_e4m3fn: 3,
    _formats.float8_e5m2: 2,
    _formats.float6_e3m2fn: 2,
    _formats.float6_e2m3fn: 3,
    _formats.float4_e2m1fn: 1,
    MXINT8: 6,
}

#: The scale rules of :func:`quantize` (see the module docstring).
SCALE_RULES = ("floor", "ceil", "even", "rceil")

#: Names accepted for the element formats.  NOTE: "int8" here means MXINT8's
#: element, s8.6 (value = code * 2**-6), not fxsim's plain int8 (s8.0).
ELEMENT_NAMES = {
    **{name: _formats.float8_e4m3fn for name in
       ("float8_e4m3fn", "e4m3fn", "e4m3", "fp8_e4m3", "mxfp8_e4m3")},
    **{name: _formats.float8_e5m2 for name in
       ("float8_e5m2", "e5m2", "fp8_e5m2", "mxfp8_e5m2")},
    **{name: _formats.float6_e3m2fn for name in
       ("float6_e3m2fn", "e3m2fn", "e3m2", "fp6_e3m2", "mxfp6_e3m2")},
    **{name: _formats.float6_e2m3fn for name in
       ("float6_e2m3fn", "e2m3fn", "e2m3", "fp6_e2m3", "mxfp6_e2m3")},
    **{name: _formats.float4_e2m1fn for name in
       ("float4_e2m1fn", "e2m1fn", "e2m1", "fp4", "fp4_e2m1", "mxfp4")},
    **{name: MXINT8 for name in ("int8", "mxint8", "s8.6")},
}


def element_format(spec, where: str = "mx"):
    """The fxsim format of an MX element type, from a name or a format.

    Names: ``float8_e4m3fn``/``e4m3``, ``float8_e5m2``/``e5m2``,
    ``float6_e3m2fn``/``e3m2``, ``float6_e2m3fn``/``e2m3``,
    ``float4_e2m1fn``/``e2m1``/``fp4``, and ``int8``/``mxint8``/``s8.6`` for
    MXINT8's element ``FixedFormat(8, 6)`` (NOT fxsim's plain int8).  Here
    ``e4m3`` is OCP's E4M3 (``float8_e4m3fn``), not fxsim's IEEE-like
    ``float8_e4m3``, which is no MX element format.
    """
    choices = ("float8_e4m3fn, float8_e5m2, float6_e3m2fn, float6_e2m3fn, float4_e2m1fn, "
               "mxint8 (s8.6)")
    if isinstance(spec, str):
        fmt = ELEMENT_NAMES.get(spec.strip().lower())
        if fmt is not None:
            return fmt
    elif isinstance(spec, (_formats.FixedFormat, _formats.FloatFormat)):
        if spec in EMAX_ELEM:
            return spec
        if spec == _formats.int8:
            raise ValueError(f"{where}: element format {spec.name} (plain int8) is not MXINT8's "
                             "element: MXINT8 elements are s8.6, FixedFormat(8, 6) (value = code * "
                             "2**-6, spec section 5.3.4); pass 'mxint8' or FixedFormat(8, 6)")
    raise ValueError(f"{where}: element format {spec!r} is not an MX element format; "
                     f"choose one of {choices}")


@dataclasses.dataclass(frozen=True, eq=False)
class MXArray:
    """An array in an MX format: per-block E8M0 scales and per-element codes.

    Attributes
    ----------
    scales : QArray
        float8_e8m0fnu codes, shaped like the data with ``axis`` replaced by
        the number of blocks ``ceil(n / block)``.
    elements : QArray
        Element codes (one of the MX element formats), shaped like the data.
    block : int
        Elements per block along ``axis`` (the last block may be partial).
    axis : int
        The blocked axis (non-negative).

    Element ``j`` along ``axis`` belongs to block ``j // block``; its value
    is ``scales[block] * elements[j]`` (NaN when the scale is NaN).  Build
    one from codes you already have with
    ``MXArray(fxsim.from_bits(s, "float8_e8m0fnu"), fxsim.from_bits(p, fmt), block, axis)``.
    """

    scales: QArray
    elements: QArray
    block: int
    axis: int

    def __post_init__(self):
        where = "MXArray"
        if not isinstance(self.scales, QArray) or self.scales.fmt != E8M0:
            raise ValueError(f"{where}: scales must be a QArray of format float8_e8m0fnu")
        if not isinstance(self.elements, QArray):
            raise ValueError(f"{where}: elements must be a QArray of an MX element format")
        element_format(self.elements.fmt, where)
        name = self.elements.fmt.name
        block = blocking.check_block(self.block, f"{where} (element format {name})")
        if self.elements.ndim == 0:
            raise ValueError(f"{where}: elements must have at least one dimension")
        axis = blocking.normalize_axis(self.axis, self.elements.ndim,
                                       f"{where} (element format {name}, block {block})")
        expected = list(self.elements.shape)
        expected[axis] = blocking.nblocks(expected[axis], block)
        if tuple(expected) != self.scales.shape:
            raise ValueError(f"{where}: scales have shape {self.scales.shape}; elements of shape "
                             f"{self.elements.shape} in blocks of {block} along axis {axis} need "
                             f"{tuple(expected)}")
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "axis", axis)

    @property
    def elem_fmt(self):
        return self.elements.fmt

    @property
    def shape(self) -> tuple:
        return self.elements.shape

    def scale_exponents(self) -> np.ndarray:
        """The shared exponents as float64 (``code - 127``; NaN for a NaN scale)."""
        bits = self.scales.bits.astype(np.float64)
        return np.where(self.scales.bits == 0xFF, np.nan, bits - 127.0)

    def dequantize(self, exact: bool = False) -> np.ndarray:
        """See :func:`dequantize`."""
        return dequantize(self, exact=exact)

    def __repr__(self) -> str:
        return (f"MXArray(shape={self.shape}, elements={self.elem_fmt.name}, block={self.block}, "
                f"axis={self.axis}, nblocks={self.scales.shape[self.axis]})")


def _rule_exponents(rule, fmt, top, sig):
    """``log2 X`` per block before clamping, from ``top = floor(log2 A)`` (int64)
    and the significand ``sig = A / 2**top`` in ``[1, 2)`` (float64, exact,
    or Fractions): exact comparisons only (see the module docstring)."""
    emax = EMAX_ELEM[fmt]
    if rule == "floor":
        return top - emax
    if rule == "ceil":
        return top - emax + (sig > 1).astype(np.int64)
    if rule == "even":
        threshold = 2.0 - 2.0 ** -(MBITS[fmt] + 1)  # exact in float64
        return top - emax + (sig >= threshold).astype(np.int64)
    # rceil: A / max_elem = (sig / s) * 2**(top - e) with sig / s in (1/2, 2):
    # its least power of two >= is 2**(top - e) or 2**(top - e + 1).
    mp = MAX_ELEM[fmt]
    e = exact.floor_log2(mp)
    s = float(mp / Fraction(2) ** e)  # exact in float64 (few bits)
    return top - e + (sig > s).astype(np.int64)


def quantize(x, elem_fmt, block: int = 32, axis: int = -1, rounding="nearest_even",
             overflow="saturate", *, scale_rule: str = "floor", int8_symmetric: bool = True,
             rng=None, random=None, random_bits: int = 32) -> MXArray:
    """``x`` in an MX format: blocks of ``block`` elements along ``axis``.

    Follows the spec's conversion rule (§6.3; see the module docstring):
    ``X = 2**(floor(log2(max |V_i|)) - emax_elem)`` per block, stored as
    E8M0, and ``P_i = V_i / X`` rounded once into ``elem_fmt`` with
    ``rounding``, clamped to ± max normal.  ``scale_rule`` picks another
    rule for ``X`` (``"floor"``, ``"ceil"``, ``"even"``, ``"rceil"``; the
    equations are in the module docstring), each computed from the exact
    block maximum.

    Parameters
    ----------
    x : array_like
        At least one dimension.  float16/32/64 and integer arrays, Python
        ints, Fractions, Decimals and QArrays are all read exactly.
    elem_fmt : str or format
        ``"e4m3"``, ``"e5m2"``, ``"e3m2"``, ``"e2m3"``, ``"e2m1"`` (or their
        fxsim preset names), or ``"int8"``/``"mxint8"`` for MXINT8 (s8.6).
    block : int
        Elements per block (the spec's k; 32 in its concrete formats).  The
        last block along ``axis`` may be partial.
    axis : int
        The axis the blocks run along.
    rounding : str
        Any fxsim rounding mode for the elements (default: ties to even).
    overflow : str
        ``"saturate"`` (the spec's clamp, default) or another overflow mode
        of the element format (e.g. ``"ieee"`` for E5M2's non-saturating
        conversion).
    int8_symmetric : bool
        MXINT8: round into ``MXINT8_SYMMETRIC``, s8.6 narrowed to the max
        normal ``±(2 - 2**-6)``, never producing code 0x80 (-2.0); the
        overflow mode applies at that range (``"wrap"`` is not available).
        Default True; False: the full s8.6 range.  Ignored for the other
        formats.
    scale_rule : str
        ``"floor"`` (OCP MX v1.0, default), ``"ceil"``, ``"even"`` (torchao's
        ScaleCalculationMode.CEIL / EVEN) or ``"rceil"`` (CUDA's
        ``cvt.rp.satfinite.ue8m0`` of ``A / max_elem``).
    rng, random, random_bits
        Random source for the stochastic modes, as in :func:`fxsim.encode`
        (one draw per element of ``x``, in C order of ``x``).

    Returns
    -------
    MXArray
    """
    fmt = element_format(elem_fmt, f"mx.quantize (block {block!r}, axis {axis!r})")
    where = f"mx.quantize (element format {fmt.name}, block {block!r}, axis {axis!r})"
    block = blocking.check_block(block, where)
    if scale_rule not in SCALE_RULES:
        raise ValueError(f"{where}: scale_rule={scale_rule!r} is not an MX scale rule; choose one "
                         f"of: {', '.join(SCALE_RULES)}")
    rounding, overflow = codec.resolve_modes(fmt, rounding, overflow)
    target = MXINT8_SYMMETRIC if int8_symmetric and fmt == MXINT8 else fmt
    if overflow not in target.overflows:
        choices = ", ".join(o.value for o in target.overflows)
        raise ValueError(f"{where}: overflow={overflow.value!r} is not available with "
                         f"int8_symmetric=True: MXINT8 elements then round into the narrowed "
                         f"{target.name} ({target.min} .. {target.max}), which does not wrap; "
                         f"choose one of: {choices}, or pass int8_symmetric=False")
    arr = blocking.input_array(x, where)
    if arr.ndim == 0:
        raise ValueError(f"{where}: the input must have at least one dimension, got a scalar")
    axis = blocking.normalize_axis(axis, arr.ndim, where)
    n = arr.shape[axis]

    # Per block: is every value finite, floor(log2 A) and A / 2**floor(log2 A)
    # for the exact block maximum A (both meaningless where A = 0).
    if arr.dtype == object:
        rat, finite = blocking.exact_finite(arr)
        amax = blocking.to_blocks(np.abs(rat), block, axis, Fraction(0)).max(axis=-1)
        top = np.empty(amax.shape, dtype=np.int64)
        sig = np.empty(amax.shape, dtype=object)
        flat, sflat = top.reshape(-1), sig.reshape(-1)
        for i, a in enumerate(amax.reshape(-1)):
            t = exact.floor_log2(a) if a else 0
            sflat[i] = a / Fraction(2) ** t if a else Fraction(1)
            # Only the clamped value matters: keep it inside int64.
            flat[i] = min(max(t, -100000), 100000)
        zero = amax == 0
    else:
        finite = np.isfinite(arr)
        magnitude = np.where(finite, np.abs(arr), 0.0)
        amax = blocking.to_blocks(magnitude, block, axis, 0.0).max(axis=-1)
        m, ex = np.frexp(amax)  # amax = m * 2**ex, 0.5 <= m < 1: floor(log2 amax) = ex - 1
        top = ex.astype(np.int64) - 1
        sig = 2.0 * m  # exact
        zero = amax == 0
    all_finite = blocking.to_blocks(finite, block, axis, True).all(axis=-1)
    shared = np.where(zero, -127, np.maximum(_rule_exponents(scale_rule, fmt, top, sig), -127))
    if scale_rule == "rceil":
        shared = np.minimum(shared, 127)  # satfinite
    nan_scale = ~all_finite | (shared > 127)
    shared = np.where(nan_scale, 0, shared)

    shared = blocking.from_block_layout(shared, axis)
    nan_scale = blocking.from_block_layout(nan_scale, axis)
    # E8M0 code of 2**shared is shared + 127 (Table 7); nothing is rounded.
    scales = wrap_codes(np.where(nan_scale, 0xFF, shared + 127).astype(np.uint8), E8M0)

    e = blocking.expand(shared, block, axis, n)
    skip = blocking.expand(nan_scale, block, axis, n)
    scaled = None if arr.dtype == object else blocking.scale_fast(arr, e, skip)
    if scaled is None:
        values = arr if arr.dtype == object else exact.exact_values(arr, where)
        scaled = blocking.scale_exact(values, e, skip)
    # one rounding into the element format (narrowed for symmetric MXINT8),
    # whose overflow step is the clamp of sec. 6.3 (2); the codes are stored
    # as the element format's (a narrowed format reads every code the same)
    codes = np.asarray(codec.encode(scaled, target, rounding, overflow, rng=rng, random=random,
                                    random_bits=random_bits)).reshape(arr.shape)
    return MXArray(scales, wrap_codes(codes, fmt), block, axis)


def dequantize(mx: MXArray, exact: bool = False) -> np.ndarray:
    """The values ``X * P_i`` of an :class:`MXArray`, shaped like its elements.

    float64, exact: every product of an element value and an E8M0 scale is a
    float64 (see the module docstring).  A NaN scale makes its whole block
    NaN (§5.1).  With ``exact=True``: an object array of ``Fraction`` (float
    NaN/inf where the value is one).
    """
    if not isinstance(mx, MXArray):
        raise ValueError(f"mx.dequantize: give an MXArray, got {type(mx).__name__}")
    n = mx.shape[mx.axis]
    nan = blocking.expand(mx.scales.bits == 0xFF, mx.block, mx.axis, n)
    k = blocking.expand(mx.scales.bits.astype(np.int64) - 127, mx.block, mx.axis, n)
    if not exact:
        with np.errstate(invalid="ignore"):
            values = np.ldexp(mx.elements.to_float(), np.where(nan, 0, k))
        return np.where(nan, np.nan, values)
    elems = mx.elements.to_exact()
    out = np.empty(mx.shape, dtype=object)
    flat = out.reshape(-1)
    for i, (p, s, bad) in enumerate(zip(elems.reshape(-1), k.reshape(-1), nan.reshape(-1))):
        if bad:
            flat[i] = float("nan")
        else:
            flat[i] = p if isinstance(p, float) else p * Fraction(2) ** int(s)
    return out
