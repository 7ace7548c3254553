"""Block fused multiply-add (tensor-core) matrix units: the model, spelled out.

An exact, readable oracle of ``fxsim.matmul(a, b, c, order=BlockFMA(...))``
(issue 18).  Standard library only: values are Python ints and Fractions.

Inputs are codes: ``a`` and ``b`` codes of one of :data:`FORMATS`
(``"float8_e4m3fn"``, ``"float8_e5m2"``, ``"float16"``, ``"bfloat16"``,
``"e8m10"`` = TF32: 1 sign, 8 exponent, 10 fraction bits), ``c`` float32
bit patterns (or None).  The result is a
float32 bit pattern per output; a NaN result is the canonical quiet NaN
0x7FC00000.

The model (``unit = (n, frac, frac_out, min_exp, late_c, promote)``):

* An input value is ``(-1)**s * m * 2**(e - p)`` with ``p`` its fraction
  bits (3 for e4m3fn, 2 for e5m2, 10 for float16 and e8m10, 7 for
  bfloat16) and ``e`` its exponent clamped below at the format's emin (-6,
  -14, -14, -126, -126): a subnormal keeps a denormalised ``m``.  A
  product's exponent is ``e_a + e_b`` (not floor(log2|a*b|)).
* Products are taken in blocks of n consecutive k from k = 0 (the last block
  may be shorter).  ``E = max(product exponents of nonzero products,
  floor(log2|c|) if c != 0 and not late_c, min_exp)``.  Every product (and
  c, unless late_c) is truncated toward zero to a multiple of
  ``2**(E - frac)``; these are summed exactly; the sum is truncated toward
  zero to ``frac_out`` fraction bits relative to ``max(floor(log2|sum|),
  -126)``; zero is +0.  That is the block result (a float32 value).
  late_c: the block's truncated product sum is added to c by one float32
  round-to-nearest-even addition.
* A chain starts from c (the c argument or +0) and feeds each block result
  to the next block as its c.  ``promote=None``: the result is the chain's
  last value over all of K.  ``promote=P``: K is cut into runs of P from
  k = 0, each run a chain from +0, the run results added in K order into a
  float32 accumulator starting from c, one nearest-even addition each.
* Non-finite operands (NaN codes, e5m2 infinities, c NaN/inf) of an output:
  its result is the IEEE value of ``c + sum(a*b)``.
* K = 0 (a choice: the issue is silent): no block runs, the result is c
  (+0 if None), signs of zeros kept.
* Overflow (a choice; possible only with 8-bit-exponent inputs): a block
  result of magnitude >= 2**128 is +-inf; an infinite chain value passes
  unchanged through later early-c blocks and enters late-c and promotion
  additions as an IEEE infinity.

Hand-derived cases (checked by :func:`self_check`):

1. hopper-like unit (n=32, frac=13, frac_out=13, min_exp=-132), one block,
   e4m3fn a = [1.0, 2**-9] (2**-9 the least subnormal: m = 1, e = -6),
   b = [1.0, 1.0]: exponents 0 and -6 + 0 = -6, E = 0, the grid is 2**-13;
   2**-9 is a multiple of it, so the sum is 1 + 2**-9 exactly, which has
   9 fraction bits <= 13: result 1 + 2**-9 = float32 0x3F804000.
2. same unit, a = [448, 2**-9], b = [1, 1]: 448 = 1.75 * 2**8, E = 8, the
   grid is 2**-5 and 2**-9 truncates to 0: result 448 (0x43E00000).
3. frac=2, frac_out=23, a = [1.75, 0.875], b = [1, 1] (exponents 0, -1):
   E = 0, grid 1/4: 1.75 stays, 0.875 -> 0.75: result 2.5 (0x40200000).
4. frac_out=1, a = [1.75], b = [1]: 1.75 truncated to 1 fraction bit is 1.5.
5. late_c with c = -0, a = [0], b = [1]: product sum +0, -0 + +0 = +0.
6. early c = 2**20 (float32), a = [1], b = [1], frac = 13: E = 20, the grid
   is 2**7, the product 1 truncates to 0: result 2**20.
7. cancellation across blocks: n = 1, frac = 13, frac_out = 13, a = [1, -1,
   2**-9], b = [1, 1, 1]: 1, then 1 - 1 = 0 (+0), then 2**-9: result 2**-9.
8. promote=2, n=1, c = 1.0, a = [2**-9]*4, b = [1]*4: each run sums to 2**-8
   (exactly: E = -6, grid 2**-19), then 1 + 2**-8 + 2**-8 = 1 + 2**-7
   (float32 additions, exact).
9. non-finite: e5m2 a = [inf, 1], b = [0, 1]: inf * 0 is NaN.
10. V100 fp16 (n=4, frac=23, frac_out=23), a = [1], b = [1], c = -(1 - 2**-24):
    E = max(0, -1) = 0, grid 2**-23, c truncates to -(1 - 2**-23): result
    2**-23 (0x34000000) -- Fasi et al.'s "no guard digits" vector.
11. A100 fp16 (n=8, frac=24): the same inputs keep c exactly: 2**-24.
12. bfloat16 overflow: a = [2**127, 2**127], b = [2**127, 2**127] (n=2,
    frac=24): E = 254, the sum 2**255 is >= 2**128: +inf (0x7F800000).
13. bfloat16 subnormals: a = [2**-133], b = [2**-10] (least subnormal, e =
    -126; e = -10), min_exp = -160: E = -136, the product 2**-143 is exact
    and a float32 subnormal: 0x00000040.
"""

from fractions import Fraction

FP8 = {  # name: (exponent bits, fraction bits, bias, has infinities)
    "float8_e4m3fn": (4, 3, 7, False),
    "float8_e5m2": (5, 2, 15, True),
}
FORMATS = {**FP8, "float16": (5, 10, 15, True), "bfloat16": (8, 7, 127, True),
           "e8m10": (8, 10, 127, True)}
INF = float("inf")
NAN32 = 0x7FC00000
INF32 = 0x7F800000


def floor_log2(x):
    """floor(log2 x) of a positive Fraction, exactly."""
    x = Fraction(x)
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    return e


def trunc_to(x, unit):
    """``x`` truncated toward zero to a multiple of ``unit`` (a Fraction)."""
    q = abs(x) / unit
    t = q.numerator // q.denominator
    return (t if x >= 0 else -t) * unit


def decode_fp8(code, fmt):
    """('nan'|'inf'|'num', sign, m, e, p): value (-1)**sign * m * 2**(e - p);
    e is clamped below at the format's emin.  Any format of FORMATS."""
    ebits, p, bias, has_inf = FORMATS[fmt]
    sign = (code >> (ebits + p)) & 1
    field = (code >> p) & ((1 << ebits) - 1)
    man = code & ((1 << p) - 1)
    top = (1 << ebits) - 1
    if has_inf and field == top:
        return ("inf" if man == 0 else "nan", sign, 0, 0, p)
    if not has_inf and field == top and man == (1 << p) - 1:
        return ("nan", sign, 0, 0, p)
    if field == 0:
        return ("num", sign, man, 1 - bias, p)
    return ("num", sign, man | (1 << p), field - bias, p)


def decode_f32(bits):
    """('nan'|'inf'|'num', value): value a Fraction (or the sign, +-1, of an
    inf; a zero's sign is returned as ('zero', sign))."""
    sign = -1 if bits >> 31 else 1
    field = (bits >> 23) & 0xFF
    man = bits & 0x7FFFFF
    if field == 0xFF:
        return ("nan", None) if man else ("inf", sign)
    if field == 0 and man == 0:
        return ("zero", sign)
    m = man if field == 0 else man | (1 << 23)
    e = max(field, 1) - 150
    return ("num", sign * Fraction(m) * Fraction(2) ** e)


def encode_f32(x, negzero=False):
    """Bits of the float32 value ``x`` (a Fraction that must be exactly a
    float32 value or at least 2**128 in magnitude: then +-inf)."""
    if x != x:
        return NAN32
    if x == 0:
        return 0x80000000 if negzero else 0
    sign = 0x80000000 if x < 0 else 0
    a = abs(x)
    if a >= Fraction(2) ** 128:
        return sign | INF32
    e = max(floor_log2(a), -126)
    m = a / Fraction(2) ** (e - 23)
    assert m.denominator == 1, "not a float32 value"
    m = m.numerator
    if m < (1 << 23):
        return sign | m                      # subnormal
    return sign | ((e + 127) << 23) | (m - (1 << 23))


def round_f32(x):
    """``x`` (a nonzero Fraction) rounded to nearest even into float32 (its
    value; 2**128 and above means overflow, returned as is)."""
    a = abs(x)
    e = max(floor_log2(a), -126)
    ulp = Fraction(2) ** (e - 23)
    q = a / ulp
    t = q.numerator // q.denominator
    r = q - t
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and t % 2 == 1):
        t += 1
    v = t * ulp
    if v >= Fraction(2) ** 128:
        v = Fraction(2) ** 128  # overflow: encode_f32 gives inf
    return v if x > 0 else -v


def add_f32(x, xneg, y, yneg):
    """IEEE float32 round-to-nearest-even x + y of float32 values (Fractions;
    ``xneg``/``yneg`` the signs of zeros): (value, is -0)."""
    s = x + y
    if s == 0:
        return Fraction(0), (x == 0 and y == 0 and xneg and yneg)
    if s in (INF, -INF) or s != s:       # an infinite chain value (overflow)
        return s, False
    return round_f32(s), False


def truncate_out(s, frac_out):
    """The block sum ``s`` truncated to frac_out fraction bits relative to
    max(floor(log2|s|), -126); zero is +0."""
    if s == 0:
        return Fraction(0)
    e = max(floor_log2(abs(s)), -126)
    return trunc_to(s, Fraction(2) ** (e - frac_out))


def block(products, c, unit):
    """One block step.  ``products``: list of (exponent, exact value) of the
    block's products; ``c``: the block's c as a Fraction (the sign of a zero
    does not matter here).  Returns the truncated sum (late_c: without c)."""
    n, frac, frac_out, min_exp, late_c, _ = unit
    exps = [e for e, v in products if v != 0]
    if not late_c and c != 0:
        exps.append(floor_log2(abs(c)))
    E = max(exps + [min_exp])
    grid = Fraction(2) ** (E - frac)
    total = sum((trunc_to(v, grid) for _, v in products), Fraction(0))
    if not late_c:
        total += trunc_to(c, grid)
    t = truncate_out(total, frac_out)
    if abs(t) >= Fraction(2) ** 128:     # overflow (8-bit-exponent inputs only)
        return INF if t > 0 else -INF
    return t


def chain(products, c, cneg, unit):
    """Blocks of n over ``products`` starting from (c, cneg): (value, is -0)."""
    n, late_c = unit[0], unit[4]
    for k0 in range(0, len(products), n):
        if c in (INF, -INF) and not late_c:
            continue                     # an infinite chain value stays
        t = block(products[k0:k0 + n], c, unit)
        if late_c:
            c, cneg = add_f32(c, cneg, t, False)
        else:
            c, cneg = t, False
    return c, cneg


def _nonfinite(terms, cterm):
    """IEEE value (bits) of c + sum of products, some operand non-finite."""
    infs = set()
    for (ka, sa, ma), (kb, sb, mb) in terms:
        if "nan" in (ka, kb):
            return NAN32
        if "inf" in (ka, kb):
            if (ka == "num" and ma == 0) or (kb == "num" and mb == 0):
                return NAN32
            infs.add(sa ^ sb)
    if cterm[0] == "nan":
        return NAN32
    if cterm[0] == "inf":
        infs.add(0 if cterm[1] > 0 else 1)
    if len(infs) == 2:
        return NAN32
    return INF32 | (0x80000000 if infs.pop() else 0)


def dot(a_codes, fa, b_codes, fb, c_bits, unit):
    """One output: the float32 bits of the unit's ``c + sum a_k b_k``."""
    a = [decode_fp8(x, fa) for x in a_codes]
    b = [decode_fp8(x, fb) for x in b_codes]
    cterm = decode_f32(0 if c_bits is None else c_bits)
    terms = [((ka, sa, ma), (kb, sb, mb)) for (ka, sa, ma, _, _), (kb, sb, mb, _, _) in zip(a, b)]
    if cterm[0] in ("nan", "inf") or any(ka != "num" or kb != "num"
                                         for (ka, _, _), (kb, _, _) in terms):
        return _nonfinite(terms, cterm)
    products = []
    for (_, sa, ma, ea, pa), (_, sb, mb, eb, pb) in zip(a, b):
        v = Fraction(ma * mb) * Fraction(2) ** (ea + eb - pa - pb)
        products.append((ea + eb, -v if sa ^ sb else v))
    if cterm[0] == "zero":
        c, cneg = Fraction(0), cterm[1] < 0
    else:
        c, cneg = cterm[1], False
    promote = unit[5]
    if promote is None:
        v, neg = chain(products, c, cneg, unit)
    else:
        v, neg = c, cneg
        for r0 in range(0, len(products), promote):
            run, _ = chain(products[r0:r0 + promote], Fraction(0), False, unit)
            v, neg = add_f32(v, neg, run, False)
    return encode_f32(v, neg)


def matmul(a, fa, b, fb, c, unit, ncols=None):
    """``a``: M lists of K codes of format fa; ``b``: K lists of N codes; ``c``: None
    or M lists of N float32 bit patterns (``ncols`` gives N when K = 0 and
    c is None).  Returns M lists of N float32 bits."""
    m, k = len(a), len(b)
    n = len(b[0]) if k else (len(c[0]) if c else ncols)
    cols = [[b[kk][j] for kk in range(k)] for j in range(n)]
    return [[dot(a[i], fa, cols[j], fb, None if c is None else c[i][j], unit)
             for j in range(n)] for i in range(m)]


def code_of(x, fmt):
    """The code of the finite value x (a Fraction; exact only, +0 for 0)."""
    ebits, p, bias, _ = FORMATS[fmt]
    x = Fraction(x)
    if x == 0:
        return 0
    sign = 1 << (ebits + p) if x < 0 else 0
    e = max(floor_log2(abs(x)), 1 - bias)
    m = abs(x) / Fraction(2) ** (e - p)
    if m.denominator != 1 or m.numerator >= 1 << (p + 1) or e > (1 << ebits) - 1 - bias:
        raise ValueError(f"{x} is not a {fmt} value")
    m = m.numerator
    field = e + bias if m >> p else 0
    return sign | field << p | (m & ((1 << p) - 1))


def self_check():
    """The hand-derived cases of the module docstring."""
    f = Fraction
    e4, e5 = "float8_e4m3fn", "float8_e5m2"
    hop = (32, 13, 13, -132, False, None)

    def run(av, bv, unit, c=None, fmt=e4):
        return dot([code_of(f(x), fmt) for x in av], fmt, [code_of(f(x), fmt) for x in bv], fmt,
                   c, unit)
    tiny = f(1, 512)
    assert run([1, tiny], [1, 1], hop) == 0x3F804000
    assert run([448, tiny], [1, 1], hop) == 0x43E00000
    assert run([f(7, 4), f(7, 8)], [1, 1], (32, 2, 23, -132, False, None)) == 0x40200000
    assert run([f(7, 4)], [1], (32, 13, 1, -132, False, None)) == 0x3FC00000
    assert run([0], [1], (32, 13, 13, -132, True, None), c=0x80000000) == 0
    assert run([1], [1], hop, c=0x49800000) == 0x49800000
    assert run([1, -1, tiny], [1, 1, 1], (1, 13, 13, -132, False, None)) == 0x3B000000
    assert run([tiny] * 4, [1] * 4, (1, 13, 13, -132, False, 2), c=0x3F800000) == 0x3F810000
    inf = 0x7C
    assert dot([inf, code_of(f(1), e5)], e5, [0, code_of(f(1), e5)], e5, None, hop) == NAN32
    assert dot([inf], e5, [code_of(f(1), e5)], e5, 0xFF800000, hop) == NAN32   # inf + -inf
    assert dot([], e4, [], e4, 0x80000000, hop) == 0x80000000               # K = 0
    h, bf = "float16", "bfloat16"
    below = 0xBF7FFFFF                                   # -(1 - 2**-24), float32
    assert run([1], [1], (4, 23, 23, -160, False, None), c=below, fmt=h) == 0x34000000
    assert run([1], [1], (8, 24, 23, -160, False, None), c=below, fmt=h) == 0x33800000
    big = Fraction(2) ** 127
    assert run([big, big], [big, big], (2, 24, 23, -160, False, None), fmt=bf) == INF32
    assert run([Fraction(1, 2 ** 133)], [Fraction(1, 1024)], (2, 24, 23, -160, False, None),
               fmt=bf) == 0x00000040
    return True


if __name__ == "__main__":
    print("reference.blockfma self-check:", self_check())
