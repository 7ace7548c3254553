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
number of threads.  Engines (all exact to the contract): exact integer GEMM
(float BLAS only where every partial sum is provably an integer below
2**24 / 2**53, int64 or Python ints otherwise) for fixed operands; a Numba
kernel for fixed accumulators whose steps need no rounding; the machine's
own IEEE binary32/binary64 addition for ``float32``/``float64``
accumulators under nearest_even when every product is exact in them; for
sequential accumulation into any other format, one kernel that rounds an
exact fused multiply-add per step through the core; for blocks into a float
accumulator of at most 51 significand bits, when products and block sums are
exact in float64, one kernel that keeps each block sum exactly as a float64
expansion (Shewchuk) and rounds it once through the core; the pairwise
order as one call of :mod:`fxsim.ops` per tree level over all pairs and
outputs; and otherwise (``mul=``, formats too wide for 64-bit words) step
by step through :mod:`fxsim.ops` (each step one call over all outputs),
slower but general.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _arith
from . import _linalg_kernels as kernels
from . import codec
from . import formats as _formats
from . import ops
from ._conv import geometry
from ._jit import threads_for
from .array import QArray, bits_dtype, concatenate
from .modes import Overflow, Rounding

__all__ = ["matmul", "conv2d"]

_FLOAT32 = _formats.format("float32")
_FLOAT64 = _formats.format("float64")


# ---------------------------------------------------------------- checking
def _check_order(order, name):
    if isinstance(order, str) and order in ("sequential", "pairwise"):
        return order
    if isinstance(order, numbers.Integral) and not isinstance(order, bool) and order >= 1:
        return int(order)
    raise ValueError(f"{name}: order must be 'sequential', 'pairwise' or a block size >= 1, "
                     f"got {order!r}")


def _modes(fmt, rounding, overflow, name):
    rounding, overflow = codec.resolve_modes(fmt, rounding, overflow)
    if rounding.is_stochastic:
        raise ValueError(f"{name}: stochastic rounding inside an accumulation is not offered "
                         f"(format {fmt.name}, rounding={rounding.value}); round with a "
                         "deterministic mode, or cast the products with fxsim.cast first")
    return rounding, overflow


def _step_error(err, name, what):
    return type(err)(f"{name}: {what}: {err}")


# ---------------------------------------------------------------- formats
def _range_of(fmt):
    """(precision, lsb exponent, top exponent): every finite value is an
    integer below ``2**precision`` times ``2**lsb``, and below ``2**top``."""
    if fmt.is_float:
        return fmt.man + 1, fmt.emin - fmt.man, fmt.emax + 1
    return fmt.word, -fmt.frac, fmt.word - fmt.frac


def _exact_product_format(fa, fb, signed_zero=True):
    """The format every product of ``fa`` and ``fb`` values is exact in: a
    float format (which keeps the sign of a zero product, -2 * 0 = -0) --
    or, when ``signed_zero`` is False, for two fixed formats their exact
    fixed product format."""
    if not fa.is_float and not fb.is_float and not signed_zero:
        return ops._grown("mul", fa, fb)
    pa, la, ta = _range_of(fa)
    pb, lb, tb = _range_of(fb)
    man = pa + pb - 1
    exp = 2
    while not (2 ** (exp - 1) - 1 >= ta + tb - 1 and (2 - 2 ** (exp - 1)) - man <= la + lb):
        exp += 1
    return _formats.FloatFormat(exp, man, special="ieee")


def _exact_in(fmt, hw):
    """Is every value of ``fmt`` (a product format) exact in ``hw``?"""
    if not fmt.is_float:
        return False
    return ops._contains(hw, fmt) or fmt == hw


# ---------------------------------------------------------------- shapes
def _as_qarray(x, like, name):
    return ops._operand(x, like, name)


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


def _broadcast_q(q, shape):
    return QArray._wrap(np.broadcast_to(q.bits, shape), q.fmt)


# ---------------------------------------------------------------- exact integers
def exact_int_matmul(x, y, limits=None):
    """Exact ``x @ y`` of integer arrays (int64 or Python-int object arrays).

    Float BLAS is used only where it cannot round: when ``K * max|x| *
    max|y| <= 2**24`` (float32) every partial sum, in any order, is an
    integer of at most 24 bits; else in float64 over chunks of K whose
    partial sums stay below 2**53, the chunk results added in int64.
    Beyond that, Python ints.  ``limits``: known bounds of ``|x|``, ``|y|``
    (skip scanning the data when they already prove float32 exact)."""
    k = x.shape[-1]
    if x.dtype != object and y.dtype != object and x.size and y.size:
        if limits is not None and limits[0] * limits[1] * k <= 2**24:
            bound = limits[0] * limits[1]   # the formats' own bounds suffice: no scan
        else:
            bound = _max_abs(x) * _max_abs(y)
        if bound * k <= 2**24:
            return np.matmul(x.astype(np.float32), y.astype(np.float32)).astype(np.int32)
        if bound <= 2**53 and bound * k < 2**63:
            step = max(1, 2**53 // max(bound, 1))
            if step >= k:
                return np.matmul(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
            total = None
            for k0 in range(0, k, step):
                part = np.matmul(x[..., k0:k0 + step].astype(np.float64),
                                 y[..., k0:k0 + step, :].astype(np.float64)).astype(np.int64)
                total = part if total is None else total + part
            return total
    if not x.size or not y.size:
        return np.zeros(np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1]),
                        np.int64)
    return np.matmul(x.astype(object), y.astype(object))


def _limit(fmt) -> int:
    """The largest magnitude of a fixed format's integers."""
    return 1 << (fmt.word - 1) if fmt.signed else (1 << fmt.word) - 1


def _max_abs(v) -> int:
    return max(abs(int(v.min())), abs(int(v.max()))) if v.size else 0


def _fixed_ints(q):
    """The signed integers of a fixed QArray: a no-copy view for signed
    8/16/32/64-bit formats, else int64 or Python ints."""
    w = q.fmt.width
    if q.fmt.signed and w in (8, 16, 32, 64) and q.bits.dtype == np.dtype(f"uint{w}"):
        return q.bits.view(f"int{w}")
    return ops._fixed_values(q)


def _from_ints(values, fmt):
    """A QArray of integers that fit ``fmt`` (two's complement).  Consumes
    ``values``: where the integer and code dtypes have the same size the
    codes are made in place."""
    dt = bits_dtype(fmt)
    if values.dtype != object and dt != object:
        bits = values.astype(f"int{dt.itemsize * 8}", copy=False).view(dt)
        if fmt.width < dt.itemsize * 8:
            np.bitwise_and(bits, dt.type((1 << fmt.width) - 1), out=bits)
        return QArray._wrap(bits, fmt)
    return ops._fixed_from_values(values, fmt)


def _grow(fmt, n):
    return _formats.FixedFormat(fmt.word + max(n - 1, 0).bit_length(), fmt.frac, signed=fmt.signed)


# ---------------------------------------------------------------- the engines
def _exact(a, b, c, out, rounding, overflow, name):
    """acc=None: the exact sum, (fixed) in a grown format or rounded once."""
    k = a.shape[-1]
    if not a.fmt.is_float and not b.fmt.is_float and (c is None or not c.fmt.is_float):
        prod = ops._grown("mul", a.fmt, b.fmt)
        total = exact_int_matmul(_fixed_ints(a), _fixed_ints(b), (_limit(a.fmt), _limit(b.fmt)))
        fmt = _grow(prod, k)
        if c is not None:
            fmt2 = ops._grown("add", fmt, c.fmt)
            shift = fmt2.frac - fmt.frac
            cv = _fixed_ints(c)
            total = (total.astype(object) << shift if shift else total) + \
                (cv.astype(object) << (fmt2.frac - c.fmt.frac))
            fmt = fmt2
        total = np.asarray(total)
        if fmt.width > 63 and total.dtype != object:
            total = total.astype(object)
        exact = _from_ints(total, fmt)
        if out is None:
            return exact
        rounded = ops.cast(exact, out, rounding, overflow)
        return _signed_zeros(rounded, exact.bits == 0, a, b, c, out,
                             _modes(out, rounding, overflow, name)[0])
    if out is None:
        fmts = (a.fmt, b.fmt) + ((c.fmt,) if c is not None else ())
        out = ops.result_format(*fmts, op=name)
    rounding, overflow = _modes(out, rounding, overflow, name)
    terms = _product_terms_stack(a, b, 0, k)
    if c is not None:
        terms = _stack_terms([_lift(ops._terms(c))] + [terms])
    return ops._round_sum(terms, (0,), out, rounding, overflow, name)


def _signed_zeros(rounded, zero, a, b, c, out, rounding):
    """IEEE zero signs of exact fixed-point sums rounded into a float ``out``.

    A fixed zero is +0, but the product of a negative value and zero is -0;
    an exact zero sum is -0 when every term is -0 (or, under ``down``,
    unless every term is +0).  ``zero``: where the exact sum is 0.  Counted
    with 0/1 matrix products."""
    neg_zero_code = int(codec.encode(np.array([-0.0]), out)[0])
    if not out.is_float or not zero.any() or neg_zero_code == int(codec.encode(np.zeros(1), out)[0]):
        return rounded
    x, y = _fixed_ints(a), _fixed_ints(b)
    k = x.shape[-1]

    def count(p, q):  # how many k have p[i, k] and q[k, j]
        return exact_int_matmul(p.astype(np.int8), q.astype(np.int8))

    negative_zeros = count(x == 0, y < 0) + count(x < 0, y == 0)
    positive_zeros = count(x == 0, y >= 0) + count(x > 0, y == 0)
    all_negative = (negative_zeros == k) & (k > 0) & (c is None)
    all_positive = positive_zeros == k
    if c is not None:
        all_positive &= np.asarray(_fixed_ints(c) == 0)
    minus = zero & (all_negative | ((rounding == Rounding.DOWN) & ~all_positive))
    if not minus.any():
        return rounded
    bits = rounded.bits.copy()
    bits[minus] = neg_zero_code
    return QArray._wrap(bits, out)


def _lift(t):
    return ops._Terms(*(x[None] if isinstance(x, np.ndarray) else x for x in t))


def _stack_terms(parts):
    """Concatenate _Terms along axis 0 on a common scale."""
    frac = max(t.frac for t in parts)
    wide = any(t.ints.dtype == object for t in parts) or \
        max(ops._bits_needed(t.ints) + frac - t.frac for t in parts) + \
        max(sum(t.ints.shape[0] for t in parts), 1).bit_length() > 62
    ints = []
    for t in parts:
        v = t.ints.astype(object) if wide else t.ints
        ints.append(v * (1 << (frac - t.frac)) if frac != t.frac else v)
    return ops._Terms(np.concatenate(ints), frac, np.concatenate([t.isnan for t in parts]),
                      np.concatenate([t.isinf for t in parts]),
                      np.concatenate([t.signbit for t in parts]))


def _product_terms_stack(a, b, k0, k1, mul=None, rounding=None, overflow=None):
    """Exact _Terms of the products for k in [k0, k1), stacked on axis 0
    (shape (k1-k0, M, N)); with ``mul`` each product is rounded into it."""
    m, n = a.shape[-2], b.shape[-1]
    if mul is None:
        ta = ops._terms(a[:, k0:k1].T.reshape((k1 - k0, m, 1)))
        tb = ops._terms(b[k0:k1].reshape((k1 - k0, 1, n)))
        shape = (k1 - k0, m, n)
        bc = [ops._Terms(*(np.broadcast_to(x, shape) if isinstance(x, np.ndarray) else x
                           for x in t)) for t in (ta, tb)]
        return ops._product_terms(*bc)
    return _stack_terms([_lift(ops._terms(_product(a, b, k, mul, rounding, overflow)))
                         for k in range(k0, k1)])


def _product(a, b, k, fmt, rounding, overflow):
    """The (M, N) products of column k of ``a`` and row k of ``b``, in ``fmt``."""
    return ops.multiply(a[:, k:k + 1], b[k:k + 1, :], out=fmt, rounding=rounding,
                        overflow=overflow)


def _stepwise(a, b, c, mul, acc, order, rounding, overflow, user_modes, name):
    """The general engine: every step through ops (one rounding each).
    ``rounding``/``overflow``: the accumulator's; ``user_modes``: as given
    (for the products' rounding into ``mul``)."""
    k = a.shape[-1]
    try:
        pfmt = mul if mul is not None else _exact_product_format(a.fmt, b.fmt, acc.is_float)
    except ValueError:
        # exact products wider than a 64-bit float format (float64 operands): never held as
        # values; sequential steps are fused multiply-adds, blocks sum exact terms
        pfmt = None
        if order == "pairwise":
            raise ValueError(
                f"{name}: the exact products of {a.fmt.name} x {b.fmt.name} need more than a 64-bit "
                "float format, and order='pairwise' holds products as values; use order='sequential' "
                "or a block size (both exact), mul= to round each product, or cast the operands into "
                "a narrower format") from None
    pmodes = user_modes if mul is not None else ("nearest_even", None)  # exact: no rounding

    def product(i):
        try:
            return _product(a, b, i, pfmt, *pmodes)
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"product k={i} into {pfmt.name}") from None

    def products():
        """Every product at once: a (K, M, N) QArray in the product format."""
        try:
            return ops.multiply(a.T[:, :, None], b[:, None, :], out=pfmt, rounding=pmodes[0],
                                overflow=pmodes[1])
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"products (k, m, n) into {pfmt.name}") from None

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
            raise _step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    def add(x, y, what):
        try:
            return ops.add(x, y, out=acc, rounding=rounding, overflow=overflow)
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    def cast(x, what):
        try:
            return ops.cast(x, acc, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"{what} (acc={acc.name}, order={order})") from None

    m, n = a.shape[-2], b.shape[-1]
    start = None if c is None else cast(_broadcast_q(c, (m, n)), "c into the accumulator")
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
            parts = [_lift(ops._terms(s))] if s is not None else []
            if mul is None:
                parts.append(_product_terms_stack(a, b, k0, k1))
            else:
                parts.extend(_lift(ops._terms(product(i))) for i in range(k0, k1))
            terms = _stack_terms(parts)
            try:
                s = ops._round_sum(terms, (0,), acc, rounding, overflow, name)
            except (ValueError, OverflowError) as err:
                raise _step_error(err, name, f"block k={k0}..{k1 - 1} (acc={acc.name})") from None
    if s is None:  # K == 0 and no c
        s = ops.cast(QArray._wrap(np.zeros((m, n), np.uint8), _formats.FixedFormat(1, 0)), acc)
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


def _block_kernel_ok(a, b, acc, order):
    """Can the block kernel run it: a float accumulator of at most 51
    significand bits whose values are float64 values, operands whose values,
    products and block sums (with the accumulator) are exact in float64?
    (The engine also needs finite operands; it checks them itself.)"""
    if not isinstance(order, int) or order < 2 or not acc.is_float or acc.man > 50:
        return False
    pa, la, ta = _range_of(a.fmt)
    pb, lb, tb = _range_of(b.fmt)
    pc, lc, tc = _range_of(acc)
    if pa > 53 or pb > 53 or pa + pb > 53 or lc < -1074 or tc > 1000:
        return False
    return la + lb >= -1074 and ta + tb + (order + 1).bit_length() <= 1000


def _block_engine(a, b, c, acc, order, rounding, overflow, name):
    """Blocks of exact sums in one kernel (see _linalg_kernels.core_block_gemm)."""
    m, n = a.shape[-2], b.shape[-1]
    x = np.require(codec.decode(a.bits, a.fmt), np.float64, ["C", "W"])
    y = np.require(codec.decode(b.bits, b.fmt), np.float64, ["C", "W"])
    if not (np.isfinite(x).all() and np.isfinite(y).all()):  # inf/NaN products: the general engine
        return _stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)
    if c is not None:
        try:
            start = ops.cast(_broadcast_q(c, (m, n)), acc, rounding, overflow)
        except (ValueError, OverflowError):
            return _stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)
        s = np.require(start.bits, np.uint64, ["C", "W"]).copy()
    else:
        s = np.zeros((m, n), np.uint64)
    status = np.zeros(m, np.uint8)
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 14))):
        kernels.core_block_gemm(x, y, s, c is not None, acc._specs[0], int(order),
                                np.int64(rounding.code), np.int64(overflow.code), status)
    if status.any():  # name the failing step: the stepwise engine raises with the details
        return _stepwise(a, b, c, None, acc, order, rounding, overflow, None, name)
    return QArray._wrap(s, acc)


def _fixed_kernel_ok(a, b, c, acc, order, rounding, overflow):
    """Can the integer kernel run it: fixed everything, every step exact
    before overflow handling (acc.frac >= product frac), fits in int64?"""
    if acc.is_float or a.fmt.is_float or b.fmt.is_float or rounding == Rounding.JAM:
        return False  # (jam changes exact values too: every step must see the core)
    if c is not None and c.fmt.is_float:
        return False
    pf = a.fmt.frac + b.fmt.frac
    shift = acc.frac - pf
    if shift < 0 or acc.width > 62 or a.fmt.width > 62 or b.fmt.width > 62:
        return False
    if order == "pairwise" and overflow != Overflow.WRAP:
        return False
    bound = (1 << (a.fmt.width + b.fmt.width + shift))
    block = a.shape[-1] if order == "pairwise" else (1 if order == "sequential" else order)
    return bound * max(block, 1) < 2**61


def _fixed_engine(a, b, c, acc, order, rounding, overflow, name):
    m, n = a.shape[-2], b.shape[-1]
    shift = acc.frac - (a.fmt.frac + b.fmt.frac)
    if c is not None:
        try:
            start = ops.cast(_broadcast_q(c, (m, n)), acc, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"c into the accumulator (acc={acc.name})") from None
        s = np.array(_fixed_ints(start), np.int64)
    else:
        s = np.zeros((m, n), np.int64)
    x, y = _fixed_ints(a), _fixed_ints(b)
    if overflow == Overflow.WRAP:  # wrapping is exact modulo 2**word: any order gives this
        total = exact_int_matmul(x, y)
        if total.dtype == object:
            total = (total << shift) + s
        else:  # int64 wraps modulo 2**64, a multiple of 2**word: still exact modulo 2**word
            total = (total.astype(np.int64) << np.int64(shift)) + s
        return _from_ints(np.asarray(total), acc)
    if acc.signed:
        lo, hi = -(1 << (acc.word - 1)), (1 << (acc.word - 1)) - 1
    else:
        lo, hi = 0, (1 << acc.word) - 1
    block = 1 if order == "sequential" else order
    over = np.zeros((m, n), np.uint8)
    clamp = overflow == Overflow.SATURATE
    # every value the loop holds is an integer of magnitude at most `reach`
    bound = _max_abs(x) * _max_abs(y) << shift
    reach = min(block, max(a.shape[-1], 1)) * bound + max(-lo, hi)
    dt = np.float32 if reach <= 2**24 else (np.float64 if reach <= 2**53 else np.int64)
    xs = np.require(x.astype(np.int64) << np.int64(shift), dt, ["C", "W"])
    y = np.require(y, dt, ["C", "W"])
    s = np.require(s, dt, ["C", "W"])
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 16))):
        kernels.fixed_acc_gemm(xs, y, s, block, dt(lo), dt(hi), clamp, over)
    s = s.astype(np.int64)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        where = tuple(int(t) for t in np.unravel_index(i, over.shape))
        raise OverflowError(f"{name}: the accumulator overflows format {acc.name} (range "
                            f"{acc.min} .. {acc.max}) at output {where} (order={order}, "
                            f"rounding={rounding.value}, overflow={overflow.value}); choose "
                            "overflow='saturate' or 'wrap', or a wider acc")
    return _from_ints(s, acc)


def _hardware_ok(a, b, acc, order, rounding, overflow):
    if order != "sequential" or rounding != Rounding.NEAREST_EVEN:
        return False
    if acc not in (_FLOAT32, _FLOAT64) or overflow != acc.default_overflow:
        return False
    if not (a.fmt.is_float and b.fmt.is_float):
        return False
    hw = acc
    return (_exact_in(a.fmt, hw) and _exact_in(b.fmt, hw)
            and _exact_in(_exact_product_format(a.fmt, b.fmt), hw))


def _hardware_engine(a, b, c, acc, rounding, overflow):
    dtype = np.float32 if acc == _FLOAT32 else np.float64
    x = np.require(codec.decode(a.bits, a.fmt), dtype, ["C", "W"]).astype(dtype, copy=False)
    y = np.require(codec.decode(b.bits, b.fmt), dtype, ["C", "W"]).astype(dtype, copy=False)
    m, n, k = x.shape[0], y.shape[1], x.shape[1]
    if c is not None:
        start = ops.cast(_broadcast_q(c, (m, n)), acc, rounding, overflow)
        s = np.array(codec.decode(start.bits, acc), dtype)
        first = 0
    elif k:
        s = np.multiply.outer(x[:, 0], y[0]).astype(dtype)   # exact products
        first = 1
    else:
        s = np.zeros((m, n), dtype)
        first = 0
    x = np.require(x, dtype, ["C", "W"])
    y = np.require(y, dtype, ["C", "W"])
    with threads_for(max(1, m * n * k // (1 << 16))):
        kernels.hardware_seq_gemm(x, y, s, first)
    s[np.isnan(s)] = np.nan  # the canonical NaN, sign bit clear
    return QArray._wrap(codec.encode(s, acc, "nearest_even"), acc)


def _core_ok(a, b, acc, rounding, overflow):
    """Can the fused multiply-add kernel hold every step in 64-bit words?"""
    fast, _ = ops._plan(_arith.FMA, (a.fmt, b.fmt, acc), acc, rounding, overflow, 1)
    return fast and a.shape[-1] > 1


def _core_engine(a, b, c, acc, rounding, overflow, name):
    """Sequential accumulation in one kernel: each step an exact fma
    rounded once into ``acc`` by the core -- the same roundings as the
    stepwise engine, without a Python call per step."""
    m, n = a.shape[-2], b.shape[-1]
    try:
        if c is not None:
            start, k0 = ops.cast(_broadcast_q(c, (m, n)), acc, rounding, overflow), 0
        else:  # round(p_0): the first product, rounded once
            start, k0 = ops.multiply(a[:, :1], b[:1, :], out=acc, rounding=rounding,
                                     overflow=overflow), 1
    except (ValueError, OverflowError):
        return _stepwise(a, b, c, None, acc, "sequential", rounding, overflow, None, name)
    s = np.require(start.bits, np.uint64, ["C", "W"]).copy()
    _, need = ops._plan(_arith.FMA, (a.fmt, b.fmt, acc), acc, rounding, overflow, 1)
    status = np.zeros(m, np.uint8)
    x = np.require(a.bits, np.uint64, ["C", "W"])
    y = np.require(b.bits, np.uint64, ["C", "W"])
    with threads_for(max(1, m * n * a.shape[-1] // (1 << 14))):
        kernels.core_seq_gemm(x, a.fmt._specs[0], y, b.fmt._specs[0], s, acc._specs[0], k0,
                              np.int64(rounding.code), np.int64(overflow.code),
                              np.int64(_arith.WORD), np.int64(need), status)
    if status.any():  # name the failing step: the stepwise engine raises with the details
        return _stepwise(a, b, c, None, acc, "sequential", rounding, overflow, None, name)
    return QArray._wrap(s, acc)


def _matmul2d(a, b, c, mul, acc, out, order, rounding, overflow, name):
    """One 2-d product; ``rounding``/``overflow`` as the user gave them."""
    if acc is None:
        return _exact(a, b, c, out, rounding, overflow, name)
    racc, oacc = _modes(acc, rounding, overflow, name)   # the accumulator's own modes
    if mul is None and _hardware_ok(a, b, acc, order, racc, oacc):
        s = _hardware_engine(a, b, c, acc, racc, oacc)
    elif mul is None and _fixed_kernel_ok(a, b, c, acc, order, racc, oacc):
        s = _fixed_engine(a, b, c, acc, order, racc, oacc, name)
    elif mul is None and order == "sequential" and _core_ok(a, b, acc, racc, oacc):
        s = _core_engine(a, b, c, acc, racc, oacc, name)
    elif mul is None and _block_kernel_ok(a, b, acc, order):
        s = _block_engine(a, b, c, acc, order, racc, oacc, name)
    else:
        s = _stepwise(a, b, c, mul, acc, order, racc, oacc, (rounding, overflow), name)
    if out is not None:  # a cast even when out == acc (jam changes exact values)
        try:
            s = ops.cast(s, out, rounding, overflow)
        except (ValueError, OverflowError) as err:
            raise _step_error(err, name, f"the result into out={out.name}") from None
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
        summed exactly, then added) -- see the module docstring.
    rounding, overflow : the modes of every rounding step (deterministic
        modes only; overflow None: each format's default).

    Returns a QArray in ``out``, else ``acc``, else the exact format."""
    name = "matmul"
    order = _check_order(order, name)
    a = _as_qarray(a, b if isinstance(b, QArray) else None, name)
    b = _as_qarray(b, a, name)
    c = None if c is None else _as_qarray(c, a, name)
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
        c = _broadcast_q(c, shape).reshape(batch + (m, n))
    a2 = _broadcast_q(a2, batch + a2.shape[-2:])
    b2 = _broadcast_q(b2, batch + b2.shape[-2:])
    results = [_matmul2d(a2[idx], b2[idx], None if c is None else c[idx], mul, acc, out, order,
                         rounding, overflow, name)
               for idx in np.ndindex(*batch)]
    bits = results[0].bits if not batch else np.stack([r.bits for r in results])
    res = QArray._wrap(bits.reshape(batch + (m, n)), results[0].fmt)
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
    x = _as_qarray(x, w if isinstance(w, QArray) else None, name)
    w = _as_qarray(w, x, name)
    n, cin, h, wd, o, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = geometry(
        name, x.shape, w.shape, stride, padding, dilation, groups)
    og = o // groups
    if (ph or pw) and codec.decode(np.zeros(1, np.uint8), x.fmt)[0] != 0:
        raise ValueError(f"{name}: format {x.fmt.name} has no zero to pad with; give padding=0 "
                         "or cast x into a format with a zero")
    padded = np.zeros((n, cin, h + 2 * ph, wd + 2 * pw), x.bits.dtype)  # code 0 is +0
    padded[:, :, ph:ph + h, pw:pw + wd] = x.bits
    parts = []
    for g in range(groups):
        cols = _im2col(padded[:, g * cg:(g + 1) * cg], kh, kw, sh, sw, dh, dw, ho, wo)
        wmat = w.bits[g * og:(g + 1) * og].reshape(og, cg * kh * kw).T
        r = matmul(QArray._wrap(cols, x.fmt), QArray._wrap(np.ascontiguousarray(wmat), w.fmt),
                   mul=mul, acc=acc, out=out, order=order, rounding=rounding, overflow=overflow)
        parts.append(r.bits.reshape(n, ho, wo, og).transpose(0, 3, 1, 2))
    return QArray._wrap(np.ascontiguousarray(np.concatenate(parts, axis=1)), r.fmt)


def _im2col(padded, kh, kw, sh, sw, dh, dw, ho, wo):
    """Rows (N*Ho*Wo, C*kh*kw) of codes, reduction order (c, kh, kw)."""
    n, c = padded.shape[:2]
    cols = np.empty((n, ho, wo, c, kh, kw), padded.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            win = padded[:, :, y0:y0 + sh * (ho - 1) + 1:sh, x0:x0 + sw * (wo - 1) + 1:sw]
            cols[..., ky, kx] = win.transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, c * kh * kw)
