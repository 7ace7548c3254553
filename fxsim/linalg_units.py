"""Matrix units as hardware builds them: block fused multiply-add (BlockFMA)
models of tensor cores, and their engine for ``fxsim.matmul(..., order=unit)``.

``unit = BlockFMA(n, frac, frac_out, min_exp, late_c=False, promote=None)``;
``fxsim.matmul(a, b, c=None, order=unit)`` with ``a`` (M, K) and ``b``
(K, N) QArrays of float8_e4m3fn or float8_e5m2 (any pair), or both of one
of float16, bfloat16, e8m10 (TF32), and ``c`` None or a float32 QArray
broadcastable to (M, N); the result is a float32 QArray (M, N).  The model
(issue 18; every step exact except where it says truncated or rounded):

* An input's exponent is clamped below at its format's emin (e4m3fn -6,
  e5m2 -14, float16 -14, bfloat16 and e8m10 -126): a subnormal keeps a
  denormalised significand.  A product's exponent is the sum of its inputs'
  clamped exponents.
* Products are taken in blocks of ``n`` consecutive k from k = 0 (the last
  block may be shorter).  Alignment exponent ``E = max(the nonzero
  products' exponents, floor(log2|c|))`` -- c's true exponent, also when it
  is subnormal; c = +-0 takes no part -- clamped below at ``min_exp``.
  Every product and c are **truncated** toward zero to a multiple of
  ``2**(E - frac)`` and summed exactly; the sum is **truncated** toward zero
  to ``frac_out`` fraction bits relative to ``max(floor(log2|sum|), -126)``;
  zero (exact or truncated) is +0.  That is the block result, a float32.
* ``late_c=True``: c takes no part in E; the block's product sum, truncated
  as above, is added to c by one float32 addition **rounded** to nearest
  even (so zero products with c = -0 give +0).
* Chain: the first block's c is the c argument (+0 if None), each later
  block's c the previous block result.  ``promote=None``: the result is the
  chain's last value over all of K.  ``promote=P``: K is cut into runs of P
  from k = 0 (the last may be shorter; P need not be a multiple of n, each
  run's blocks start at its first k); each run is a chain from +0; the run
  results are added in K order into a float32 accumulator starting from c,
  one nearest-even addition each.
* Non-finite inputs (NaN codes, infinities of e5m2 and of the 16-bit
  formats, c NaN or inf): that output is the IEEE value of
  ``c + sum(a*b)``: NaN (canonical) for any NaN operand, inf * 0 or
  infinities of both signs, else the infinity.  Finite FP8 inputs never
  overflow.
* Where the issue is silent: K = 0 returns c unchanged (+0 if None; no block
  runs).  16-bit operands only (products of FP8 values stay below 2**128): a
  block result of magnitude >= 2**128 is +-inf (the sources' code returns
  +-Inf when the result's exponent field reaches 255); an infinite chain
  value passes unchanged through later early-c blocks and enters late-c and
  promotion additions as an IEEE float32 infinity.

Presets (:data:`UNITS`, sources and maturity in :data:`UNIT_NOTES`):
``ada_fp8``, ``hopper_fp8``, ``hopper_fp8_promote128`` and ``b200_fp8`` as
issue 18 states them; the 16-bit and TF32 models of Khattak & Mikaitis
(arXiv 2512.07004) as their published MATLAB models set them up
(github.com/north-numerical-computing/MATLAB-tensor-core, models/*TC.m on
models/tools/Generic_BFMA_TC.m): ``fma`` products per block = n, ``neab``
extra alignment bits on binary32's 23 fraction bits = frac - 23, final
rounding 'rz' to binary32 = frac_out 23, products kept denormalised
(exponent = sum of the clamped input exponents), c aligned with the
products, ``min_exp_limit`` = min_exp (-1024, i.e. none, gives -160: equal
values, see UNIT_NOTES).  Not included: T4 (no published model; Fasi et al.
test it with the A100's vectors), b200_bf16 (the two stored versions of
B200TC.m differ in min_exp_limit) and b200_tf32 (they differ in the block
size, 4 or 8).

FP8 operands run through one Numba kernel (:mod:`fxsim._kernels.blockfma`), exact by
the bounds :func:`plan` checks: every truncated product is below
``2**(frac + 2)`` units of ``2**(E - frac)`` (both significands are below 2
and the product's exponent is at most E), c below ``2**(frac + 1)``, so a
block of ``m`` products sums below ``m * 2**(frac + 2) + 2**(frac + 1)``:
int32 lanes when that (without c) is below 2**31, binary64 when below
2**53, int64 otherwise below 2**63; beyond (blocks longer than about
2**(61 - frac) products) a Python-integer engine runs.  Results do not
depend on the number of threads (each output is one thread's work).
16-bit operands run through :func:`_wide_engine`: NumPy over all outputs at
once, block by block, in int64 units of ``2**(E - frac)`` (products of
16-bit values are exact in binary64, scaled by powers of two without
underflow, and truncated by ``np.trunc``; a block sums below
``m * 2**(frac + 2) + 2**(frac + 1) < 2**62``, checked; longer blocks raise
ValueError), with the roundings done by integer operations on binary64
patterns (no result depends on flush-to-zero modes).
"""
from __future__ import annotations

import dataclasses
import functools
import numbers
from fractions import Fraction

import numpy as np

from . import codec
from . import formats as _formats
from ._kernels import blockfma as kernels
from ._kernels.jit import threads_for
from .array import QArray, wrap_codes
from .modes import Rounding

__all__ = ["BlockFMA", "UNITS", "UNIT_NOTES", "blockfma_matmul", "explain_block", "is_unit"]

_FLOAT32 = _formats.format("float32")
#: the input formats the model is defined for: name -> (fraction bits, emin);
#: FP8 operands pair freely, the others only with their own format
FP8_INPUTS = {"float8_e4m3fn": (3, -6), "float8_e5m2": (2, -14)}
WIDE_INPUTS = {"float16": (10, -14), "bfloat16": (7, -126), "e8m10": (10, -126)}
INPUTS = {**FP8_INPUTS, **WIDE_INPUTS}
#: exactness limits of the kernel's lanes (log2); tests lower them to reach
#: the wider paths on small data
INT32_BITS, FLOAT_BITS, INT64_BITS = 31, 53, 63


@dataclasses.dataclass(frozen=True)
class BlockFMA:
    """A block-FMA matrix unit (see the module docstring for the model).

    n : block length (products per block), >= 1
    frac : fraction bits kept by the alignment truncation, 1..40
    frac_out : fraction bits of each block result, 1..23
    min_exp : lower clamp of the alignment exponent, >= -160
    late_c : add c after the block, with one float32 rounding
    promote : None, or P >= 1: promote partial results every P products
        into a float32 accumulator (one nearest-even addition per run)."""
    n: int
    frac: int
    frac_out: int
    min_exp: int
    late_c: bool = False
    promote: int | None = None

    def __post_init__(self):
        def integer(name, lo, hi=None):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"BlockFMA: {name} must be an int, got {v!r}")
            if v < lo or (hi is not None and v > hi):
                span = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
                raise ValueError(f"BlockFMA: {name} must be {span}, got {v}")
            object.__setattr__(self, name, int(v))
        integer("n", 1)
        integer("frac", 1, 40)
        integer("frac_out", 1, 23)
        integer("min_exp", -160)
        if not isinstance(self.late_c, (bool, np.bool_)):
            raise TypeError(f"BlockFMA: late_c must be True or False, got {self.late_c!r}")
        object.__setattr__(self, "late_c", bool(self.late_c))
        if self.promote is not None:
            integer("promote", 1)


#: Published unit models.  Sources and maturity in :data:`UNIT_NOTES`.
UNITS = {
    "ada_fp8": BlockFMA(n=16, frac=13, frac_out=13, min_exp=-132),
    "hopper_fp8": BlockFMA(n=32, frac=13, frac_out=13, min_exp=-132),
    "hopper_fp8_promote128": BlockFMA(n=32, frac=13, frac_out=13, min_exp=-132, promote=128),
    "b200_fp8": BlockFMA(n=32, frac=25, frac_out=23, min_exp=-133, late_c=True),
    # Khattak & Mikaitis' MATLAB models (see UNIT_NOTES): n = fma, frac = 23 + neab
    "v100_fp16": BlockFMA(n=4, frac=23, frac_out=23, min_exp=-160),
    "a100_fp16": BlockFMA(n=8, frac=24, frac_out=23, min_exp=-160),
    "a100_bf16": BlockFMA(n=8, frac=24, frac_out=23, min_exp=-160),
    "a100_tf32": BlockFMA(n=4, frac=24, frac_out=23, min_exp=-160),
    "h100_fp16": BlockFMA(n=16, frac=25, frac_out=23, min_exp=-133),
    "h100_bf16": BlockFMA(n=16, frac=25, frac_out=23, min_exp=-133),
    "h100_tf32": BlockFMA(n=8, frac=25, frac_out=23, min_exp=-133),
    "b200_fp16": BlockFMA(n=16, frac=25, frac_out=23, min_exp=-133),
}
#: the input format each 16-bit preset models (any format is accepted)
UNIT_INPUTS = {"v100_fp16": "float16", "a100_fp16": "float16", "a100_bf16": "bfloat16",
               "a100_tf32": "e8m10", "h100_fp16": "float16", "h100_bf16": "bfloat16",
               "h100_tf32": "e8m10", "b200_fp16": "float16"}
_KM = ("Khattak & Mikaitis, 'Accurate Models of NVIDIA Tensor Cores', arXiv 2512.07004 "
       "(ACM TACO 2026); parameters as given in fxsim issue 18")
UNIT_NOTES = {
    "ada_fp8": {"source": _KM + " (Ada FP8 mma)", "maturity": "published model"},
    "hopper_fp8": {"source": _KM + " (H100 FP8 mma, cuBLAS FP8 GEMM); the limited accumulation "
                   "precision (about 14 bits) matches DeepSeek-V3 technical report, sec. 3.3",
                   "maturity": "published model"},
    "hopper_fp8_promote128": {"source": "hopper_fp8 with cuBLAS 'slow accumulation' / "
                              "DeepSeek-V3's promotion of partial sums to FP32 every 128 "
                              "products (DeepSeek-V3 report, sec. 3.3)",
                              "maturity": "published model + documented software practice"},
    "b200_fp8": {"source": _KM + " (B200 FP8 mma.sync)",
                 "maturity": "experimental: fits published mma.sync test vectors, not unique"},
}
_ML = ("Khattak & Mikaitis, arXiv 2512.07004, as their published MATLAB models set it up "
       "(github.com/north-numerical-computing/MATLAB-tensor-core, models/{gpu}; "
       "'def_params.fma = {fma}', 'def_params.neab = {neab}', 'def_params.frmode = 'rz'' for "
       "binary32 output{extra}); the generic model (models/tools/Generic_BFMA_TC.m) aligns "
       "every product and c to the largest exponent and truncates them to 23 + neab "
       "fraction bits, sums exactly and truncates the sum to binary32")
_MIN = ("; min_exp_limit -1024 (none) here gives min_exp -160: equal values, since where "
        "they differ c = 0 and each of the block's <= 8 terms is below 2**-159, so its sum "
        "truncates to zero either way (the sign of such a zero may differ: the MATLAB code "
        "keeps the sum's sign, this model returns +0)")
_C126 = ("; one difference in a corner: for a nonzero subnormal c the later MATLAB version "
         "aligns to c's exponent field (-126), this model (and the earlier version) to "
         "floor(log2|c|); results can differ only when every product of the block is below "
         "2**-126 (impossible for float16 operands)")
_PUB = "published model (the authors' code, validated by them against the GPU)"
UNIT_NOTES.update({
    "v100_fp16": {"source": _ML.format(gpu="V100TC.m", fma=4, neab=0, extra="") + _MIN
                  + "; Fasi, Higham, Mikaitis & Pranesh, PeerJ CS 7:e330 (2021): 4-term "
                  "fused adds, no guard digits ('Tensor cores do not implement guard digits'"
                  ", test suite README), round toward zero; their V100 test vectors "
                  "hold (tests/test_blockfma_16bit.py)", "maturity": _PUB},
    "a100_fp16": {"source": _ML.format(gpu="A100TC.m", fma=8, neab=1, extra="") + _MIN
                  + "; Fasi et al.'s T4/A100 binary16 test vectors hold", "maturity": _PUB},
    "a100_bf16": {"source": _ML.format(gpu="A100TC.m", fma=8, neab=1, extra=" (bf16 keeps "
                  "the fp16 set-up)") + _MIN + _C126 + "; Fasi et al.'s A100 bfloat16 test "
                  "vectors hold", "maturity": _PUB},
    "a100_tf32": {"source": _ML.format(gpu="A100TC.m", fma=8, neab=1, extra=" (tf32: "
                  "'def_params.fma=4')") + _MIN + _C126 + "; Fasi et al.'s A100 TF32 test "
                  "vectors hold", "maturity": _PUB},
    "h100_fp16": {"source": _ML.format(gpu="H100TC.m", fma=16, neab=2, extra=", "
                  "'def_params.denorm_prd = 1', 'def_params.min_exp_limit = -133'"),
                  "maturity": _PUB},
    "h100_bf16": {"source": _ML.format(gpu="H100TC.m", fma=16, neab=2, extra=" (bf16 keeps "
                  "the fp16 set-up), 'def_params.min_exp_limit = -133'") + _C126,
                  "maturity": _PUB},
    "h100_tf32": {"source": _ML.format(gpu="H100TC.m", fma=16, neab=2, extra=" (tf32: "
                  "'def_params.fma=8'), 'def_params.min_exp_limit = -133'") + _C126,
                  "maturity": _PUB},
    "b200_fp16": {"source": _ML.format(gpu="B200TC.m", fma=16, neab=2, extra="; min_exp_limit "
                  "-133 in one stored version, none in the other: equal values for float16 "
                  "operands, whose nonzero products have exponents >= -28"),
                  "maturity": _PUB},
})


def is_unit(order) -> bool:
    """Is ``order`` a BlockFMA unit (for :func:`fxsim.matmul`)?"""
    return isinstance(order, BlockFMA)


# ---------------------------------------------------------------- operands
@functools.lru_cache(maxsize=None)
def _tables(fmt):
    """Per code of an input format: float32 value (0 where not finite),
    clamped exponent (ZEXP for zeros and non-finite codes; int8 for FP8,
    int16 otherwise), finite flag, raw float64 value."""
    p, emin = INPUTS[fmt.name]
    codes = np.arange(1 << fmt.width, dtype=np.uint8 if fmt.width == 8 else np.uint32)
    with np.errstate(invalid="ignore"):
        raw = codec.decode(codes, fmt).astype(np.float64)
    finite = np.isfinite(raw)
    v = np.where(finite, raw, 0.0)
    _, ex = np.frexp(np.abs(v))
    e = np.where(v != 0, np.maximum(ex - 1, emin), kernels.ZEXP)
    return v.astype(np.float32), e.astype(np.int8 if fmt.width == 8 else np.int16), finite, raw


def _check_pair(fa, fb, name):
    """FP8 formats pair freely; 16-bit (and TF32) operands must share one
    format (the sources define those models for one input format)."""
    if fa.name in FP8_INPUTS and fb.name in FP8_INPUTS or fa == fb and fa.name in INPUTS:
        return
    raise ValueError(f"{name}: a BlockFMA unit takes FP8 operands ({' or '.join(FP8_INPUTS)}, "
                     f"any pair) or a and b both of one of {', '.join(WIDE_INPUTS)}; got a "
                     f"{fa.name}, b {fb.name}")


def _check_operands(a, b, c, name):
    for what, q in (("a", a), ("b", b)):
        if not isinstance(q, QArray):
            raise TypeError(f"{name}: with a BlockFMA order, {what} must be a QArray of "
                            f"{' or '.join(INPUTS)}, got {type(q).__name__}")
        if q.ndim != 2:
            raise ValueError(f"{name}: with a BlockFMA order, {what} must be 2-d, got shape "
                             f"{q.shape}")
    _check_pair(a.fmt, b.fmt, name)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{name}: reduction lengths differ: a {a.shape} has K={a.shape[1]}, "
                         f"b {b.shape} has K={b.shape[0]}")
    shape = (a.shape[0], b.shape[1])
    if c is None:
        return np.zeros(shape, np.uint32)
    if not isinstance(c, QArray) or c.fmt != _FLOAT32:
        what = c.fmt.name if isinstance(c, QArray) else type(c).__name__
        raise ValueError(f"{name}: with a BlockFMA order, c must be None or a float32 QArray, "
                         f"got {what}")
    try:
        return np.broadcast_to(c.bits, shape).astype(np.uint32)
    except ValueError:
        raise ValueError(f"{name}: c of shape {c.shape} does not broadcast to the result "
                         f"shape {shape}") from None


def check_modes(unit, mul, acc, out, rounding, overflow, name):
    """A BlockFMA unit fixes every rounding: mul must be None, acc and out
    None or float32, rounding nearest_even, overflow None."""
    if mul is not None:
        raise ValueError(f"{name}: order={unit} computes exact products; mul must be None, got "
                         f"{mul}")
    for what, fmt in (("acc", acc), ("out", out)):
        if fmt is not None and _formats.format(fmt) != _FLOAT32:
            raise ValueError(f"{name}: order={unit} accumulates and returns float32; {what} "
                             f"must be None or float32, got {_formats.format(fmt).name}")
    if rounding != Rounding.NEAREST_EVEN or overflow is not None:
        raise ValueError(f"{name}: order={unit} fixes its own roundings (truncation, "
                         f"nearest_even additions); rounding must be 'nearest_even' and "
                         f"overflow None, got rounding={rounding!r}, overflow={overflow!r}")


def plan(unit, k):
    """(lanes32, wide, python) for K = k: which lanes keep the block sums
    exact (see the module docstring)."""
    m = min(unit.n, k, unit.promote or k)
    if m == 0:
        return True, False, False
    top = m << (unit.frac + 2)
    total = top + (0 if unit.late_c else 1 << (unit.frac + 1))
    lanes32 = unit.frac <= 29 and top <= (1 << INT32_BITS)
    wide = total > (1 << FLOAT_BITS)
    python = total >= (1 << INT64_BITS)
    return lanes32, wide, python


# ---------------------------------------------------------------- float32 values
def _f32_values(bits):
    """float64 values of float32 codes (NaN and inf kept)."""
    with np.errstate(invalid="ignore"):  # (a signaling NaN converts quietly)
        return np.ascontiguousarray(bits, np.uint32).view(np.float32).astype(np.float64)


def _f32_bits(v):
    """float32 codes of binary64 values that are float32 values (or +-inf,
    +-0), by integer operations on the bits; NaN canonical."""
    b = np.ascontiguousarray(v, np.float64).view(np.int64)
    sign = ((b >> 63) & 1).astype(np.uint32) << np.uint32(31)
    mag = b & np.int64(0x7FFFFFFFFFFFFFFF)
    e = (mag >> 52) - 1023
    man = (mag & np.int64((1 << 52) - 1)) | np.int64(1 << 52)
    normal = ((e + 127) << 23) | ((man >> 29) & 0x7FFFFF)
    sub = man >> np.clip(29 + (-126 - e), 0, 63)
    out = np.where(e >= -126, normal, sub)
    out = np.where(mag == 0, 0, out)
    out = np.where(e == 1024, 0x7F800000, out).astype(np.uint32) | sign
    return np.where(np.isnan(v), np.uint32(_FLOAT32.kernel_spec.nan_code), out).astype(np.uint32)


# ---------------------------------------------------------------- non-finite outputs
def _nonfinite(a, b, cbits, out):
    """Overwrite the outputs that see a non-finite operand with the IEEE
    value of c + sum(a*b) (classified by 0/1 matrix products)."""
    _, _, fa_ok, ra = _tables(a.fmt)
    _, _, fb_ok, rb = _tables(b.fmt)
    x, y = ra[a.bits], rb[b.bits]
    cv = _f32_values(cbits)
    rows = ~fa_ok[a.bits].all(axis=1)
    cols = ~fb_ok[b.bits].all(axis=0)
    cbad = ~np.isfinite(cv)
    if not (rows.any() or cols.any() or cbad.any()):
        return out
    f = np.float64

    def mm(p, q):
        return (p.astype(f) @ q.astype(f)) > 0
    xnan, ynan = np.isnan(x), np.isnan(y)
    nan = xnan.any(axis=1)[:, None] | ynan.any(axis=0)[None, :] | np.isnan(cv)
    xinf, yinf = np.isinf(x), np.isinf(y)
    nan |= mm(xinf, y == 0) | mm(x == 0, yinf)
    xp, xn, yp, yn = x > 0, x < 0, y > 0, y < 0
    pos = mm(xinf & xp, yp) | mm(xinf & xn, yn) | mm(xp, yinf & yp) | mm(xn, yinf & yn)
    neg = mm(xinf & xp, yn) | mm(xinf & xn, yp) | mm(xp, yinf & yn) | mm(xn, yinf & yp)
    pos |= np.isposinf(cv)
    neg |= np.isneginf(cv)
    nan |= pos & neg
    out = out.copy()
    out[pos] = 0x7F800000
    out[neg] = 0xFF800000
    out[nan] = _FLOAT32.kernel_spec.nan_code
    return out


# ---------------------------------------------------------------- engine
def blockfma_matmul(a, b, c, unit, name="matmul") -> QArray:
    """``c + a @ b`` through ``unit`` (arguments checked here)."""
    cbits = _check_operands(a, b, c, name)
    av_t, ea_t, _, _ = _tables(a.fmt)
    bv_t, eb_t, _, _ = _tables(b.fmt)
    av, ea = av_t[a.bits], ea_t[a.bits]
    bv, eb = np.ascontiguousarray(bv_t[b.bits]), np.ascontiguousarray(eb_t[b.bits])
    cv = _f32_values(cbits)
    cv = np.where(np.isfinite(cv), cv, 0.0)
    m, k = av.shape
    n = bv.shape[1]
    lanes32, wide, python = plan(unit, k)
    if a.fmt.name in WIDE_INPUTS:
        res = _wide_engine(av, ea, bv, eb, cv, unit, name)
    elif python:
        res = _python_engine(av, ea, bv, eb, cv, unit)
    else:
        res = np.empty((m, n))
        tiles = m * (-(-n // kernels.TILE))
        with threads_for(max(1, min(tiles, (m * n * max(k, 1)) >> 18))):
            kernels.blockfma_gemm(np.ascontiguousarray(av), np.ascontiguousarray(ea), bv, eb,
                                  np.ascontiguousarray(cv), unit.n, unit.frac, unit.frac_out,
                                  unit.min_exp, unit.late_c, unit.promote or 0, lanes32, wide,
                                  res)
    bits = _nonfinite(a, b, cbits, _f32_bits(res))
    return wrap_codes(bits, _FLOAT32)


# ---------------------------------------------------------------- 16-bit operands
_MAG = np.int64(0x7FFFFFFFFFFFFFFF)


def _rne32(v):
    """binary64 ``v`` (finite values that are multiples of 2**-149, or
    +-inf, NaN) rounded to nearest even into float32 values, by integer
    operations on the bits (+-inf on overflow)."""
    b = np.ascontiguousarray(v, np.float64).view(np.int64)
    mag = b & _MAG
    ex = (mag >> 52) - 1023
    drop = 29 + np.clip(-126 - ex, 0, 23)
    half = np.int64(1) << (drop - 1)
    r = ((mag + half - 1 + ((mag >> drop) & 1)) >> drop) << drop
    r = np.where(r >= np.int64(128 + 1023) << 52, np.int64(0x7FF) << 52, r)
    r = np.where((mag == 0) | (ex == 1024), mag, r)
    return (b & ~_MAG | r).view(np.float64)


def _wide_block(x, ex, y, ey, c, unit):
    """One block step for every output: products x[:, k] * y[k, :]
    (binary64, exact), clamped exponents ex / ey, chain values c (binary64
    holding float32 values or +-inf).  Returns the new chain values."""
    m, n = x.shape[0], y.shape[1]
    fin = np.isfinite(c)
    cf = np.where(fin, c, 0.0)
    E = np.full((m, n), -(1 << 20), np.int64)
    for kk in range(x.shape[1]):
        nz = (x[:, kk, None] != 0) & (y[None, kk, :] != 0)
        E = np.where(nz, np.maximum(E, ex[:, kk, None] + ey[None, kk, :]), E)
    if not unit.late_c:
        _, ec = np.frexp(cf)
        E = np.where(cf != 0, np.maximum(E, ec.astype(np.int64) - 1), E)
    E = np.maximum(E, unit.min_exp)
    scale = np.ldexp(1.0, (unit.frac - E).astype(np.int32))   # frac - E in [-253, 200]
    S = np.zeros((m, n), np.int64)
    for kk in range(x.shape[1]):             # exact products, exact scaling, truncation
        S += np.trunc(x[:, kk, None] * y[None, kk, :] * scale).astype(np.int64)
    if not unit.late_c:
        S += np.trunc(cf * scale).astype(np.int64)
    a = np.abs(S)
    _, bl = np.frexp(a.astype(np.float64))  # bit length of a (< 2**62), fixed below
    bl = bl - ((np.int64(1) << np.maximum(bl.astype(np.int64) - 1, 0)) > a)
    ev = np.maximum(bl - 1 + E - unit.frac, -126)          # the sum's exponent, >= -126
    drop = ev - unit.frac_out - (E - unit.frac)            # low bits below the output grid
    a = np.where(drop > 62, 0, (a >> np.clip(drop, 0, 62)) << np.clip(drop, 0, 62))
    t = np.ldexp(np.where(S < 0, -a, a).astype(np.float64),
                 (E - unit.frac).astype(np.int32)) + 0.0
    t = np.where(np.abs(t) >= 2.0 ** 128, np.copysign(np.inf, t), t)
    if unit.late_c:
        with np.errstate(invalid="ignore"):
            return _rne32(c + t)
    return np.where(fin, t, c)


def _wide_engine(av, ea, bv, eb, cv, unit, name):
    """The model for 16-bit operands, all outputs at once (see the module
    docstring for why it is exact)."""
    m, k = av.shape
    blk = min(unit.n, k, unit.promote or k)
    if (blk << (unit.frac + 2)) + (1 << (unit.frac + 1)) >= 1 << 62:
        raise ValueError(f"{name}: with 16-bit operands a block must keep its sum below 2**62 "
                         f"units: n * 2**(frac + 2) < 2**62 - 2**(frac + 1); {unit} with K={k} "
                         f"has blocks of {blk} products")
    x, y = av.astype(np.float64), bv.astype(np.float64)
    ex, ey = ea.astype(np.int64), eb.astype(np.int64)
    run = unit.promote or max(k, 1)
    acc = chain = cv
    for r0 in range(0, k, run):
        r1 = min(r0 + run, k)
        if unit.promote:
            chain = np.zeros_like(cv)
        for k0 in range(r0, r1, unit.n):
            k1 = min(k0 + unit.n, r1)
            chain = _wide_block(x[:, k0:k1], ex[:, k0:k1], y[k0:k1], ey[k0:k1], chain, unit)
        if unit.promote:
            with np.errstate(invalid="ignore"):
                acc = _rne32(acc + chain)
    return acc if unit.promote else chain


# ---------------------------------------------------------------- Python integers
_BASE = 200  # every value of the model is an integer multiple of 2**-200


def _trunc(x, g):
    """x (units of 2**-_BASE) truncated toward zero to a multiple of 2**g."""
    s = g + _BASE
    a = (abs(x) >> s) << s
    return a if x >= 0 else -a


def _out_trunc(x, frac_out):
    if x == 0:
        return 0
    e = max(abs(x).bit_length() - 1 - _BASE, -126)
    return _trunc(x, e - frac_out)


def _add_rne(x, y):
    """float32 nearest-even x + y (units of 2**-_BASE; zeros' signs do not
    matter to the callers: they compare only finite nonzero patterns or
    keep signs through the float path)."""
    s = x + y
    if s == 0:
        return 0
    a = abs(s)
    e = max(a.bit_length() - 1 - _BASE, -126)
    sh = e - 23 + _BASE
    q, r = a >> sh, a & ((1 << sh) - 1)
    half = 1 << (sh - 1)
    if r > half or (r == half and q & 1):
        q += 1
    a = q << sh
    return a if s > 0 else -a


def _python_engine(av, ea, bv, eb, cv, unit):
    """The model in Python integers (blocks too long for int64 lanes)."""
    m, k = av.shape
    n = bv.shape[1]
    res = np.empty((m, n))
    one = Fraction(1, 1 << _BASE)

    def units(v):
        q = Fraction(float(v)) / one
        return q.numerator
    run = unit.promote or max(k, 1)
    for i in range(m):
        for j in range(n):
            prods = [(int(ea[i, kk]) + int(eb[kk, j]), units(np.float64(av[i, kk]) * bv[kk, j]))
                     for kk in range(k)]
            c = units(cv[i, j])
            acc = c
            chain = c
            for r0 in range(0, k, run):
                chain = 0 if unit.promote else c
                for k0 in range(r0, min(r0 + run, k), unit.n):
                    blk = prods[k0:min(k0 + unit.n, r0 + run, k)]
                    exps = [e for e, v in blk if v]
                    if not unit.late_c and chain:
                        exps.append(abs(chain).bit_length() - 1 - _BASE)
                    g = max(exps + [unit.min_exp]) - unit.frac
                    total = sum(_trunc(v, g) for _, v in blk)
                    if not unit.late_c:
                        total += _trunc(chain, g)
                    t = _out_trunc(total, unit.frac_out)
                    chain = _add_rne(chain, t) if unit.late_c else t
                if unit.promote:
                    acc = _add_rne(acc, chain)
            v = acc if unit.promote else chain
            res[i, j] = float(Fraction(v) * one) if (v or k) else cv[i, j]
    return res


# ---------------------------------------------------------------- teaching view
def _show(x: Fraction) -> str:
    return repr(float(x)) if float(x) == x else f"{float(x):.9g}~"


def explain_block(unit, a, b, c=None, fa="float8_e4m3fn", fb="float8_e4m3fn") -> str:
    """A text view of one block step of ``unit``: up to n pairs ``a[k],
    b[k]`` (numbers rounded to nearest even into ``fa``/``fb``, or 1-d
    QArrays), and the block's c (a number rounded into float32, or None: +0).

    Shows each input's clamped exponent, each product's exponent, the
    alignment exponent E and the grid 2**(E - frac), each product (and c)
    in units of the grid with the bits truncation drops, the exact sum, and
    the block result truncated to frac_out bits (late_c: then added to c
    with one nearest-even float32 addition).  The value shown is the one
    ``fxsim.matmul`` returns for this block."""
    from .array import asarray
    if not is_unit(unit):
        raise TypeError(f"explain_block: unit must be a BlockFMA, got {type(unit).__name__}")
    qa = a if isinstance(a, QArray) else asarray(np.asarray(a, np.float64).reshape(-1), fa)
    qb = b if isinstance(b, QArray) else asarray(np.asarray(b, np.float64).reshape(-1), fb)
    for what, q in (("a", qa), ("b", qb)):
        if q.fmt.name not in INPUTS or q.ndim != 1:
            raise ValueError(f"explain_block: {what} must be 1-d {' or '.join(INPUTS)}, got "
                             f"{q.fmt.name} of shape {q.shape}")
    _check_pair(qa.fmt, qb.fmt, "explain_block")
    if len(qa) != len(qb) or not 1 <= len(qa) <= unit.n:
        raise ValueError(f"explain_block: a and b must hold the same number of values, 1 to "
                         f"n={unit.n} (one block), got {len(qa)} and {len(qb)}")
    cq = asarray(np.float64(0.0 if c is None else c), "float32")
    cval = float(cq.to_float())
    ta, tb = _tables(qa.fmt), _tables(qb.fmt)
    va, vb = qa.to_float(), qb.to_float()
    if not (np.isfinite(va).all() and np.isfinite(vb).all() and np.isfinite(cval)):
        raise ValueError("explain_block: the block step is shown for finite values only")
    frac, late = unit.frac, unit.late_c
    lines = [f"{unit}: one block step of {len(qa)} products "
             + ("(late c: added after the block)" if late
                else "(early c: aligned with the products)"),
             "", f"{'k':>3} {'a':>12} {'e_a':>4} {'b':>12} {'e_b':>4} {'exp':>4} {'product':>16}"]
    prods = []
    for k in range(len(qa)):
        ea, eb = int(ta[1][qa.bits[k]]), int(tb[1][qb.bits[k]])
        p = Fraction(float(va[k])) * Fraction(float(vb[k]))
        prods.append((ea + eb, p))
        show_e = lambda e, v: f"{e:>4}" if v else f"{'-':>4}"  # noqa: E731
        lines.append(f"{k:>3} {va[k]:>12.6g} {show_e(ea, va[k])} {vb[k]:>12.6g} "
                     f"{show_e(eb, vb[k])} {show_e(ea + eb, p)} {_show(p):>16}")
    cf = Fraction(cval)
    exps = [e for e, p in prods if p]
    why = [f"products {max(exps)}"] if exps else ["no nonzero product"]
    if not late and cf:
        ce = floor_log2_fraction(abs(cf))
        exps.append(ce)
        why.append(f"c {ce}")
    E = max(exps + [unit.min_exp])
    grid = Fraction(2) ** (E - frac)
    lines += ["", f"c = {cval!r}" + ("" if late else " (takes part in the alignment)"),
              f"alignment exponent E = max({', '.join(why)}, min_exp {unit.min_exp}) = {E}; "
              f"grid 2**(E - frac) = 2**{E - frac}", "",
              f"{'term':>6} {'units of the grid':>24} {'truncated':>14} {'dropped':>12}"]
    total = 0
    terms = [(f"p{k}", p) for k, (_, p) in enumerate(prods)] + ([] if late else [("c", cf)])
    for label, v in terms:
        u = v / grid
        t = int(u)  # toward zero
        total += t
        lines.append(f"{label:>6} {_show(u):>24} {t:>14} {_show(u - t):>12}")
    s = total * grid
    lines += ["", f"exact sum of the truncated terms = {total} * 2**{E - frac} = {_show(s)}"]
    if s == 0:
        r = Fraction(0)
        lines.append("the sum is zero: block result +0")
    else:
        es = max(floor_log2_fraction(abs(s)), -126)
        q = Fraction(2) ** (es - unit.frac_out)
        r = int(s / q) * q
        lines.append(f"truncated to frac_out={unit.frac_out} fraction bits at exponent {es} "
                     f"(multiples of 2**{es - unit.frac_out}): {_show(r)}"
                     + (" (+0)" if r == 0 else ""))
    if late:
        scale = Fraction(2) ** _BASE
        v = _add_rne(int(cf * scale), int(r * scale))
        r = Fraction(v, 1 << _BASE)
        lines.append(f"late c: float32(c + block) rounded to nearest even = {_show(r)}")
    value = float(r) if abs(r) < 2 ** 128 else float(np.copysign(np.inf, float(r)))
    bits = int(_f32_bits(np.array([value]))[0])
    lines.append(f"block result = {value!r} (float32 0x{bits:08X})"
                 + (" (overflow: 2**128 or more)" if abs(r) >= 2 ** 128 else ""))
    return "\n".join(lines)


def floor_log2_fraction(x: Fraction) -> int:
    """floor(log2 x) of a positive Fraction."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    return e - 1 if Fraction(2) ** e > x else e
