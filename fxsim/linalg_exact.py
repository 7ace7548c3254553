"""The exact engine of :func:`fxsim.matmul` for ``acc=None`` with float
operands: ``c + a @ b`` summed exactly and rounded once into ``out``, at the
cost of a few float64 GEMMs of numpy's BLAS (error-free slicing, after
Ozaki et al.).

**Slices.**  Row i of ``a`` is scaled by a power of two so that its values
lie below ``2**beta_a`` in magnitude (``|a[i, k]| < 2**ea[i]``), then cut
into integer slices: ``A_0 = trunc(t)``, ``A_1 = trunc((t - A_0) * 2**beta_a)``,
... -- every step exact (a power-of-two scaling of a binary64 value, the
truncation of one, the difference of two values sharing their top bits), so

    a[i, k] = sum_p A_p[i, k] * 2**(ea[i] - (p + 1) * beta_a),

with every ``A_p`` an integer below ``2**beta_a`` in magnitude; the number
of slices is the widest row's span (from ``2**ea[i]`` down to its least
lsb) over ``beta_a``.  Columns of ``b`` likewise (``eb[j]``, ``beta_b``).

**Exact GEMMs.**  ``beta_a + beta_b <= 53 - ceil(log2 K)``, so every partial
sum of ``A_p @ B_q`` -- in whatever order and blocking the BLAS adds them,
with or without fused multiply-adds, on any number of threads -- is an
integer of magnitude at most ``K * (2**beta_a - 1) * (2**beta_b - 1) <
2**53``: exact in binary64, never subnormal, never overflowing.  (This
holds for any BLAS built on binary64 additions and multiplications, as
OpenBLAS, MKL and Accelerate's dgemm are; not for Strassen-like or reduced
precision algorithms, which numpy never uses for float64 matmul.)

**One rounding.**  Output (i, j) is then ``c[i, j]`` plus the sum over
(p, q) of ``C_pq[i, j] * 2**(ea[i] + eb[j] - (p+1)*beta_a - (q+1)*beta_b)``,
each term an exact binary64 value (checked: inside the normal range); the
kernel :func:`fxsim._kernels.gemm.exact_slices_sum` sums them exactly as a
float64 expansion and rounds the sum once through the core.  An exact zero
takes IEEE's sign (``fxsim.exact.sum_zero_sign``) from counts of zero and
negative products (float GEMMs of 0/1 matrices, exact below 2**53).  Rows
and columns holding inf or NaN (and c's) are computed by the general engine,
:func:`fxsim.linalg_stepwise.exact_sum`, as is every case this engine does
not take: operands not exact in binary64, ``out`` wider than 51 significand
bits or not a float format, a failed rounding (so the error raised is the
general engine's), K = 0, or a span needing more than 64 slice pairs.
"""
from __future__ import annotations

import numpy as np

from . import codec, exact, ops
from . import formats as _formats
from . import linalg_engines as engines
from ._kernels import gemm as kernels
from ._kernels.jit import threads_for
from .array import wrap_codes
from .linalg_stepwise import accumulator_modes, broadcast, exact_sum, value_range

_FLOAT64 = _formats.format("float64")
#: slice pairs (GEMMs) beyond which the general engine runs instead
MAX_PAIRS = 64
#: bytes of slice products held at once (rows are taken in chunks)
_CHUNK_BYTES = 1 << 26


def _in_binary64(fmt):
    """Is every finite value of ``fmt`` exact in binary64?"""
    if fmt.is_float:
        return ops.format_contains(_FLOAT64, fmt)
    p, lsb, top = value_range(fmt)
    return p <= 53 and lsb >= -1074 and top <= 1024


def exact_ok(a, b, c, out):
    """The formats this engine takes: float operands and a ``c`` whose
    values are exact in binary64, K >= 1, and ``out`` (or, without it, the
    float result format) a float format of at most 51 significand bits."""
    if not (a.fmt.is_float and b.fmt.is_float) or a.shape[-1] == 0:
        return False
    if not (_in_binary64(a.fmt) and _in_binary64(b.fmt)):
        return False
    if c is not None and not _in_binary64(c.fmt):
        return False
    return out is None or (out.is_float and out.man <= 50 and out.width <= 64)


def _scales(v, p, axis):
    """Per row (axis 1) or column (axis 0) of ``v``: ``e`` with every
    |value| < 2**e (0 where all are zero), and the largest span ``e - (e_v
    - p)`` over the nonzero values (each a multiple of 2**(e_v - p), e_v its
    binade; NaN and inf are zeros here)."""
    lo, hi = engines.value_extremes(v, axis)
    lo, hi = lo.reshape(-1), hi.reshape(-1)
    e = np.frexp(hi)[1].astype(np.int64)
    live = hi > 0
    span = e[live] - (np.frexp(lo[live])[1] - p)
    return e, int(span.max(initial=0))


def _choose_bits(span_a, span_b, total):
    """(beta_a, beta_b, slices of a, slices of b) with beta_a + beta_b =
    total, fewest slice pairs."""
    best = None
    for beta_a in range(1, total):
        beta_b = total - beta_a
        na, nb = max(1, -(-span_a // beta_a)), max(1, -(-span_b // beta_b))
        key = (na * nb, -min(beta_a, beta_b))
        if best is None or key < best[0]:
            best = (key, (beta_a, beta_b, na, nb))
    return best[1]


def _slices(v, e, beta, count):
    """The integer slices of the rows of ``v`` (see the module docstring):
    float64 (count, rows, K), by _kernels.gemm.int_slices."""
    out = np.empty((count,) + v.shape)
    with threads_for(max(1, out.size >> 20)):
        kernels.int_slices(v, e, beta, out)
    return out


def _zero_signs(codes, zero, x, y, cv, out, rounding):
    """Codes of the exact zero sums: -0 when every term (product, and c) is
    -0, +0 otherwise -- under ``down`` -0 unless every term is +0."""
    k = x.shape[1]
    live_x, live_y = (x != 0).astype(np.float64), (y != 0).astype(np.float64)
    neg_x, neg_y = np.signbit(x).astype(np.float64), np.signbit(y).astype(np.float64)
    none_live = (live_x @ live_y) == 0                     # every product is a zero
    negatives = neg_x @ (1 - neg_y) + (1 - neg_x) @ neg_y  # products with the sign bit set
    all_neg, all_pos = none_live & (negatives == k), none_live & (negatives == 0)
    if cv is not None:
        all_neg &= (cv == 0) & np.signbit(cv)
        all_pos &= (cv == 0) & ~np.signbit(cv)
    minus = exact.sum_zero_sign(all_neg, all_pos, rounding)
    plus_code, minus_code = (int(v) for v in codec.encode(np.array([0.0, -0.0]), out, rounding))
    codes[zero] = np.where(minus, minus_code, plus_code)[zero]


def exact_engine(a, b, c, out, rounding, overflow, name):
    """``c + a @ b`` exactly, rounded once into ``out`` (QArray), or None
    when this engine does not take the case (see the module docstring)."""
    fmts = (a.fmt, b.fmt) + ((c.fmt,) if c is not None else ())
    out = ops.result_format(*fmts, op=name) if out is None else out
    if not (out.is_float and out.man <= 50 and out.width <= 64):
        return None
    rounding, overflow = accumulator_modes(out, rounding, overflow, name)
    x, y = engines.float_values(a, np.float64), engines.float_values(b, np.float64)
    (m, k), n = x.shape, y.shape[1]
    cv = None if c is None else np.array(codec.decode(broadcast(c, (m, n)).bits, c.fmt), np.float64)
    bad_rows = ~np.isfinite(x).all(axis=1)
    bad_cols = ~np.isfinite(y).all(axis=0)
    if cv is not None:
        bad_rows |= ~np.isfinite(cv).all(axis=1)
        cv[~np.isfinite(cv)] = 0.0
    x[~np.isfinite(x)] = 0.0
    y[~np.isfinite(y)] = 0.0
    ea, span_a = _scales(x, value_range(a.fmt)[0], 1)
    eb, span_b = _scales(y, value_range(b.fmt)[0], 0)
    total = 53 - (k - 1).bit_length()  # 53 - ceil(log2 K)
    beta_a, beta_b, na, nb = _choose_bits(span_a, span_b, total)
    if na * nb > MAX_PAIRS:
        return None
    # the powers of two 2**(ea[i] - (p+1)*beta_a), 2**(eb[j] - (q+1)*beta_b) and
    # their products must be normal binary64 numbers, the terms below 2**1000
    live_a, live_b = x.any(axis=1), y.any(axis=0)
    ea[~live_a], eb[~live_b] = 0, 0  # (rows of zeros: all their terms are 0)
    least_a, least_b = ea.min(initial=0) - na * beta_a, eb.min(initial=0) - nb * beta_b
    if min(least_a, least_b, least_a + least_b) < -1022 or max(span_a, span_b) > 900 \
            or ea.max(initial=0) + eb.max(initial=0) > 900 or ea.min(initial=0) < -900 \
            or eb.min(initial=0) < -900:
        return None
    scale_a = np.ldexp(1.0, ea[None, :] - beta_a * np.arange(1, na + 1)[:, None])
    scale_b = np.ldexp(1.0, eb[None, :] - beta_b * np.arange(1, nb + 1)[:, None])
    A = _slices(x, ea, beta_a, na)
    B = _slices(y.T, eb, beta_b, nb)
    codes = np.empty((m, n), np.uint64)
    zero = np.zeros((m, n), np.uint8)
    status = np.zeros((m, n), np.int64)
    ok = np.ones(m, np.uint8)
    probe = engines.ieee_probe(np.float64)
    c_vals = cv if cv is not None else np.zeros((m, n))
    rows = max(1, _CHUNK_BYTES // (8 * na * nb * max(n, 1)))
    spec, mode, ovf = out.kernel_spec, np.int64(rounding.code), np.int64(overflow.code)
    for r0 in range(0, m, rows):
        r1 = min(r0 + rows, m)
        C = np.empty((na, nb, r1 - r0, n))
        for p in range(na):
            for q in range(nb):
                np.matmul(A[p, r0:r1], B[q].T, out=C[p, q])  # exact: see the docstring
        with threads_for(max(1, (r1 - r0) * n * na * nb // (1 << 14))):
            kernels.exact_slices_sum(C, np.ascontiguousarray(scale_a[:, r0:r1]), scale_b,
                                     c_vals[r0:r1], cv is not None, spec, mode, ovf,
                                     codes[r0:r1], zero[r0:r1], status[r0:r1], probe, ok[r0:r1])
    if status.any() or not ok.all():
        return None  # the general engine raises the error, naming the first failure
    if zero.any():
        _zero_signs(codes, zero.astype(bool), x, y, cv, out, rounding)
    codes = codes.astype(exact.codes_dtype(out))
    try:  # rows and columns with inf or NaN terms: the general engine
        c_full = None if c is None else broadcast(c, (m, n))
        if bad_rows.any():
            rows_ = np.flatnonzero(bad_rows)
            sub = exact_sum(a[rows_], b, None if c is None else c_full[rows_], out, rounding,
                            overflow, name)
            codes[rows_] = sub.bits
        if bad_cols.any():
            cols = np.flatnonzero(bad_cols)
            sub = exact_sum(a, b[:, cols], None if c is None else c_full[:, cols], out, rounding,
                            overflow, name)
            codes[:, cols] = sub.bits
    except (ValueError, OverflowError):
        return None  # raised again by the general engine on the whole product, index and all
    return wrap_codes(codes, out)
