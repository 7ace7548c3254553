"""Accumulation error: dot products summed in a narrow accumulator.

**Floating point.**  Operands are drawn at random (standard normal, or
uniform on [0, 1) -- all products positive, where rounding errors add up
fastest), rounded to nearest-even into float16, bfloat16, float8_e4m3fn or
float8_e5m2, and multiplied.  Every such product is exact in float64 (at
most 22 significant bits, exponents far inside float64's range).  The
products are accumulated by fxsim's model (``fxsim.matmul(..., acc=,
order=)``, nearest-even): products exact, every addition rounded once into
the accumulator -- float32, bfloat16, or the custom ``e8m13`` (float32's
exponent range, 14-bit significand) -- in three orders:

* ``sequential``: ``s = round(p_0)``, then ``s = round(s + p_k)``: K roundings
  touch the first product, so Higham's bound is ``|s^ - s| <= gamma_K
  sum|p_k|`` with ``gamma_n = n u / (1 - n u)`` and ``u = 2**-(man+1)``;
* ``pairwise``: an adder tree; every product passes through at most
  ``ceil(log2 K)`` rounded additions: ``gamma_ceil(log2 K)``;
* ``block32``: blocks of 32 products summed exactly, each block sum added
  with one rounding (tensor-core style): ``gamma_ceil(K/32)``.

The bounds hold without underflow or overflow (additions in the subnormal
range are exact; none of these accumulators over- or underflows on this
data).  The reference is ``math.fsum`` of the exact float64 products, the
correctly rounded sum: its own error (<= 2**-53 |s|) is far below every
accumulator's u.  The error measure is ``|s^ - s| / sum|p_k|``, the quantity
the bound controls.  Medians and maxima are over T independent trials
(each trial its own a and b vectors).

How the sweep calls fxsim.  Trials are independent dot products; to run T
of them in one call each order is handed to fxsim in a form whose
roundings are the same as ``matmul(a_i, b_i, acc, order)`` by fxsim's own
contract: sequential is ``fxsim.matmul(P, ones, acc)`` on the (T, K) exact
products P (``p * 1`` is exact); blocked is the same call on the exact
block sums (checked exact with an error-free TwoSum in float64; a trial
whose block sum is not exact falls back to ``fxsim.matmul`` on its
operands); pairwise runs the tree level by level with ``fxsim.add(...,
out=acc)`` over all trials at once.  Each task compares a sample of trials
against ``fxsim.matmul`` on the real quantized operands (and the tests do
so for every order), so the shortcuts are checked, not assumed.

Two typical-case estimates sit beside the bounds: a rounding-error model
(independent errors uniform on +-ulp/2 of each partial sum,
:func:`rounding_model_median`) for float32 accumulation of float16
products, and, for a bfloat16 accumulator on positive data, a renewal
estimate of the step at which the sum stagnates at 256
(:func:`renewal_path`), measured by :func:`stagnation_task`.

**Fixed point.**  int8 x int8 products accumulated in ``s16.0`` or
``s20.0`` with ``overflow="wrap"`` or ``"saturate"`` (``fxsim.matmul`` on
the int8 operands, one call per trial).  Wrapping is arithmetic modulo
``2**word``, so the result is right exactly when the exact final sum fits,
whatever the partial sums did.  Saturation clamps each partial sum; once a
partial sum leaves the range the offset it leaves behind persists unless a
later clamp at the other end cancels it exactly (rare, but possible).
Both are predicted independently from int64 cumulative sums (final sum
out of range; any partial sum out of range) and an int64 replay of the
clamp recurrence, and the predicted counts must equal fxsim's.  The
corruption fractions are Monte Carlo estimates over T trials (binomial
standard error at most ``0.5/sqrt(T)``).  Theory lines: the Gaussian
tail of the final sum for wrap, and for saturate (zero-mean data) the
Brownian-motion probability that the walk leaves the range before step K,
about twice the wrap probability when both are small (reflection
principle).
"""
from __future__ import annotations

import math

import numpy as np

from . import report
from .sweep import Task

TITLE = "Accumulation error"

OPERANDS = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")
ACCUMULATORS = ("float32", "e8m13", "bfloat16")
BLOCK = 32
ORDERS = ("sequential", "pairwise", BLOCK)
DISTRIBUTIONS = ("normal", "uniform")
FIXED_ACCS = ("s16.0", "s20.0")
FIXED_DISTRIBUTIONS = ("zero-mean", "positive")
OVERFLOWS = ("wrap", "saturate")
POSITIVE_KEY_K = {"s16.0": 8, "s20.0": 128}     # the grid K nearest hi / mean product
ZERO_MEAN_KEY_K = {"s16.0": 32, "s20.0": 8192}   # hi / (sd sqrt(K)) = 1.06 for both

# study bases; each task's seed adds its own parameters
SEED_FLOAT, SEED_FIXED, SEED_STAGNATION = 60_303, 60_304, 60_305


def order_name(order) -> str:
    return order if isinstance(order, str) else f"block{order}"


def float_ks(quick: bool) -> list[int]:
    return [4 ** i for i in range(2, 7)] if quick else [2 ** i for i in range(4, 15)]


def float_trials(k: int, quick: bool) -> int:
    """Trials per K: about 2**17 (quick) or 2**22 (full) products per task."""
    budget, most, least = (2 ** 17, 2048, 96) if quick else (2 ** 22, 4096, 256)
    return int(min(most, max(least, budget // k)))


def fixed_ks(quick: bool) -> list[int]:
    return [2 ** i for i in range(1, 15, 2)] if quick else [2 ** i for i in range(1, 15)]


def fixed_trials(quick: bool) -> int:
    return 512 if quick else 4096


# ---------------------------------------------------------------- float formats
def unit_roundoff(fmt) -> float:
    """u = 2**-(man+1) of a float format (nearest rounding)."""
    import fxsim

    return 2.0 ** -(fxsim.format(fmt).man + 1)


def gamma(n, u: float) -> float:
    """Higham's gamma_n = n u / (1 - n u); inf when n u >= 1 (no bound)."""
    nu = n * u
    return nu / (1 - nu) if nu < 1 else math.inf


def roundings_per_term(order, k: int) -> int:
    """The most rounded operations any product passes through."""
    if order == "sequential":
        return k
    if order == "pairwise":
        return max(1, math.ceil(math.log2(k)))
    return -(-k // order)


def error_bound(order, k: int, u: float) -> float:
    return gamma(roundings_per_term(order, k), u)


def rounding_model_median(dist: str, k: int, u: float) -> float:
    """Typical-case model of the sequential error: each addition's rounding
    error is independent and uniform on +-ulp(S_j)/2 (variance ulp**2/12,
    ulp(S) = 2u * 2**floor(log2|S|)), the partial sums S_j following the
    exact ones: ``S_j = j/4`` for uniform [0, 1) operands, ``S_j ~ N(0, j)``
    for standard normal ones (the products have variance 1).  The error is
    then Gaussian; returns its median |.| (0.6745 sd) over ``sum|p|`` (K/4,
    resp. K E|XY| = 2K/pi).  Valid while the products' last bits are much
    finer than the accumulator's spacing (so each addition rounds: float16
    products, 22 bits) and the products much larger than it (no
    stagnation): float32 accumulators here."""
    from scipy.special import erf

    j = np.arange(1, k + 1, dtype=float)
    if dist == "uniform":
        spacing = 2 * u * 2.0 ** np.floor(np.log2(j / 4))
        variance = float(np.sum(spacing ** 2) / 12)
        size = k / 4
    else:
        e = np.arange(-60, 40, dtype=float)[None, :]
        sd = np.sqrt(j)[:, None] * math.sqrt(2)
        binade = erf(2.0 ** (e + 1) / sd) - erf(2.0 ** e / sd)   # P(2**e <= |S_j| < 2**(e+1))
        variance = float(np.sum((2 * u * 2.0 ** e) ** 2 * binade) / 12)
        size = 2 * k / math.pi
    return 0.6745 * math.sqrt(variance) / size


def draw_operands(fmt: str, dist: str, trials: int, k: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Two (trials, k) float64 arrays holding values of ``fmt`` exactly:
    standard normal or uniform [0, 1) draws rounded nearest-even into ``fmt``."""
    import fxsim

    rng = np.random.default_rng(seed)
    draw = rng.standard_normal if dist == "normal" else rng.random
    x = fxsim.asarray(draw((trials, k)), fmt).to_float()
    y = fxsim.asarray(draw((trials, k)), fmt).to_float()
    return x, y


def exact_sums(products: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the correctly rounded sum (math.fsum) and the sum of magnitudes."""
    total = np.array([math.fsum(row) for row in products.tolist()])
    size = np.array([math.fsum(row) for row in np.abs(products).tolist()])
    return total, size


def _ones(n: int):
    import fxsim

    return fxsim.asarray(np.ones((n, 1)), "float8_e4m3fn")


def sequential_sum(terms: np.ndarray, acc: str) -> np.ndarray:
    """fxsim's sequential accumulation of each row of exact float64 terms:
    ``round(t_0)``, then ``round(s + t_k)``; ``matmul(terms, ones)``."""
    import fxsim

    if terms.shape[1] == 1:  # round(t_0); matmul's stepwise engine (K = 1) rejects float64
        return fxsim.cast(fxsim.asarray(terms[:, 0], "float64"), acc).to_float()
    return fxsim.matmul(fxsim.asarray(terms, "float64"), _ones(terms.shape[1]),
                        acc=acc).to_float()[:, 0]


def pairwise_sum(terms: np.ndarray, acc: str) -> np.ndarray:
    """fxsim's adder tree, one ``fxsim.add`` per level over every row:
    neighbours (2i, 2i+1) added and rounded into ``acc``, an odd last element
    moving up unrounded, the root cast into ``acc``."""
    import fxsim

    level = terms
    while level.shape[1] > 1:
        n = level.shape[1] // 2 * 2
        sums = fxsim.add(fxsim.asarray(level[:, 0:n:2], "float64"),
                         fxsim.asarray(level[:, 1:n:2], "float64"), out=acc).to_float()
        level = np.concatenate([sums, level[:, n:]], axis=1)
    return fxsim.cast(fxsim.asarray(level[:, 0], "float64"), acc).to_float()


def exact_block_sums(terms: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Block sums in float64 and, per row, whether every one is exact
    (Knuth's TwoSum error of each addition is zero)."""
    rows, k = terms.shape
    nblocks = -(-k // block)
    padded = np.zeros((rows, nblocks * block))
    padded[:, :k] = terms
    parts = padded.reshape(rows, nblocks, block)
    total = parts[:, :, 0].copy()
    exact = np.ones(rows, bool)
    for j in range(1, block):
        x = parts[:, :, j]
        s = total + x
        bv = s - total
        err = (total - (s - bv)) + (x - bv)
        exact &= (err == 0).all(axis=1)
        total = s
    return total, exact


def blocked_sum(x: np.ndarray, y: np.ndarray, fmt: str, acc: str, block: int) -> tuple[np.ndarray, int]:
    """fxsim's blocked accumulation of each row of ``x * y``: exact block
    sums accumulated sequentially (one rounding each).  Rows whose block
    sums are not exact in float64 go to ``fxsim.matmul`` on the operands.
    Returns the sums and how many rows fell back."""
    sums, exact = exact_block_sums(x * y, block)
    result = sequential_sum(sums, acc)
    for i in np.flatnonzero(~exact):
        result[i] = matmul_rows(x[i:i + 1], y[i:i + 1], fmt, acc, block)[0]
    return result, int((~exact).sum())


def matmul_rows(x: np.ndarray, y: np.ndarray, fmt: str, acc: str, order) -> np.ndarray:
    """``fxsim.matmul(x_i, y_i, acc=, order=)`` of the real quantized operands,
    row by row (a batched matmul: trials do not share a vector)."""
    import fxsim

    a = fxsim.asarray(x[:, None, :], fmt)
    b = fxsim.asarray(y[:, :, None], fmt)
    return fxsim.matmul(a, b, acc=acc, order=order).to_float().reshape(-1)


def accumulate(x, y, fmt, acc, order) -> tuple[np.ndarray, int]:
    """Every trial's dot product in ``acc`` and ``order``; (sums, fallbacks)."""
    if order == "sequential":
        return sequential_sum(x * y, acc), 0
    if order == "pairwise":
        return pairwise_sum(x * y, acc), 0
    return blocked_sum(x, y, fmt, acc, order)


def float_task(fmt: str, dist: str, k: int, trials: int, seed) -> dict:
    """Relative errors of every accumulator and order for one (format, data, K).

    Returns per ``"acc|order"``: median, max, mean and zero fraction of
    ``|s^ - s| / sum|p|``; plus how many sampled trials were compared with
    ``fxsim.matmul`` on the operands and how many differed (must be 0)."""
    x, y = draw_operands(fmt, dist, trials, k, seed)
    total, size = exact_sums(x * y)
    stats, checks, mismatches, fallbacks = {}, 0, 0, 0
    for acc in ACCUMULATORS:
        for order in ORDERS:
            sums, fell = accumulate(x, y, fmt, acc, order)
            fallbacks += fell
            err = np.abs(sums - total) / size
            stats[f"{acc}|{order_name(order)}"] = (float(np.median(err)), float(err.max()),
                                                    float(err.mean()), float(np.mean(err == 0)))
            sample = _check_sample(order, k)
            if sample:
                direct = matmul_rows(x[:sample], y[:sample], fmt, acc, order)
                checks += sample
                mismatches += int(np.sum(direct != sums[:sample]))
    return {"fmt": fmt, "dist": dist, "k": k, "trials": trials, "stats": stats,
            "checks": checks, "mismatches": mismatches, "fallbacks": fallbacks}


def _check_sample(order, k: int) -> int:
    """How many trials to recompute with fxsim.matmul (its stepwise engine
    costs a Python call per addition for pairwise and per block)."""
    if order == "sequential":
        return 4
    if order == "pairwise":
        return 1 if k <= 64 else 0
    return 1 if k <= 1024 else 0


# ---------------------------------------------------------------- bfloat16 stagnation
STAGNATION_OPERANDS = ("float16", "bfloat16")
STAGNATION_K = 2048
CAP = 256.0   # a bfloat16 sum of terms in [0, 1] never exceeds 2**(7+1): its spacing there is 2


def product_cdf(p):
    """P(X Y <= p) for independent X, Y uniform on [0, 1): p - p ln p."""
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p - p * np.log(safe), 0.0)


def mean_increment(spacing: float) -> float:
    """E[round(s + p) - s] for s on a grid of ``spacing`` (inside one binade)
    and p = X Y continuous: ``spacing * E[rne(p / spacing)]`` (ties have
    probability 0).  Below spacing 2**-12 it is 1/4 (= E[p]) to within
    spacing**2."""
    if spacing < 2.0 ** -12:
        return 0.25
    j = np.arange(1, int(1 / spacing) + 3)
    return float(np.sum(j * spacing * (product_cdf((j + 0.5) * spacing)
                                       - product_cdf((j - 0.5) * spacing))))


def renewal_path(man: int = 7, cap: float = CAP, lowest: int = -12) -> tuple[np.ndarray, np.ndarray]:
    """Renewal estimate of the sequential sum's climb: binade [2**e, 2**(e+1))
    (spacing 2**(e-man)) takes 2**e / mean_increment steps.  Returns the
    steps at which the sum reaches each binade's top, and those tops; the
    last is the expected number of steps to the cap (binade-crossing
    effects and operand quantization ignored)."""
    steps, tops, k = [0.0], [0.0], 0.0
    for e in range(lowest, int(math.log2(cap))):
        k += 2.0 ** e / mean_increment(2.0 ** (e - man))
        steps.append(k)
        tops.append(2.0 ** (e + 1))
    return np.array(steps), np.array(tops)


def stagnation_task(fmt: str, k: int, trials: int, seed) -> dict:
    """Run the bfloat16 sequential recurrence ``s = round(s + p_j)`` with
    ``fxsim.add`` on uniform [0, 1) products, step by step over all trials;
    record the step at which each trial's sum reaches the cap 256 (-1: never),
    the median sum and median exact sum at checkpoints, and whether the final
    sums equal ``fxsim.matmul``'s sequential accumulation."""
    import fxsim

    x, y = draw_operands(fmt, "uniform", trials, k, seed)
    products = x * y
    terms = fxsim.asarray(products, "float64")
    s = fxsim.cast(terms[:, 0], "bfloat16")
    reached = np.full(trials, -1)
    every = 8
    exact = np.cumsum(products, axis=1)   # float64, relative rounding < 1e-12: for plots only
    marks, median_sum, median_exact = [], [], []
    for j in range(k):
        if j:
            s = fxsim.add(s, terms[:, j], out="bfloat16")
        value = s.to_float()
        reached[(reached < 0) & (value >= CAP)] = j + 1
        if (j + 1) % every == 0 or j == 0:
            marks.append(j + 1)
            median_sum.append(float(np.median(value)))
            median_exact.append(float(np.median(exact[:, j])))
    same = bool(np.array_equal(value, sequential_sum(products, "bfloat16")))
    return {"stagnation": True, "fmt": fmt, "k": k, "trials": trials, "reached": reached,
            "above_cap": int((value > CAP).sum()), "marks": np.array(marks),
            "median_sum": np.array(median_sum), "median_exact": np.array(median_exact),
            "matmul_equal": same}


# ---------------------------------------------------------------- fixed point
def fixed_range(acc: str) -> tuple[int, int]:
    import fxsim

    fmt = fxsim.format(acc)
    return -(1 << (fmt.word - 1)), (1 << (fmt.word - 1)) - 1


def int8_operands(dist: str, trials: int, k: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """int8 operands: uniform on [-128, 127] (zero-mean) or on [0, 127] (positive)."""
    rng = np.random.default_rng(seed)
    lo = -128 if dist == "zero-mean" else 0
    return (rng.integers(lo, 128, (trials, k)).astype(np.int8),
            rng.integers(lo, 128, (trials, k)).astype(np.int8))


def predict_overflow(a: np.ndarray, b: np.ndarray, lo: int, hi: int, chunk: int = 512) -> dict:
    """Per trial, from int64 arithmetic only: the exact sum, whether the final
    sum is out of [lo, hi] (wrap corrupts), whether any partial sum is
    (cumulative sums), and the saturating accumulator's result (the clamp
    recurrence replayed: ``s = clamp(p_0)``, ``s = clamp(s + p_k)``)."""
    rows, k = a.shape
    running = np.zeros(rows, np.int64)
    clamped = None
    left = np.zeros(rows, bool)
    for k0 in range(0, k, chunk):
        p = a[:, k0:k0 + chunk].astype(np.int64) * b[:, k0:k0 + chunk]
        partial = running[:, None] + np.cumsum(p, axis=1)
        left |= ((partial < lo) | (partial > hi)).any(axis=1)
        running = partial[:, -1]
        for j in range(p.shape[1]):
            clamped = np.clip(p[:, j] if clamped is None else clamped + p[:, j], lo, hi)
    return {"exact": running, "final_out": (running < lo) | (running > hi), "left": left,
            "saturated": clamped}


def fixed_task(dist: str, k: int, trials: int, seed) -> dict:
    """Corruption counts of wrap and saturate for each fixed accumulator:
    fxsim's (results differing from the exact sum) beside the predictions."""
    import fxsim

    a, b = int8_operands(dist, trials, k, seed)
    out = {"dist": dist, "k": k, "trials": trials}
    for acc in FIXED_ACCS:
        lo, hi = fixed_range(acc)
        pred = predict_overflow(a, b, lo, hi)
        got = {ov: np.asarray(fxsim.matmul(a[:, None, :], b[:, :, None], acc=acc, overflow=ov)
                              .to_float()).reshape(-1).astype(np.int64) for ov in OVERFLOWS}
        wrap_bad = got["wrap"] != pred["exact"]
        sat_bad = got["saturate"] != pred["exact"]
        scale = float(hi + 1)
        out[acc] = {
            "wrap": int(wrap_bad.sum()), "saturate": int(sat_bad.sum()),
            "pred_wrap": int(pred["final_out"].sum()),
            "pred_saturate": int((pred["saturated"] != pred["exact"]).sum()),
            "sat_equal_replay": bool(np.array_equal(got["saturate"], pred["saturated"])),
            "left_range": int(pred["left"].sum()),
            "recovered": int((pred["left"] & ~sat_bad).sum()),
            "wrap_err": float(np.median(np.abs(got["wrap"] - pred["exact"])[wrap_bad]) / scale)
            if wrap_bad.any() else 0.0,
            "sat_err": float(np.median(np.abs(got["saturate"] - pred["exact"])[sat_bad]) / scale)
            if sat_bad.any() else 0.0,
        }
    return out


def product_moments(dist: str) -> tuple[float, float]:
    """Mean and standard deviation of one int8 x int8 product (independent
    uniform factors), in closed form."""
    lo = -128 if dist == "zero-mean" else 0
    n = 128 - lo
    mean = (lo + 127) / 2
    second = (n * n - 1) / 12 + mean * mean
    return mean * mean, math.sqrt(second * second - mean ** 4)


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def wrap_theory(dist: str, acc: str, k: int) -> float:
    """Gaussian approximation of P(final sum outside the range)."""
    mean, sd = product_moments(dist)
    lo, hi = fixed_range(acc)
    m, s = k * mean, sd * math.sqrt(k)
    return _norm_sf((hi + 0.5 - m) / s) + _norm_sf((m - lo + 0.5) / s)


def brownian_exit(a: float) -> float:
    """P(sup_{t<=1} |W_t| >= a) for standard Brownian motion: the theta series
    ``1 - 4/pi sum (-1)^n/(2n+1) exp(-(2n+1)^2 pi^2 / (8 a^2))`` for a < 1,
    the reflection series ``4 sum_k (-1)^(k+1) P(N > (2k-1) a)`` for a >= 1
    (both converge fast there)."""
    if a <= 0:
        return 1.0
    if a < 1:
        inside = sum((-1) ** n / (2 * n + 1) * math.exp(-((2 * n + 1) ** 2) * math.pi ** 2 / (8 * a * a))
                     for n in range(20))
        return min(1.0, max(0.0, 1 - 4 / math.pi * inside))
    return min(1.0, 4 * sum((-1) ** (j + 1) * _norm_sf((2 * j - 1) * a) for j in range(1, 20)))


def saturate_theory(dist: str, acc: str, k: int) -> float:
    """Zero-mean data: the Brownian probability that a partial sum leaves the
    range; positive data: partial sums only grow, so the same as wrap."""
    if dist == "positive":
        return wrap_theory(dist, acc, k)
    _, sd = product_moments(dist)
    _, hi = fixed_range(acc)
    return brownian_exit((hi + 0.5) / (sd * math.sqrt(k)))


# ---------------------------------------------------------------- the sweep
def tasks(quick: bool) -> list[Task]:
    out = []
    for i, fmt in enumerate(OPERANDS):
        for j, dist in enumerate(DISTRIBUTIONS):
            for k in float_ks(quick):
                t = float_trials(k, quick)
                out.append(Task(float_task, dict(fmt=fmt, dist=dist, k=k, trials=t,
                                                 seed=(SEED_FLOAT, i, j, k, t)),
                                f"accumulation {fmt} {dist} K={k}"))
    for i, fmt in enumerate(STAGNATION_OPERANDS):
        t = 256 if quick else 1024
        out.append(Task(stagnation_task, dict(fmt=fmt, k=STAGNATION_K, trials=t,
                                              seed=(SEED_STAGNATION, i, STAGNATION_K, t)),
                        f"accumulation bfloat16 stagnation {fmt}"))
    for j, dist in enumerate(FIXED_DISTRIBUTIONS):
        for k in fixed_ks(quick):
            t = fixed_trials(quick)
            out.append(Task(fixed_task, dict(dist=dist, k=k, trials=t, seed=(SEED_FIXED, j, k, t)),
                            f"accumulation fixed {dist} K={k}"))
    return out


# ---------------------------------------------------------------- the report
def _float_table(results, dist, k):
    rows = []
    for r in results:
        if r["dist"] != dist or r["k"] != k:
            continue
        for acc in ACCUMULATORS:
            u = unit_roundoff(acc)
            for order in ORDERS:
                med, mx, _, zero = r["stats"][f"{acc}|{order_name(order)}"]
                bound = error_bound(order, k, u)
                rows.append((r["fmt"], acc, order_name(order), med, mx, bound,
                             mx / bound if math.isfinite(bound) else "no bound (n u >= 1)",
                             med / (math.sqrt(k) * u), zero))
    return report.table(["operands", "acc", "order", "median err", "max err", "bound gamma_n",
                         "max / bound", "median / (sqrt(K) u)", "exact fraction"], rows, 3)


def _series(results, fmt, dist, key, index):
    pts = sorted((r["k"], r["stats"][key][index]) for r in results
                 if r["fmt"] == fmt and r["dist"] == dist)
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


def _error_figure(results, dist, out_dir, figures, quick):
    colors = {"sequential": "tab:red", "pairwise": "tab:blue", f"block{BLOCK}": "tab:green"}
    fig, axes = report.new_figure(len(ACCUMULATORS), len(OPERANDS), size=(14, 9.5))
    ks_all = np.array(float_ks(quick), float)
    for row, acc in enumerate(ACCUMULATORS):
        u = unit_roundoff(acc)
        for col, fmt in enumerate(OPERANDS):
            ax = axes[row, col]
            # where exact results (error 0) go: below every nonzero error of the panel
            errors = np.concatenate([_series(results, fmt, dist, f"{acc}|{order_name(o)}", i)[1]
                                     for o in ORDERS for i in (0, 1)])
            floor = min(u / 128, report.zero_floor(errors, decades=1))
            report.floor_line(ax, floor, "exact (error 0)")
            for order in ORDERS:
                name = order_name(order)
                c = colors[name]
                ks, med = _series(results, fmt, dist, f"{acc}|{name}", 0)
                _, mx = _series(results, fmt, dist, f"{acc}|{name}", 1)
                # exact zeros sit on the floor line (hollow circles: median 0, crosses: max 0)
                report.plot_with_zeros(ax, ks, med, floor, "o-", color=c, ms=3, label=f"{name} median")
                report.plot_with_zeros(ax, ks, mx, floor, ":", zero_marker="x", color=c, lw=1,
                                       label=f"{name} max")
                bound = np.array([error_bound(order, int(k), u) for k in ks_all])
                ok = np.isfinite(bound)
                ax.plot(ks_all[ok], bound[ok], "--", color=c, lw=1, alpha=0.7, label=f"{name} bound")
            ax.plot(ks_all, np.sqrt(ks_all) * u, "-", color="0.6", lw=1, label="sqrt(K) u")
            if acc == "float32" and fmt == "float16":
                ax.plot(ks_all, [rounding_model_median(dist, int(k), u) for k in ks_all], "-.",
                        color="k", lw=1.2, label="sequential median, rounding model")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylim(floor / 4, min(2.0, 2e4 * u))
            ax.set_title(f"{fmt} products, acc {acc}", fontsize=9)
            if row == len(ACCUMULATORS) - 1:
                ax.set_xlabel("K")
            if col == 0:
                ax.set_ylabel("|s^ - s| / sum|p|")
            ax.grid(alpha=0.3, which="both", lw=0.3)
    fullest = axes[ACCUMULATORS.index("float32"), OPERANDS.index("float16")]
    handles, labels = fullest.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=5, fontsize=8)
    what = "standard normal" if dist == "normal" else "uniform [0, 1) (all products positive)"
    return report.save(fig, out_dir, f"accumulation_error_{dist}",
                       f"Relative error against K, {what} operands: median (solid) and max (dotted) "
                       f"over the trials, Higham's bound for each order (dashed; drawn where n u < 1) "
                       f"and sqrt(K) u (grey). An error that is exactly 0 (the accumulator returned the exact "
                       f"sum) is drawn on the dotted floor line marked 'exact' (at u/128, or lower in a panel "
                       f"with smaller nonzero errors): "
                       f"a hollow circle for a median of 0, a cross for a maximum of 0.", figures)


def _fixed_figure(fixed, out_dir, figures):
    fig, axes = report.new_figure(1, 2, size=(12, 4.4))
    styles = {("s16.0", "wrap"): ("tab:blue", "o"), ("s16.0", "saturate"): ("tab:red", "s"),
              ("s20.0", "wrap"): ("tab:cyan", "o"), ("s20.0", "saturate"): ("tab:orange", "s")}
    for ax, dist in zip(axes, FIXED_DISTRIBUTIONS):
        rs = sorted((r for r in fixed if r["dist"] == dist), key=lambda r: r["k"])
        ks = np.array([r["k"] for r in rs])
        fine = np.unique(np.round(np.logspace(0, math.log10(ks.max()), 200)).astype(int))
        for acc in FIXED_ACCS:
            for ov in OVERFLOWS:
                c, m = styles[(acc, ov)]
                frac = np.array([r[acc][ov] / r["trials"] for r in rs])
                ax.plot(ks, frac, m, color=c, ms=5, mfc="none", label=f"{acc} {ov} (fxsim)")
                theory = wrap_theory if ov == "wrap" else saturate_theory
                ax.plot(fine, [theory(dist, acc, int(k)) for k in fine], "-" if ov == "wrap" else "--",
                        color=c, lw=1, label=f"{acc} {ov} (theory)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("K")
        ax.set_ylabel("fraction of dot products corrupted")
        ax.set_title(f"int8 x int8, {dist} operands", fontsize=10)
        ax.grid(alpha=0.3, lw=0.3)
    axes[0].legend(fontsize=7, ncols=2)
    return report.save(fig, out_dir, "accumulation_fixed",
                       "Fraction of int8 dot products whose narrow-accumulator result differs from "
                       "the exact sum: wrap (circles) and saturate (squares) measured with fxsim; "
                       "lines: Gaussian tail of the final sum (wrap) and Brownian exit probability "
                       "(saturate, zero-mean data; equal to wrap for positive data).", figures)


def _stagnation_figure(stag, out_dir, figures):
    fig, ax = report.new_figure(size=(7, 4.4))
    steps, tops = renewal_path()
    colors = {"float16": "tab:blue", "bfloat16": "tab:orange"}
    for r in stag:
        c = colors.get(r["fmt"], "k")
        ax.plot(r["marks"], r["median_sum"], "-", color=c, label=f"{r['fmt']} products: median bfloat16 sum")
        ax.plot(r["marks"], r["median_exact"], ":", color=c, lw=1,
                label=f"{r['fmt']} products: median exact sum")
    k = stag[0]["k"]
    ax.plot(np.append(steps, k), np.append(tops, CAP), "k--", lw=1, label="renewal estimate")
    ax.axhline(CAP, color="0.5", lw=0.8)
    ax.set_xlabel("K (products summed)")
    ax.set_ylabel("sum")
    ax.set_ylim(0, 1.1 * max(r["median_exact"].max() for r in stag))
    ax.grid(alpha=0.3, lw=0.3)
    ax.legend(fontsize=7)
    return report.save(fig, out_dir, "accumulation_bf16_stagnation",
                       "Sequential bfloat16 accumulation of uniform [0, 1) products: the median running "
                       "sum (solid) stops at 256 while the exact sum (dotted) keeps growing; dashed: the "
                       "renewal estimate (each binade's width over the mean rounded increment).", figures)


def _float_numbers(floats, kmax):
    n = {"float_k_max": kmax}

    def stat(fmt, dist, acc, order, index=0, k=kmax):
        r = next(r for r in floats if r["fmt"] == fmt and r["dist"] == dist and r["k"] == k)
        return r["stats"][f"{acc}|{order}"][index]

    for dist in DISTRIBUTIONS:
        for acc in ACCUMULATORS:
            for order in ORDERS:
                name = order_name(order)
                n[f"fp16_{dist}_{acc}_{name}_median_at_k_max"] = stat("float16", dist, acc, name)
        n[f"fp16_{dist}_float32_seq_over_pairwise_median"] = (
            stat("float16", dist, "float32", "sequential") / stat("float16", dist, "float32", "pairwise"))
        n[f"fp16_{dist}_float32_sequential_median_over_sqrtK_u"] = (
            stat("float16", dist, "float32", "sequential") / (math.sqrt(kmax) * unit_roundoff("float32")))
        model = rounding_model_median(dist, kmax, unit_roundoff("float32"))
        n[f"fp16_{dist}_float32_sequential_model_median_at_k_max"] = model
        n[f"fp16_{dist}_float32_sequential_measured_over_model"] = (
            stat("float16", dist, "float32", "sequential") / model)
    n["fp16_uniform_bfloat16_sequential_median_k1024"] = stat("float16", "uniform", "bfloat16",
                                                              "sequential", 0, 1024)
    kmin = min(r["k"] for r in floats)
    n["float_k_min"] = kmin
    n["e4m3_uniform_float32_sequential_exact_fraction_k_min"] = stat(
        "float8_e4m3fn", "uniform", "float32", "sequential", 3, kmin)
    n["e4m3_uniform_float32_sequential_exact_fraction_k_max"] = stat(
        "float8_e4m3fn", "uniform", "float32", "sequential", 3)
    ratios = []
    for r in floats:
        for acc in ACCUMULATORS:
            for order in ORDERS:
                b = error_bound(order, r["k"], unit_roundoff(acc))
                if math.isfinite(b):
                    ratios.append(r["stats"][f"{acc}|{order_name(order)}"][1] / b)
    n["max_error_over_gamma_bound"] = max(ratios)
    n["matmul_checks"] = sum(r["checks"] for r in floats)
    n["matmul_mismatches"] = sum(r["mismatches"] for r in floats)
    n["block_fallback_trials"] = sum(r["fallbacks"] for r in floats)
    n["bf16_acc_error_floor_at_k_max"] = 1 - CAP / (kmax / 4)
    return n


def _stagnation_numbers(stag):
    n = {"bf16_cap": CAP, "bf16_stagnation_k_renewal": float(renewal_path()[0][-1])}
    for r in stag:
        hit = r["reached"][r["reached"] > 0]
        tag = f"bf16_stagnation_k_{r['fmt']}"
        n[f"{tag}_median"] = float(np.median(hit)) if hit.size else math.nan
        n[f"{tag}_p10"] = float(np.percentile(hit, 10)) if hit.size else math.nan
        n[f"{tag}_p90"] = float(np.percentile(hit, 90)) if hit.size else math.nan
        n[f"{tag}_not_reached"] = int((r["reached"] < 0).sum())
        n[f"{tag}_above_cap"] = r["above_cap"]
        n[f"{tag}_matmul_equal"] = float(r["matmul_equal"])
    return n


def _fixed_numbers(fixed):
    n = {}
    for acc, k in ZERO_MEAN_KEY_K.items():
        r = next(r for r in fixed if r["dist"] == "zero-mean" and r["k"] == k)
        tag = f"fixed_{acc.replace('.', '_')}_zero_mean_k{k}"
        n[f"{tag}_wrap"] = r[acc]["wrap"] / r["trials"]
        n[f"{tag}_saturate"] = r[acc]["saturate"] / r["trials"]
        n[f"{tag}_wrap_theory"] = wrap_theory("zero-mean", acc, k)
        n[f"{tag}_saturate_theory"] = saturate_theory("zero-mean", acc, k)
    n["fixed_trials"] = fixed[0]["trials"]
    n["fixed_prediction_mismatches"] = sum(
        abs(r[a]["wrap"] - r[a]["pred_wrap"]) + abs(r[a]["saturate"] - r[a]["pred_saturate"])
        + (not r[a]["sat_equal_replay"]) for r in fixed for a in FIXED_ACCS)
    n["fixed_saturate_recoveries"] = sum(r[a]["recovered"] for r in fixed for a in FIXED_ACCS)
    n["fixed_positive_wrap_saturate_differences"] = sum(
        abs(r[a]["wrap"] - r[a]["saturate"]) for r in fixed if r["dist"] == "positive" for a in FIXED_ACCS)
    mean, _ = product_moments("positive")
    for acc, k in POSITIVE_KEY_K.items():
        tag = f"fixed_{acc.replace('.', '_')}_positive"
        r = next(r for r in fixed if r["dist"] == "positive" and r["k"] == k)
        n[f"{tag}_overflow_k_theory"] = fixed_range(acc)[1] / mean
        n[f"{tag}_k{k}_corrupted"] = r[acc]["wrap"] / r["trials"]
        n[f"{tag}_k{k}_theory"] = wrap_theory("positive", acc, k)
        r4 = next(r for r in fixed if r["dist"] == "positive" and r["k"] == 4 * k)
        n[f"{tag}_k{4 * k}_corrupted"] = r4[acc]["wrap"] / r4["trials"]
    return n


def summarize(results: list, out_dir, quick: bool) -> report.Section:
    floats = [r for r in results if "stats" in r]
    stag = [r for r in results if r.get("stagnation")]
    fixed = [r for r in results if "s16.0" in r]
    kmax = max(r["k"] for r in floats)
    numbers = {**_float_numbers(floats, kmax), **_stagnation_numbers(stag), **_fixed_numbers(fixed)}
    figures = []
    parts = _float_markdown(floats, numbers, kmax, out_dir, figures, quick)
    parts += _stagnation_markdown(stag, numbers, kmax, out_dir, figures)
    parts += _fixed_markdown(fixed, numbers, out_dir, figures)
    return report.Section(TITLE, "\n".join(parts), numbers, figures)


def _between(n, dist, kmax):
    seq, pair, blk = (n[f"fp16_{dist}_float32_{o}_median_at_k_max"] for o in
                      ("sequential", "pairwise", f"block{BLOCK}"))
    where = "between the two" if pair < blk < seq else "not between the two"
    return f"{blk:.3g} ({where})"


def _float_markdown(floats, n, kmax, out_dir, figures, quick):
    trials = {r["k"]: r["trials"] for r in floats}
    return [
        "Dot products of K random operands, rounded into float16, bfloat16, float8_e4m3fn or "
        "float8_e5m2 (nearest-even), accumulated by fxsim's model: the products are exact, and "
        "each addition is rounded once (nearest-even) into the accumulator: float32 "
        "(u = 2^-24), the custom `e8m13` (float32's exponent range, 14-bit significand, u = 2^-14) "
        f"or bfloat16 (u = 2^-8). Orders: `sequential`; `pairwise` (an adder tree); `block{BLOCK}` "
        f"(blocks of {BLOCK} products summed exactly, then added with one rounding each, as tensor "
        "cores do). Operand data: standard normal, or uniform on [0, 1), where every product is "
        "positive and the partial sums grow linearly.",
        "",
        "The reference is `math.fsum` of the exact float64 products (every product of these "
        "formats is exact in float64), the correctly rounded sum. The error is "
        "|s^ - s| / sum|p_k|, the quantity Higham's bound controls: |s^ - s| <= gamma_n sum|p_k|, "
        "gamma_n = n u / (1 - n u), with n the most roundings any product passes through: n = K "
        "for sequential (the first product is rounded into the accumulator, then K - 1 additions), "
        f"n = ceil(log2 K) for pairwise (the tree's depth), n = ceil(K/{BLOCK}) for blocks (exact "
        "block sums, then the sequential rule over them). The bound assumes no underflow or "
        "overflow, which this data does not reach; it says nothing once n u >= 1. sqrt(K) u is the "
        "typical size of a sum of K independent rounding errors, drawn for comparison only.",
        "",
        "Trials per K (independent operand vectors each): "
        + ", ".join(f"K={k}: {t}" for k, t in sorted(trials.items()))
        + ". The sweep hands fxsim the exact products (sequential: `matmul(P, ones, acc)`; "
        "blocks: the same call on the exact block sums, verified exact by an error-free TwoSum; "
        "pairwise: `fxsim.add(..., out=acc)` level by level over all trials); "
        f"{n['matmul_checks']} sampled trials were recomputed with `fxsim.matmul` on the real "
        f"operands in the stated order and {n['matmul_mismatches']} differed; "
        f"{n['block_fallback_trials']} trials had a block sum not exact in float64 and were "
        "computed by `fxsim.matmul` directly.",
        "",
        _error_figure(floats, "normal", out_dir, figures, quick),
        _error_figure(floats, "uniform", out_dir, figures, quick),
        "Findings:",
        "",
        f"- **The bound holds**: the largest measured error over all formats, orders and K is "
        f"{n['max_error_over_gamma_bound']:.5g} of its gamma_n bound (a theorem). The largest "
        f"ratios come from the single rounding of a whole block (K <= {BLOCK}), whose relative "
        "error can reach u/(1+u), just below gamma_1 = u/(1-u); with more roundings the bound is "
        "loose for random data, because errors of both signs cancel.",
        f"- **Order matters** (float16 operands, float32 accumulator, K = {kmax}): sequential "
        f"median error {n['fp16_normal_float32_sequential_median_at_k_max']:.3g} (normal data) and "
        f"{n['fp16_uniform_float32_sequential_median_at_k_max']:.3g} (uniform), pairwise "
        f"{n['fp16_normal_float32_pairwise_median_at_k_max']:.3g} and "
        f"{n['fp16_uniform_float32_pairwise_median_at_k_max']:.3g}: sequential is "
        f"{n['fp16_normal_float32_seq_over_pairwise_median']:.3g} and "
        f"{n['fp16_uniform_float32_seq_over_pairwise_median']:.3g} times worse. Blocks of {BLOCK}: "
        f"{_between(n, 'normal', kmax)} and {_between(n, 'uniform', kmax)}; they cut the number "
        f"of roundings {BLOCK}-fold, but the block sums still go down one chain.",
        f"- **sqrt(K) u is not the typical error.** The sequential median is "
        f"{n['fp16_normal_float32_sequential_median_over_sqrtK_u']:.3g} (normal) and "
        f"{n['fp16_uniform_float32_sequential_median_over_sqrtK_u']:.3g} (uniform) times sqrt(K) u. "
        "Each rounding error scales with the partial sum it rounds: positive data's partial sums "
        "grow like k, zero-mean data's only like sqrt(k), while sum|p| grows like K in both. A "
        "model with independent rounding errors uniform on +-ulp(S_j)/2 (dash-dotted line; "
        "float16 products, float32 accumulator) predicts medians of "
        f"{n['fp16_normal_float32_sequential_model_median_at_k_max']:.3g} (normal; flat in K: "
        "an O(u) relative error) and "
        f"{n['fp16_uniform_float32_sequential_model_median_at_k_max']:.3g} (uniform; growing like "
        f"sqrt(K)): measured / model = "
        f"{n['fp16_normal_float32_sequential_measured_over_model']:.3g} and "
        f"{n['fp16_uniform_float32_sequential_measured_over_model']:.3g}. Narrower products "
        "(bfloat16, FP8) round less often: adding a product of p significant bits to a float32 "
        "partial sum is exact while the sum is below about 2^(24-p) times the product.",
        f"- **Zero-mean data spare narrow accumulators**: with normal operands the sequential "
        f"bfloat16 median error is {n['fp16_normal_bfloat16_sequential_median_at_k_max']:.3g} "
        f"= {n['fp16_normal_bfloat16_sequential_median_at_k_max'] / unit_roundoff('bfloat16'):.3g} u "
        f"at K = {kmax} and about the same at every K, and pairwise errors even fall with K "
        "relative to sum|p| (the tree's partial sums grow like sqrt of their length).",
        f"- **FP8 products** have at most 8 significant bits: with float8_e4m3fn operands on "
        f"uniform data a float32 accumulator returns the exact sum in "
        f"{n['e4m3_uniform_float32_sequential_exact_fraction_k_min']:.3g} of the trials at "
        f"K = {n['float_k_min']} and {n['e4m3_uniform_float32_sequential_exact_fraction_k_max']:.3g} "
        f"at K = {kmax} (the 'exact fraction' column).",
        f"- **bfloat16 accumulators** fail sequentially on positive data: median error "
        f"{n['fp16_uniform_bfloat16_sequential_median_k1024']:.3g} at K = 1024 and "
        f"{n['fp16_uniform_bfloat16_sequential_median_at_k_max']:.3g} at K = {kmax}, the sum stuck "
        f"(next section). Pairwise keeps the bfloat16 error at "
        f"{n['fp16_uniform_bfloat16_pairwise_median_at_k_max']:.3g} (uniform) and "
        f"{n['fp16_normal_bfloat16_pairwise_median_at_k_max']:.3g} (normal) at K = {kmax}, blocks at "
        f"{n[f'fp16_uniform_bfloat16_block{BLOCK}_median_at_k_max']:.3g} and "
        f"{n[f'fp16_normal_bfloat16_block{BLOCK}_median_at_k_max']:.3g}. The custom e8m13 "
        f"(14-bit significand) shows the onset of the same effect: its sequential median error "
        f"on uniform data is {n['fp16_uniform_e8m13_sequential_median_at_k_max']:.3g} at "
        f"K = {kmax}, where the spacing near the sum K/4 is "
        f"{2.0 ** (math.floor(math.log2(kmax / 4)) - 13):.3g} against a mean product of 1/4.",
        "",
    ] + [line for dist in DISTRIBUTIONS for line in
         (f"Errors at K = {kmax}, {dist} operands ({trials[kmax]} trials):", "",
          _float_table(floats, dist, kmax), "")]


def _stagnation_markdown(stag, n, kmax, out_dir, figures):
    t = stag[0]["trials"]
    lines = [
        "### Stagnation of a bfloat16 accumulator",
        "",
        "Once a bfloat16 partial sum reaches 2^8 = 256 its spacing is 2, and adding a term in "
        "[0, 1] rounds back (a tie, 257, goes to the even 256); below 256 the spacing is at most 1, "
        "so the sum cannot jump past 256. Hence a sequential bfloat16 sum of products in [0, 1] "
        "never exceeds 256 (a theorem, by the argument just given). The expected exact sum of K uniform "
        f"products is K/4, so the relative error is at least about 1 - 1024/K "
        f"({n['bf16_acc_error_floor_at_k_max']:.3g} at K = {kmax}). When does the sum get stuck? "
        f"The recurrence was run step by step with `fxsim.add` over {t} trials "
        f"(its final sums equal `fxsim.matmul`'s: "
        + ", ".join(f"{r['fmt']} {'yes' if r['matmul_equal'] else 'NO'}" for r in stag) + "). "
        "A renewal estimate predicts it: in the binade [2^e, 2^(e+1)) the spacing is 2^(e-7) and "
        "each step adds the product rounded to that spacing, whose mean follows in closed form "
        "from the product's distribution P(XY <= p) = p - p ln p; the binade takes 2^e / mean "
        "steps. From 128 on only products above 1/2 move the sum (by 1), with probability "
        "(1 - ln 2)/2 = 0.153, so the last binade alone takes about 830 steps.",
        "",
        report.table(["operands", "median K at the cap", "10%", "90%", "never reached (of "
                      f"{t})", "sums above 256", "renewal estimate"],
                     [(r["fmt"], n[f"bf16_stagnation_k_{r['fmt']}_median"],
                       n[f"bf16_stagnation_k_{r['fmt']}_p10"], n[f"bf16_stagnation_k_{r['fmt']}_p90"],
                       n[f"bf16_stagnation_k_{r['fmt']}_not_reached"], r["above_cap"],
                       n["bf16_stagnation_k_renewal"]) for r in stag], 4),
        "",
        _stagnation_figure(stag, out_dir, figures),
    ]
    return lines


def _fixed_markdown(fixed, n, out_dir, figures):
    t = fixed[0]["trials"]
    mean0, sd0 = product_moments("zero-mean")
    meanp, sdp = product_moments("positive")
    rows = []
    for r in sorted(fixed, key=lambda r: (r["dist"], r["k"])):
        for acc in FIXED_ACCS:
            c = r[acc]
            rows.append((r["dist"], r["k"], acc, c["wrap"] / t, wrap_theory(r["dist"], acc, r["k"]),
                         c["saturate"] / t, saturate_theory(r["dist"], acc, r["k"]),
                         c["left_range"] / t, c["recovered"], c["wrap_err"], c["sat_err"]))
    se = 0.5 / math.sqrt(t)
    zero = []
    for acc, k in ZERO_MEAN_KEY_K.items():
        tag = f"fixed_{acc.replace('.', '_')}_zero_mean_k{k}"
        zero.append(f" At K = {k} in {acc}: wrap corrupts {n[f'{tag}_wrap']:.3f} of the results "
                    f"(Gaussian tail {n[f'{tag}_wrap_theory']:.3f}), saturate "
                    f"{n[f'{tag}_saturate']:.3f} (Brownian estimate "
                    f"{n[f'{tag}_saturate_theory']:.3f}).")
    return [
        "### Narrow fixed-point accumulators: wrap against saturate",
        "",
        f"int8 x int8 dot products (one `fxsim.matmul` per trial, {t} trials per K) with both "
        f"operands uniform on [-128, 127] (zero-mean; product mean {mean0:.3g}, standard deviation "
        f"{sd0:.4g}) or on [0, 127] (positive; every product >= 0, mean {meanp:.5g}, sd {sdp:.5g}), "
        "accumulated sequentially in `s16.0` (range -32768..32767) or `s20.0` (-524288..524287). "
        "A result is corrupted when it differs from the exact sum. Wrap is exact arithmetic modulo "
        "2^word, so it is corrupted exactly when the final sum is out of range; saturate clamps "
        "every partial sum, so it is corrupted whenever a partial sum leaves the range, unless a "
        "later clamp at the other end cancels the offset exactly (possible: in a 4-bit accumulator, "
        "range -8..7, the terms 7, 3, -18, 8 saturate to 7, 7, -8, 0, and the exact sum is 0). "
        "The counts were predicted from int64 cumulative sums (final sum out of range) and an "
        "int64 replay of the clamp recurrence: the total disagreement with fxsim over all K and "
        f"both accumulators is {n['fixed_prediction_mismatches']}. Trials whose partial sums left "
        f"the range but whose saturated result was exact anyway: {n['fixed_saturate_recoveries']}. "
        f"Fractions are Monte Carlo estimates (standard error at most {se:.3f}).",
        "",
        _fixed_figure(fixed, out_dir, figures),
        "- **Zero-mean data: wrapping corrupts fewer results.** The sum is a random walk, and a "
        "walk's maximum passes a level about twice as often as its end point does (reflection "
        "principle), so saturation corrupts up to twice as many results (more once the range is "
        "reached at all)." + "".join(zero)
        + " The Brownian estimate is high for short sums: the discrete walk is seen only at its "
        "K steps.",
        "- **But the errors differ in kind**: a wrapped result is off by a whole multiple of "
        "2^word (at least two units of 2^(word-1), typically a sign flip); a saturated one by how "
        "far the walk went past the range (last two columns: median |error| of the corrupted "
        "results in units of 2^(word-1)).",
        f"- **Positive data: the two coincide.** Partial sums only grow, so one leaves the range "
        f"exactly when the final sum does (difference between the wrap and saturate counts over "
        f"all K: {n['fixed_positive_wrap_saturate_differences']}). The mean sum leaves the range "
        f"at K = hi / mean product = "
        f"{n['fixed_s16_0_positive_overflow_k_theory']:.3g} (s16.0) and "
        f"{n['fixed_s20_0_positive_overflow_k_theory']:.4g} (s20.0); there the corrupted fraction "
        f"is {n['fixed_s16_0_positive_k8_corrupted']:.3f} at K = 8 (Gaussian tail "
        f"{n['fixed_s16_0_positive_k8_theory']:.3f}) and {n['fixed_s20_0_positive_k128_corrupted']:.3f} "
        f"at K = 128 ({n['fixed_s20_0_positive_k128_theory']:.3f}); four times later it is "
        f"{n['fixed_s16_0_positive_k32_corrupted']:.3f} and {n['fixed_s20_0_positive_k512_corrupted']:.3f}.",
        "",
        report.table(["data", "K", "acc", "wrap", "wrap theory", "saturate", "saturate theory",
                      "partial sum left range", "saturate recovered", "wrap median |err| / 2^(w-1)",
                      "saturate median |err| / 2^(w-1)"], rows, 3),
    ]
