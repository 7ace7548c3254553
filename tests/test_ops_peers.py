"""fxsim's arithmetic against peer libraries (test-only oracles, installed by
`make test` through the extra `peers`).

* gmpy2 (MPFR): add, sub, mul, div, fma and sqrt correctly rounded in the
  IEEE-like formats float16, bfloat16, float32, float8_e5m2, float8_e4m3 and
  float64, under the five rounding directions MPFR has, bit for bit with
  signed zeros, inf and NaN (overflow="ieee"); operands are random codes
  plus hard cases (ties, near-overflow, subnormals, exact cancellation, very
  different magnitudes).  Mixed formats and out= formats other than the
  operands' (rounded once, from the exact result), random IEEE-like formats
  (hypothesis), both of fxsim's engines, and float sum/dot.
* numpy: float16 and float32 add/sub/mul/div/sqrt under nearest_even, every
  float16 value against a few hundred others, 10**5 float32 pairs.
* APyTypes: fixed-point add/sub/mul growth and values; fixed->fixed,
  fixed->float and float->fixed casts in every mode the two share.
* Python ints and Fractions: fixed products beyond 64 bits, fixed sum/dot.

How the MPFR oracle is set up.  MPFR's significands lie in [1/2, 1): a
format with p = man + 1 bits, largest binade 2**emax and smallest normal
2**emin is an MPFR context with precision p, emax_mpfr = emax + 1 and
emin_mpfr = emin - man + 1 (the exponent of the smallest subnormal,
2**(emin - man) = 0.5 * 2**(emin - man + 1)), with subnormalize=True, which
makes gmpy2 call mpfr_check_range and mpfr_subnormalize after every
operation (gmpy2.ieee(16/32/64) is exactly this context; the first test
checks the convention).  MPFR assumes operands inside the current exponent
range, so operations whose operands lie outside the output format's range
(mixed formats, narrower out=) take a second route: the exact result as a
rational (Fraction -> mpq), rounded once by the mpfr constructor inside the
output's context; zeros, infinities and NaN come from the same operation at
4096 bits (exact there, with IEEE 754's signs).
"""
from __future__ import annotations

import math
import operator
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim

try:
    import gmpy2
except ImportError:
    gmpy2 = None
try:
    import apytypes
except ImportError:
    apytypes = None

PEER = "{} is a test-only oracle: `make test` installs it (pip install -e '.[peers]')"
needs_gmpy2 = pytest.mark.skipif(gmpy2 is None, reason=PEER.format("gmpy2 (MPFR)"))
needs_apytypes = pytest.mark.skipif(apytypes is None, reason=PEER.format("APyTypes"))


FX = {"add": fxsim.add, "sub": fxsim.subtract, "mul": fxsim.multiply, "div": fxsim.divide,
      "fma": fxsim.fma, "sqrt": fxsim.sqrt}
EXACT = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
         "div": operator.truediv, "fma": lambda a, b, c: a * b + c}
BINARY = ["add", "sub", "mul", "div"]

# fxsim's rounding mode -> MPFR's rounding direction
GMP_MODES = {"nearest_even": "RoundToNearest", "toward_zero": "RoundToZero", "up": "RoundUp",
             "down": "RoundDown", "away": "RoundAwayZero"}
GMP_FORMATS = ["float16", "bfloat16", "float32", "float8_e5m2", "float8_e4m3"]


# ---------------------------------------------------------------- helpers
def mpfr_context(fmt, rounding):
    """The MPFR context whose numbers are exactly the finite values of the
    IEEE-like ``fmt`` (see the module docstring)."""
    return gmpy2.context(precision=fmt.man + 1, emax=fmt.emax + 1, emin=fmt.emin - fmt.man + 1,
                         subnormalize=True, round=getattr(gmpy2, GMP_MODES[rounding]))


def _mpfr_list(values):
    """float64 values as mpfr, exactly (64 bits, MPFR's default range)."""
    wide = gmpy2.context(precision=64)
    return list(map(wide.plus, np.asarray(values, np.float64).tolist()))


def _canonical_nan(fmt) -> int:
    """The IEEE default NaN of ``fmt``: exponent all ones, top fraction bit,
    sign clear (what fxsim/ops.py promises for a NaN result of arithmetic)."""
    return (((1 << fmt.exp) - 1) << fmt.man) | (1 << (fmt.man - 1))


def _describe(q, i):
    """Operand ``i`` of ``q``: its value (float repr for floats -- exact for
    every float format here -- the exact Fraction for fixed point) and code."""
    code = int(q.bits.reshape(-1)[i])
    value = repr(float(q[np.unravel_index(i, q.shape)].to_float())) if q.fmt.is_float \
        else str(q.to_exact().reshape(-1)[i])
    return f"{value} [0x{code:x} {q.fmt.name}]"


def assert_same(label, ours, theirs, operands, explain=None):
    """``ours`` (a QArray) equals the peer's float64 values ``theirs`` bit
    for bit (so signed zeros too), any NaN matching any NaN; a NaN result of
    fxsim must be the canonical NaN.  The message names the operands of the
    first mismatch (elementwise ``operands``, or ``explain(i)``)."""
    got = np.asarray(ours.to_float(), np.float64).reshape(-1)
    theirs = np.asarray(theirs, np.float64).reshape(-1)
    assert got.shape == theirs.shape, (label, got.shape, theirs.shape)
    same = (got.view(np.uint64) == theirs.view(np.uint64)) | (np.isnan(got) & np.isnan(theirs))
    bad = np.flatnonzero(~same)
    if bad.size:
        i = bad[0]
        args = explain(i) if explain else \
            ", ".join(_describe(q, i if q.size > 1 else 0) for q in operands)
        pytest.fail(f"{label}: {bad.size} of {got.size} results differ; first: ({args}) -> "
                    f"fxsim {got[i]!r} [0x{int(ours.bits.reshape(-1)[i]):x}], peer {theirs[i]!r}")
    if ours.fmt.is_float and ours.fmt.special == "ieee":
        nan = np.flatnonzero(np.isnan(got))
        codes = ours.bits.reshape(-1)[nan].astype(np.uint64)
        wrong = nan[codes != _canonical_nan(ours.fmt)]
        if wrong.size:
            i = wrong[0]
            args = explain(i) if explain else \
                ", ".join(_describe(q, i if q.size > 1 else 0) for q in operands)
            pytest.fail(f"{label}: NaN result 0x{int(ours.bits.reshape(-1)[i]):x} at ({args}) is "
                        f"not the canonical NaN 0x{_canonical_nan(ours.fmt):x}")


def _exact_codes(values, fmt):
    """``(ok, codes)``: which float64 ``values`` ``fmt`` holds exactly, and
    their codes (a way to build operands, not something under test)."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    codes = fxsim.encode(np.where(finite, values, 0.0), fmt, "toward_zero",
                         "saturate").astype(np.uint64)
    back = fxsim.decode(codes, fmt)
    return finite & (back == values) & (np.signbit(back) == np.signbit(values)), codes


def _code_of(values, fmt):
    """Codes of those float64 ``values`` that ``fmt`` holds exactly."""
    ok, codes = _exact_codes(values, fmt)
    return codes[ok]


def _finite_code_limit(fmt):
    """Largest biased exponent of finite values, for IEEE-like formats."""
    return (1 << fmt.exp) - 2


def _random_codes(rng, fmt, n):
    """Uniform random codes (NaN and inf included)."""
    if fmt.width == 64:
        return rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2) \
            + rng.integers(0, 2, n, dtype=np.uint64)
    return rng.integers(0, 1 << fmt.width, n, dtype=np.uint64)


def _near_codes(rng, fmt, efield, spread):
    """Finite codes with biased exponents within ``spread`` of ``efield``."""
    n = len(efield)
    e = np.clip(np.asarray(efield) + rng.integers(-spread, spread + 1, n), 0,
                _finite_code_limit(fmt)).astype(np.uint64)
    frac = rng.integers(0, 1 << fmt.man, n, dtype=np.uint64)
    sign = rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(fmt.width - 1)
    return sign | (e << np.uint64(fmt.man)) | frac


def _hard_codes(fmt):
    """Codes at the interesting places: zeros, subnormals, the smallest
    normals, around 1, the top binade, inf and NaN; odd, even, all-ones and
    half-way fractions."""
    top = (1 << fmt.exp) - 1
    efields = {0, 1, 2, fmt.bias - 1, fmt.bias, fmt.bias + 1, top - 2, top - 1, top}
    m = fmt.man
    fracs = {0, 1, 2, 3, (1 << m) - 1, (1 << m) - 2, 1 << (m - 1), (1 << (m - 1)) + 1,
             (1 << (m - 1)) - 1}
    codes = {(s << (fmt.width - 1)) | (e << m) | f for s in (0, 1) for e in efields
             for f in fracs if 0 <= e <= top and 0 <= f < (1 << m)}
    return np.array(sorted(codes), dtype=np.uint64)


def _exponent(values, fmt):
    """Exponent of the binade of each finite nonzero value (emin below)."""
    _, e = np.frexp(np.abs(values))
    return np.where(values == 0, fmt.emin, np.maximum(e - 1, fmt.emin))


def _binary_operands(rng, fmt, n):
    """Operand pairs (two uint64 code arrays) of every kind the tests want."""
    parts = []
    # uniform random codes
    parts.append((_random_codes(rng, fmt, n), _random_codes(rng, fmt, n)))
    # operands of similar magnitude (their sums and differences overlap)
    base = rng.integers(0, _finite_code_limit(fmt) + 1, n)
    parts.append((_near_codes(rng, fmt, base, 0), _near_codes(rng, fmt, base, fmt.man + 2)))
    # pairs of hard codes (all of them for the 8-bit formats)
    hard = _hard_codes(fmt)
    pairs = np.arange(hard.size ** 2) if fmt.width <= 8 else rng.choice(hard.size ** 2, 3 * n)
    parts.append((hard[pairs // hard.size], hard[pairs % hard.size]))
    # ties and near-ties of a sum: a + (1/2, 3/2, 1/2 + 1/2**man) ulp(a)
    a = _near_codes(rng, fmt, rng.integers(0, _finite_code_limit(fmt) + 1, n // 2), 0)
    half_ulp = np.ldexp(1.0, _exponent(fxsim.decode(a, fmt), fmt) - fmt.man - 1)
    for m in (1.0, 3.0, 1.0 + 2.0 ** -fmt.man):
        for s in (1.0, -1.0):
            ok, b = _exact_codes(s * m * half_ulp, fmt)
            parts.append((a[ok], b[ok]))
    # ties of a product: (odd significand in [1, 4/3)) * 1.5, at every scale
    j = 2 * rng.integers(0, max((1 << fmt.man) // 6, 1), n) + 1
    x = np.ldexp(1.0 + j * 2.0 ** -fmt.man, rng.integers(fmt.emin - fmt.man, fmt.emax + 1, n))
    y = np.ldexp(1.5, rng.integers(-fmt.emax, fmt.emax + 1, n))
    (okx, cx), (oky, cy) = (_exact_codes(v * rng.choice([-1.0, 1.0], n), fmt) for v in (x, y))
    parts.append((cx[okx & oky], cy[okx & oky]))
    # exact cancellation, neighbours (Sterbenz), and a - (-a)
    neighbour = a + np.uint64(1)
    neighbour[(neighbour & np.uint64((1 << (fmt.width - 1)) - 1)) >
              np.uint64(fmt.max_code)] = a[0]
    sign = np.uint64(1 << (fmt.width - 1))
    parts.append((np.concatenate([a, a, a]), np.concatenate([a, a ^ sign, neighbour])))
    # quotients landing on subnormal ties: small codes over powers of two and 3
    small = rng.integers(0, 1 << (fmt.man + 2), n, dtype=np.uint64) | \
        (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(fmt.width - 1))
    div = _code_of(np.array([2.0, 4.0, 0.5, 3.0, 1.5, -2.0, -3.0, 8.0]), fmt)
    parts.append((small, rng.choice(div, n)))
    xa = np.concatenate([p[0] for p in parts]).astype(np.uint64)
    xb = np.concatenate([p[1] for p in parts]).astype(np.uint64)
    return fxsim.from_bits(xa, fmt), fxsim.from_bits(xb, fmt)


@np.errstate(over="ignore")
def _fma_operands(rng, fmt, n):
    """Triples: random codes, hard codes, residuals c = -RN(a*b), exact
    zeros c = -a*b, product ties broken (or not) by a tiny c."""
    parts = []
    parts.append(tuple(_random_codes(rng, fmt, n) for _ in range(3)))
    hard = _hard_codes(fmt)
    parts.append(tuple(rng.choice(hard, n) for _ in range(3)))
    base = rng.integers(0, _finite_code_limit(fmt) + 1, n)
    a, b = _near_codes(rng, fmt, base, 3), _near_codes(rng, fmt, base, 3)
    va, vb = fxsim.decode(a, fmt), fxsim.decode(b, fmt)
    # c near the product's magnitude (massive cancellation or overlap)
    prod = va * vb
    scale = _exponent(np.where(prod == 0, 1.0, prod), fmt)
    c_val = np.ldexp(rng.uniform(1, 2, n), scale + rng.integers(-2 * fmt.man - 4, 3, n))
    c_val *= rng.choice([-1.0, 1.0], n)
    c = fxsim.encode(c_val, fmt, "nearest_even", "saturate").astype(np.uint64)
    parts.append((a, b, c))
    # c = -RN(a*b): the exact residual a*b - RN(a*b)
    rn = fxsim.multiply(fxsim.from_bits(a, fmt), fxsim.from_bits(b, fmt), out=fmt,
                        overflow="saturate").bits.astype(np.uint64)
    parts.append((a, b, rn ^ np.uint64(1 << (fmt.width - 1))))
    # exact zeros: a*b exactly representable, c = -(a*b); and +-0 * x + +-0
    few = _code_of(np.array([1.0, 1.5, 0.75, 3.0, 2.0 ** (fmt.emin + 1), 1.5 * 2.0 ** fmt.emax,
                             2.0 ** (fmt.emin - fmt.man)]), fmt)
    x, y = np.repeat(few, few.size), np.tile(few, few.size)
    p = fxsim.decode(x, fmt) * fxsim.decode(y, fmt)
    ok, zc = _exact_codes(-p, fmt)
    parts.append((x[ok], y[ok], zc[ok]))
    sign = np.uint64(1 << (fmt.width - 1))
    zeros = np.array([0, sign], dtype=np.uint64)
    parts.append((np.repeat(zeros, 2 * few.size), np.tile(np.concatenate([few, few ^ sign]), 2),
                  np.tile(zeros, 2 * few.size)))
    # product ties plus nothing, a signed zero, the smallest subnormal
    j = 2 * rng.integers(0, max((1 << fmt.man) // 6, 1), n) + 1
    x = np.ldexp(1.0 + j * 2.0 ** -fmt.man, rng.integers(-3, 4, n))
    y = np.ldexp(1.5, rng.integers(-3, 4, n)) * rng.choice([-1.0, 1.0], n)
    tiny = np.ldexp(1.0, fmt.emin - fmt.man)
    z = rng.choice([0.0, -0.0, tiny, -tiny], n)
    (okx, cx), (oky, cy), (okz, cz) = (_exact_codes(v, fmt) for v in (x, y, z))
    ok = okx & oky & okz
    parts.append((cx[ok], cy[ok], cz[ok]))
    cols = [np.concatenate([p[k] for p in parts]).astype(np.uint64) for k in range(3)]
    return tuple(fxsim.from_bits(c, fmt) for c in cols)


@np.errstate(over="ignore")
def _sqrt_operands(rng, fmt, n):
    """Every code of a <= 16-bit format; else random, hard codes and exact
    squares (m**2 * 4**k, their roots exact)."""
    if fmt.width <= 16:
        return fxsim.from_bits(np.arange(1 << fmt.width, dtype=np.uint64), fmt)
    m = rng.integers(1, 1 << ((fmt.man + 1) // 2), n).astype(np.float64)
    squares = np.ldexp(m * m, 2 * rng.integers(fmt.emin // 2 - fmt.man, fmt.emax // 2, n))
    codes = np.concatenate([_random_codes(rng, fmt, n), _hard_codes(fmt), _code_of(squares, fmt),
                            _near_codes(rng, fmt, rng.integers(0, 8, n), 0)])
    return fxsim.from_bits(codes, fmt)


_MPFR_OPERANDS = {}


def _mpfr_operand(q):
    """The mpfr list of a QArray's values (cached: operands are reused for
    every op and mode)."""
    key = (q.fmt, q.shape, q.bits.tobytes())
    if key not in _MPFR_OPERANDS:
        if len(_MPFR_OPERANDS) > 64:
            _MPFR_OPERANDS.clear()
        _MPFR_OPERANDS[key] = _mpfr_list(q.to_float().reshape(-1))
    return _MPFR_OPERANDS[key]


def mpfr_results(op, operands, ctx):
    """MPFR's answers as float64 (exact for every format here)."""
    f = getattr(ctx, op)
    args = [_mpfr_operand(q) for q in operands]
    return np.array(list(map(float, map(f, *args))), np.float64)


def exact_then_round(op, operands, fmt, rounding):
    """The exact result, rounded once into ``fmt`` by MPFR: for operands
    outside ``fmt``'s exponent range (mixed formats, narrower out=)."""
    big = gmpy2.context(precision=4096, round=getattr(gmpy2, GMP_MODES[rounding]))
    values = [q.to_float().reshape(-1).tolist() for q in operands]
    mp = [_mpfr_list(v) for v in values]
    special = list(map(getattr(big, op), *mp))  # exact but for div; right for 0, inf, NaN
    out = np.array(list(map(float, special)), np.float64)
    todo = [i for i, r in enumerate(special) if gmpy2.is_finite(r) and not gmpy2.is_zero(r)]
    exact = [EXACT[op](*(Fraction(v[i]) for v in values)) for i in todo]
    with gmpy2.context(mpfr_context(fmt, rounding)):
        rounded = [float(gmpy2.mpfr(gmpy2.mpq(e.numerator, e.denominator))) for e in exact]
    out[todo] = rounded
    return out


# ---------------------------------------------------------------- 1. gmpy2 / MPFR
@needs_gmpy2
@pytest.mark.parametrize("name", GMP_FORMATS + ["float64"])
def test_mpfr_context_holds_exactly_the_codes(name):
    """The context convention: every finite code's value is a number of the
    context, nothing between neighbours is, and what lies beyond the largest
    finite value overflows (checked through the mpq route as well)."""
    fmt = fxsim.format(name)
    ieee = {"float16": 16, "float32": 32, "float64": 64}.get(name)
    if ieee:
        ref = gmpy2.ieee(ieee)
        ctx = mpfr_context(fmt, "nearest_even")
        assert (ctx.precision, ctx.emin, ctx.emax, ctx.subnormalize) == \
            (ref.precision, ref.emin, ref.emax, ref.subnormalize), (name, ctx, ref)
    rng = np.random.default_rng(0)
    codes = np.arange(1 << fmt.width, dtype=np.uint64) if fmt.width <= 16 else \
        np.concatenate([_random_codes(rng, fmt, 2000), _hard_codes(fmt)])
    codes = codes[codes <= np.uint64(fmt.max_code)]  # zero and the positive finite codes
    values, following = fxsim.decode(codes, fmt), fxsim.decode(codes + np.uint64(1), fmt)
    down, up = mpfr_context(fmt, "down"), mpfr_context(fmt, "up")
    assert [float(down.plus(v)) for v in _mpfr_list(values)] == values.tolist(), name
    # a quarter ulp above each value: rounds down onto it, up onto the next code
    step = [Fraction(2) ** int(e) for e in _exponent(values, fmt) - fmt.man - 2]
    above = [Fraction(v) + s for v, s in zip(values.tolist(), step)]
    for ctx, want in ((down, values), (up, following)):
        with gmpy2.context(ctx):
            got = [float(gmpy2.mpfr(gmpy2.mpq(a.numerator, a.denominator))) for a in above]
        assert got == want.tolist(), (name, ctx.round)
    assert float(down.plus(_mpfr_list([fmt.max])[0])) == fmt.max
    with gmpy2.context(mpfr_context(fmt, "nearest_even")):
        beyond = Fraction(fmt.max) + Fraction(2) ** (fmt.emax - fmt.man - 1)  # a tie above max
        assert float(gmpy2.mpfr(gmpy2.mpq(beyond.numerator, beyond.denominator))) == math.inf
        tiny = Fraction(2) ** (fmt.emin - fmt.man)
        assert float(gmpy2.mpfr(gmpy2.mpq(tiny.numerator, tiny.denominator))) == float(tiny)
        half = tiny / 2  # a tie between 0 and the smallest subnormal: to even, 0
        assert float(gmpy2.mpfr(gmpy2.mpq(half.numerator, half.denominator))) == 0.0


_OPERAND_CACHE = {}


def _operands(name, kind):
    key = (name, kind)
    if key not in _OPERAND_CACHE:
        fmt = fxsim.format(name)
        rng = np.random.default_rng(20240 + len(name) + 7 * ["bin", "fma", "sqrt"].index(kind))
        n = {"bin": 4000, "fma": 3000, "sqrt": 4000}[kind]
        if fmt.width == 64:
            n = {"bin": 2000, "fma": 60, "sqrt": 2000}[kind]
        _OPERAND_CACHE[key] = {"bin": _binary_operands, "fma": _fma_operands,
                               "sqrt": _sqrt_operands}[kind](rng, fmt, n)
    return _OPERAND_CACHE[key]


@needs_gmpy2
@pytest.mark.parametrize("mode", list(GMP_MODES))
@pytest.mark.parametrize("name", GMP_FORMATS + ["float64"])
def test_binary_ops_match_mpfr(name, mode):
    """add, sub, mul, div; in the 8-bit formats also every pair of codes."""
    fmt = fxsim.format(name)
    a, b = _operands(name, "bin")
    ctx = mpfr_context(fmt, mode)
    for op in BINARY:
        ours = FX[op](a, b, out=fmt, rounding=mode, overflow="ieee")
        assert_same(f"{op} {name} rounding={mode} overflow=ieee vs MPFR", ours,
                    mpfr_results(op, (a, b), ctx), (a, b))
    if fmt.width <= 8:
        every = np.arange(1 << 16, dtype=np.uint64)
        a = fxsim.from_bits(every >> np.uint64(8), fmt)
        b = fxsim.from_bits(every & np.uint64(255), fmt)
        for op in BINARY:
            ours = FX[op](a, b, out=fmt, rounding=mode, overflow="ieee")
            assert_same(f"{op} {name} rounding={mode} overflow=ieee vs MPFR (every pair)", ours,
                        mpfr_results(op, (a, b), ctx), (a, b))


@needs_gmpy2
@pytest.mark.parametrize("mode", list(GMP_MODES))
@pytest.mark.parametrize("name", GMP_FORMATS + ["float64"])
def test_fma_and_sqrt_match_mpfr(name, mode):
    """fma rounds a*b + c once (float64: fxsim's Python engine, fewer
    operands); sqrt of every code of the small formats."""
    fmt = fxsim.format(name)
    ctx = mpfr_context(fmt, mode)
    a, b, c = _operands(name, "fma")
    ours = fxsim.fma(a, b, c, out=fmt, rounding=mode, overflow="ieee")
    assert_same(f"fma {name} rounding={mode} overflow=ieee vs MPFR", ours,
                mpfr_results("fma", (a, b, c), ctx), (a, b, c))
    x = _operands(name, "sqrt")
    ours = fxsim.sqrt(x, out=fmt, rounding=mode, overflow="ieee")
    assert_same(f"sqrt {name} rounding={mode} overflow=ieee vs MPFR", ours,
                mpfr_results("sqrt", (x,), ctx), (x,))


@needs_gmpy2
@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float8_e4m3"])
def test_python_engine_matches_mpfr(name, monkeypatch, python_engine):
    """fxsim's second engine (Python ints, used for wide formats) on a slice
    of the same operands, every op and mode."""
    fmt = fxsim.format(name)
    rng = np.random.default_rng(5)
    a, b = _operands(name, "bin")
    pick = rng.choice(a.size, 150, replace=False)
    a, b = a[pick], b[pick]
    fa, fb, fc = (q[rng.choice(q.size, 100, replace=False)] for q in _operands(name, "fma"))
    python_engine(monkeypatch)
    for mode in GMP_MODES:
        ctx = mpfr_context(fmt, mode)
        for op in BINARY:
            ours = FX[op](a, b, out=fmt, rounding=mode, overflow="ieee")
            assert_same(f"{op} {name} rounding={mode} (Python engine) vs MPFR", ours,
                        mpfr_results(op, (a, b), ctx), (a, b))
        ours = fxsim.fma(fa, fb, fc, out=fmt, rounding=mode, overflow="ieee")
        assert_same(f"fma {name} rounding={mode} (Python engine) vs MPFR", ours,
                    mpfr_results("fma", (fa, fb, fc), ctx), (fa, fb, fc))
        ours = fxsim.sqrt(a, out=fmt, rounding=mode, overflow="ieee")
        assert_same(f"sqrt {name} rounding={mode} (Python engine) vs MPFR", ours,
                    mpfr_results("sqrt", (a,), ctx), (a,))


def _mixed_operands(rng, fmts, n):
    """Random codes, hard codes, and values of similar magnitude rounded into
    each operand format."""
    cols = []
    shared = np.ldexp(rng.uniform(1, 2, n), rng.integers(-30, 20, n)) * rng.choice([-1.0, 1.0], n)
    for fmt in fmts:
        near = shared * (1 + rng.uniform(-2.0 ** -6, 2.0 ** -6, n))
        near = fxsim.encode(near, fmt, "toward_zero", "saturate").astype(np.uint64)
        hard = rng.choice(_hard_codes(fmt), n)
        cols.append(np.concatenate([_random_codes(rng, fmt, n), hard, near]))
    return tuple(fxsim.from_bits(c, f) for c, f in zip(cols, fmts))


MIXED = [
    ("add", ("float16", "bfloat16"), "float32"),
    ("add", ("float16", "bfloat16"), "float8_e4m3"),
    ("add", ("float16", "bfloat16"), None),  # default out: e8m10 (max exp, max man)
    ("sub", ("bfloat16", "float16"), "float16"),
    ("mul", ("float16", "bfloat16"), "float8_e5m2"),
    ("mul", ("bfloat16", "bfloat16"), "float32"),  # exact
    ("div", ("float32", "float16"), "bfloat16"),
    ("add", ("float32", "float32"), "float16"),  # once from the exact sum, never via float32
    ("sub", ("float64", "float64"), "float8_e5m2"),
    ("mul", ("float32", "float32"), "bfloat16"),
    ("div", ("float64", "float32"), "float16"),
    ("fma", ("float16", "float16", "float32"), "float32"),
    ("fma", ("bfloat16", "bfloat16", "float32"), "float32"),
    ("fma", ("float32", "float32", "float32"), "float16"),
    ("fma", ("float8_e4m3", "float8_e5m2", "bfloat16"), "float8_e4m3"),
]


@needs_gmpy2
@pytest.mark.parametrize("op, names, out", MIXED,
                         ids=[f"{o}-{'-'.join(n)}-{t}" for o, n, t in MIXED])
def test_mixed_formats_round_once(op, names, out):
    """Operands of different formats, and out= formats narrower than the
    operands: the exact result rounded once (never through an intermediate
    format), against MPFR rounding the exact rational."""
    fmts = [fxsim.format(n) for n in names]
    rng = np.random.default_rng(11)
    operands = _mixed_operands(rng, fmts, 400)
    target = fxsim.result_format(*fmts, op=op) if out is None else fxsim.format(out)
    if out is None:
        assert target == fxsim.FloatFormat(8, 10), target
    for mode in GMP_MODES:
        ours = FX[op](*operands, out=out, rounding=mode, overflow="ieee")
        assert ours.fmt == target
        assert_same(f"{op} {'/'.join(names)} -> {target.name} rounding={mode} overflow=ieee vs "
                    f"MPFR (exact, rounded once)", ours,
                    exact_then_round(op, operands, target, mode), operands)


@needs_gmpy2
@pytest.mark.parametrize("fmt_in, out", [("float16", "float32"), ("bfloat16", "float32"),
                                         ("float8_e5m2", "float16")])
def test_mixed_sqrt_matches_mpfr(fmt_in, out):
    """sqrt into a wider format (the operands lie in its range, so MPFR's
    own sqrt in the output context is the oracle)."""
    fi, fo = fxsim.format(fmt_in), fxsim.format(out)
    x = fxsim.from_bits(np.arange(1 << fi.width, dtype=np.uint64), fi)
    for mode in GMP_MODES:
        ours = fxsim.sqrt(x, out=fo, rounding=mode, overflow="ieee")
        assert_same(f"sqrt {fmt_in} -> {out} rounding={mode} vs MPFR", ours,
                    mpfr_results("sqrt", (x,), mpfr_context(fo, mode)), (x,))


@st.composite
def ieee_like(draw):
    """IEEE-like formats whose values float64 holds (so operands pass to
    MPFR exactly): 2..11 exponent bits, 1..40 fraction bits, varied bias."""
    exp = draw(st.integers(2, 11))
    man = draw(st.integers(1, 40))
    shift = 0 if exp == 11 else draw(st.sampled_from([0, 0, 0, -1, 1, 3, -3]))
    return fxsim.FloatFormat(exp, man, bias=(1 << (exp - 1)) - 1 + shift)


@needs_gmpy2
@given(data=st.data(), fmt=ieee_like(), op=st.sampled_from(list(FX)),
       mode=st.sampled_from(list(GMP_MODES)))
def test_random_ieee_like_formats_match_mpfr(data, fmt, op, mode):
    """Any exponent width, precision and bias; out= the operands' format or
    another random one (then the MPFR oracle rounds the exact result)."""
    other = data.draw(st.one_of(st.just(fmt), ieee_like()), label="out") if op != "sqrt" else fmt
    arity = {"fma": 3, "sqrt": 1}.get(op, 2)
    top = (1 << fmt.width) - 1
    cols = []
    for _ in range(arity):
        special = [0, 1, top, top - 1, fmt.max_code, fmt.max_code - 1, top >> 1,
                   (top >> 1) + 1, 1 << fmt.man, (1 << fmt.man) - 1]
        codes = data.draw(st.lists(st.one_of(st.integers(0, top), st.sampled_from(special)),
                                   min_size=12, max_size=12))
        cols.append(fxsim.from_bits(np.array(codes, dtype=np.uint64), fmt))
    ours = FX[op](*cols, out=other, rounding=mode, overflow="ieee")
    if other == fmt:
        theirs = mpfr_results(op, cols, mpfr_context(fmt, mode))
    else:
        theirs = exact_then_round(op, cols, other, mode)
    assert_same(f"{op} {fmt!r} -> {other!r} rounding={mode} overflow=ieee vs MPFR", ours, theirs,
                cols)


def _sum_operands(rng, fmt, shape):
    """Random rows, then rows of -0s, +0s, mixed zeros, x/-x pairs, an inf,
    inf and -inf, and an inf among negative terms."""
    v = np.ldexp(rng.uniform(1, 2, shape), rng.integers(-12, 12, shape)) \
        * rng.choice([-1.0, 1.0], shape)
    codes = fxsim.encode(v, fmt, "nearest_even", "saturate")
    q = fxsim.from_bits(codes, fmt)
    # a few rows of specials and cancellations
    sign = 1 << (fmt.width - 1)
    zero_row = np.zeros(shape[-1], dtype=np.uint64)
    inf = fxsim.encode(np.array([np.inf]), fmt)[0]
    rows = [zero_row | np.uint64(sign), zero_row, np.tile([0, sign], shape[-1] // 2)]
    cancel = codes[0].astype(np.uint64).copy()
    cancel[1::2] = cancel[0::2] ^ np.uint64(sign)
    rows.append(cancel)
    special = codes[1].astype(np.uint64).copy()
    special[3] = inf
    rows.append(special.copy())
    special[5] = int(inf) | sign
    rows.append(special)
    negative = codes[2].astype(np.uint64) | np.uint64(sign)  # +inf, every other term negative
    negative[7] = inf
    rows.append(negative)
    bits = np.concatenate([q.bits.astype(np.uint64), np.array(rows, dtype=np.uint64)])
    return fxsim.from_bits(bits, fmt)


def _mpfr_sums(rows, fmt, mode):
    """Exact sums (4096-bit MPFR: IEEE signs of zero, inf, NaN) rounded once."""
    big = gmpy2.context(precision=4096, round=getattr(gmpy2, GMP_MODES[mode]))
    out = []
    todo = []
    for r, row in enumerate(rows):
        total = row[0]
        for t in row[1:]:
            total = big.add(total, t)
        out.append(float(total))
        if gmpy2.is_finite(total) and not gmpy2.is_zero(total):
            todo.append((r, gmpy2.mpq(total)))
    with gmpy2.context(mpfr_context(fmt, mode)):
        for r, q in todo:
            out[r] = float(gmpy2.mpfr(q))
    return np.array(out, np.float64)


@needs_gmpy2
@pytest.mark.parametrize("name, out", [("float16", None), ("float16", "float32"),
                                       ("bfloat16", "float8_e4m3"), ("float32", "bfloat16")])
def test_float_sum_and_dot_match_mpfr(name, out):
    """sum and dot: the exact sum (of exact products) rounded once, with
    IEEE 754's signs of zero and inf/NaN rules."""
    fmt = fxsim.format(name)
    target = fmt if out is None else fxsim.format(out)
    rng = np.random.default_rng(3)
    a = _sum_operands(rng, fmt, (12, 40))
    b = fxsim.from_bits(_sum_operands(rng, fmt, (12, 40)).bits[3], fmt)
    rows = [_mpfr_list(r) for r in a.to_float()]
    big = gmpy2.context(precision=4096)
    vb = _mpfr_list(b.to_float())
    products = [[big.mul(x, y) for x, y in zip(r, vb)] for r in rows]
    for mode in GMP_MODES:
        ours = fxsim.sum(a, axis=1, out=out, rounding=mode, overflow="ieee")
        assert_same(f"sum(axis=1) {name} -> {target.name} rounding={mode} vs MPFR", ours,
                    _mpfr_sums(rows, target, mode), (),
                    lambda i: f"row {i} = {a.to_float()[i].tolist()}")
        ours = fxsim.dot(a, b, out=target, rounding=mode, overflow="ieee")
        assert_same(f"dot {name} -> {target.name} rounding={mode} vs MPFR", ours,
                    _mpfr_sums(products, target, mode), (),
                    lambda i: f"row {i} = {a.to_float()[i].tolist()} . {b.to_float().tolist()}")


def test_sum_and_dot_with_an_infinite_term_take_its_sign():
    """inf + finite is inf with the infinity's sign, whatever the sign of the
    finite rest (IEEE 754; numpy and MPFR agree): a minimal reproducer of
    what test_float_sum_and_dot_match_mpfr finds in its rows with inf."""
    cases = [[np.inf, -1.0], [-np.inf, 1.0], [1.0, -np.inf, -3.0], [np.inf, 2.0, -5.0]]
    for terms in cases:
        x = np.array(terms, np.float16)
        want = np.sum(x)
        got = fxsim.sum(fxsim.asarray(x)).to_float()
        assert got == want, f"sum float16 {terms}: fxsim {got}, numpy {want}"
        ones = np.ones_like(x)
        got = fxsim.dot(fxsim.asarray(x), fxsim.asarray(ones)).to_float()
        assert got == np.dot(x, ones), f"dot float16 {terms} . {ones.tolist()}: fxsim {got}, " \
                                       f"numpy {np.dot(x, ones)}"


# ---------------------------------------------------------------- 2. numpy
NP_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _np_compare(label, ours, theirs, a, b=None):
    """Bits equal; NaN compared as NaN (numpy may keep a payload or a sign),
    and fxsim's NaN must be the canonical one."""
    tb = theirs.view(f"uint{8 * theirs.itemsize}")
    ob = ours.bits
    nan = np.isnan(theirs)
    bad = np.flatnonzero(((ob != tb) & ~nan) | (nan & (ob != _canonical_nan(ours.fmt))))
    if bad.size:
        i = np.unravel_index(bad[0], theirs.shape)
        args = f"{a[i]!r} [0x{int(a.view(tb.dtype)[i]):x}]"
        if b is not None:
            args += f", {b[i]!r} [0x{int(b.view(tb.dtype)[i]):x}]"
        pytest.fail(f"{label}: {bad.size} results differ; first: ({args}) -> fxsim "
                    f"0x{int(ob[i]):x} ({ours[i].to_float()!r}), numpy 0x{int(tb[i]):x} "
                    f"({theirs[i]!r})")


def _float16_partners():
    """256 float16 values: zeros, subnormals, the smallest normals, around
    1, the top binade, inf and NaN (odd, even, all-ones and half-way
    fractions), values with many and few significant bits, random codes."""
    rng = np.random.default_rng(16)
    fmt = fxsim.formats.float16
    hard = [(s << 15) | (e << 10) | f for s in (0, 1) for e in (0, 1, 14, 15, 30)
            for f in (0, 1, 0x3ff, 0x200, 0x201)] + [0x7c00, 0xfc00, 0x7e00, 0x7c01]
    picked = _code_of(np.array([3.0, 0.1, 1 / 3, -1e-7, 6e-5, -65504.0, 2.0 ** -24, 1.5,
                                1 + 2.0 ** -10, 7.0, -0.3, 1e4]), fmt)
    codes = np.concatenate([hard, picked])
    codes = np.concatenate([codes, rng.integers(0, 1 << 16, 256 - codes.size)])
    return codes.astype(np.uint16).view(np.float16)


def test_float16_every_value_matches_numpy():
    """Every float16 value against 256 partner values through add, sub, mul,
    div (and the partners divided by every value), and sqrt of every value.
    numpy rounds float16 through float32, which is innocuous for these ops
    (24 >= 2*11 + 2), so its answers are the correctly rounded ones."""
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    partners = _float16_partners()
    assert partners.size == 256
    qa = fxsim.asarray(every[None, :])
    for start in range(0, partners.size, 64):
        b = partners[start:start + 64, None]
        qb = fxsim.asarray(b)
        for op, f in NP_OPS.items():
            with np.errstate(all="ignore"):
                theirs = f(every[None, :], b)
            ours = FX[op](qa, qb)
            assert ours.fmt == fxsim.formats.float16
            _np_compare(f"{op} float16 rounding=nearest_even vs numpy", ours, theirs,
                        np.broadcast_to(every[None, :], theirs.shape),
                        np.broadcast_to(b, theirs.shape))
        with np.errstate(all="ignore"):
            theirs = np.divide(b, every[None, :])
        _np_compare("div float16 rounding=nearest_even vs numpy", FX["div"](qb, qa), theirs,
                    np.broadcast_to(b, theirs.shape), np.broadcast_to(every[None, :], theirs.shape))
    with np.errstate(all="ignore"):
        theirs = np.sqrt(every)
    _np_compare("sqrt float16 rounding=nearest_even vs numpy", fxsim.sqrt(fxsim.asarray(every)),
                theirs, every)


def _float32_pairs(rng, n):
    fmt = fxsim.formats.float32
    a = np.concatenate([_random_codes(rng, fmt, n // 2),
                        _near_codes(rng, fmt, rng.integers(0, 255, n // 2), 0)])
    b = np.concatenate([_random_codes(rng, fmt, n // 2),
                        _near_codes(rng, fmt, a[n // 2:] >> np.uint64(23) & np.uint64(255), 26)])
    hard = _hard_codes(fmt)
    a = np.concatenate([a, np.repeat(hard, hard.size)])
    b = np.concatenate([b, np.tile(hard, hard.size)])
    return a.astype(np.uint32).view(np.float32), b.astype(np.uint32).view(np.float32)


def test_float32_matches_numpy():
    """10**5 float32 pairs (random codes, similar magnitudes, every pair of
    hard codes) through add/sub/mul/div, and their square roots."""
    rng = np.random.default_rng(32)
    a, b = _float32_pairs(rng, 100_000)
    qa, qb = fxsim.asarray(a), fxsim.asarray(b)
    for op, f in NP_OPS.items():
        with np.errstate(all="ignore"):
            theirs = f(a, b)
        _np_compare(f"{op} float32 rounding=nearest_even vs numpy", FX[op](qa, qb), theirs, a, b)
    with np.errstate(all="ignore"):
        theirs = np.sqrt(a)
    _np_compare("sqrt float32 rounding=nearest_even vs numpy", fxsim.sqrt(qa), theirs, a)


def test_float16_with_float32_matches_numpy():
    """Mixed operands: numpy promotes float16 to float32 exactly, and so must
    fxsim's default out format."""
    rng = np.random.default_rng(1632)
    h = rng.integers(0, 1 << 16, 50_000, dtype=np.uint64).astype(np.uint16).view(np.float16)
    _, s = _float32_pairs(rng, 50_000)
    s = s[:h.size]
    for op, f in NP_OPS.items():
        with np.errstate(all="ignore"):
            theirs = f(h, s)
        ours = FX[op](fxsim.asarray(h), fxsim.asarray(s))
        assert ours.fmt == fxsim.formats.float32
        _np_compare(f"{op} float16,float32 -> float32 rounding=nearest_even vs numpy", ours,
                    theirs, h.astype(np.float32), s)


# ---------------------------------------------------------------- 3. APyTypes
APY_FIXED_MODES = {
    "down": "TRN", "up": "TRN_INF", "toward_zero": "TRN_ZERO", "away": "TRN_AWAY",
    "nearest_up": "RND", "nearest_zero": "RND_ZERO", "nearest_away": "RND_INF",
    "nearest_down": "RND_MIN_INF", "nearest_even": "RND_CONV", "nearest_odd": "RND_CONV_ODD",
    "jam": "JAM", "odd": "JAM_UNBIASED",
}
APY_FLOAT_MODES = {
    "nearest_even": "TIES_EVEN", "nearest_away": "TIES_AWAY", "nearest_zero": "TIES_ZERO",
    "nearest_odd": "TIES_ODD", "nearest_down": "TIES_NEG", "nearest_up": "TIES_POS",
    "up": "TO_POS", "down": "TO_NEG", "toward_zero": "TO_ZERO", "away": "TO_AWAY",
    "jam": "JAM", "odd": "JAM_UNBIASED",
}


def _apy_fixed(q):
    """An APyFixedArray of the same values as the fixed QArray ``q``.
    APyTypes is two's complement only: uW.F becomes a signed format with
    one more integer bit (same values)."""
    fmt = q.fmt
    bits = [int(c) for c in q.bits.reshape(-1)]
    return apytypes.APyFixedArray(bits, int_bits=fmt.word - fmt.frac + (not fmt.signed),
                                  frac_bits=fmt.frac)


def _apy_values(x):
    """Exact values (Fractions) of an APyFixedArray."""
    bits = np.asarray(x.to_bits(), dtype=object).reshape(-1)
    return [apytypes.APyFixed(int(c), int_bits=x.int_bits, frac_bits=x.frac_bits).to_fraction()
            for c in bits]


fixed_formats = st.builds(fxsim.FixedFormat, word=st.integers(1, 72), frac=st.integers(-6, 40),
                          signed=st.booleans())


@needs_apytypes
@given(data=st.data(), fa=fixed_formats, fb=fixed_formats)
def test_fixed_arith_matches_apytypes(data, fa, fb):
    """add/sub/mul: APyTypes grows a sum to max(int bits) + 1 integer bits and
    max(frac) fraction bits, a product to the sum of both: for two signed
    operands fxsim's growth is the same format, bit for bit.  APyTypes has
    no unsigned type (uW.F is modelled as signed with one more integer bit),
    so with an unsigned operand only the values are compared: fxsim's u+u is
    unsigned with max(int)+1 bits, APyTypes' is signed with one bit more."""
    qs = []
    for fmt in (fa, fb):
        codes = data.draw(st.lists(st.one_of(st.integers(0, (1 << fmt.word) - 1),
                                             st.sampled_from([0, (1 << fmt.word) - 1,
                                                              1 << (fmt.word - 1)])),
                                   min_size=8, max_size=8))
        qs.append(fxsim.from_bits(np.array(codes, dtype=object), fmt))
    a, b = qs
    A, B = _apy_fixed(a), _apy_fixed(b)
    for op, theirs in (("add", A + B), ("sub", A - B), ("mul", A * B)):
        ours = FX[op](a, b)
        label = f"{op} {fa.name}, {fb.name}"
        want = _apy_values(theirs)
        got = list(ours.to_exact().reshape(-1))
        bad = [i for i in range(len(got)) if got[i] != want[i]]
        assert not bad, (f"{label}: fxsim {got[bad[0]]} ({ours.fmt.name}), APyTypes {want[bad[0]]} "
                         f"for operands {a.to_exact()[bad[0]]}, {b.to_exact()[bad[0]]}")
        if fa.signed and fb.signed:
            apy_fmt = (theirs.int_bits + theirs.frac_bits, theirs.frac_bits)
            assert (ours.fmt.word, ours.fmt.frac, ours.fmt.signed) == apy_fmt + (True,), \
                f"{label}: fxsim grows to {ours.fmt.name}, APyTypes to " \
                f"int_bits={theirs.int_bits} frac_bits={theirs.frac_bits}"
            their_bits = [int(c) for c in np.asarray(theirs.to_bits(), dtype=object).reshape(-1)]
            assert [int(c) for c in ours.bits.reshape(-1)] == their_bits, label


def _apy_cast_check(label, ours, theirs, src):
    their_bits = np.array([int(c) for c in np.asarray(theirs.to_bits(), dtype=object).reshape(-1)],
                          dtype=object)
    our_bits = np.array([int(c) for c in ours.bits.reshape(-1)], dtype=object)
    bad = np.flatnonzero(our_bits != their_bits)
    if bad.size:
        i = bad[0]
        pytest.fail(f"{label}: {bad.size} of {our_bits.size} differ; first: {_describe(src, i)} "
                    f"-> fxsim 0x{our_bits[i]:x} ({ours.to_exact().reshape(-1)[i]}), APyTypes "
                    f"0x{their_bits[i]:x}")


FIXED_CASTS = [("s24.12", "s8.4"), ("s24.12", "u8.4"), ("u16.8", "s10.2"), ("s12.0", "s20.6"),
               ("s16.-3", "s6.-5"), ("s20.16", "s4.10"), ("u9.9", "s3.1"),
               ("s80.30", "s20.5"), ("s70.3", "s66.0"), ("s40.20", "s64.2"), ("s100.90", "s12.10")]


@needs_apytypes
@pytest.mark.parametrize("src, dst", FIXED_CASTS)
def test_fixed_cast_matches_apytypes(src, dst):
    """fixed -> fixed in every mode both have, saturating and wrapping.  An
    unsigned target has no APyTypes twin: it is checked through a signed
    format one bit wider, saturated to the unsigned range by fxsim's rule
    (wrap: reduced modulo 2**word)."""
    fs, fd = fxsim.format(src), fxsim.format(dst)
    rng = np.random.default_rng(len(src) * 31 + len(dst))
    q = _wide_codes(rng, fs, 300 if fs.word <= 64 else 120)
    A = _apy_fixed(q)
    for mode, am in APY_FIXED_MODES.items():
        for overflow in ("saturate", "wrap"):
            ours = fxsim.cast(q, fd, mode, overflow)
            label = f"cast {src} -> {dst} rounding={mode} overflow={overflow} vs APyTypes"
            if fd.signed:
                theirs = A.cast(int_bits=fd.word - fd.frac, frac_bits=fd.frac,
                                quantization=getattr(apytypes.QuantizationMode, am),
                                overflow=getattr(apytypes.OverflowMode,
                                                 "SAT" if overflow == "saturate" else "WRAP"))
                _apy_cast_check(label, ours, theirs, q)
            else:  # round on APyTypes' side (one bit wider: no overflow), range by rule
                wide = A.cast(int_bits=max(A.int_bits, fd.word - fd.frac) + 2, frac_bits=fd.frac,
                              quantization=getattr(apytypes.QuantizationMode, am),
                              overflow=apytypes.OverflowMode.SAT)
                ints = [int(v * 2 ** fd.frac) for v in _apy_values(wide)]
                top = (1 << fd.word) - 1
                want = [min(max(v, 0), top) if overflow == "saturate" else v % (1 << fd.word)
                        for v in ints]
                got = [int(c) for c in ours.bits.reshape(-1)]
                bad = [i for i in range(len(got)) if got[i] != want[i]]
                assert not bad, (f"{label}: {_describe(q, bad[0])} -> fxsim {got[bad[0]]}, "
                                 f"APyTypes (rounded, then ranged) {want[bad[0]]}")


APY_FLOATS = ["float16", "bfloat16", "float8_e4m3", "float8_e5m2", "float8_e3m4", "e4m3b11",
              "e6m9", "e3m2"]


@needs_apytypes
@pytest.mark.parametrize("dst", APY_FLOATS)
def test_fixed_to_float_matches_apytypes(dst):
    """fixed -> IEEE-like float, every mode.  APyTypes 0.5.1's float cast
    overflows as IEEE 754 section 7.4 says (to inf where the mode rounds the
    magnitude up, else to the largest finite value), so overflow='ieee'."""
    fd = fxsim.format(dst)
    rng = np.random.default_rng(7)
    for src in ("s24.12", "s40.30", "u12.20", "s8.-4"):
        fs = fxsim.format(src)
        codes = rng.integers(0, 1 << min(fs.word, 62), 1500).astype(object)
        codes = np.concatenate([codes, np.array([0, 1, 2, 3, (1 << fs.word) - 1,
                                                 1 << (fs.word - 1)], dtype=object)])
        q = fxsim.from_bits(codes, fs)
        A = _apy_fixed(q)
        exact = apytypes.APyFloatArray.from_float(A, 14, 60)  # every value exactly
        for mode, am in APY_FLOAT_MODES.items():
            theirs = exact.cast(fd.exp, fd.man, fd.bias, getattr(apytypes.QuantizationMode, am))
            ours = fxsim.cast(q, fd, mode, "ieee")
            _apy_cast_check(f"cast {src} -> {fd.name} rounding={mode} overflow=ieee vs APyTypes",
                            ours, theirs, q)


@needs_apytypes
@pytest.mark.parametrize("src", APY_FLOATS + ["float32"])
def test_float_to_fixed_and_float_matches_apytypes(src):
    """float -> fixed (every mode, saturate and wrap; NaN/inf are refused by
    fxsim, so left out) and float -> float casts between IEEE-like formats."""
    fs = fxsim.format(src)
    rng = np.random.default_rng(8)
    codes = np.unique(np.concatenate([_random_codes(rng, fs, 1500), _hard_codes(fs)]))
    q = fxsim.from_bits(codes, fs)
    A = apytypes.APyFloatArray.from_bits([int(c) for c in codes], fs.exp, fs.man, fs.bias)
    finite = np.isfinite(q.to_float())
    qf = q[finite]
    Af = apytypes.APyFloatArray.from_bits([int(c) for c in codes[finite]], fs.exp, fs.man, fs.bias)
    wide = apytypes.APyFixedArray.from_float(Af, int_bits=fs.emax + 2, frac_bits=fs.man - fs.emin)
    for dst in ("s16.8", "s8.0", "s12.14", "s20.-2", "s70.40"):
        fd = fxsim.format(dst)
        for mode, am in APY_FIXED_MODES.items():
            for overflow in ("saturate", "wrap"):
                theirs = wide.cast(int_bits=fd.word - fd.frac, frac_bits=fd.frac,
                                   quantization=getattr(apytypes.QuantizationMode, am),
                                   overflow=getattr(apytypes.OverflowMode,
                                                    "SAT" if overflow == "saturate" else "WRAP"))
                if fd.width > 64:  # fxsim's exact per-element path: a slice is enough
                    ours = fxsim.cast(qf[:200], fd, mode, overflow)
                    _apy_cast_check(f"cast {src} -> {dst} rounding={mode} overflow={overflow} "
                                    f"vs APyTypes", ours, _apy_fixed_take(theirs, 200), qf[:200])
                    continue
                ours = fxsim.cast(qf, fd, mode, overflow)
                _apy_cast_check(f"cast {src} -> {dst} rounding={mode} overflow={overflow} vs "
                                f"APyTypes", ours, theirs, qf)
    for dst in ("float16", "bfloat16", "float8_e4m3", "float8_e5m2", "e3m2"):
        fd = fxsim.format(dst)
        if fd != fs:
            _float_cast_against_apytypes(q, A, fd)


def _float_cast_against_apytypes(q, A, fd):
    """float -> float in every mode, with APyTypes' two known defects
    judged by another oracle instead:

    * APyTypes 0.5.1 mis-converts some values below the smallest normal of
      either format (float8_e5m2 0x01 = 2**-16 becomes float16 0x0200 =
      2**-15; float8_e5m2 0x1f = 7/1024, 3.5 subnormal steps of E4M3,
      becomes E4M3 0x08 = 8 steps; e4m3b11 0x01 becomes the 64-bit code
      0x2000000000000000 in float8_e4m3): where it disagrees there, MPFR
      decides (the exact value rounded once) in the five modes it has;
    * APyTypes' float JAM leaves exact float -> float results alone (its
      fixed -> float JAM does not); fxsim jams always (modes.py): there the
      rule itself decides -- truncate, then set the last bit.
    NaN: README promises the canonical quiet NaN with the input's sign."""
    fs = q.fmt
    values = q.to_float()
    nan = np.isnan(values)
    sign = np.uint64(1 << (fs.width - 1))
    codes = q.bits.astype(np.uint64)
    low = np.abs(values) < 2.0 ** max(fs.emin, fd.emin)
    ones = fxsim.from_bits(np.full(q.size, int(_code_of(np.array([1.0]), fs)[0]), np.uint64), fs)
    for mode, am in APY_FLOAT_MODES.items():
        label = f"cast {fs.name} -> {fd.name} rounding={mode} overflow=ieee vs APyTypes"
        theirs = np.array(A.cast(fd.exp, fd.man, fd.bias,
                                 getattr(apytypes.QuantizationMode, am)).to_bits(), np.uint64)
        ours = fxsim.cast(q, fd, mode, "ieee")
        got = ours.bits.astype(np.uint64)
        known = low & (got != theirs)
        if known.any() and mode in GMP_MODES and gmpy2 is not None:
            k = np.flatnonzero(known)
            mpfr = exact_then_round("mul", (q[k], ones[k]), fd, mode)  # x * 1, exactly x
            assert_same(f"cast {fs.name} -> {fd.name} rounding={mode} vs MPFR (where APyTypes "
                        f"is known wrong)", ours[k], mpfr, (q[k],))
        if mode == "jam":
            tz = fxsim.cast(q, fd, "toward_zero", "ieee").bits.astype(np.uint64)
            exact = tz == fxsim.cast(q, fd, "away", "ieee").bits.astype(np.uint64)
            jammed = np.where(exact & ((tz & ~np.uint64(1 << (fd.width - 1))) != 0),
                              tz | np.uint64(1), tz)
            rule = exact & ~nan & (got != theirs)
            assert (got[rule] == jammed[rule]).all(), (f"{label}: exact results "
                                                       f"{tz[rule][:4]} jam to {got[rule][:4]}")
            known |= rule
        check = np.flatnonzero(~nan & ~known)
        _apy_cast_check(label, ours[check], _apy_take_bits(theirs[check], fd), q[check])
        negative = (codes[nan] & sign) != 0
        want = np.where(negative, _canonical_nan(fd) | (1 << (fd.width - 1)), _canonical_nan(fd))
        assert (got[nan] == want).all(), f"{label}: NaN codes {got[nan][:4]}, want {want[:4]}"
        assert np.isnan(np.asarray(fxsim.decode(theirs[nan], fd))).all(), label


def _apy_fixed_take(x, n):
    bits = [int(c) for c in np.asarray(x.to_bits(), dtype=object).reshape(-1)[:n]]
    return apytypes.APyFixedArray(bits, int_bits=x.int_bits, frac_bits=x.frac_bits)


def _apy_take_bits(bits, fmt):
    return apytypes.APyFloatArray.from_bits([int(c) for c in bits], fmt.exp, fmt.man, fmt.bias)


# ---------------------------------------------------------------- 4. Python ints, Fractions
def _signed(code, fmt):
    code = int(code)
    return code - (1 << fmt.word) if fmt.signed and code >> (fmt.word - 1) else code


def _wide_codes(rng, fmt, n):
    """Random codes of any width, plus the extremes."""
    words = (fmt.word + 61) // 62
    codes = []
    for _ in range(n):
        c = 0
        for _ in range(words):
            c = (c << 62) | int(rng.integers(0, 1 << 62))
        codes.append(c % (1 << fmt.word))
    top = (1 << fmt.word) - 1
    codes += [0, 1, top, top >> 1, (top >> 1) + 1]
    return fxsim.from_bits(np.array(codes, dtype=object), fmt)


WIDE = [("mul", "s40.10", "s40.20"), ("mul", "s70.3", "s70.3"), ("mul", "u64.0", "u64.0"),
        ("mul", "s64.0", "u64.32"), ("mul", "s33.33", "s31.-2"), ("mul", "u40.10", "s40.20"),
        ("add", "s70.3", "s40.10"), ("sub", "u64.0", "s64.0"), ("add", "u70.5", "u60.-3"),
        ("sub", "s128.64", "s3.70")]


@pytest.mark.parametrize("op, fa, fb", WIDE)
def test_wide_fixed_exact_against_python_ints(op, fa, fb):
    """Fixed results of more than 64 bits, from the codes' integers: the
    documented growth format and the exact code (two's complement)."""
    fa, fb = fxsim.format(fa), fxsim.format(fb)
    rng = np.random.default_rng(fa.word * 131 + fb.word)
    a, b = _wide_codes(rng, fa, 200), _wide_codes(rng, fb, 200)
    ours = FX[op](a, b)
    out = ours.fmt
    if op == "mul":
        assert (out.word, out.frac) == (fa.word + fb.word, fa.frac + fb.frac), out
    else:
        assert out.frac == max(fa.frac, fb.frac), out
    for i, (x, y, got) in enumerate(zip(a.bits, b.bits, ours.bits)):
        ix, iy = _signed(x, fa), _signed(y, fb)
        if op == "mul":
            want = ix * iy
        else:
            ix <<= out.frac - fa.frac
            iy <<= out.frac - fb.frac
            want = ix + iy if op == "add" else ix - iy
        assert want == _signed(got, out), (f"{op} {fa.name} {fb.name} -> {out.name}: codes "
                                           f"0x{int(x):x}, 0x{int(y):x}: fxsim "
                                           f"{_signed(got, out)}, Python {want}")


@needs_apytypes
@pytest.mark.parametrize("fa, fb, out", [("s40.10", "s40.20", "s40.20"),
                                         ("s70.3", "s70.3", "s64.0"),
                                         ("s40.10", "s40.20", "s90.35"),
                                         ("s12.4", "s10.6", "s8.3")])
def test_fixed_product_rounded_matches_apytypes(fa, fb, out):
    """A product rounded into a fixed out= (wide ones, and every wrapping
    one, run fxsim's Python engine) against APyTypes casting the exact
    product."""
    fa, fb, fo = fxsim.format(fa), fxsim.format(fb), fxsim.format(out)
    rng = np.random.default_rng(99)
    a, b = _wide_codes(rng, fa, 60), _wide_codes(rng, fb, 60)
    exact = _apy_fixed(a) * _apy_fixed(b)
    for mode in ("nearest_even", "nearest_away", "down", "toward_zero", "odd", "jam"):
        for overflow in ("saturate", "wrap"):
            ours = fxsim.multiply(a, b, out=fo, rounding=mode, overflow=overflow)
            theirs = exact.cast(int_bits=fo.word - fo.frac, frac_bits=fo.frac,
                                quantization=getattr(apytypes.QuantizationMode,
                                                     APY_FIXED_MODES[mode]),
                                overflow=getattr(apytypes.OverflowMode,
                                                 "SAT" if overflow == "saturate" else "WRAP"))
            _apy_cast_check(f"mul {fa.name} {fb.name} -> {fo.name} rounding={mode} "
                            f"overflow={overflow} vs APyTypes (operand a shown)", ours, theirs, a)


@needs_gmpy2
@pytest.mark.parametrize("fa, fb", [("s40.10", "s40.20"), ("s70.3", "s70.3"), ("u64.0", "s12.60")])
def test_wide_fixed_product_into_float_matches_mpfr(fa, fb):
    fa, fb = fxsim.format(fa), fxsim.format(fb)
    rng = np.random.default_rng(98)
    a, b = _wide_codes(rng, fa, 60), _wide_codes(rng, fb, 60)
    for out in ("float32", "bfloat16", "float8_e4m3"):
        fo = fxsim.format(out)
        for mode in GMP_MODES:
            ours = fxsim.multiply(a, b, out=fo, rounding=mode, overflow="ieee")
            exact = [x * y for x, y in zip(a.to_exact(), b.to_exact())]
            with gmpy2.context(mpfr_context(fo, mode)):
                theirs = [float(gmpy2.mpfr(gmpy2.mpq(e.numerator, e.denominator))) for e in exact]
            assert_same(f"mul {fa.name} {fb.name} -> {out} rounding={mode} vs MPFR", ours,
                        theirs, (a, b))


@pytest.mark.parametrize("name, shape", [("s40.10", (7, 33)), ("s70.3", (3, 9)),
                                         ("u50.-4", (4, 16)), ("s8.7", (5, 1000))])
def test_fixed_sum_against_fractions(name, shape):
    fmt = fxsim.format(name)
    rng = np.random.default_rng(fmt.word)
    q = _wide_codes(rng, fmt, shape[0] * shape[1] - 5)
    q = q.reshape(shape)
    ours = fxsim.sum(q, axis=1)
    grow = (shape[1] - 1).bit_length()
    assert (ours.fmt.word, ours.fmt.frac, ours.fmt.signed) == (fmt.word + grow, fmt.frac,
                                                               fmt.signed), ours.fmt
    values = q.to_exact()
    for r in range(shape[0]):
        want = sum(values[r], Fraction(0))
        assert ours.to_exact()[r] == want, (f"sum {name} row {r}: fxsim {ours.to_exact()[r]}, "
                                           f"Fraction {want}")
    total = fxsim.sum(q)
    assert total.to_exact()[()] == sum(values.reshape(-1), Fraction(0)), name


@pytest.mark.parametrize("fa, fb, k", [("s40.20", "s40.10", 17), ("s16.8", "u16.8", 300),
                                       ("s70.3", "s20.20", 5), ("s32.31", "s32.31", 64)])
def test_fixed_dot_against_fractions(fa, fb, k):
    fa, fb = fxsim.format(fa), fxsim.format(fb)
    rng = np.random.default_rng(k)
    a = _wide_codes(rng, fa, 4 * k - 5).reshape(4, k)
    b = _wide_codes(rng, fb, k - 5)
    ours = fxsim.dot(a, b)
    grow = (k - 1).bit_length()
    assert (ours.fmt.word, ours.fmt.frac) == (fa.word + fb.word + grow, fa.frac + fb.frac), ours.fmt
    va, vb = a.to_exact(), b.to_exact()
    for r in range(4):
        want = sum((x * y for x, y in zip(va[r], vb)), Fraction(0))
        assert ours.to_exact()[r] == want, (f"dot {fa.name} . {fb.name} (k={k}) row {r}: fxsim "
                                           f"{ours.to_exact()[r]}, Fraction {want}")


@needs_gmpy2
def test_fixed_sum_into_float_matches_mpfr():
    """A fixed sum rounded once into a float (exact sum first)."""
    fmt = fxsim.format("s40.10")
    rng = np.random.default_rng(4)
    codes = [int(c) for c in _wide_codes(rng, fmt, 6 * 50 - 5).bits]
    small = [int(c) >> 3 for c in codes[:25]]  # x, -x, y, -y, ...: an exact zero
    codes += [0] * 50 + [c if k % 2 == 0 else (-c) % (1 << 40)
                         for c in small for k in range(2)]
    q = fxsim.from_bits(np.array(codes, dtype=object), fmt).reshape(8, 50)
    with gmpy2.context(precision=4096):
        rows = [[gmpy2.mpfr(gmpy2.mpq(v.numerator, v.denominator)) for v in r]
                for r in q.to_exact()]
    for out in ("float16", "bfloat16", "float8_e4m3"):
        fo = fxsim.format(out)
        for mode in GMP_MODES:
            ours = fxsim.sum(q, axis=1, out=fo, rounding=mode, overflow="ieee")
            theirs = _mpfr_sums(rows, fo, mode)
            assert_same(f"sum(axis=1) s40.10 -> {out} rounding={mode} vs MPFR", ours, theirs, (),
                        lambda i: f"row {i} = {[str(v) for v in q.to_exact()[i]]}")
