"""Number formats: fixed point and (small or large) floating point.

A format only describes a layout.  What a code means is in ``codec.decode``;
this module holds the facts about a format that decoding and encoding share:
its width, where its special codes are, and its largest finite code.

Floating-point code layout, from the most significant bit::

    [sign: 1 bit] [exponent field ef: exp bits] [fraction field mf: man bits]

(no sign bit for unsigned formats: ``"e8m0"`` always, and any format
built with ``signed=False``).

Unsigned floats (``signed=False``) exist for the kinds "fn" (NaN is all
ones: ml_dtypes' float8_e5m3fnu, NVFP4's block scale UE4M3), "ieee" with at
least one fraction bit, "finite" and "e8m0".  An unsigned "fn" format
without fraction bits *is* E8M0 (the constructor turns it into one): its
exponent field 0 is a binade, not zero.
"""

from fractions import Fraction

SPECIALS = ("ieee", "fn", "fnuz", "finite", "e8m0")


def pow2(k):
    """2**k as an exact Fraction, for any integer k (also negative)."""
    return Fraction(2) ** k


class FixedFormat:
    """Fixed point: a ``word``-bit integer n scaled by 2**-frac.

    Signed formats hold n in two's complement, so n runs over
    [-2**(word-1), 2**(word-1) - 1]; unsigned ones over [0, 2**word - 1].

    A *narrow* (signed) format keeps the same codes but rounding never
    produces the most negative one: results lie in the symmetric
    [-(2**(word-1) - 1), 2**(word-1) - 1].  The code 100...0 still decodes
    to -2**(word-1); it is simply never an answer of encode.
    """

    def __init__(self, word, frac, signed=True, narrow=False):
        if not (isinstance(word, int) and word >= 1):
            raise ValueError(f"FixedFormat: word must be an int >= 1, got {word!r}")
        if not isinstance(frac, int):
            raise ValueError(f"FixedFormat: frac must be an int, got {frac!r}")
        if narrow and not (signed and word >= 2):
            raise ValueError("FixedFormat: narrow needs a signed format of at least 2 bits")
        self.word = word
        self.frac = frac
        self.signed = bool(signed)
        self.narrow = bool(narrow)

    @property
    def width(self):
        return self.word

    @property
    def min_int(self):
        """The smallest integer a result may be (what saturation clamps to)."""
        if not self.signed:
            return 0
        if self.narrow:
            return -(2**(self.word - 1) - 1)   # symmetric: minus the largest
        return -2**(self.word - 1)

    @property
    def max_int(self):
        return 2**(self.word - 1) - 1 if self.signed else 2**self.word - 1

    def _key(self):
        return ("fixed", self.word, self.frac, self.signed, self.narrow)

    def __eq__(self, other):
        return isinstance(other, FixedFormat) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"FixedFormat(word={self.word}, frac={self.frac}, signed={self.signed}, "
                f"narrow={self.narrow})")


class FloatFormat:
    """Floating point with ``exp`` exponent bits and ``man`` fraction bits.

    ``special`` says what the top codes mean (see ``special_kind``):
    "ieee" (inf and NaN), "fn" (NaN only), "fnuz" (one NaN, no -0),
    "finite" (no specials), "e8m0" (unsigned powers of two, NaN, no zero).
    """

    def __init__(self, exp, man, bias=None, subnormals=True, special="ieee", signed=True):
        if not (isinstance(exp, int) and exp >= 1):
            raise ValueError(f"FloatFormat: exp must be an int >= 1, got {exp!r}")
        if not (isinstance(man, int) and man >= 0):
            raise ValueError(f"FloatFormat: man must be an int >= 0, got {man!r}")
        if special not in SPECIALS:
            raise ValueError(f"FloatFormat: special must be one of {SPECIALS}, got {special!r}")
        if special == "e8m0":
            signed = False
        if not signed and special == "fn" and man == 0:
            special = "e8m0"          # unsigned, NaN all ones, no fraction: E8M0
        if not signed and special == "fnuz":
            raise ValueError("FloatFormat: fnuz's NaN is the -0 pattern; it needs a sign bit")
        if not signed and special == "ieee" and man == 0:
            raise ValueError("FloatFormat: an unsigned ieee format needs man >= 1 (a NaN)")
        if special == "e8m0" and man != 0:
            raise ValueError(f"FloatFormat: special 'e8m0' needs man == 0, got {man!r}")
        if bias is None:
            bias = 2**(exp - 1) if special == "fnuz" else 2**(exp - 1) - 1
        if not isinstance(bias, int):
            raise ValueError(f"FloatFormat: bias must be an int, got {bias!r}")
        self.exp = exp
        self.man = man
        self.bias = bias
        self.subnormals = bool(subnormals)
        self.special = special
        self.signed = bool(signed)

    @property
    def width(self):
        return self.exp + self.man + (1 if self.signed else 0)

    @property
    def emin(self):
        """Exponent of the smallest normal number 2**emin."""
        return -self.bias if self.special == "e8m0" else 1 - self.bias

    @property
    def ef_max(self):
        """The all-ones exponent field."""
        return 2**self.exp - 1

    @property
    def mf_max(self):
        """The all-ones fraction field."""
        return 2**self.man - 1

    def _key(self):
        return ("float", self.exp, self.man, self.bias, self.subnormals, self.special,
                self.signed)

    def __eq__(self, other):
        return isinstance(other, FloatFormat) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"FloatFormat(exp={self.exp}, man={self.man}, bias={self.bias}, "
                f"subnormals={self.subnormals}, special={self.special!r}, signed={self.signed})")


def all_codes(fmt):
    """Every code of the format, as range(2**width)."""
    return range(2**fmt.width)


# ---------------------------------------------------------------- float codes

def split(code, fmt):
    """Split a float code into (sign bit, exponent field, fraction field)."""
    mf = code & fmt.mf_max
    ef = (code >> fmt.man) & fmt.ef_max
    sign_bit = code >> (fmt.exp + fmt.man) if fmt.signed else 0
    return sign_bit, ef, mf


def join(sign_bit, ef, mf, fmt):
    """Inverse of ``split``: assemble a float code from its three fields."""
    assert sign_bit == 0 or fmt.signed, "an unsigned format has no sign bit"
    return (sign_bit << (fmt.exp + fmt.man)) | (ef << fmt.man) | mf


def special_kind(sign_bit, ef, mf, fmt):
    """"inf", "nan" or None (an ordinary number) for the given fields."""
    all_ones = ef == fmt.ef_max
    if fmt.special == "ieee" and all_ones:
        return "inf" if mf == 0 else "nan"
    if fmt.special == "fn" and all_ones and mf == fmt.mf_max:
        return "nan"
    if fmt.special == "fnuz" and sign_bit == 1 and ef == 0 and mf == 0:
        return "nan"
    if fmt.special == "e8m0" and all_ones:
        return "nan"
    return None


def has_inf(fmt):
    return fmt.special == "ieee"


def has_nan(fmt):
    if fmt.special == "ieee":
        return fmt.man >= 1  # with man == 0 the all-ones exponent is only inf
    return fmt.special != "finite"


def nan_code(sign_bit, fmt):
    """The canonical NaN.  Only call it when ``has_nan(fmt)``.

    ieee: quiet NaN, top fraction bit set, sign kept; fn: all ones, sign
    kept; fnuz: the negative-zero pattern; e8m0: all ones.
    """
    if fmt.special == "ieee":
        return join(sign_bit, fmt.ef_max, 1 << (fmt.man - 1), fmt)
    if fmt.special == "fn":
        return join(sign_bit, fmt.ef_max, fmt.mf_max, fmt)
    if fmt.special == "fnuz":
        return join(1, 0, 0, fmt)
    if fmt.special == "e8m0":
        return join(0, fmt.ef_max, 0, fmt)
    raise AssertionError(f"{fmt!r} has no NaN")


def inf_code(sign_bit, fmt):
    """The infinity of the given sign (ieee formats only)."""
    return join(sign_bit, fmt.ef_max, 0, fmt)


def max_finite_code(sign_bit, fmt):
    """The code of the largest finite magnitude, with the given sign.

    It is the largest code whose fields are not taken by inf or NaN.
    """
    if fmt.special in ("ieee", "e8m0"):
        return join(sign_bit, fmt.ef_max - 1, fmt.mf_max, fmt)  # e8m0: mf_max == 0
    if fmt.special == "fn" and fmt.man == 0:
        return join(sign_bit, fmt.ef_max - 1, 0, fmt)
    if fmt.special == "fn":
        return join(sign_bit, fmt.ef_max, fmt.mf_max - 1, fmt)
    return join(sign_bit, fmt.ef_max, fmt.mf_max, fmt)  # fnuz, finite


# ------------------------------------------------------------------- presets

PRESETS = {
    "float8_e4m3fn": FloatFormat(4, 3, special="fn"),
    "float8_e5m2": FloatFormat(5, 2),
    "float8_e4m3fnuz": FloatFormat(4, 3, special="fnuz"),
    "float8_e5m2fnuz": FloatFormat(5, 2, special="fnuz"),
    "float8_e4m3b11fnuz": FloatFormat(4, 3, bias=11, special="fnuz"),
    "float8_e3m4": FloatFormat(3, 4),
    "float8_e4m3": FloatFormat(4, 3),
    "float6_e3m2fn": FloatFormat(3, 2, special="finite"),
    "float6_e2m3fn": FloatFormat(2, 3, special="finite"),
    "float4_e2m1fn": FloatFormat(2, 1, special="finite"),
    "float8_e8m0fnu": FloatFormat(8, 0, special="e8m0"),
    # ml_dtypes 0.7: bias 15, subnormals, no inf, NaN 0xFF, max 0xFE = 1.75 * 2**16
    "float8_e5m3fnu": FloatFormat(5, 3, special="fn", signed=False),
    # NVFP4's block scale: e4m3fn without its sign bit (max 0x7E = 448, NaN 0x7F)
    "ue4m3": FloatFormat(4, 3, special="fn", signed=False),
    "bfloat16": FloatFormat(8, 7),
    "float16": FloatFormat(5, 10),
    "float32": FloatFormat(8, 23),
    "float64": FloatFormat(11, 52),
}
