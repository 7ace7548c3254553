"""Number formats: :class:`FixedFormat`, :class:`FloatFormat`, presets, names.

A *code* (or "bits") is the unsigned integer a register holds.  A format says
what real number each code means and which default overflow policy applies.

Spellings accepted by :func:`format` (and the CLI):

* a preset name: ``float8_e4m3fn``, ``bfloat16``, ``int8``, ... (``PRESETS``);
  the ``floatN_`` prefix may be left out (``e4m3fn``);
* fixed point ``sW.F`` / ``uW.F``: signed / unsigned, W bits in the word, F of
  them after the binary point (F may be negative or exceed W): ``s16.8``;
  a trailing ``n`` (or ``_narrow``) is the narrowed, symmetric range:
  ``s8.0n`` is int8 limited to [-127, 127];
* floating point ``[u]eXmY[bB][fn|fnuz|fnu|finite|ieee][_nosub]``: X exponent
  bits, Y fraction bits, optional bias B, the use of the top codes (default
  ``ieee``) and ``_nosub`` for no subnormals: ``e5m2``, ``e4m3b11fnuz``,
  ``e3m3_finite``.  Unsigned floats (no sign bit): a leading ``u`` or, for
  the ``fn`` kind, ml_dtypes' suffix ``fnu``: ``e5m3fnu``, ``ue5m2ieee``,
  ``ue2m1_finite``; ``e8m0fnu`` (no fraction bits) is the E8M0 kind;
* aliases (``bf16``, ``fp16``, ``fp32``, ``tf32``, ``fp8_e4m3`` = OCP
  ``float8_e4m3fn``, ``int4``, ...), TI's Q notation (``Q3.12`` = ``s16.12``)
  and numpy / ml_dtypes / torch dtypes (``ml_dtypes.float8_e4m3fn``): see
  :mod:`fxsim.aliases`.  An unknown name's error suggests the closest names.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from fractions import Fraction

import numpy as np

from ._kernels import core, specialize
from .modes import Overflow

SPECIALS = specialize.KINDS


def _frac_to_float(x: Fraction) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.copysign(math.inf, x)


class _Format:
    """What every format offers on top of its own fields."""

    @property
    def min(self) -> float:
        """Most negative finite value (0 if unsigned, fixed point or float;
        the smallest scale for E8M0), as the nearest float."""
        return _frac_to_float(self.min_exact)

    @property
    def max(self) -> float:
        """Largest finite value, as the nearest float."""
        return _frac_to_float(self.max_exact)

    def __str__(self) -> str:
        return self.name

    @functools.cached_property
    def kernel_spec(self):
        """The rounding core's view for the Numba engine (numpy scalars; None
        for formats wider than 64 bits)."""
        return _make_spec(self, exact=False)

    @functools.cached_property
    def exact_spec(self):
        """The rounding core's view for the exact Python engine (Python ints)."""
        return _make_spec(self, exact=True)


@dataclasses.dataclass(frozen=True)
class FixedFormat(_Format):
    """Fixed point: a code ``c`` means ``n * 2**-frac``, where ``n`` is ``c``
    read as a ``word``-bit two's complement integer (``signed``) or as an
    unsigned one.  ``frac`` may be negative or exceed ``word``.  Codes up to
    64 bits run on the Numba fast path; wider ones stay exact (Python ints).

    ``narrow=True`` (signed formats of at least 2 bits) narrows the range of
    results to the symmetric ``[-(2**(word-1) - 1), 2**(word-1) - 1]``, as
    TensorFlow's ``narrow_range``, QONNX's ``narrow`` and MXINT8's symmetric
    use of INT8 (``FixedFormat(8, 0, narrow=True)``: int8 in [-127, 127]).
    It is a property of rounding, not of the code set:

    * every result -- encoding, casting, arithmetic -- lies in the narrowed
      range; beyond it ``overflow="saturate"`` clamps to ``±(2**(word-1) - 1)``
      (so -128.0 into a narrowed int8 gives -127) and ``"raise"`` raises;
      ``"wrap"`` is not offered (it would produce the excluded code), so
      asking for it is a ValueError naming the format and the mode;
    * the most negative code (``2**(word-1)``, 0x80 for 8 bits) is still a
      code: it decodes as ``-2**(word-1) * 2**-frac`` as in the full-range
      format, bit patterns holding it are accepted, and ``int_min``, ``min``
      and ``min_exact`` describe the narrowed range, which no rounding
      leaves.

    Its name carries an ``n``: ``s8.0n``.
    """

    word: int
    frac: int = 0
    signed: bool = True
    narrow: bool = False

    def __post_init__(self):
        for field in ("word", "frac"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"FixedFormat {field} must be an integer, got {value!r}")
            object.__setattr__(self, field, int(value))
        if self.word < 1:
            raise ValueError(f"FixedFormat word must be >= 1 bit, got word={self.word}")
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "narrow", bool(self.narrow))
        if self.narrow and not (self.signed and self.word >= 2):
            raise ValueError(
                f"FixedFormat narrow=True drops the most negative code of a signed format of "
                f"at least 2 bits; got word={self.word}, signed={self.signed}")

    is_float = False
    has_inf = False
    has_nan = False

    @property
    def width(self) -> int:
        """Bits in a code."""
        return self.word

    @property
    def int_min(self) -> int:
        """Smallest integer ``n`` (value ``n * 2**-frac``) a result can be:
        ``-2**(word-1)``, one more if ``narrow``, 0 if unsigned."""
        return -(1 << (self.word - 1)) + self.narrow if self.signed else 0

    @property
    def int_max(self) -> int:
        """Largest integer ``n`` (value ``n * 2**-frac``)."""
        return (1 << (self.word - 1)) - 1 if self.signed else (1 << self.word) - 1

    @property
    def min_exact(self) -> Fraction:
        return Fraction(self.int_min) / Fraction(2) ** self.frac

    @property
    def max_exact(self) -> Fraction:
        return Fraction(self.int_max) / Fraction(2) ** self.frac

    @property
    def eps(self) -> float:
        """Spacing of the grid, ``2**-frac``."""
        return _frac_to_float(Fraction(2) ** -self.frac)

    @property
    def default_overflow(self) -> Overflow:
        return Overflow(specialize.FIXED_DEFAULT_OVERFLOW)

    @property
    def overflows(self) -> tuple:
        return tuple(Overflow(name) for name in specialize.fixed_overflows(self.narrow))

    @property
    def name(self) -> str:
        """The spelling :func:`format` parses back to this format."""
        return f"{'s' if self.signed else 'u'}{self.word}.{self.frac}{'n' if self.narrow else ''}"

    def __repr__(self) -> str:
        tail = ("" if self.signed else ", signed=False") + (", narrow=True" if self.narrow else "")
        return f"FixedFormat(word={self.word}, frac={self.frac}{tail})"


@dataclasses.dataclass(frozen=True)
class FloatFormat(_Format):
    """Floating point: sign bit, ``exp`` exponent bits, ``man`` fraction bits.

    ``bias`` defaults to ``2**(exp-1) - 1`` (``2**(exp-1)`` for ``fnuz``).
    ``special`` says how the top codes are used:

    * ``"ieee"``: exponent all ones is inf (fraction 0) or NaN;
    * ``"fn"``: no inf; only exponent and fraction all ones is NaN (OCP E4M3);
    * ``"fnuz"``: no inf, no -0; the negative-zero pattern is the one NaN;
    * ``"finite"``: every code is a finite number (OCP FP6, FP4);
    * ``"e8m0"``: unsigned, exponent only (``man=0``), no zero, no
      subnormals, all ones is NaN (the OCP MX scale E8M0).

    With ``subnormals=False`` values below the smallest normal round onto
    {0, smallest normal}, and codes with exponent field 0 read as zero.
    Codes are at most 64 bits wide.

    ``signed=False``: no sign bit (``exp + man`` bits), for the kinds
    ``fn`` (NaN all ones: ml_dtypes' ``float8_e5m3fnu``, NVFP4's scale
    ``ue4m3``), ``ieee`` with ``man >= 1`` (inf and NaN) and ``finite``;
    not ``fnuz`` (its NaN is the -0 pattern) nor ``ieee`` without fraction
    bits (no NaN).  E8M0 is the unsigned ``fn`` rule without fraction bits:
    ``FloatFormat(8, 0, special="fn", signed=False)`` *is* ``special="e8m0"``
    (whose exponent field 0 is the smallest binade: no zero), and
    ``special="e8m0"`` is always unsigned.  What an unsigned float does
    with a value below its range -- a negative value (not -0, which is
    +0), -inf, and E8M0's zero -- is in ``_kernels.specialize``: ``nan``
    and ``ieee`` give NaN (as ml_dtypes), ``saturate`` the least code 0
    (+0; E8M0's 2**-127), ``raise`` an OverflowError.
    """

    exp: int
    man: int
    bias: int | None = None
    subnormals: bool = True
    special: str = "ieee"
    signed: bool = True

    def __post_init__(self):
        for field in ("exp", "man") + (("bias",) if self.bias is not None else ()):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"FloatFormat {field} must be an integer, got {value!r}")
            object.__setattr__(self, field, int(value))
        special = str(self.special)
        if special not in SPECIALS:
            raise ValueError(f"FloatFormat special must be one of {', '.join(SPECIALS)}; got {special!r}")
        object.__setattr__(self, "special", special)
        if self.exp < 1 or self.man < 0:
            raise ValueError(f"FloatFormat needs exp >= 1 and man >= 0, got exp={self.exp}, man={self.man}")
        if self.exp > 30:
            raise ValueError(f"FloatFormat exp={self.exp} is too large (at most 30 exponent bits)")
        signed = bool(self.signed) and special != "e8m0"
        if not signed:
            if special == "fn" and self.man == 0:
                special = "e8m0"  # the unsigned fn rule without fraction bits: E8M0
            if special not in specialize.unsigned_kinds(self.man):
                raise ValueError(
                    f"FloatFormat special={special!r} with man={self.man} cannot be unsigned: "
                    f"{specialize.why_signed(special)}; unsigned kinds: "
                    f"{', '.join(specialize.unsigned_kinds(1))} (ieee with man >= 1)")
        object.__setattr__(self, "signed", signed)
        object.__setattr__(self, "special", special)
        if special == "e8m0":
            if self.man != 0:
                raise ValueError(f"FloatFormat special='e8m0' is exponent-only: man must be 0, got {self.man}")
            object.__setattr__(self, "subnormals", False)
        if self.width > 64:
            raise ValueError(f"FloatFormat codes are at most 64 bits; e{self.exp}m{self.man} needs {self.width}")
        if self.bias is None:
            object.__setattr__(self, "bias", _default_bias(self.exp, special))
        object.__setattr__(self, "subnormals", bool(self.subnormals))

    is_float = True

    @property
    def width(self) -> int:
        """Bits in a code."""
        return int(self.signed) + self.exp + self.man

    @property
    def has_inf(self) -> bool:
        return specialize.has_inf(self.special)

    @property
    def has_nan(self) -> bool:
        return specialize.has_nan(self.special, self.man)

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal binade."""
        return -self.bias if self.special == "e8m0" else 1 - self.bias

    @property
    def max_code(self) -> int:
        """Code of the largest finite value."""
        return specialize.max_code(self.special, self.exp, self.man)

    @property
    def emax(self) -> int:
        """Exponent of the binade of the largest finite value."""
        return (self.max_code >> self.man) - self.bias

    @property
    def max_exact(self) -> Fraction:
        _, M, E, _ = core.split_code(self.max_code, self.exact_spec)
        return M * Fraction(2) ** E

    @property
    def min_exact(self) -> Fraction:
        """-max if signed; E8M0's smallest scale; 0 for the other unsigned floats."""
        if self.signed:
            return -self.max_exact
        return self.tiny_exact if self.special == "e8m0" else Fraction(0)

    @property
    def tiny_exact(self) -> Fraction:
        """Smallest positive normal value."""
        return Fraction(2) ** self.emin

    @property
    def tiny(self) -> float:
        return _frac_to_float(self.tiny_exact)

    @property
    def eps(self) -> float:
        """Distance from 1.0 to the next larger value, ``2**-man``."""
        return math.ldexp(1.0, -self.man)

    @property
    def default_overflow(self) -> Overflow:
        """As ml_dtypes: IEEE-like to inf, fn/fnuz/E8M0 to NaN, FP6/FP4 saturate."""
        return Overflow(specialize.default_overflow(self.special))

    @property
    def overflows(self) -> tuple:
        return tuple(Overflow(name) for name in specialize.float_overflows(self.special, self.man))

    @property
    def name(self) -> str:
        """The preset name if there is one, else the spelling :func:`format` parses."""
        for key, fmt in PRESETS.items():
            if fmt == self:
                return key
        text = f"e{self.exp}m{self.man}"
        if self.bias != _default_bias(self.exp, self.special):
            text += f"b{self.bias}"
        if self.signed or self.special in ("fn", "e8m0"):
            text += {"ieee": "", "fn": "fnu" if not self.signed else "fn", "fnuz": "fnuz",
                     "finite": "_finite", "e8m0": "fnu"}[self.special]
        else:  # unsigned ieee / finite: a leading u, the kind spelled out
            text = "u" + text + {"ieee": "ieee", "finite": "_finite"}[self.special]
        if not self.subnormals and self.special != "e8m0":
            text += "_nosub"
        return text

    def __repr__(self) -> str:
        parts = [f"exp={self.exp}", f"man={self.man}"]
        if self.bias != _default_bias(self.exp, self.special):
            parts.append(f"bias={self.bias}")
        if not self.subnormals and self.special != "e8m0":
            parts.append("subnormals=False")
        if self.special != "ieee":
            parts.append(f"special={self.special!r}")
        if not self.signed and self.special != "e8m0":
            parts.append("signed=False")
        return f"FloatFormat({', '.join(parts)})"


def _default_bias(exp: int, special: str) -> int:
    """``2**(exp-1) - 1``; one higher for fnuz (whose -0 pattern is its NaN)."""
    return (1 << (exp - 1)) - (0 if special == "fnuz" else 1)


def float64_holds(fmt) -> bool:
    """Does float64 hold every finite value of ``fmt`` exactly?"""
    if fmt.is_float:
        return fmt.man <= 52 and fmt.emin - fmt.man >= -1074 and fmt.emax <= 1023
    return fmt.word <= 53 and -1074 <= -fmt.frac and fmt.word - fmt.frac <= 1023


def _make_spec(fmt, exact: bool) -> core.Spec:
    """The rounding core's view of ``fmt``: numpy scalars for the Numba engine
    (``exact=False``), Python ints for the exact engine."""
    if exact:
        U = I = int
    else:
        if fmt.width > 64:
            return None
        U, I = np.uint64, np.int64
    mask = (1 << fmt.width) - 1
    if not fmt.is_float:
        # the range limits of the overflow step: int_max and -int_min
        # (narrowed to 2**(word-1) - 1 both ways by narrow=True)
        return core.Spec(
            False, I(fmt.word), I(fmt.frac), U(fmt.int_max), U(-fmt.int_min), U(mask),
            I(0), I(0), I(0), I(0), False, U(0),
            U(1 << (fmt.word - 1) if fmt.signed else 0),
            False, U(0), False, U(0), False, False, False, False, U(0))
    kind, exp, man = fmt.special, fmt.exp, fmt.man
    sign_bit = 1 << (fmt.width - 1) if fmt.signed else 0
    return core.Spec(
        True, I(fmt.width), I(0), U(0), U(0), U(mask),
        I(man), I(fmt.bias), I(fmt.emin), I((1 << exp) - 1), fmt.subnormals, U(fmt.max_code),
        U(sign_bit), fmt.has_inf, U(specialize.inf_magnitude(exp, man)), fmt.has_nan,
        U(specialize.canonical_nan(kind, exp, man, sign_bit)),
        specialize.nan_signed(kind) and fmt.signed, specialize.negzero(kind) and fmt.signed,
        specialize.nozero(kind), False, U(0))


# ---------------------------------------------------------------- presets
float8_e4m3fn = FloatFormat(4, 3, special="fn")
float8_e5m2 = FloatFormat(5, 2)
float8_e4m3fnuz = FloatFormat(4, 3, special="fnuz")
float8_e5m2fnuz = FloatFormat(5, 2, special="fnuz")
float8_e4m3b11fnuz = FloatFormat(4, 3, bias=11, special="fnuz")
float8_e3m4 = FloatFormat(3, 4)
float8_e4m3 = FloatFormat(4, 3)
float6_e3m2fn = FloatFormat(3, 2, special="finite")
float6_e2m3fn = FloatFormat(2, 3, special="finite")
float4_e2m1fn = FloatFormat(2, 1, special="finite")
float8_e8m0fnu = FloatFormat(8, 0, special="e8m0")
# ml_dtypes 0.7's float8_e5m3fnu: bias 15, subnormals, no inf, NaN 0xFF, max 0xFE = 114688
float8_e5m3fnu = FloatFormat(5, 3, special="fn", signed=False)
# NVFP4's block scale UE4M3: the e4m3fn codes with sign bit 0 (7 bits; max 0x7E = 448,
# 0x7F NaN), as torchao stores it (torch.float8_e4m3fn of a value clamped to [2**-6, 448])
ue4m3 = FloatFormat(4, 3, special="fn", signed=False)
bfloat16 = FloatFormat(8, 7)
float16 = FloatFormat(5, 10)
float32 = FloatFormat(8, 23)
float64 = FloatFormat(11, 52)
int8, int16, int32, int64 = (FixedFormat(w, 0) for w in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (FixedFormat(w, 0, signed=False) for w in (8, 16, 32, 64))
# ml_dtypes 0.7's int1 [-1, 0], int2 [-2, 1], uint1 [0, 1], uint2 [0, 3]
int1, int2 = FixedFormat(1, 0), FixedFormat(2, 0)
uint1, uint2 = FixedFormat(1, 0, signed=False), FixedFormat(2, 0, signed=False)

PRESETS = {
    name: globals()[name]
    for name in (
        "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e4m3b11fnuz",
        "float8_e3m4", "float8_e4m3", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn",
        "float8_e8m0fnu", "float8_e5m3fnu", "ue4m3", "bfloat16", "float16", "float32", "float64",
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "int1", "int2", "uint1", "uint2",
    )
}

_FIXED_RE = re.compile(r"^([su])(\d+)\.(-?\d+)(n|_narrow)?$")
_FLOAT_RE = re.compile(r"^(u)?e(\d+)m(\d+)(?:_?b(-?\d+))?(?:_?(fnuz|fnu|fn|finite|ieee))?(_?nosub)?$")


def format(spec) -> FixedFormat | FloatFormat:  # noqa: A001 (numpy-like name)
    """A format from a format object or a name (see the module docstring)."""
    if isinstance(spec, (FixedFormat, FloatFormat)):
        return spec
    if isinstance(spec, str) and spec in PRESETS:  # the common case, before any import
        return PRESETS[spec]
    from . import aliases  # names users type: aliases, Q notation, dtypes, did-you-mean
    if not isinstance(spec, str):
        name = aliases.dtype_name(spec)  # numpy, ml_dtypes and torch dtypes
        if name is None:
            raise ValueError(f"a format is a FixedFormat, a FloatFormat, a name or a numpy/ml_dtypes/"
                             f"torch dtype; got {spec!r}")
        spec = name
    text = spec.strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    for name, fmt in PRESETS.items():
        if name.startswith("float") and name.split("_", 1)[-1] == text:
            return fmt
    if aliases.resolve(text) is not None:
        return format(aliases.resolve(text))
    q = aliases.q_notation(text)
    if q is not None:
        return FixedFormat(q[0], q[1], signed=q[2])
    match = _FIXED_RE.match(text)
    if match:
        sign, word, frac, narrow = match.groups()
        return FixedFormat(int(word), int(frac), signed=(sign == "s"), narrow=narrow is not None)
    match = _FLOAT_RE.match(text)
    if match:
        unsigned, exp, man, bias, special, nosub = match.groups()
        signed = not (unsigned or special == "fnu")  # fnu: unsigned fn (E8M0 if man == 0)
        special = {"fnu": "fn", None: "ieee"}.get(special, special)
        return FloatFormat(int(exp), int(man), None if bias is None else int(bias),
                           subnormals=not nosub, special=special, signed=signed)
    close = aliases.suggestions(text, [*PRESETS, *(n.split("_", 1)[-1] for n in PRESETS
                                                  if n.startswith("float")), *aliases.ALIASES])
    maybe = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise ValueError(
        f"unknown format {spec!r}: {maybe}use a preset ({', '.join(PRESETS)}), "
        "'sW.F'/'uW.F' for fixed point (e.g. 's16.8'; 's8.0n' for the narrowed range), or '[u]eXmY[bB][fn|fnuz|fnu|finite|ieee][_nosub]' "
        "for floating point (e.g. 'e4m3fn')")
