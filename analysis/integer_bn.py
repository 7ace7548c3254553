"""Integer batch norm: requantization rounding, exact thresholds, shift-based
BN, Lin et al.'s shared-scale BN and Graham's k-bit normalized activations.

Five parts, each a set of seeded tasks and a part of the report:

1. **Requantization** (gemmlowp / TFLite).  For random int32 accumulators
   ``acc`` and real multipliers ``M`` (``log2 M`` uniform over the octaves
   of :data:`REQ_OCTAVES`), ``fxsim.nn.multiply_by_quantized_multiplier``
   with ``rounding="double"`` and ``"single"`` is compared with

   * the exact ``round(acc * m0 * 2**(shift - 31))`` of the *quantized*
     multiplier (int64 integer arithmetic, no float: ``acc * m0`` is below
     ``2**62``), which isolates the rounding steps, and
   * the exact ``round(acc * M)`` of the *real* float64 multiplier (Python
     integers: ``M`` is read as the dyadic rational it holds), which adds the
     31-bit multiplier quantization.

   Both references round half toward +inf, the convention of single
   rounding.  Theory: single rounding *is* that exact rounding (0 LSB); the
   double rounding rounds the high-mul to an integer ``n`` first, then
   ``n / 2**r`` (``r = -shift``) half away from zero, so it can only differ
   at a tie of the second step (``n mod 2**r == 2**(r-1)``), by 1 LSB; with
   ``n`` uniform modulo ``2**r`` a tie has probability ``2**-r`` and half of
   the ties go the wrong way: a fraction ``2**-(r+1)`` of the outputs.
   The double path is also recomputed independently in int64 (the high-mul
   ``(acc * 2**left * m0 + 2**30) >> 31``) to locate the ties.

2. **Thresholds**.  BN followed by sign or by a k-bit fixed-point
   activation (:data:`THR_ACT`, nearest-even, saturating), on every integer
   accumulator ``|x| <= 2**THR_X_BITS`` (exhaustive), random BN parameters
   held in float32.  Three computations are compared with the exact
   rational BN (decided with integer arithmetic: the sign of ``P + Q *
   sqrt(q)`` from the squares, as ``reference/bn.py``): fxsim's integer
   thresholds (``thresholds_sign`` / ``thresholds_kbit`` +
   ``apply_thresholds``), and the same BN evaluated in float32 and in
   float16 (every operation rounded to the precision, parameters and ``x``
   cast to it), in the direct form ``gamma*(x - mean)/sqrt(var + eps) +
   beta`` and in the folded form ``a*x + b`` (``a = gamma/s``, ``b = beta -
   a*mean``, computed in the precision), then quantized by fxsim.

3. **Shift-based BN** (Hubara et al.).  ``fxsim.nn.shift_bn`` on Gaussian
   batches of random scale and mean, against the float64 BN ``(x -
   mean)/sqrt(var + eps)`` (gamma = 1, beta = 0).  Its output is the exact
   BN times a per-channel *effective scale ratio* = (AP2 factor
   ``AP2(u)/u``, ``u = 1/sqrt(var_ap2 + eps)``, in ``[2**-1/2, 2**1/2]``) x
   (variance factor ``sqrt((var + eps)/(var_ap2 + eps))`` from ``var_ap2 =
   mean(C * AP2(C))``, in ``[2**-1/4, 2**1/4]``).

4. **Lin et al.**  ``fxsim.nn.shared_scale_bn`` (exact search and
   exhaustive proof) for random ``(a, b)`` on 8-, 12- and 16-bit input
   ranges: the smallest ``k <= 32`` with ``(A*x + B) >> k == round(a*x +
   b)`` (nearest even), or none.

5. **Graham**.  ``fxsim.nn.graham_bn`` with ``z`` rounded (nearest even,
   saturating) into the k-bit fixed format ``s k.(k - 1 - log2 c)``, whose
   range is ``[-c, c - 2**-(k-1-log2 c)]``, for clip ranges ``c`` in
   :data:`GRAHAM_CLIPS` and ``k = 1..16``: RMS error of the BN output
   against the float64 BN (Monte Carlo over Gaussian batches), against the
   Gaussian model ``step**2/12 * P(inside) + clipping term`` (closed form),
   and memory per stored activation (``k`` bits against 32).

What is exact and what is estimated.  Every comparison with a reference is
exact (integers, Fractions, exhaustive over x where stated); what is
sampled is the population of inputs: the requantization fractions are
binomial estimates (the report gives the model's expected count and its
standard deviation), the threshold disagreement rates are exact over x for
a random sample of channels (a count of 0 bounds the rate by 3/N at 95%,
rule of three), the shift-BN and Lin et al. distributions are over random
channels / cases, and Graham's RMS errors are Monte Carlo over Gaussian
batches (relative standard error about 1/sqrt(2N) in the granular region;
the saturation floor rests on the few values beyond the clip range, and
the report gives their count).

Every random draw comes from ``np.random.default_rng(seed)`` with the seed
in the task's arguments.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fxsim import FixedFormat, decode, encode
from fxsim import format as fxformat
from fxsim import nn

from . import report
from .sweep import Task

TITLE = "Integer BN: requantization, thresholds, shift BN, shared-scale BN, Graham's k-bit BN"

#: Octaves of the real multiplier: log2 M uniform in [e, e + 1) for each e.
REQ_OCTAVES = tuple(range(-12, 4))
#: Accumulator ranges: "int32" (as large as the int32 pipeline allows) and
#: "16-bit" (|acc| < 2**16, a typical int8 convolution sum).
REQ_RANGES = ("int32", "16-bit")
#: Bin edges (LSB) of the error histograms against the real product acc * M.
REQ_BINS = np.linspace(-1.5, 1.5, 121)

#: Accumulators of the threshold study: every integer in [-2**12, 2**12).
THR_X_BITS = 12
#: The k-bit activation after BN: signed 4-bit, step 1/2, range [-4, 3.5].
THR_ACT = "s4.1"
THR_PRECISIONS = ("float32", "float16")
THR_FORMS = ("direct", "folded")
THR_EPS = 1e-5

SHIFT_EPS = 1e-5
SHIFT_BATCH = 256

#: Input ranges of the Lin et al. study (signed, in bits).
LIN_BITS = (8, 12, 16)
LIN_K_MAX = 32

#: Graham: k-bit formats s k.(k-1-log2 c) for these clip ranges c.
GRAHAM_CLIPS = (4, 8)
GRAHAM_KS = tuple(range(1, 17))
GRAHAM_EPS = 1e-5
#: The granular region where the 6.02 dB/bit slope is fitted, per clip range.
GRAHAM_FIT = {4: (3, 8), 8: (4, 10)}

_SEED = {"requant": 64_100_000, "thresholds": 64_200_000, "shift": 64_300_000,
         "lin": 64_400_000, "graham": 64_500_000}


# =================================================================== 1. requantization
def acc_bound(octave: int, acc_range: str) -> int:
    """Largest |acc| drawn for multipliers in [2**octave, 2**(octave+1)).

    ``quantize_multiplier`` gives ``shift <= octave + 2`` (``octave + 2``
    only when ``m0`` rounds up to 2**31), so ``|acc| <= 2**(29 - octave) -
    1`` keeps ``acc * 2**max(shift, 0)`` (double rounding) and ``acc * M``
    (single rounding) inside int32."""
    bound = (1 << 31) - 1 if octave + 2 <= 0 else (1 << (29 - octave)) - 1
    if acc_range == "16-bit":
        bound = min(bound, (1 << 16) - 1)
    elif acc_range != "int32":
        raise ValueError(f"acc_range must be one of {REQ_RANGES}, got {acc_range!r}")
    return bound


def round_half_up_pot(num, s):
    """``floor(num / 2**s + 1/2)`` for int64 ``num`` (|num| < 2**62) and
    shifts ``s`` in [1, 62] (arrays broadcast): exact integer arithmetic."""
    num = np.asarray(num, np.int64)
    s = np.asarray(s, np.int64)
    return (num + np.left_shift(np.int64(1), s - 1)) >> s


def exact_round_real(acc_row, M: float):
    """``(rounded, prod, d)`` for an int64 row ``acc`` and a float ``M``:
    ``M`` is read as the dyadic rational ``p / 2**d`` it holds, ``prod =
    acc * p`` (object array of Python ints) and ``rounded = floor(acc * M +
    1/2)`` exactly (ties toward +inf)."""
    p, q = float(M).as_integer_ratio()
    d = q.bit_length() - 1
    prod = acc_row.astype(object) * p
    if d == 0:
        return prod, prod, 0
    rounded = (prod + (1 << (d - 1))) >> d
    return rounded, prod, d


def requant_task(octave: int, acc_range: str, n_mult: int, n_acc: int, seed: int) -> dict:
    """One octave of multipliers, one accumulator range: counts of the
    double/single results that differ from the exact references, the
    second-step ties of the double rounding, and histograms of the error
    against the real product ``acc * M`` (in LSBs)."""
    rng = np.random.default_rng(seed)
    M = 2.0 ** (octave + rng.random(n_mult))
    m0, shift = nn.quantize_multiplier(M)
    bound = acc_bound(octave, acc_range)
    acc = rng.integers(-bound, bound + 1, size=(n_mult, n_acc), dtype=np.int64)
    m0c, shc = m0[:, None], shift[:, None]
    double = nn.multiply_by_quantized_multiplier(acc, m0c, shc, "double").astype(np.int64)
    single = nn.multiply_by_quantized_multiplier(acc, m0c, shc, "single").astype(np.int64)

    # Exact rounding of acc * m0 * 2**(shift - 31) (int64: |acc * m0| < 2**62).
    exact_q = round_half_up_pot(acc * m0c, 31 - shc)

    # The double rounding recomputed in int64: high-mul rounded half up,
    # then n / 2**r rounded half away from zero.
    left, r = np.maximum(shc, 0), np.maximum(-shc, 0)
    n = ((acc << left) * m0c + (1 << 30)) >> 31
    half = np.where(r > 0, np.left_shift(np.int64(1), np.maximum(r - 1, 0)), 0)
    mag = (np.abs(n) + half) >> r
    double_ref = np.sign(n) * mag
    rem = n & (np.left_shift(np.int64(1), r) - 1)
    tie2 = (r > 0) & (rem == half)

    diff_double = double - exact_q
    diff_single = single - exact_q
    bad_double = diff_double != 0

    # Against the real multiplier (exact, Python ints per multiplier row).
    ne_real = {"double": 0, "single": 0}
    max_real = {"double": 0, "single": 0}
    max_abs_err = {"double": 0.0, "single": 0.0}
    sq_err = {"double": 0.0, "single": 0.0}
    hist = {"double": np.zeros(len(REQ_BINS) - 1, np.int64),
            "single": np.zeros(len(REQ_BINS) - 1, np.int64)}
    exact_q_ne_real = 0
    for i in range(n_mult):
        rounded, prod, d = exact_round_real(acc[i], float(M[i]))
        exact_q_ne_real += int(np.count_nonzero(exact_q[i].astype(object) != rounded))
        for name, res in (("double", double[i]), ("single", single[i])):
            res_o = res.astype(object)
            delta = res_o - rounded
            ne_real[name] += int(np.count_nonzero(delta != 0))
            max_real[name] = max(max_real[name], int(np.abs(delta).max()))
            err = np.asarray(((res_o << d) - prod), dtype=np.float64) / 2.0 ** d
            max_abs_err[name] = max(max_abs_err[name], float(np.abs(err).max()))
            sq_err[name] += float(np.sum(err * err))
            hist[name] += np.histogram(np.clip(err, REQ_BINS[0], REQ_BINS[-1]), REQ_BINS)[0]

    theory = np.where(r[:, 0] > 0, 2.0 ** (-(r[:, 0] + 1).astype(float)), 0.0)
    return {
        "octave": octave, "acc_range": acc_range, "n": int(acc.size),
        "shift_min": int(shift.min()), "shift_max": int(shift.max()),
        "double_ne_exact": int(np.count_nonzero(bad_double)),
        "single_ne_exact": int(np.count_nonzero(diff_single)),
        "double_max_lsb": int(np.abs(diff_double).max()),
        "single_max_lsb": int(np.abs(diff_single).max()),
        "double_plus": int(np.count_nonzero(diff_double > 0)),
        "double_minus": int(np.count_nonzero(diff_double < 0)),
        "double_ref_mismatch": int(np.count_nonzero(double_ref != double)),
        "ties2": int(np.count_nonzero(tie2)),
        "double_ne_at_tie": int(np.count_nonzero(bad_double & tie2)),
        "double_ne_off_tie": int(np.count_nonzero(bad_double & ~tie2)),
        "expected_double_ne": float(theory.sum() * n_acc),
        "exact_q_ne_real": exact_q_ne_real,
        "double_ne_real": ne_real["double"], "single_ne_real": ne_real["single"],
        "double_max_lsb_real": max_real["double"], "single_max_lsb_real": max_real["single"],
        "double_max_err_real": max_abs_err["double"], "single_max_err_real": max_abs_err["single"],
        "double_sq_err_real": sq_err["double"], "single_sq_err_real": sq_err["single"],
        "hist_double": hist["double"], "hist_single": hist["single"],
    }


# =================================================================== 2. thresholds
def draw_bn_params(rng, n_channels: int) -> dict:
    """Random BN parameters, each a float32 value (exact in float32 and,
    read as float64, the exact rationals of the model).  The scale keeps
    ``var`` inside float16's range (sigma in [4, 128])."""
    f32 = np.float32
    sigma = 2.0 ** rng.uniform(2, 7, n_channels)
    sign = np.where(rng.random(n_channels) < 0.5, -1.0, 1.0)
    return {
        "gamma": (sign * 2.0 ** rng.uniform(-2, 2, n_channels)).astype(f32),
        "beta": rng.normal(0.0, 1.5, n_channels).astype(f32),
        "mean": rng.uniform(-1024, 1024, n_channels).astype(f32),
        "var": (sigma * sigma).astype(f32),
        "eps": np.full(n_channels, THR_EPS, f32),
    }


class ExactBN:
    """The rational BN ``y(x) = gamma*(x - mean)/sqrt(var + eps) + beta`` of
    one channel, decided exactly with Python integers.

    ``sign_minus(x, c_num, c_exp)`` is the sign of ``y(x) - c_num /
    2**c_exp`` for an int array ``x`` (``c_num`` an int or int array):
    after multiplying by a positive common denominator it is the sign of
    ``Pi + Qi * sqrt(q)`` with integers ``Pi``, ``Qi``; when their signs
    differ, ``Pi**2 * q_den`` against ``Qi**2 * q_num`` decides.  The square
    root is never computed."""

    def __init__(self, gamma, beta, mean, var, eps):
        self.g, self.b = Fraction(float(gamma)), Fraction(float(beta))
        self.mu = Fraction(float(mean))
        self.q = Fraction(float(var)) + Fraction(float(eps))

    def y64(self, x):
        """A float64 estimate of y (a first guess only)."""
        return float(self.g) * (x - float(self.mu)) / math.sqrt(float(self.q)) + float(self.b)

    def sign_minus(self, x, c_num, c_exp: int):
        g, b, mu, q = self.g, self.b, self.mu, self.q
        D2 = math.lcm(b.denominator, 1 << c_exp)
        xo = np.asarray(x).astype(object)
        Pi = g.numerator * (xo * mu.denominator - mu.numerator) * D2
        c = np.asarray(c_num).astype(object) if np.ndim(c_num) else int(c_num)
        Qi = ((b.numerator * (D2 // b.denominator) - c * (D2 >> c_exp))
              * (g.denominator * mu.denominator))
        Qi = np.broadcast_to(np.asarray(Qi, dtype=object), xo.shape)
        sP = (Pi > 0).astype(np.int64) - (Pi < 0).astype(np.int64)
        sQ = (Qi > 0).astype(np.int64) - (Qi < 0).astype(np.int64)
        d = Pi * Pi * q.denominator - Qi * Qi * q.numerator
        sd = (d > 0).astype(np.int64) - (d < 0).astype(np.int64)
        opposite = (sP != 0) & (sQ != 0) & (sP != sQ)
        plain = np.where(sQ == 0, sP, sQ)
        return np.where(opposite, np.where(sd > 0, sP, np.where(sd < 0, sQ, 0)), plain)

    def sign_value(self, x):
        """Hubara's sign of y: +1 where y >= 0, else -1 (exact)."""
        return np.where(self.sign_minus(x, 0, 0) >= 0, 1, -1)

    def fixed_code(self, x, fmt):
        """The integer code of ``y`` rounded to nearest-even into the signed
        fixed format ``fmt`` and saturated (exact).  ``floor(y * 2**F)`` is
        found from a float64 estimate corrected by exact comparisons; values
        the estimate puts two or more steps beyond the range are confirmed
        beyond it exactly."""
        fmt = _fixed(fmt)
        F, lo, hi = fmt.frac, fmt.int_min, fmt.int_max
        t = np.clip(self.y64(np.asarray(x, np.float64)) * 2.0 ** F, lo - 3, hi + 3)
        n = np.floor(t).astype(np.int64)
        below, above = n <= lo - 3, n >= hi + 3
        near = ~(below | above)
        code = np.empty(len(x), np.int64)
        if below.any():
            assert (self.sign_minus(x[below], lo - 2, F) < 0).all()
            code[below] = lo
        if above.any():
            assert (self.sign_minus(x[above], hi + 2, F) >= 0).all()
            code[above] = hi
        xn, fl = x[near], n[near]
        for _ in range(4):  # n <= y * 2**F < n + 1, exactly
            low = self.sign_minus(xn, fl, F) < 0
            high = self.sign_minus(xn, fl + 1, F) >= 0
            if not (low.any() or high.any()):
                break
            fl = fl - low + high
        else:
            raise AssertionError("fixed_code: the float64 estimate is off by more than 4 steps")
        h = self.sign_minus(xn, 2 * fl + 1, F + 1)
        up = (h > 0) | ((h == 0) & (fl % 2 == 1))
        code[near] = np.clip(fl + up, lo, hi)
        return code


def _fixed(fmt) -> FixedFormat:
    """A FixedFormat from a format or its name."""
    return fxformat(fmt)


def float_bn(x, p: dict, dtype, form: str):
    """BN of the accumulators ``x`` (N,) for every channel of ``p`` -> (N, C),
    every operation rounded to ``dtype`` (numpy float16 arithmetic rounds
    each float32 result to float16, which is correctly rounded for + - * /
    and sqrt); parameters and x are cast to ``dtype`` first."""
    dt = np.dtype(dtype)
    xs = np.asarray(x).astype(dt)[:, None]
    g, b, mu, var, eps = (np.asarray(p[k]).astype(dt) for k in ("gamma", "beta", "mean", "var",
                                                                  "eps"))
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.sqrt(var + eps)
        if form == "direct":
            return g * (xs - mu) / s + b
        a = g / s
        c = b - a * mu
        return a * xs + c


def code_of(values, fmt):
    """Integer codes of ``values`` rounded by fxsim (nearest even, saturate)."""
    fmt = _fixed(fmt)
    q = decode(encode(values, fmt, "nearest_even", "saturate"), fmt)
    return np.rint(np.asarray(q) * 2.0 ** fmt.frac).astype(np.int64)


def thresholds_task(n_channels: int, x_bits: int, seed: int) -> dict:
    """Exhaustive comparison over x in [-2**x_bits, 2**x_bits) for random BN
    channels: fxsim's thresholds and the float32/float16 BN against the
    exact rational BN, for sign and for :data:`THR_ACT`."""
    rng = np.random.default_rng(seed)
    p = draw_bn_params(rng, n_channels)
    x = np.arange(-(1 << x_bits), 1 << x_bits, dtype=np.int64)
    fmt = _fixed(THR_ACT)
    args = [np.asarray(p[k], np.float64) for k in ("gamma", "beta", "mean", "var", "eps")]
    xx = np.broadcast_to(x[:, None], (len(x), n_channels))
    th_sign = nn.thresholds_sign(*args)
    th_k = nn.thresholds_kbit(*args, fmt, rounding="nearest_even")
    sign_fx = 2 * nn.apply_thresholds(xx, th_sign, axis=1) - 1
    code_fx = nn.apply_thresholds(xx, th_k, axis=1) + fmt.int_min

    sign_ex = np.empty((len(x), n_channels), np.int64)
    code_ex = np.empty((len(x), n_channels), np.int64)
    for c in range(n_channels):
        bn = ExactBN(*(a[c] for a in args))
        sign_ex[:, c] = bn.sign_value(x)
        code_ex[:, c] = bn.fixed_code(x, fmt)

    out = {"n": int(sign_ex.size), "channels": n_channels,
           "thr_sign_mismatch": int(np.count_nonzero(sign_fx != sign_ex)),
           "thr_kbit_mismatch": int(np.count_nonzero(code_fx != code_ex)),
           "sign_levels_used": int(np.count_nonzero((sign_ex == 1).any(0)
                                                     & (sign_ex == -1).any(0)))}
    for prec in THR_PRECISIONS:
        for form in THR_FORMS:
            y = float_bn(x, p, prec, form)
            sign_f = np.where(y >= 0, 1, -1)
            code_f = code_of(y, fmt)
            key = f"{prec}_{form}"
            for act, got, want, step in (("sign", sign_f, sign_ex, 2),
                                         ("kbit", code_f, code_ex, 1)):
                bad = got != want
                out[f"{act}_{key}"] = int(np.count_nonzero(bad))
                out[f"{act}_{key}_channels"] = int(np.count_nonzero(bad.any(0)))
                out[f"{act}_{key}_max"] = int(np.abs(got - want).max()) // step
                out[f"{act}_{key}_dist"] = max_distance_to_change(x, want, bad)
    return out


def max_distance_to_change(x, exact, bad) -> int:
    """Over the flagged (x, channel) pairs, the largest distance from x to the
    nearest threshold of the channel (an x whose exact output differs from
    that of x - 1); 0 when nothing is flagged, len(x) for a channel whose
    exact output never changes."""
    worst = 0
    for c in np.flatnonzero(bad.any(0)):
        steps = x[1:][exact[1:, c] != exact[:-1, c]]
        if steps.size == 0:
            return len(x)
        xb = x[bad[:, c]]
        worst = max(worst, int(np.abs(xb[:, None] - steps[None, :]).min(axis=1).max()))
    return worst


# =================================================================== 3. shift BN
def shift_task(n_channels: int, batch: int, seed: int) -> dict:
    """shift_bn against the float64 BN on Gaussian batches: per channel the
    log2 of the scale, the effective scale ratio (shift BN / exact BN, the
    median over the channel's values) and its two factors; the per-value
    relative errors' median, 90th percentile and max, and the largest gap
    between a value's relative error and its channel's |ratio - 1|."""
    rng = np.random.default_rng(seed)
    log2_sigma = rng.uniform(-4, 8, n_channels)
    sigma = 2.0 ** log2_sigma
    mu = sigma * rng.uniform(-8, 8, n_channels)
    x = mu + sigma * rng.standard_normal((batch, n_channels))
    y_shift = nn.shift_bn(x, eps=SHIFT_EPS)
    c = x - x.mean(axis=0)
    var = np.mean(c * c, axis=0)
    y = c / np.sqrt(var + SHIFT_EPS)
    nz = y != 0
    ratio = np.median(np.where(nz, y_shift / np.where(nz, y, 1.0), np.nan), axis=0)
    rel = np.abs(y_shift - y)[nz] / np.abs(y[nz])
    var_ap2 = np.mean(c * nn.ap2(c), axis=0)
    u = 1.0 / np.sqrt(var_ap2 + SHIFT_EPS)
    ap2_factor = nn.ap2(u) / u
    var_factor = np.sqrt((var + SHIFT_EPS) / (var_ap2 + SHIFT_EPS))
    per_value_gap = np.abs(rel - np.broadcast_to(np.abs(ratio - 1), y.shape)[nz])
    return {"log2_sigma": log2_sigma, "log2_std": 0.5 * np.log2(var_ap2 + SHIFT_EPS),
            "ratio": ratio, "ap2_factor": ap2_factor,
            "var_factor": var_factor, "rel_q": np.quantile(rel, [0.5, 0.9, 1.0]),
            "rel_gap_max": float(per_value_gap.max()), "n_values": int(rel.size)}


# =================================================================== 4. Lin et al.
def draw_lin_params(rng) -> tuple:
    """(a, b) as float64: |a| = 2**U(-8, 0) with a random sign, b ~ U(-32, 32)."""
    a = float(2.0 ** rng.uniform(-8, 0)) * (1 if rng.random() < 0.5 else -1)
    return a, float(rng.uniform(-32, 32))


def lin_task(x_bits: int, n_cases: int, seed: int, k_max: int = LIN_K_MAX) -> dict:
    """Smallest k of shared_scale_bn on [-2**(x_bits-1), 2**(x_bits-1)) for
    ``n_cases`` random (a, b); -1 where no k <= k_max works.  Also the bits
    of A (two's complement, sign included)."""
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1
    ks, a_bits, params = [], [], []
    for _ in range(n_cases):
        a, b = draw_lin_params(rng)
        params.append((a, b))
        try:
            res = nn.shared_scale_bn(a, b, lo, hi, k_max=k_max)
        except ValueError:
            ks.append(-1)
            a_bits.append(-1)
            continue
        ks.append(res.k)
        a_bits.append(abs(res.A).bit_length() + 1)
    return {"x_bits": x_bits, "k": np.array(ks), "a_bits": np.array(a_bits), "params": params}


# =================================================================== 5. Graham
def graham_format(k: int, clip: int) -> FixedFormat:
    """The k-bit signed format with range [-clip, clip - step]: s k.(k-1-log2 clip)."""
    return FixedFormat(k, k - 1 - int(math.log2(clip)))


def graham_theory_mse(k: int, clip: int) -> float:
    """Mean square error of rounding z ~ N(0, 1) to nearest into
    :func:`graham_format`: ``step**2/12`` inside the range (uniform error
    model), plus the exact Gaussian integrals of ``(z - hi)**2`` above
    ``hi + step/2`` and ``(z - lo)**2`` below ``lo - step/2`` (saturation)."""
    from scipy.stats import norm

    fmt = graham_format(k, clip)
    step = 2.0 ** -fmt.frac
    lo, hi = fmt.int_min * step, fmt.int_max * step

    def tail(t, u):  # integral over z > u of (z - t)**2 phi(z)
        return (u * norm.pdf(u) + norm.sf(u)) - 2 * t * norm.pdf(u) + t * t * norm.sf(u)

    inside = norm.cdf(hi + step / 2) - norm.cdf(lo - step / 2)
    return step * step / 12 * inside + tail(hi, hi + step / 2) + tail(-lo, -(lo - step / 2))


def graham_task(clip: int, n_channels: int, batch: int, seed: int) -> dict:
    """graham_bn with z in graham_format(k, clip), k = 1..16, gamma = 1, beta
    = 0, on Gaussian batches (random per-channel mean and scale): the sum of
    squared errors of the output against the float64 BN computed here, and
    the bits per stored activation."""
    rng = np.random.default_rng(seed)
    sigma = 2.0 ** rng.uniform(-4, 4, n_channels)
    mu = sigma * rng.uniform(-4, 4, n_channels)
    x = mu + sigma * rng.standard_normal((batch, n_channels))
    c = x - x.mean(axis=0)
    y64 = c / np.sqrt(np.mean(c * c, axis=0) + GRAHAM_EPS)
    sse, bits, clipped = [], [], []
    for k in GRAHAM_KS:
        y, cache = nn.graham_bn(x, graham_format(k, clip), eps=GRAHAM_EPS)
        e = y - y64
        sse.append(float(np.sum(e * e)))
        bits.append(cache.bits_per_activation)
        fmt = graham_format(k, clip)
        step = 2.0 ** -fmt.frac
        clipped.append(int(np.count_nonzero((y64 > fmt.int_max * step + step / 2)
                                            | (y64 < fmt.int_min * step - step / 2))))
    return {"clip": clip, "n": int(x.size), "sse": np.array(sse), "bits": np.array(bits),
            "clipped": np.array(clipped)}


# =================================================================== the sweep
def tasks(quick: bool) -> list[Task]:
    out = []
    n_mult, n_acc = (16, 512) if quick else (64, 2048)
    i = 0
    for acc_range in REQ_RANGES:
        for e in REQ_OCTAVES:
            out.append(Task(requant_task, dict(octave=e, acc_range=acc_range, n_mult=n_mult,
                                               n_acc=n_acc, seed=_SEED["requant"] + i),
                            f"requant 2^{e} {acc_range}"))
            i += 1
    n_thr, ch = (4, 4) if quick else (24, 8)
    for j in range(n_thr):
        out.append(Task(thresholds_task, dict(n_channels=ch, x_bits=THR_X_BITS,
                                              seed=_SEED["thresholds"] + j), f"thresholds {j}"))
    n_shift, ch = (4, 64) if quick else (8, 256)
    for j in range(n_shift):
        out.append(Task(shift_task, dict(n_channels=ch, batch=SHIFT_BATCH,
                                         seed=_SEED["shift"] + j), f"shift BN {j}"))
    lin_plan = {8: (4, 25), 12: (4, 10), 16: (4, 3)} if quick else \
               {8: (10, 60), 12: (10, 30), 16: (24, 8)}
    j = 0
    for bits in LIN_BITS:
        n_tasks, n_cases = lin_plan[bits]
        for _ in range(n_tasks):
            out.append(Task(lin_task, dict(x_bits=bits, n_cases=n_cases, seed=_SEED["lin"] + j),
                            f"Lin {bits}-bit"))
            j += 1
    n_gr, batch, ch = (2, 1024, 128) if quick else (6, 2048, 128)
    j = 0
    for clip in GRAHAM_CLIPS:
        for _ in range(n_gr):
            out.append(Task(graham_task, dict(clip=clip, n_channels=ch, batch=batch,
                                              seed=_SEED["graham"] + j), f"Graham clip {clip}"))
            j += 1
    return out


# =================================================================== summary
def _split(results):
    parts = {"requant": [], "thresholds": [], "shift": [], "lin": [], "graham": []}
    for r in results:
        if "octave" in r:
            parts["requant"].append(r)
        elif "thr_sign_mismatch" in r:
            parts["thresholds"].append(r)
        elif "ap2_factor" in r:
            parts["shift"].append(r)
        elif "x_bits" in r:
            parts["lin"].append(r)
        else:
            parts["graham"].append(r)
    return parts


def _sum(rows, key):
    return sum(r[key] for r in rows)


def summarize_requant(rows, out_dir, figures, numbers) -> str:
    md = ["### Requantization: double versus single rounding", "",
          f"For each octave `[2^e, 2^(e+1))` ({len(REQ_OCTAVES)} octaves, e = "
          f"{REQ_OCTAVES[0]}..{REQ_OCTAVES[-1]}), {rows[0]['n'] // 1} outputs per octave and "
          "accumulator range: random multipliers (`log2 M` uniform in the octave), quantized by "
          "`quantize_multiplier` to `m0 * 2^(shift-31)`, times uniform random accumulators: "
          "`int32` (|acc| up to 2^31 - 1, or 2^(29-e) - 1 where the int32 pipeline needs it) "
          "and `16-bit` (|acc| < 2^16). *Exact (quantized M)* is `round(acc * m0 * "
          "2^(shift-31))` in int64 integer arithmetic; *exact (real M)* is `round(acc * M)` "
          "with M the float64's exact rational, in Python integers; both round half toward "
          "+inf (single rounding's convention). The theory column is the expected fraction "
          "2^-(r+1) with r = -shift (0 for shift >= 0), averaged over the drawn multipliers.",
          ""]
    head = ["range", "octave e", "shift", "double != exact (q)", "theory", "ties of step 2",
            "single != exact (q)", "max LSB double", "max LSB single",
            "double != exact (real)", "single != exact (real)", "max abs(err) vs acc*M, double",
            "single"]
    table_rows = []
    for r in rows:
        n = r["n"]
        table_rows.append([r["acc_range"], r["octave"],
                           f"{r['shift_min']}..{r['shift_max']}" if r["shift_min"] != r["shift_max"]
                           else str(r["shift_min"]),
                           r["double_ne_exact"] / n, r["expected_double_ne"] / n, r["ties2"] / n,
                           r["single_ne_exact"] / n, r["double_max_lsb"], r["single_max_lsb"],
                           r["double_ne_real"] / n, r["single_ne_real"] / n,
                           r["double_max_err_real"], r["single_max_err_real"]])
    md.append(report.table(head, table_rows, digits=3))

    n_all = _sum(rows, "n")
    d_ne = _sum(rows, "double_ne_exact")
    expected = sum(r["expected_double_ne"] for r in rows)
    at_tie, off_tie, ties = (_sum(rows, k) for k in ("double_ne_at_tie", "double_ne_off_tie",
                                                     "ties2"))
    numbers.update({
        "requant_frac_double_ne_exact": d_ne / n_all,
        "requant_frac_double_ne_exact_theory": expected / n_all,
        "requant_frac_single_ne_exact": _sum(rows, "single_ne_exact") / n_all,
        "requant_max_lsb_double": max(r["double_max_lsb"] for r in rows),
        "requant_max_lsb_single": max(r["single_max_lsb"] for r in rows),
        "requant_frac_double_ne_at_step2_tie": at_tie / max(d_ne, 1),
        "requant_frac_step2_ties_misrounded": at_tie / max(ties, 1),
        "requant_double_independent_mismatches": _sum(rows, "double_ref_mismatch"),
    })
    for rng_name in REQ_RANGES:
        sub = [r for r in rows if r["acc_range"] == rng_name]
        n_sub = _sum(sub, "n")
        key = rng_name.replace("-", "")
        numbers[f"requant_frac_double_ne_real_{key}"] = _sum(sub, "double_ne_real") / n_sub
        numbers[f"requant_frac_single_ne_real_{key}"] = _sum(sub, "single_ne_real") / n_sub
        numbers[f"requant_max_lsb_double_real_{key}"] = max(r["double_max_lsb_real"] for r in sub)
        numbers[f"requant_max_lsb_single_real_{key}"] = max(r["single_max_lsb_real"] for r in sub)
        numbers[f"requant_rms_err_double_real_{key}"] = math.sqrt(_sum(sub, "double_sq_err_real")
                                                                  / n_sub)
        numbers[f"requant_rms_err_single_real_{key}"] = math.sqrt(_sum(sub, "single_sq_err_real")
                                                                  / n_sub)
    sd = math.sqrt(expected)
    nonneg = [r for r in rows if r["shift_min"] >= 0]
    ne_nonneg, n_nonneg = _sum(nonneg, "double_ne_exact"), _sum(nonneg, "n")
    quant_bound = max(acc_bound(r["octave"], r["acc_range"]) * 2.0 ** (r["shift_max"] - 32)
                      for r in rows if r["acc_range"] == "int32")
    md.append(
        f"Over all {n_all} outputs, double rounding differs from the exact rounding of the "
        f"quantized product in {d_ne} ({d_ne / n_all:.3g}; the 2^-(r+1) model predicts "
        f"{expected:.0f} +- {sd:.0f}, one binomial standard deviation), always by "
        f"{numbers['requant_max_lsb_double']} LSB at most; single rounding differs in "
        f"{_sum(rows, 'single_ne_exact')} (max {numbers['requant_max_lsb_single']} LSB): it is "
        "the exact rounding. "
        f"{at_tie} of the {d_ne} double-rounding differences sit on a tie of the second step "
        f"(`n mod 2^r == 2^(r-1)` for the high-mul result n) and {off_tie} elsewhere; of the "
        f"{ties} second-step ties, {at_tie / max(ties, 1):.3f} were rounded the wrong way "
        "(theory 1/2: at a tie of the second step the exact value lies on either side of it "
        "with equal odds, and rounding away from zero is right on one side only). Differences "
        f"of +1: {_sum(rows, 'double_plus')}, of -1: {_sum(rows, 'double_minus')}. For shift "
        f">= 0 (M >= 1/2), where the second step is exact, there are {ne_nonneg} differences "
        f"in {n_nonneg} outputs. The int64 re-implementation of the double "
        f"path disagrees with fxsim in {numbers['requant_double_independent_mismatches']} "
        "outputs.")
    md.append("")
    max_real_lsb = max(numbers[f"requant_max_lsb_{w}_real_{a}"]
                       for w in ("single", "double") for a in ("int32", "16bit"))
    md.append(
        "Against the real multiplier the 31-bit quantization of M adds an error of at most "
        f"abs(acc) * 2^(shift-32) LSB, up to {quant_bound:.3g} LSB for the largest `int32` "
        "accumulators drawn here (and at most abs(output) * 2^-31 in general): with "
        f"`int32` accumulators single rounding differs from `round(acc * M)` in a fraction "
        f"{numbers['requant_frac_single_ne_real_int32']:.3g} of outputs (double "
        f"{numbers['requant_frac_double_ne_real_int32']:.3g}), with `16-bit` accumulators in "
        f"{numbers['requant_frac_single_ne_real_16bit']:.3g} (double "
        f"{numbers['requant_frac_double_ne_real_16bit']:.3g}); at most "
        f"{max_real_lsb} LSB. The RMS error against the real acc * M is "
        f"{numbers['requant_rms_err_single_real_int32']:.4f} LSB (single) and "
        f"{numbers['requant_rms_err_double_real_int32']:.4f} LSB (double) for `int32` "
        "accumulators (1/sqrt(12) = 0.2887 for a uniform rounding error).")
    md.append("")

    fig, (ax1, ax2) = report.new_figure(1, 2, size=(11, 4.2))
    series = [(rng_name, marker, [r for r in rows if r["acc_range"] == rng_name])
              for rng_name, marker in zip(REQ_RANGES, ("o", "s"))]
    sub = [r for r in rows if r["acc_range"] == REQ_RANGES[0]]
    theory = [r["expected_double_ne"] / r["n"] for r in sub]
    floor1 = report.zero_floor([r["double_ne_exact"] / r["n"] for _, _, rs in series for r in rs] + theory)
    report.floor_line(ax1, floor1, "none (0 outputs)")
    for rng_name, marker, rs in series:
        report.plot_with_zeros(ax1, [r["octave"] for r in rs], [r["double_ne_exact"] / r["n"] for r in rs],
                               floor1, marker, zero_marker=marker, label=f"double != exact, {rng_name} acc")
    report.plot_with_zeros(ax1, [r["octave"] for r in sub], theory, floor1, "k-", zero_marker="_",
                           ms=9, label="theory 2^-(r+1)")
    ax1.set_yscale("log")
    ax1.set_ylim(floor1 / 3, 1)
    ax1.set_xlabel("octave e of the multiplier, M in [2^e, 2^(e+1))")
    ax1.set_ylabel("fraction of outputs")
    ax1.set_title("double rounding vs exact round(acc*m0*2^(shift-31))")
    ax1.legend(fontsize=8)
    centres = (REQ_BINS[:-1] + REQ_BINS[1:]) / 2
    hists = {name: sum(r[f"hist_{name}"] for r in sub) for name in ("double", "single")}
    fractions = {name: h / h.sum() for name, h in hists.items()}
    floor2 = report.zero_floor(np.concatenate(list(fractions.values())))
    report.floor_line(ax2, floor2, "empty bin (0 outputs)", at=0.36)
    for name, style in (("double", "C3-"), ("single", "C0-")):
        report.plot_with_zeros(ax2, centres, fractions[name], floor2, style, zero_marker="|",
                               drawstyle="steps-mid", label=name)
    ax2.set_yscale("log")
    ax2.set_ylim(floor2 / 3, 1)
    ax2.set_xlabel("result - acc*M (LSB), real M, int32 accumulators")
    ax2.set_ylabel("fraction per bin")
    ax2.set_title("error against the real product")
    ax2.legend()
    md.append(report.save(fig, out_dir, "integer_bn_requant",
                          "Left: how often TFLite's double rounding misses the exact rounding of "
                          "the quantized product, per octave of M, with the 2^-(r+1) model. "
                          "Right: distribution of the error against the real product acc*M "
                          "(int32 accumulators, all octaves): double rounding has tails beyond "
                          "1/2 LSB. Log scales: a count of exactly 0 (an octave with no "
                          "difference, a theory of 0 where the second step is exact, an empty "
                          "bin) is drawn as a hollow marker on the dotted floor line, which is "
                          "labelled; it is not a measured value.", figures))
    return "\n".join(md)


def summarize_thresholds(rows, out_dir, figures, numbers) -> str:
    n = _sum(rows, "n")
    ch = _sum(rows, "channels")
    mism = _sum(rows, "thr_sign_mismatch") + _sum(rows, "thr_kbit_mismatch")
    numbers["thr_threshold_mismatches"] = mism
    numbers["thr_pairs_checked"] = n
    md = ["### BN + activation as integer thresholds versus float BN", "",
          f"{ch} random BN channels (gamma = +-2^U(-2,2), beta ~ N(0, 1.5^2), mean ~ "
          f"U(-1024, 1024), sigma = 2^U(2,7), eps = {THR_EPS}; every parameter a float32 value, "
          "taken as the exact rational it holds) and every integer accumulator x in "
          f"[-2^{THR_X_BITS}, 2^{THR_X_BITS}) ({n} (x, channel) pairs). The reference is the "
          "exact rational BN, decided with Python integers (the sign of `P + Q*sqrt(var+eps)` "
          "from squares, no square root). Activations: sign (sign(0) = +1) and "
          f"`{THR_ACT}` (4-bit signed, step 1/2, range [-4, 3.5], nearest even, saturating). "
          "The float BN is evaluated with every operation rounded to float32 or float16 "
          "(parameters and x cast first; float16 cannot hold every integer above 2048), "
          "directly (`gamma*(x - mean)/sqrt(var+eps) + beta`) or folded (`a*x + b` with `a = "
          "gamma/s`, `b = beta - a*mean` computed in the precision), then quantized by fxsim.",
          "",
          f"fxsim's integer thresholds (`thresholds_sign`, `thresholds_kbit` + "
          f"`apply_thresholds`) agree with the exact BN on all {n} pairs for both activations: "
          f"{mism} mismatches.", ""]
    head = ["activation", "precision", "form", "disagreeing (x, ch)", "rate",
            "channels with >= 1", "max level difference", "max distance to a threshold"]
    table_rows = []
    for act in ("sign", "kbit"):
        for prec in THR_PRECISIONS:
            for form in THR_FORMS:
                key = f"{act}_{prec}_{form}"
                k = _sum(rows, key)
                table_rows.append([act if act == "sign" else THR_ACT, prec, form, k, k / n,
                                   f"{_sum(rows, key + '_channels')} / {ch}",
                                   max(r[key + "_max"] for r in rows),
                                   max(r[key + "_dist"] for r in rows) if k else "-"])
                numbers[f"thr_{key}_rate"] = k / n
    md.append(report.table(head, table_rows))
    dist = max((r[k] for r in rows for k in r if k.endswith("_dist")), default=0)
    md.append(
        "Every float disagreement lies within "
        f"{dist} accumulator step(s) of an exact threshold (the distance column: from the x "
        "to the nearest x where the exact output changes): the float rounding error of y only "
        "matters where y is that close to a decision boundary. Where a count is 0 the rate is "
        f"below 3/{n} = {3 / n:.2g} with 95% confidence (rule of three).")
    md.append("")
    fig, ax = report.new_figure(size=(7.5, 4))
    labels = [f"{r[0]}\n{r[1]}\n{r[2]}" for r in table_rows]
    vals = [r[4] for r in table_rows]
    colors = ["C0" if "32" in r[1] else "C1" for r in table_rows]
    floor = report.zero_floor(vals + [3 / n])
    report.floor_line(ax, floor, "none wrong (0)")
    for i, (v, c) in enumerate(zip(vals, colors)):
        if v > 0:  # bars start at the floor line: a log axis has no 0
            ax.bar(i, v - floor, bottom=floor, color=c)
        else:
            ax.plot(i, floor, "o", mfc="none", color=c, ms=7)
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, max([1e-2] + vals) * 3)
    ax.set_xticks(range(len(vals)), labels, fontsize=7)
    ax.set_ylabel("fraction of (x, channel) wrong")
    ax.set_title("float BN vs exact BN; integer thresholds: 0 wrong")
    md.append(report.save(fig, out_dir, "integer_bn_thresholds",
                          "Disagreement of float32 (blue) and float16 (orange) BN with the exact "
                          "rational BN after sign or the 4-bit activation, exhaustive over x; the "
                          "integer thresholds never disagree. A rate of exactly 0 is a hollow "
                          "circle on the dotted floor line 'none wrong (0)' (log scale).", figures))
    return "\n".join(md)


def summarize_shift(rows, out_dir, figures, numbers) -> str:
    cat = {k: np.concatenate([r[k] for r in rows]) for k in ("log2_sigma", "log2_std", "ratio",
                                                             "ap2_factor", "var_factor")}
    rel_med_channels = np.median(np.abs(cat["ratio"] - 1))
    gap = max(r["rel_gap_max"] for r in rows)
    product_gap = float(np.max(np.abs(cat["ratio"] - cat["ap2_factor"] * cat["var_factor"])))
    numbers.update({
        "shift_median_rel_error": float(rel_med_channels),
        "shift_ap2_factor_min": float(cat["ap2_factor"].min()),
        "shift_ap2_factor_max": float(cat["ap2_factor"].max()),
        "shift_ratio_min": float(cat["ratio"].min()),
        "shift_ratio_max": float(cat["ratio"].max()),
        "shift_var_factor_min": float(cat["var_factor"].min()),
        "shift_var_factor_max": float(cat["var_factor"].max()),
    })
    theory_median = (math.sqrt(2) - 1) / (math.sqrt(2) + 1)
    md = ["### Shift-based BN (Hubara et al.) versus BN", "",
          f"{len(cat['ratio'])} channels of {SHIFT_BATCH} Gaussian values, sigma = 2^U(-4, 8), "
          f"mean = sigma * U(-8, 8), eps = {SHIFT_EPS}, gamma = 1, beta = 0 (a gamma != 1 adds "
          "the factor AP2(gamma)/gamma, again within sqrt(2)). `shift_bn`'s output is the "
          "float64 BN times one ratio per channel (the values' relative errors differ from "
          f"their channel's |ratio - 1| by at most {gap:.2g}); the ratio is the AP2 factor times "
          "the variance factor (largest gap between the ratio and that product: "
          f"{product_gap:.2g}).", ""]
    head = ["factor", "theory range", "min", "median", "max", "median abs(factor - 1)",
            "90% abs(factor - 1)"]
    table_rows = []
    for name, key, rng_txt in (("AP2 factor AP2(u)/u", "ap2_factor", "[2^-1/2, 2^1/2]"),
                               ("variance factor", "var_factor", "[2^-1/4, 2^1/4]"),
                               ("effective scale ratio (total)", "ratio", "[2^-3/4, 2^3/4]")):
        v = cat[key]
        dev = np.abs(v - 1)
        table_rows.append([name, rng_txt, v.min(), np.median(v), v.max(), np.median(dev),
                           np.quantile(dev, 0.9)])
    md.append(report.table(head, table_rows))
    rel_q = np.median(np.array([r["rel_q"] for r in rows]), axis=0)
    md.append(
        f"The median relative error of the output is {rel_med_channels:.3f} (per value: the "
        f"tasks' medians are around {rel_q[0]:.3f}, 90th percentiles {rel_q[1]:.3f}). For the "
        "AP2 factor alone, with log2 sigma spread over many octaves, log2 of the factor is "
        "uniform on [-1/2, 1/2], so its median |factor - 1| is (sqrt 2 - 1)/(sqrt 2 + 1) = "
        f"{theory_median:.4f} (measured {table_rows[0][5]:.4f}). The variance factor "
        "sqrt((var + eps)/(mean(C*AP2(C)) + eps)) stays within "
        f"[{cat['var_factor'].min():.3f}, {cat['var_factor'].max():.3f}], far inside its bound "
        "[2^-1/4, 2^1/4] = [0.841, 1.189]: AP2(C)/C spreads over [2^-1/2, 2^1/2] across the "
        "values of a Gaussian batch and averages out (median factor "
        f"{np.median(cat['var_factor']):.3f}: mean(C*AP2(C)) slightly overestimates the "
        "variance).")
    md.append("")
    fig, (ax1, ax2) = report.new_figure(1, 2, size=(11, 4.2))
    bins = np.linspace(-0.8, 0.8, 81)
    for key, label in (("ap2_factor", "AP2 factor"), ("var_factor", "variance factor"),
                       ("ratio", "total ratio")):
        ax1.hist(np.log2(cat[key]), bins=bins, histtype="step", label=label)
    for b in (-0.5, 0.5):
        ax1.axvline(b, color="k", lw=0.6, ls="--")
    ax1.set_xlabel("log2 of the factor (shift BN / exact BN)")
    ax1.set_ylabel("channels")
    ax1.legend(fontsize=8)
    phase = np.mod(cat["log2_std"], 1.0)
    ax2.plot(phase, np.log2(cat["ratio"]), ".", ms=2, label="total ratio")
    ax2.plot(phase, np.log2(cat["ap2_factor"]), ".", ms=2, label="AP2 factor")
    ax2.set_xlabel("log2 sqrt(mean(C*AP2(C)) + eps), mod 1")
    ax2.set_ylabel("log2 factor")
    ax2.legend(fontsize=8, markerscale=4)
    md.append(report.save(fig, out_dir, "integer_bn_shift",
                          "Shift-based BN: the effective scale ratio against the exact BN and "
                          "its factors (dashed: the AP2 bound 2^+-1/2); right, the sawtooth "
                          "against the fractional part of log2 of the shift-BN scale.",
                          figures))
    return "\n".join(md)


def summarize_lin(rows, out_dir, figures, numbers) -> str:
    md = ["### Lin et al.: the smallest shared shift k", "",
          "For random `a = +-2^U(-8, 0)`, `b ~ U(-32, 32)` (float64, taken exactly), "
          "`shared_scale_bn` finds the smallest k with integers A, B such that `(A*x + B) >> k "
          f"== round_half_even(a*x + b)` for every x of the signed input range, k <= {LIN_K_MAX}, "
          "and proves it on every x.", ""]
    head = ["input range", "cases", "min k", "median k", "max k", "no k <= 32", "median bits of A"]
    table_rows = []
    all_k = []
    fig, ax = report.new_figure(size=(7, 4))
    for bits in LIN_BITS:
        ks = np.concatenate([r["k"] for r in rows if r["x_bits"] == bits])
        ab = np.concatenate([r["a_bits"] for r in rows if r["x_bits"] == bits])
        all_k.append(ks)
        ok = ks >= 0
        table_rows.append([f"{bits}-bit", len(ks), int(ks[ok].min()) if ok.any() else "-",
                           float(np.median(ks[ok])) if ok.any() else "-",
                           int(ks[ok].max()) if ok.any() else "-",
                           f"{int(np.count_nonzero(~ok))} ({np.mean(~ok):.3g})",
                           float(np.median(ab[ok])) if ok.any() else "-"])
        numbers[f"lin_median_k_{bits}bit"] = float(np.median(ks[ok])) if ok.any() else float("nan")
        numbers[f"lin_frac_no_k_{bits}bit"] = float(np.mean(~ok))
        ax.hist(np.where(ok, ks, LIN_K_MAX + 1), bins=np.arange(-0.5, LIN_K_MAX + 2.5),
                histtype="step", label=f"{bits}-bit inputs")
    allk = np.concatenate(all_k)
    numbers["lin_frac_no_k"] = float(np.mean(allk < 0))
    zero_note = (f" (below 3/{len(allk)} = {3 / len(allk):.2g} with 95% confidence, rule of "
                 "three)") if not (allk < 0).any() else ""
    ax.axvline(LIN_K_MAX + 0.5, color="k", lw=0.6, ls="--")
    ax.set_xlabel(f"smallest k ({LIN_K_MAX + 1}: none <= {LIN_K_MAX})")
    ax.set_ylabel("cases")
    ax.legend()
    md.append(report.table(head, table_rows))
    first, last = LIN_BITS[0], LIN_BITS[-1]
    per_bit = ((numbers[f"lin_median_k_{last}bit"] - numbers[f"lin_median_k_{first}bit"])
               / (last - first))
    numbers["lin_median_k_per_input_bit"] = per_bit
    md.append(
        f"Over all {len(allk)} cases a fraction {numbers['lin_frac_no_k']:.3g} has no k <= "
        f"{LIN_K_MAX}{zero_note}; the largest k needed is {int(allk.max())}. The median k "
        f"grows by {per_bit:.2f} bits per bit of input range. A "
        "heuristic for the 2 bits per bit: A/2^k must match the slope a to within the smallest "
        "distance of a*x + b to a rounding boundary divided by the range, and over W inputs "
        "that distance is typically of order 1/W, so 2^-k ~ 1/W^2.")
    md.append("")
    md.append(report.save(fig, out_dir, "integer_bn_lin",
                          "Distribution of the smallest k of Lin et al.'s (A*x + B) >> k per "
                          "input range.", figures))
    return "\n".join(md)


def summarize_graham(rows, out_dir, figures, numbers) -> str:
    md = ["### Graham: k-bit normalized activations", "",
          "`graham_bn` rounds the normalized z (nearest even, saturating) into the signed k-bit "
          "format s k.(k - 1 - log2 c): range [-c, c - step], step 2c/2^k, for clip ranges c = "
          f"{', '.join(str(c) for c in GRAHAM_CLIPS)}; gamma = 1, beta = 0, so the output error "
          "is z_q - z, in units of gamma. Inputs: Gaussian batches with random per-channel mean "
          "and scale; reference: the float64 BN computed here. Theory: the Gaussian model "
          "step^2/12 inside the range plus the exact saturation integrals. Memory: k bits per "
          "stored activation against 32 for float32.", ""]
    rms = {}
    for clip in GRAHAM_CLIPS:
        sub = [r for r in rows if r["clip"] == clip]
        rms[clip] = np.sqrt(sum(r["sse"] for r in sub) / _sum(sub, "n"))
    bits = rows[0]["bits"]
    theory = {c: np.sqrt([graham_theory_mse(k, c) for k in GRAHAM_KS]) for c in GRAHAM_CLIPS}
    head = ["k", "bits/activation", "memory vs float32"]
    for c in GRAHAM_CLIPS:
        head += [f"format (c={c})", f"RMS error c={c}", "theory"]
    table_rows = []
    for i, k in enumerate(GRAHAM_KS):
        row = [k, int(bits[i]), f"{bits[i] / 32:.3f}"]
        for c in GRAHAM_CLIPS:
            row += [graham_format(k, c).name, rms[c][i], theory[c][i]]
        table_rows.append(row)
    md.append(report.table(head, table_rows, digits=3))
    slopes = {}
    for c in GRAHAM_CLIPS:
        k0, k1 = GRAHAM_FIT[c]
        ks = np.arange(k0, k1 + 1)
        db = 20 * np.log10(rms[c][ks - 1])
        slopes[c] = float(np.polyfit(ks, db, 1)[0])
        numbers[f"graham_slope_db_per_bit_clip{c}"] = slopes[c]
    c0 = GRAHAM_CLIPS[0]
    numbers.update({"graham_rms_k4": float(rms[c0][3]), "graham_rms_k8": float(rms[c0][7]),
                    "graham_rms_k4_theory": float(theory[c0][3]),
                    "graham_rms_k8_theory": float(theory[c0][7]),
                    "graham_rms_k16_clip4": float(rms[c0][15]),
                    "graham_rms_k16_clip8": float(rms[GRAHAM_CLIPS[1]][15])})
    fit_txt = "; ".join(f"c = {c}: {slopes[c]:.2f} dB/bit over k = {GRAHAM_FIT[c][0]}.."
                        f"{GRAHAM_FIT[c][1]}" for c in GRAHAM_CLIPS)
    from scipy.stats import norm

    sub0 = [r for r in rows if r["clip"] == c0]
    n0 = _sum(sub0, "n")
    sat16 = int(sum(r["clipped"][-1] for r in sub0))
    sat16_expected = n0 * 2 * norm.sf(c0)
    floor_k = next(k for i, k in enumerate(GRAHAM_KS) if rms[c0][i] < 1.1 * rms[c0][-1])
    numbers["graham_rms_floor_theory_clip4"] = float(theory[c0][-1])
    md.append(
        f"The RMS error falls by 6.02 dB (a factor 2) per bit in the granular region ({fit_txt}). "
        f"With c = {c0} it is {numbers['graham_rms_k4']:.4f} at k = 4 (theory "
        f"{numbers['graham_rms_k4_theory']:.4f}) and {numbers['graham_rms_k8']:.4f} at k = 8 "
        f"(theory {numbers['graham_rms_k8_theory']:.4f}); from k = {floor_k} on it is within "
        f"10% of its k = 16 value {numbers['graham_rms_k16_clip4']:.3g}, the saturation floor of "
        f"the values beyond +-{c0} (Gaussian model: "
        f"{numbers['graham_rms_floor_theory_clip4']:.3g}; "
        f"the floor comes from {sat16} saturated values out of {n0}, "
        f"{sat16_expected:.0f} expected for a Gaussian, so its Monte Carlo estimate is only good "
        f"to about 1/sqrt({max(sat16, 1)}) relative). c = {GRAHAM_CLIPS[1]} reaches "
        f"{numbers['graham_rms_k16_clip8']:.2g} at k = 16 but pays a factor 2 in step size, 6 dB, "
        f"at every k below c = {c0}'s floor. Below k = 3 the formats are too coarse for the "
        "uniform-error model (k = 1 stores only {-c, 0}). The memory per stored activation is "
        "k bits, k/32 of float32.")
    md.append("")
    fig, ax = report.new_figure(size=(7.5, 4.5))
    ks = np.array(GRAHAM_KS)
    for c, col in zip(GRAHAM_CLIPS, ("C0", "C1")):
        ax.plot(ks, 20 * np.log10(rms[c]), "o", color=col, label=f"measured, clip {c}")
        ax.plot(ks, 20 * np.log10(theory[c]), "-", color=col, lw=0.8, label=f"theory, clip {c}")
    ref_k = GRAHAM_FIT[c0][0]
    ax.plot(ks, 20 * np.log10(rms[c0][ref_k - 1]) - 6.0206 * (ks - ref_k), "k--", lw=0.7,
            label="-6.02 dB/bit")
    ax.set_xlabel("k (bits per stored activation; float32: 32)")
    ax.set_ylabel("RMS error of the BN output (dB, units of gamma)")
    ax2 = ax.twinx()
    ax2.plot(ks, bits / 32, "g:", lw=1)
    ax2.set_ylabel("memory per activation vs float32", color="g")
    ax.legend(fontsize=8, loc="lower left")
    md.append(report.save(fig, out_dir, "integer_bn_graham",
                          "Graham's BN: RMS error of the output against the float64 BN versus "
                          "the bits k of the stored normalized activation, with the 6.02 dB/bit "
                          "slope and the Gaussian model; dotted: memory relative to float32.",
                          figures))
    return "\n".join(md)


def summarize(results: list, out_dir, quick: bool) -> report.Section:
    parts = _split(results)
    figures: list = []
    numbers: dict = {}
    md = ["Integer forms of batch norm and of the requantization around it, each checked "
          "against an exact reference (Python integers / Fractions) or a closed form. "
          f"{'Quick run: small samples.' if quick else 'Full run.'}", ""]
    md.append(summarize_requant(parts["requant"], out_dir, figures, numbers))
    md.append(summarize_thresholds(parts["thresholds"], out_dir, figures, numbers))
    md.append(summarize_shift(parts["shift"], out_dir, figures, numbers))
    md.append(summarize_lin(parts["lin"], out_dir, figures, numbers))
    md.append(summarize_graham(parts["graham"], out_dir, figures, numbers))
    numbers = {k: float(v) for k, v in numbers.items()}
    return report.Section(TITLE, "\n\n".join(md), numbers, figures)
