"""Matrix product and 2-D convolution: the accumulation model, spelled out.

``matmul`` computes ``c + a @ b`` on codes; ``conv2d`` rewrites a convolution
as such a product (``im2col``).  What makes the result bit-exact is saying
where every rounding happens, so this module states each one:

1. **Products.**  ``p_k = a[i][k] * b[k][j]``, exact (``arith._product``:
   signs xor, ``0 * inf`` is NaN), or, when a ``mul`` format is given,
   rounded once into it: the value of ``arith.mul(a, fa, b, fb, mul, ...)``.
2. **Accumulation** into the format ``acc``, in a stated ``order``
   (``"sequential"``, ``"pairwise"`` or blocks of ``B`` products), every
   addition rounded into ``acc``.  ``acc=None`` means no rounding at all:
   one exact sum.
3. **Output.**  Optionally one last rounding (a cast) into ``out``.

"Round x into F" always means ``encode(x, F, rounding, overflow)``, with the
same ``rounding`` and ``overflow`` for every step (``overflow=None`` means
each format's own default, ``codec.default_overflow``).  For a fixed-point
``F`` that is the rounding mode followed by the overflow policy ("wrap",
"saturate", "raise") -- at *every* step, so a saturating accumulator
saturates after every addition, and a NaN or infinity cannot enter it
(``encode`` raises ``ValueError``).

Values are handled as terms ``(sign, magnitude)`` exactly as ``codec.decode``
returns them: sign +1 or -1, magnitude a ``Fraction``, "inf" or "nan".

The exact sum x + y (``_add_exact``) follows arith's IEEE rules: any NaN
gives NaN, so does ``inf + -inf``; ``inf + finite = inf``; an exact zero
keeps the sign when both terms are zeros of that sign (``-0 + -0 = -0``) and
is +0 otherwise -- except under ``rounding="down"`` (IEEE
roundTowardNegative), where opposite-signed zeros and exact cancellations
give -0.  So ``round(x + y)`` here is precisely ``arith.add``.  A sum of many terms (``_sum_exact``) adds them one after the
other with this rule and never rounds; its zero therefore is:

* without "down": -0 if every term is -0, otherwise +0;
* under "down": +0 if every term is +0, otherwise -0;

and an empty sum is +0.  A NaN made by an addition is the default NaN,
``(+1, "nan")``; a single term is returned unchanged.

Only deterministic rounding modes are accepted: a matrix product has no
agreed way to hand out random bits, so "stochastic" and "stochastic_equal"
raise ``ValueError``.
"""

import math
from fractions import Fraction

from . import arith
from .codec import decode, encode
from .formats import FixedFormat, FloatFormat
from .rounding import MODES

ZERO = (1, Fraction(0))       # +0 as a term
DEFAULT_NAN = (1, "nan")      # what an invalid addition gives
STOCHASTIC_MODES = ("stochastic", "stochastic_equal")


# ------------------------------------------------------------ exact sums

def _add_exact(x, y, rounding):
    """x + y as an exact term: ``arith._sum`` without its final rounding."""
    (sx, mx), (sy, my) = x, y
    if mx == "nan" or my == "nan":
        return DEFAULT_NAN
    if mx == "inf" and my == "inf":
        return (sx, "inf") if sx == sy else DEFAULT_NAN     # inf - inf is NaN
    if mx == "inf":
        return sx, "inf"                                    # inf + finite
    if my == "inf":
        return sy, "inf"
    exact = sx * mx + sy * my
    if exact != 0:
        return (-1 if exact < 0 else 1), abs(exact)
    if mx == 0 and my == 0 and sx == sy:
        return sx, Fraction(0)                 # -0 + -0 = -0, +0 + +0 = +0
    return (-1 if rounding == "down" else 1), Fraction(0)   # exact cancellation


def _sum_exact(terms, rounding):
    """terms[0] + terms[1] + ..., exactly (no rounding); +0 when empty.

    The first term starts the sum (starting from +0 instead would turn a
    sum of -0 terms into +0).
    """
    if not terms:
        return ZERO
    total = terms[0]
    for term in terms[1:]:
        total = _add_exact(total, term, rounding)
    return total


# -------------------------------------------------------------- rounding

def _as_number(term):
    """A term as a number ``encode`` accepts; floats keep the sign of 0, inf, NaN."""
    sign, mag = term
    if mag == "nan":
        return math.copysign(math.nan, sign)
    if mag == "inf":
        return math.copysign(math.inf, sign)
    if mag == 0:
        return math.copysign(0.0, sign)
    return sign * mag


def _round(term, fmt, rounding, overflow):
    """Round the exact term into ``fmt``: ``encode(term, fmt, rounding, overflow)``."""
    return encode(_as_number(term), fmt, rounding, overflow)


# -------------------------------------------------------------- products

def _product_term(a_code, fa, b_code, fb, mul, rounding, overflow):
    """a * b: the exact product, or (``mul`` given) the product rounded into mul."""
    if mul is None:
        return arith._product(decode(a_code, fa), decode(b_code, fb))
    return decode(arith.mul(a_code, fa, b_code, fb, mul, rounding, overflow), mul)


# ---------------------------------------------------------- accumulation

def _sequential(terms, c, acc, rounding, overflow):
    """Add the terms one at a time, left to right, rounding every addition.

    s = round(c) if c is given, else nothing yet.  For each term t:
    s = round(t) if there is nothing yet, else round(s + t).  No term and
    no c: +0.  Returns the code of s in ``acc``.
    """
    s = None if c is None else _round(c, acc, rounding, overflow)
    for t in terms:
        if s is None:
            s = _round(t, acc, rounding, overflow)       # the first term starts s
        else:
            s = _round(_add_exact(decode(s, acc), t, rounding), acc, rounding, overflow)
    if s is None:
        s = _round(ZERO, acc, rounding, overflow)        # K == 0 and no c
    return s


def _pairwise(products, c, acc, rounding, overflow):
    """An adder tree over at least one product.

    Level 0 is the list L of exact products.  Each level adds neighbours
    (0,1), (2,3), ..., rounding every sum into ``acc``; an odd last element
    moves up unchanged (still exact if it is a product).  The root is
    T = round(L[0]): for K == 1 that rounds the product; for K >= 2, L[0]
    is already a value of ``acc`` and rounding it again changes nothing,
    except in rare "jam" corners (jam moves a value with an even last bit:
    e.g. a fixed-point root saturated to the even min_int becomes
    min_int + 1).  With c: round(round(c) + T)."""
    level = list(products)
    while len(level) > 1:
        above = []
        for i in range(0, len(level) - 1, 2):
            code = _round(_add_exact(level[i], level[i + 1], rounding), acc, rounding, overflow)
            above.append(decode(code, acc))
        if len(level) % 2 == 1:
            above.append(level[-1])                      # carried up, not rounded
        level = above
    root = _round(level[0], acc, rounding, overflow)     # T
    if c is None:
        return root
    c_in_acc = decode(_round(c, acc, rounding, overflow), acc)
    return _round(_add_exact(c_in_acc, decode(root, acc), rounding), acc, rounding, overflow)


def _accumulate(products, c, acc, order, rounding, overflow):
    """The code in ``acc`` of c + sum(products), in the given order."""
    if order == "pairwise" and products:
        return _pairwise(products, c, acc, rounding, overflow)
    if order in ("sequential", "pairwise"):              # pairwise with K == 0 too
        return _sequential(products, c, acc, rounding, overflow)
    blocks = [_sum_exact(products[m:m + order], rounding)
              for m in range(0, len(products), order)]
    return _sequential(blocks, c, acc, rounding, overflow)


def _dot(products, c, acc, out, order, rounding, overflow):
    """One output element: accumulate, then the optional cast into ``out``."""
    if acc is None:
        total = _sum_exact(([] if c is None else [c]) + products, rounding)
        return total if out is None else _round(total, out, rounding, overflow)
    code = _accumulate(products, c, acc, order, rounding, overflow)
    return code if out is None else _round(decode(code, acc), out, rounding, overflow)


# ------------------------------------------------------------ validation

def _check_order(order):
    ok = order in ("sequential", "pairwise") or (
        isinstance(order, int) and not isinstance(order, bool) and order >= 1)
    if not ok:
        raise ValueError(f"order must be 'sequential', 'pairwise' or a block size "
                         f"(an int >= 1), got {order!r}")


def _check_rounding(rounding):
    if rounding in STOCHASTIC_MODES:
        raise ValueError(f"rounding {rounding!r} is stochastic; matmul/conv2d take "
                         f"deterministic modes only")
    if rounding not in MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}; expected one of {MODES}")


def _check_format(fmt, name, optional=False):
    if fmt is None and optional:
        return
    if not isinstance(fmt, (FixedFormat, FloatFormat)):
        raise ValueError(f"{name} must be a FixedFormat or FloatFormat, got {fmt!r}")


def _matrix_shape(a, b, c):
    """(M, K, N) of a (M x K), b (K x N), c (M x N); ValueError on a mismatch."""
    M, K = len(a), len(b)
    for i, row in enumerate(a):
        if len(row) != K:
            raise ValueError(f"shape mismatch: a[{i}] has {len(row)} entries, "
                             f"b has {K} rows")
    if K > 0:
        N = len(b[0])
    elif c is not None and M > 0:
        N = len(c[0])                                    # b == [] does not say N
    elif M > 0:
        raise ValueError("K == 0: b == [] does not give the number of columns N; "
                         "pass c (M x N)")
    else:
        N = 0
    for k, row in enumerate(b):
        if len(row) != N:
            raise ValueError(f"shape mismatch: b[{k}] has {len(row)} entries, "
                             f"b[0] has {N}")
    if c is not None:
        if len(c) != M or any(len(row) != N for row in c):
            raise ValueError(f"shape mismatch: c must be {M} x {N} (a is {M} x {K}, "
                             f"b is {K} x {N})")
    return M, K, N


# ---------------------------------------------------------------- matmul

def matmul(a, fa, b, fb, *, c=None, fc=None, mul=None, acc=None, out=None,
           order="sequential", rounding="nearest_even", overflow=None):
    """``c + a @ b`` on codes: a list of M lists of N results.

    a: M lists of K codes in ``fa``; b: K lists of N codes in ``fb``;
    c: optional M lists of N codes in ``fc``.  Any formats, fixed or float.
    For each output (i, j), with p_k = a[i][k] * b[k][j] (exact, or rounded
    into ``mul`` when given) and "round" = ``encode(., acc, rounding,
    overflow)``:

    acc is None -- exact:
        S = c[i][j] + p_0 + ... + p_{K-1}, one exact sum (``_sum_exact``).
        Result: ``encode(S, out, rounding, overflow)`` if ``out`` is given,
        else S itself as (sign, Fraction | "inf" | "nan"), like ``decode``.

    acc given -- every addition rounded into acc:
        order="sequential":  s = round(c) if c is given; then for
            k = 0..K-1: s = round(p_k) if s is not yet set, else
            round(s + p_k).  K == 0 and no c: +0.
        order="pairwise":  adder tree.  L = [p_0, ..., p_{K-1}]; while
            len(L) > 1: L = [round(L[0]+L[1]), round(L[2]+L[3]), ...] plus
            the last element unchanged if len(L) is odd.  T = round(L[0])
            (for K == 1 it rounds p_0; for K >= 2 a no-op but for rare
            "jam" corners, see ``_pairwise``).  With c: round(round(c) + T).
            K == 0: as sequential (round(c), or +0).
        order=B (int >= 1):  G_m = p_{mB} + ... + p_{mB+B-1} exactly (the
            last block may be shorter); then the sequential rule over
            G_0, G_1, ... instead of the products.  B = 1 is "sequential";
            B >= K is a single rounding (after round(c), if c).
        Result: the code of s in acc, or ``encode(s, out, rounding,
        overflow)`` -- a cast -- if ``out`` is given.

    ``rounding`` must be deterministic (ValueError for stochastic modes).
    K == 0 needs c, since ``b == []`` cannot tell N (unless M == 0).
    """
    _check_order(order)
    _check_rounding(rounding)
    _check_format(fa, "fa")
    _check_format(fb, "fb")
    for fmt, name in ((mul, "mul"), (acc, "acc"), (out, "out")):
        _check_format(fmt, name, optional=True)
    if c is not None:
        _check_format(fc, "fc")
    M, K, N = _matrix_shape(a, b, c)

    result = []
    for i in range(M):
        row = []
        for j in range(N):
            products = [_product_term(a[i][k], fa, b[k][j], fb, mul, rounding, overflow)
                        for k in range(K)]
            c_term = None if c is None else decode(c[i][j], fc)
            row.append(_dot(products, c_term, acc, out, order, rounding, overflow))
        result.append(row)
    return result


# ---------------------------------------------------------------- conv2d

def _pair(value, name, minimum):
    """An int or an (h, w) pair of ints, each >= minimum, as a pair."""
    pair = (value, value) if isinstance(value, int) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                 and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, "
                         f"got {value!r}")
    return pair


def _dims4(t, name):
    """The four sizes of a rectangular nested list, all >= 1."""
    dims = []
    level = t
    for _ in range(4):
        if len(level) == 0:
            raise ValueError(f"{name} must be non-empty in every dimension")
        dims.append(len(level))
        level = level[0]

    def check(node, depth):
        if len(node) != dims[depth]:
            raise ValueError(f"{name} is not rectangular: expected {dims[depth]} "
                             f"entries at depth {depth}, found {len(node)}")
        if depth < 3:
            for child in node:
                check(child, depth + 1)

    check(t, 0)
    return tuple(dims)


def _zero_code(fmt):
    """The code of +0 in ``fmt`` (ValueError if it has none, e.g. E8M0)."""
    code = encode(0, fmt)
    if decode(code, fmt) != ZERO:
        raise ValueError(f"{fmt!r} has no +0 to pad with")
    return code


def im2col(x, fx, channels, kernel, stride, padding, dilation, out_size):
    """The rows of the reduction: one row per output position.

    Rows run over (n, oy, ox), n slowest; a row runs over (c, ky, kx) with
    c (in ``channels``) slowest and kx fastest.  The entry is the input tap
    x[n][c][oy*sh - ph + ky*dh][ox*sw - pw + kx*dw], or the code of +0 in
    ``fx`` when that tap lies outside the image (zero padding).
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = (
        kernel, stride, padding, dilation, out_size)
    H, W = len(x[0][0]), len(x[0][0][0])
    zero = _zero_code(fx) if (ph or pw) else None      # only padding reads it
    rows = []
    for n in range(len(x)):
        for oy in range(Ho):
            for ox in range(Wo):
                row = []
                for c in channels:
                    for ky in range(kh):
                        for kx in range(kw):
                            iy = oy * sh - ph + ky * dh
                            ix = ox * sw - pw + kx * dw
                            inside = 0 <= iy < H and 0 <= ix < W
                            row.append(x[n][c][iy][ix] if inside else zero)
                rows.append(row)
    return rows


def conv2d(x, fx, w, fw, *, stride=1, padding=0, dilation=1, groups=1, **matmul_kwargs):
    """2-D cross-correlation (as in PyTorch) as one matmul per group.

    x: N x C x H x W codes in ``fx``; w: O x C/groups x kh x kw codes in
    ``fw``.  stride, padding, dilation: ints or (h, w) pairs.  Output:
    N x O x Ho x Wo with Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1 (Wo alike).

    For group g (input channels g*C/groups ..., output channels g*O/groups
    ...): ``rows = im2col(...)`` (one row per (n, oy, ox), entries in
    (c, ky, kx) order, padding taps +0 in fx, taking part in the sum as +0
    values), wT = the (C/groups*kh*kw) x (O/groups) matrix with
    wT[(c*kh + ky)*kw + kx][o] = w[o][c][ky][kx], and the result is
    ``matmul(rows, fx, wT, fw, **matmul_kwargs)`` -- so products, order,
    accumulator, rounding and output are exactly matmul's.  No bias: ``c``
    and ``fc`` are rejected.
    """
    if "c" in matmul_kwargs or "fc" in matmul_kwargs:
        raise ValueError("conv2d takes no bias: c / fc are not supported")
    _check_order(matmul_kwargs.get("order", "sequential"))
    _check_rounding(matmul_kwargs.get("rounding", "nearest_even"))
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    if not (isinstance(groups, int) and not isinstance(groups, bool) and groups >= 1):
        raise ValueError(f"groups must be an int >= 1, got {groups!r}")
    N, C, H, W = _dims4(x, "x")
    O, Cg, kh, kw = _dims4(w, "w")
    if C % groups or O % groups:
        raise ValueError(f"groups={groups} must divide both C={C} and O={O}")
    if Cg != C // groups:
        raise ValueError(f"w has {Cg} input channels, expected C/groups = {C // groups}")
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"output size {Ho} x {Wo} is empty: the (dilated) kernel "
                         f"does not fit in the padded {H} x {W} input")

    Og = O // groups
    result = [[[[None] * Wo for _ in range(Ho)] for _ in range(O)] for _ in range(N)]
    for g in range(groups):
        channels = range(g * Cg, (g + 1) * Cg)
        rows = im2col(x, fx, channels, (kh, kw), stride, padding, dilation, (Ho, Wo))
        wT = [[w[g * Og + o][c][ky][kx] for o in range(Og)]
              for c in range(Cg) for ky in range(kh) for kx in range(kw)]
        product = matmul(rows, fx, wT, fw, **matmul_kwargs)
        for n in range(N):
            for oy in range(Ho):
                for ox in range(Wo):
                    r = (n * Ho + oy) * Wo + ox          # the row im2col made
                    for o in range(Og):
                        result[n][g * Og + o][oy][ox] = product[r][o]
    return result
