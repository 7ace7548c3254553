"""The general engines of :func:`fxsim.matmul`, in Python on :mod:`fxsim.ops`
and :mod:`fxsim.exact`, exact to the accumulation contract stated in
:mod:`fxsim.linalg` for every case (the kernel engines of
:mod:`fxsim.linalg_engines` are faster where they apply):

* :func:`exact_sum` -- ``acc=None``: the exact sum (fixed point: an exact
  integer GEMM in a grown format, :func:`fxsim.exact.int_matmul`), or
  rounded once into ``out``, with IEEE zero signs;
* :func:`stepwise` -- every accumulation step (or adder tree level, or
  block of exact sums) one call over all outputs, one rounding each.

Also the helpers every engine shares: the accumulator's modes, the error of
a failed step, the exact product format of two formats.
"""
from __future__ import annotations

import numpy as np

from . import codec, exact, ops, runtime
from . import formats as _formats
from .array import concatenate, wrap_codes


# ---------------------------------------------------------------- shared
def accumulator_modes(fmt, rounding, overflow, name):
    """The (rounding, overflow) of every rounding into ``fmt`` inside an
    accumulation: parsed and checked, deterministic only."""
    rounding, overflow = runtime.resolve_modes(fmt, rounding, overflow)
    if rounding.is_stochastic:
        raise ValueError(f"{name}: stochastic rounding inside an accumulation is not offered "
                         f"(format {fmt.name}, rounding={rounding.value}); round with a "
                         "deterministic mode, or cast the products with fxsim.cast first")
    return rounding, overflow


def step_error(err, name, what):
    """``err`` (of the same class) naming the step of ``name`` that failed."""
    return type(err)(f"{name}: {what}: {err}")


# ---------------------------------------------------------------- formats
def value_range(fmt):
    """(precision, lsb exponent, top exponent): every finite value is an
    integer below ``2**precision`` times ``2**lsb``, and below ``2**top``."""
    if fmt.is_float:
        return fmt.man + 1, fmt.emin - fmt.man, fmt.emax + 1
    return fmt.word, -fmt.frac, fmt.word - fmt.frac


def product_format(fa, fb, signed_zero=True):
    """The format every product of ``fa`` and ``fb`` values is exact in: a
    float format (which keeps the sign of a zero product, -2 * 0 = -0) --
    or, when ``signed_zero`` is False, for two fixed formats their exact
    fixed product format."""
    if not fa.is_float and not fb.is_float and not signed_zero:
        return ops.grown_format("mul", fa, fb)
    pa, la, ta = value_range(fa)
    pb, lb, tb = value_range(fb)
    man = pa + pb - 1
    exp = 2
    while not (2 ** (exp - 1) - 1 >= ta + tb - 1 and (2 - 2 ** (exp - 1)) - man <= la + lb):
        exp += 1
    return _formats.FloatFormat(exp, man, special="ieee")


def product_format_or_none(fa, fb, signed_zero):
    """:func:`product_format`, or None when the exact products need
    more than a 64-bit float format (float64 operands): then they are never
    held as values -- sequential steps are fused multiply-adds, blocks sum
    exact terms."""
    try:
        return product_format(fa, fb, signed_zero)
    except ValueError:
        return None


def broadcast(q, shape):
    """``q`` broadcast to ``shape`` (a read-only view of its codes)."""
    return wrap_codes(np.broadcast_to(q.bits, shape), q.fmt)


# ---------------------------------------------------------------- exact integers
def _limit(fmt) -> int:
    """The largest magnitude of a fixed format's integers."""
    return 1 << (fmt.word - 1) if fmt.signed else (1 << fmt.word) - 1


def _grow(fmt, n):
    return _formats.FixedFormat(fmt.word + max(n - 1, 0).bit_length(), fmt.frac, signed=fmt.signed)


# ---------------------------------------------------------------- the engines
def exact_sum(a, b, c, out, rounding, overflow, name):
    """acc=None: the exact sum, (fixed) in a grown format or rounded once."""
    k = a.shape[-1]
    if not a.fmt.is_float and not b.fmt.is_float and (c is None or not c.fmt.is_float):
        prod = ops.grown_format("mul", a.fmt, b.fmt)
        total = exact.int_matmul(exact.signed_ints(a.bits, a.fmt, view=True),
                                 exact.signed_ints(b.bits, b.fmt, view=True),
                                 (_limit(a.fmt), _limit(b.fmt)))
        fmt = _grow(prod, k)
        if c is not None:
            fmt2 = ops.grown_format("add", fmt, c.fmt)
            shift = fmt2.frac - fmt.frac
            cv = exact.signed_ints(c.bits, c.fmt, view=True)
            total = (total.astype(object) << shift if shift else total) + \
                (cv.astype(object) << (fmt2.frac - c.fmt.frac))
            fmt = fmt2
        total = np.asarray(total)
        if fmt.width > 63 and total.dtype != object:
            total = total.astype(object)
        total = wrap_codes(exact.codes_of_ints(total, fmt, consume=True), fmt)
        if out is None:
            return total
        rounded = ops.cast(total, out, rounding, overflow)
        return _signed_zeros(rounded, total.bits == 0, a, b, c, out,
                             accumulator_modes(out, rounding, overflow, name)[0])
    if out is None:
        fmts = (a.fmt, b.fmt) + ((c.fmt,) if c is not None else ())
        out = ops.result_format(*fmts, op=name)
    rounding, overflow = accumulator_modes(out, rounding, overflow, name)
    terms = _product_terms_stack(a, b, 0, k)
    if c is not None:
        terms = _stack_terms([_lift(_terms_of(c))] + [terms])
    return wrap_codes(exact.round_sum(terms, (0,), out, rounding, overflow, name), out)


def _signed_zeros(rounded, zero, a, b, c, out, rounding):
    """IEEE zero signs of exact fixed-point sums rounded into a float ``out``.

    A fixed zero is +0, but the product of a negative value and zero is -0;
    an exact zero sum takes the sign :func:`fxsim.exact.sum_zero_sign` says
    from whether every term is -0 or +0.  ``zero``: where the exact sum is
    0.  The -0 and +0 terms are counted with 0/1 matrix products."""
    neg_zero_code = int(codec.encode(np.array([-0.0]), out)[0])
    if not out.is_float or not zero.any() \
            or neg_zero_code == int(codec.encode(np.zeros(1), out)[0]):
        return rounded
    x, y = exact.signed_ints(a.bits, a.fmt, view=True), exact.signed_ints(b.bits, b.fmt, view=True)
    k = x.shape[-1]

    def count(p, q):  # how many k have p[i, k] and q[k, j]
        return exact.int_matmul(p.astype(np.int8), q.astype(np.int8))

    negative_zeros = count(x == 0, y < 0) + count(x < 0, y == 0)
    positive_zeros = count(x == 0, y >= 0) + count(x > 0, y == 0)
    all_negative = (negative_zeros == k) & (k > 0) & (c is None)
    all_positive = positive_zeros == k
    if c is not None:
        all_positive &= np.asarray(exact.signed_ints(c.bits, c.fmt, view=True) == 0)
    minus = zero & exact.sum_zero_sign(all_negative, all_positive, rounding)
    if not minus.any():
        return rounded
    bits = rounded.bits.copy()
    bits[minus] = neg_zero_code
    return wrap_codes(bits, out)


def _terms_of(q):
    return exact.terms(q.bits, q.fmt)


def _lift(t):
    return exact.Terms(*(x[None] if isinstance(x, np.ndarray) else x for x in t))


def _stack_terms(parts):
    """Concatenate exact.Terms along axis 0 on a common scale."""
    frac = max(t.frac for t in parts)
    wide = any(t.ints.dtype == object for t in parts) or \
        max(exact.bits_needed(t.ints) + frac - t.frac for t in parts) + \
        max(sum(t.ints.shape[0] for t in parts), 1).bit_length() > 62
    ints = []
    for t in parts:
        v = t.ints.astype(object) if wide else t.ints
        ints.append(v * (1 << (frac - t.frac)) if frac != t.frac else v)
    return exact.Terms(np.concatenate(ints), frac, np.concatenate([t.isnan for t in parts]),
                      np.concatenate([t.isinf for t in parts]),
                      np.concatenate([t.signbit for t in parts]))


def _product_terms_stack(a, b, k0, k1, mul=None, rounding=None, overflow=None):
    """The exact.Terms of the products for k in [k0, k1), stacked on axis 0
    (shape (k1-k0, M, N)); with ``mul`` each product is rounded into it."""
    m, n = a.shape[-2], b.shape[-1]
    if mul is None:
        ta = _terms_of(a[:, k0:k1].T.reshape((k1 - k0, m, 1)))
        tb = _terms_of(b[k0:k1].reshape((k1 - k0, 1, n)))
        shape = (k1 - k0, m, n)
        bc = [exact.Terms(*(np.broadcast_to(x, shape) if isinstance(x, np.ndarray) else x
                           for x in t)) for t in (ta, tb)]
        return exact.product_terms(*bc)
    return _stack_terms([_lift(_terms_of(_product(a, b, k, mul, rounding, overflow)))
                         for k in range(k0, k1)])


def _product(a, b, k, fmt, rounding, overflow):
    """The (M, N) products of column k of ``a`` and row k of ``b``, in ``fmt``."""
    return ops.multiply(a[:, k:k + 1], b[k:k + 1, :], out=fmt, rounding=rounding,
                        overflow=overflow)


#: products the adder tree holds at once: larger products run in row chunks
TREE_ELEMENTS = 1 << 22


def stepwise(a, b, c, mul, acc, order, rounding, overflow, user_modes, name):
    """The general engine: every step through ops (one rounding each).
    ``rounding``/``overflow``: the accumulator's; ``user_modes``: as given
    (for the products' rounding into ``mul``).

    The pairwise order holds all K x M x N products of a level at once; above
    TREE_ELEMENTS it runs on chunks of output rows (outputs do not interact),
    and -- should a chunk fail -- once more on the whole product, so the
    error raised names the first failure in the engine's own order."""
    k = a.shape[-1]
    m, n = a.shape[-2], b.shape[-1]
    if order == "pairwise" and m > 1 and k * m * n > TREE_ELEMENTS:
        rows = max(1, TREE_ELEMENTS // max(k * n, 1))
        cfull = None if c is None else broadcast(c, (m, n))
        try:
            parts = [stepwise(a[r:r + rows], b, None if c is None else cfull[r:r + rows], mul, acc,
                              order, rounding, overflow, user_modes, name)
                     for r in range(0, m, rows)]
            return concatenate(parts)
        except (ValueError, OverflowError):
            pass  # the whole product, for the error it raises first
    pfmt = mul if mul is not None else product_format_or_none(a.fmt, b.fmt, acc.is_float)
    if pfmt is None and order == "pairwise":
        raise ValueError(
            f"{name}: the exact products of {a.fmt.name} x {b.fmt.name} need more than a 64-bit "
            "float format, and order='pairwise' holds products as values; use order='sequential' "
            "or a block size (both exact), mul= to round each product, or cast the operands into "
            "a narrower format")
    pmodes = user_modes if mul is not None else ("nearest_even", None)  # exact: no rounding

    def product(i):
        try:
            return _product(a, b, i, pfmt, *pmodes)
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"product k={i} into {pfmt.name}") from None

    def products():
        """Every product at once: a (K, M, N) QArray in the product format."""
        try:
            return ops.multiply(a.T[:, :, None], b[:, None, :], out=pfmt, rounding=pmodes[0],
                                overflow=pmodes[1])
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"products (k, m, n) into {pfmt.name}") from None

    def step(s, i, what):
        """round(s + p_i) (or round(p_i) when s is None): one rounding of the exact value."""
        if pfmt is not None:
            return cast(product(i), what) if s is None else add(s, product(i), what)
        try:
            if s is None:
                return ops.multiply(a[:, i:i + 1], b[i:i + 1, :], out=acc, rounding=rounding,
                                    overflow=overflow)
            return ops.fma(a[:, i:i + 1], b[i:i + 1, :], s, out=acc, rounding=rounding,
                           overflow=overflow)
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    def add(x, y, what):
        try:
            return ops.add(x, y, out=acc, rounding=rounding, overflow=overflow)
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    def cast(x, what):
        try:
            return ops.cast(x, acc, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    start = None if c is None else cast(broadcast(c, (m, n)), "c into the accumulator")
    if order == "sequential":
        s = start
        for i in range(k):
            s = step(s, i, "k=0" if s is None else f"step k={i}")
    elif order == "pairwise":
        s = _adder_tree(products(), add, cast) if k else None
        if start is not None:
            s = start if s is None else add(start, s, "c + tree")
    else:
        s = start
        for k0 in range(0, k, order):
            k1 = min(k0 + order, k)
            if s is None and k1 - k0 == 1:  # a lone first term is cast, as in sequential
                s = step(None, k0, "k=0")
                continue
            parts = [_lift(_terms_of(s))] if s is not None else []
            if mul is None:
                parts.append(_product_terms_stack(a, b, k0, k1))
            else:
                parts.extend(_lift(_terms_of(product(i))) for i in range(k0, k1))
            terms = _stack_terms(parts)
            try:
                s = wrap_codes(exact.round_sum(terms, (0,), acc, rounding, overflow, name), acc)
            except (ValueError, OverflowError) as err:
                raise step_error(err, name, f"block k={k0}..{k1 - 1} (acc={acc.name})") from None
    if s is None:  # K == 0 and no c
        s = ops.cast(wrap_codes(np.zeros((m, n), np.uint8), _formats.FixedFormat(1, 0)), acc)
    return s


def _adder_tree(level, add, cast):
    """The pairwise order on a (K, M, N) stack of products, one call of
    ``add`` per tree level: neighbours (0, 1), (2, 3), ... are added, each
    sum rounded into the accumulator; an odd one out (always the last)
    moves up unrounded; the root is cast into the accumulator.

    ``level`` holds the level's leading elements (one format); ``tail`` the
    last one when it came up unrounded from below (it may be in another
    format), so each level is at most two calls."""
    tail, depth = None, 0
    while level.shape[0] + (tail is not None) > 1:
        depth += 1
        n = level.shape[0]
        even = n - n % 2
        sums = add(level[0:even:2], level[1:even:2], f"adder tree level {depth}") if even else None
        if n % 2 and tail is not None:      # the last pair: the leftover and the tail
            last = add(level[n - 1:n], tail[None], f"adder tree level {depth}, last pair")
            sums, tail = last if sums is None else concatenate([sums, last]), None
        elif n % 2:                         # the leftover moves up unrounded
            tail = level[n - 1]
        level = sums if sums is not None else level[0:0]
    return cast(level[0] if level.shape[0] else tail, "tree root")


