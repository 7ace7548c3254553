"""The machine's IEEE 754 arithmetic engine of fxsim.ops (``hardware_plan``,
``elementwise.hardware``) against the general engine and reference/.

* float16: every code against partner codes through add, sub, mul and div
  (both operand orders), sqrt of every code, every pair of a dense set of
  hard codes (ties, subnormals, the overflow boundary, inf, NaN with
  payloads), all bit for bit against the core (the engine-choice predicate
  patched to refuse), and a sample against reference.arith;
* float32 and float64: hypothesis over random bit patterns biased toward
  subnormals, NaN payloads and signs, infinities, ties and cancellation,
  all six operations, against the core (and the Python-int engine) and
  reference.arith; mixed formats;
* IEEE 754's special cases spelled out; broadcasting, scalars, strides;
* the FPU's mode: a probe reporting flush-to-zero sends the call to the
  core, and so do a real FTZ/DAZ or round-upward environment (glibc's
  ``fesetenv``/``fesetround`` on x86-64, skipped elsewhere);
* results on one and on two threads are the same.
"""
import contextlib
import ctypes
import ctypes.util
import math
import platform

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
import reference.arith as ra
from fxsim import ops
from fxsim._kernels import arith, elementwise, jit
from oracle import ref_format

F16, F32, F64 = fxsim.formats.float16, fxsim.formats.float32, fxsim.formats.float64
FX = {"add": fxsim.add, "sub": fxsim.sub, "mul": fxsim.mul, "div": fxsim.div, "fma": fxsim.fma,
      "sqrt": fxsim.sqrt}
ARITY = {"add": 2, "sub": 2, "mul": 2, "div": 2, "fma": 3, "sqrt": 1}
BINARY = ["add", "sub", "mul", "div"]
NEAREST, IEEE = fxsim.Rounding.NEAREST_EVEN, fxsim.Overflow.IEEE
CANONICAL_NAN = {16: 0x7E00, 32: 0x7FC00000, 64: 0x7FF8000000000000}


# ---------------------------------------------------------------- helpers
@contextlib.contextmanager
def engine_calls():
    """Counts the calls of the hardware kernels and of the core's kernel."""
    calls = {"hardware": 0, "core": 0, "status": []}
    mp = pytest.MonkeyPatch()

    def spy(name, real, key):
        def wrapper(*args):
            calls[key] += 1
            out = real(*args)
            if key == "hardware":
                calls["status"].append(args[-1].copy())
            return out
        mp.setattr(elementwise, name, wrapper)

    spy("hardware", elementwise.hardware, "hardware")
    spy("hardware_serial", elementwise.hardware_serial, "hardware")
    spy("arith", elementwise.arith, "core")
    try:
        yield calls
    finally:
        mp.undo()


def run(op, *operands, engine="dispatch", **kwargs):
    """Codes of ``op`` on QArrays, by the default dispatch (which must be the
    hardware engine unless ``engine`` says otherwise), the core (the
    hardware predicate refusing) or the Python-int engine."""
    with pytest.MonkeyPatch.context() as mp, engine_calls() as calls:
        if engine in ("core", "python"):
            mp.setattr(ops, "hardware_plan", lambda *a: None)
        if engine == "python":
            real = ops.kernel_plan
            mp.setattr(ops, "kernel_plan", lambda *a: (False, real(*a)[1]))
        got = FX[op](*operands, **kwargs)
    if engine == "dispatch":
        assert calls["hardware"] == 1 and calls["core"] == 0, (op, calls)
    elif engine == "core":
        assert calls["hardware"] == 0
    return got


def q(codes, fmt):
    return fxsim.from_bits(np.asarray(codes, dtype=np.uint64).astype(f"uint{fmt.width}"), fmt)


def assert_same(got, want, label, *operands):
    g, w = np.asarray(got.bits).reshape(-1), np.asarray(want.bits).reshape(-1)
    assert got.fmt == want.fmt and got.shape == want.shape
    bad = np.flatnonzero(g != w)
    if bad.size:
        i = bad[0]
        args = ", ".join(f"0x{int(np.broadcast_to(x.bits, got.shape).reshape(-1)[i]):x}"
                         for x in operands)
        pytest.fail(f"{label}: {bad.size} of {g.size} differ; first {label}({args}): hardware "
                    f"0x{int(g[i]):x}, expected 0x{int(w[i]):x}")


def reference_codes(op, operands, out):
    """reference.arith's codes, element by element."""
    flat = [np.broadcast_to(x.bits, np.broadcast_shapes(*(y.shape for y in operands))).reshape(-1)
            for x in operands]
    results = []
    for i in range(flat[0].size):
        args = []
        for x, codes in zip(operands, flat):
            args += [int(codes[i]), ref_format(x.fmt)]
        results.append(getattr(ra, op)(*args, ref_format(out), "nearest_even", "ieee"))
    return results


def check_against_everything(op, operands, out=None, reference=True, python=False):
    """Hardware == core (== Python engine) == reference, bit for bit."""
    kwargs = {} if out is None else {"out": out}
    got = run(op, *operands, **kwargs)
    assert_same(got, run(op, *operands, engine="core", **kwargs), f"{op} vs core", *operands)
    if python:
        assert_same(got, run(op, *operands, engine="python", **kwargs), f"{op} vs python",
                    *operands)
    if reference:
        want = reference_codes(op, operands, got.fmt)
        assert [int(c) for c in got.bits.reshape(-1)] == want, (op, [x.bits for x in operands])
    return got


def hard_codes(fmt):
    """Zeros, subnormals, the ends of every binade around the range ends and
    1, inf and NaNs of both signs with different payloads."""
    man, exp = fmt.man, fmt.exp
    top = (1 << exp) - 1
    fracs = [0, 1, 2, 3, (1 << (man - 1)) - 1, 1 << (man - 1), (1 << (man - 1)) + 1,
             (1 << man) - 3, (1 << man) - 2, (1 << man) - 1]
    exps = sorted({0, 1, 2, fmt.bias - 1, fmt.bias, fmt.bias + 1, top - 2, top - 1, top})
    mags = [(e << man) | f for e in exps for f in fracs]
    return np.array(sorted({s << (exp + man) | m for s in (0, 1) for m in mags}), np.uint64)


# ---------------------------------------------------------------- the plan
@pytest.mark.parametrize("op, fmts, out, rounding, overflow, want", [
    ("add", (F32, F32), F32, NEAREST, IEEE, np.float32),
    ("sqrt", (F16,), F16, NEAREST, IEEE, np.float32),
    ("div", (F16, F16), F16, NEAREST, IEEE, np.float32),
    ("mul", (F16, F32), F32, NEAREST, IEEE, np.float32),
    ("sub", (F32, F64), F64, NEAREST, IEEE, np.float64),
    ("fma", (F32, F16, F32), F32, NEAREST, IEEE, np.float32),
    ("fma", (F64, F64, F64), F64, NEAREST, IEEE, np.float64),
    ("fma", (F16, F16, F16), F16, NEAREST, IEEE, None),       # float32 fma is not innocuous
    ("add", (F32, F16), F16, NEAREST, IEEE, None),             # float32 operands into float16
    ("add", (F64, F32), F32, NEAREST, IEEE, None),             # float64 operand into float32
    ("add", (F32, F32), F32, fxsim.Rounding.TOWARD_ZERO, IEEE, None),
    ("add", (F32, F32), F32, fxsim.Rounding.NEAREST_AWAY, IEEE, None),
    ("add", (F32, F32), F32, NEAREST, fxsim.Overflow.SATURATE, None),
    ("add", (F32, F32), F32, NEAREST, fxsim.Overflow.NAN, None),
    ("add", (F32, F32), fxsim.FloatFormat(8, 23, subnormals=False), NEAREST, IEEE, None),
    ("add", (fxsim.FloatFormat(8, 23, bias=126), F32), F32, NEAREST, IEEE, None),
    ("add", (F16, F16), fxsim.FloatFormat(5, 10, special="fn"), NEAREST, IEEE, None),
    ("mul", (fxsim.formats.bfloat16, F32), F32, NEAREST, IEEE, None),
    ("add", (fxsim.FixedFormat(32, 8), F32), F32, NEAREST, IEEE, None),
])
def test_plan_serves_exactly_the_documented_cases(op, fmts, out, rounding, overflow, want):
    got = ops.hardware_plan(arith.OPS[op], fmts, out, rounding, overflow)
    assert got == (None if want is None else np.dtype(want))


def test_an_equal_format_built_anew_is_served():
    assert ops.hardware_plan(arith.ADD, (fxsim.FloatFormat(8, 23), fxsim.format("float32")),
                             fxsim.FloatFormat(8, 23, 127), NEAREST, IEEE) == np.dtype(np.float32)


# ---------------------------------------------------------------- float16, exhaustively
def _float16_partners():
    rng = np.random.default_rng(1616)
    hard = hard_codes(F16)
    picked = rng.choice(hard, 40, replace=False)
    return np.concatenate([picked, rng.integers(0, 1 << 16, 24).astype(np.uint64)])


@pytest.mark.parametrize("op", BINARY)
def test_float16_every_code_against_partners(op):
    every = q(np.arange(1 << 16)[None, :], F16)
    partners = q(_float16_partners()[:, None], F16)
    for x, y in ((every, partners), (partners, every)):
        got = run(op, x, y)
        assert got.fmt == F16 and got.shape == (64, 1 << 16)
        assert_same(got, run(op, x, y, engine="core"), f"float16 {op}", x, y)


def test_float16_sqrt_of_every_code():
    every = q(np.arange(1 << 16), F16)
    got = run("sqrt", every)
    assert_same(got, run("sqrt", every, engine="core"), "float16 sqrt", every)
    sample = q(np.arange(0, 1 << 16, 61), F16)
    assert [int(c) for c in run("sqrt", sample).bits] == reference_codes("sqrt", [sample], F16)


@pytest.mark.parametrize("op", BINARY)
def test_float16_every_pair_of_hard_codes(op):
    hard = hard_codes(F16)
    x, y = q(hard[:, None], F16), q(hard[None, :], F16)
    assert_same(run(op, x, y), run(op, x, y, engine="core"), f"float16 {op}", x, y)


@pytest.mark.parametrize("op", BINARY)
def test_float16_every_pair_in_dense_ranges(op):
    """Every pair of codes from windows where the float32 intermediate could
    hurt: the top binade (overflow at 65520), the subnormals and the
    smallest normals (the 2**-24 grid), around 1 and 2."""
    codes = np.concatenate([np.arange(0x7B80, 0x7C01), np.arange(0, 0x80), np.arange(0x3F0, 0x410),
                            np.arange(0x3BF0, 0x3C10), np.arange(0x3FF0, 0x4010)])
    codes = np.concatenate([codes, codes | 0x8000]).astype(np.uint64)
    x, y = q(codes[:, None], F16), q(codes[None, :], F16)
    assert_same(run(op, x, y), run(op, x, y, engine="core"), f"float16 {op}", x, y)


@pytest.mark.parametrize("op", BINARY)
def test_float16_against_reference(op):
    rng = np.random.default_rng(2016 + len(op))
    hard = hard_codes(F16)
    a = np.concatenate([rng.integers(0, 1 << 16, 600), rng.choice(hard, 400)]).astype(np.uint64)
    b = np.concatenate([rng.integers(0, 1 << 16, 600), rng.choice(hard, 400)]).astype(np.uint64)
    check_against_everything(op, [q(a, F16), q(b, F16)])


def _conversions():
    @numba.njit
    def decode(h, out):
        for i in range(h.size):
            out[i] = elementwise.half_to_float(h[i])

    @numba.njit
    def encode(f, out):
        for i in range(f.size):
            out[i] = elementwise.float_to_half(f[i])

    return decode, encode


def test_float16_conversions_in_the_kernel_match_numpy():
    """The kernel's own float16 <-> float32 conversions: every float16 code
    to float32 exactly, and float32 patterns around every float16 rounding
    boundary (each float16 code's float32 pattern plus 0, 1, half an ulp of
    float16 minus/plus 1, ...) rounded to nearest even, as numpy's astype
    (which is correctly rounded); NaN gives the canonical 0x7E00."""
    decode, encode = _conversions()
    every = np.arange(1 << 16, dtype=np.uint16)
    wide = np.empty(every.size, np.float32)
    decode(every, wide)
    theirs = every.view(np.float16).astype(np.float32)
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(wide), nan)
    assert np.array_equal(wide.view(np.uint32)[~nan], theirs.view(np.uint32)[~nan])
    base = theirs[~nan].view(np.uint32).astype(np.int64)
    offsets = np.array([0, 1, -1, 0xFFF, 0x1000, 0x1001, 0x1FFF, 0x2000 - 1, -0x1000, -0x1001], np.int64)
    patterns = (base[:, None] + offsets[None, :]).reshape(-1)
    patterns = np.concatenate([patterns, np.arange(0x7F800000, 0x7F800010), [0xFFC00000, 0x7FFFFFFF],
                               np.arange(0, 1 << 32, 4099)])
    patterns = np.unique(patterns[(patterns >= 0) & (patterns < 1 << 32)]).astype(np.uint32)
    values = patterns.view(np.float32)
    half = np.empty(values.size, np.uint16)
    encode(values, half)
    with np.errstate(all="ignore"):
        want = values.astype(np.float16).view(np.uint16)
    want = np.where(np.isnan(values), np.uint16(0x7E00), want)
    bad = np.flatnonzero(half != want)
    assert not bad.size, [(hex(int(patterns[i])), hex(int(half[i])), hex(int(want[i]))) for i in bad[:5]]


# ---------------------------------------------------------------- float32/float64, hypothesis
@st.composite
def float_codes(draw, fmt, n):
    """Codes of ``fmt``: random patterns, subnormals, specials, NaNs with
    payloads and signs, and partners of the first codes that make ties and
    cancellation (same or nearby exponents, shifted by about p bits)."""
    man, exp, width = fmt.man, fmt.exp, fmt.width
    sign = 1 << (width - 1)
    top = (1 << exp) - 1
    special = [0, sign, 1, sign | 1, (1 << man) - 1, 1 << man, top << man, sign | top << man,
               top << man | 1, top << man | 1 << (man - 1), sign | top << man | 12345,
               (top << man) - 1, sign | (top << man) - 1, fmt.bias << man]
    anything = st.integers(0, (1 << width) - 1)
    subnormal = st.builds(lambda s, f: s | f, st.sampled_from([0, sign]), st.integers(1, (1 << man) - 1))
    near = st.builds(lambda s, e, f: s | e << man | f, st.sampled_from([0, sign]),
                     st.integers(fmt.bias - 3, fmt.bias + 3),
                     st.one_of(st.integers(0, (1 << man) - 1), st.sampled_from([0, 1, 1 << (man - 1)])))
    return draw(st.lists(st.one_of(anything, anything, subnormal, near, st.sampled_from(special)),
                         min_size=n, max_size=n))


@st.composite
def tie_partners(draw, fmt, codes):
    """For each code c, a code whose exponent is c's minus about p (a sum or
    difference near a tie of c's binade) or equal to c's (cancellation)."""
    man = fmt.man
    out = []
    for c in codes:
        e = (c >> man) & ((1 << fmt.exp) - 1)
        shift = draw(st.sampled_from([0, 1, man, man + 1, man + 2]))
        e2 = max(e - shift, 0)
        frac = draw(st.sampled_from([0, 1, (1 << man) - 1, c & ((1 << man) - 1)]))
        s = draw(st.sampled_from([0, 1])) << (fmt.width - 1)
        out.append(s | e2 << man | frac)
    return out


@given(data=st.data(), op=st.sampled_from(list(ARITY)),
       width=st.sampled_from([32, 32, 64]))
def test_float32_and_float64_random_codes(data, op, width):
    fmt = F32 if width == 32 else F64
    n = 24
    first = data.draw(float_codes(fmt, n), label="a")
    partner = data.draw(st.one_of(float_codes(fmt, n), tie_partners(fmt, first)), label="b")
    codes = [first, partner, data.draw(st.one_of(float_codes(fmt, n), tie_partners(fmt, first)),
                                        label="c")][:ARITY[op]]
    operands = [q(c, fmt) for c in codes]
    python = width == 32 or op == "fma"
    check_against_everything(op, operands, python=python)


@given(data=st.data(), op=st.sampled_from(list(ARITY)))
def test_mixed_formats(data, op):
    """Operands exact in the computing type: float16 with float32 into
    float32, anything into float64."""
    out = data.draw(st.sampled_from([F32, F64]), label="out")
    choices = [F16, F32] if out == F32 else [F16, F32, F64]
    fmts = [data.draw(st.sampled_from(choices), label=f"fmt{k}") for k in range(ARITY[op])]
    operands = [q(data.draw(float_codes(f, 12)), f) for f in fmts]
    check_against_everything(op, operands, out=out)


# ---------------------------------------------------------------- IEEE 754's cases
def _value_codes(values, fmt):
    dtype = {16: np.float16, 32: np.float32, 64: np.float64}[fmt.width]
    return q(np.array(values, dtype).view(f"uint{fmt.width}"), fmt)


@pytest.mark.parametrize("fmt", [F16, F32, F64], ids=lambda f: f.name)
def test_ieee_special_cases(fmt):
    """Signed zeros, invalid operations, overflow, subnormal results and NaN
    operands, each against its IEEE 754 answer and the core."""
    tiny = fmt.tiny                 # the smallest normal
    sub = tiny * 2.0 ** -fmt.man     # the smallest subnormal
    big = fmt.max
    nan = CANONICAL_NAN[fmt.width]
    cases = [  # (op, operands, expected value or "nan")
        ("add", (1.5, -1.5), 0.0), ("add", (-0.0, -0.0), -0.0), ("add", (-0.0, 0.0), 0.0),
        ("sub", (-0.0, 0.0), -0.0), ("sub", (0.0, 0.0), 0.0), ("sub", (math.inf, math.inf), "nan"),
        ("add", (-math.inf, math.inf), "nan"), ("mul", (0.0, math.inf), "nan"),
        ("mul", (-0.0, 3.0), -0.0), ("div", (1.0, 0.0), math.inf), ("div", (1.0, -0.0), -math.inf),
        ("div", (0.0, 0.0), "nan"), ("div", (math.inf, -math.inf), "nan"),
        ("div", (-2.0, math.inf), -0.0), ("sqrt", (-0.0,), -0.0), ("sqrt", (-1.0,), "nan"),
        ("sqrt", (-math.inf,), "nan"), ("sqrt", (math.inf,), math.inf),
        ("mul", (big, 2.0), math.inf), ("add", (big, big), math.inf), ("mul", (-big, 2.0), -math.inf),
        ("sub", (-big, big), -math.inf), ("fma", (math.inf, 0.0, 1.0), "nan"),
        ("fma", (2.0, 3.0, -6.0), 0.0), ("fma", (-0.0, 1.0, -0.0), -0.0),
        ("fma", (math.inf, 1.0, -math.inf), "nan"),
        # fused: (1 + e)**2 - (1 + 2e) = e**2, which a separately rounded product loses
        ("fma", (1 + 2.0 ** -fmt.man, 1 + 2.0 ** -fmt.man, -(1 + 2.0 ** (1 - fmt.man))),
         2.0 ** (-2 * fmt.man)),
        ("add", (math.nan, 1.0), "nan"), ("mul", (-math.nan, 1.0), "nan"), ("sqrt", (-math.nan,), "nan"),
    ]
    cases += [("mul", (tiny, 0.5), tiny / 2), ("mul", (sub, 0.5), 0.0), ("mul", (-sub, 0.5), -0.0),
              ("mul", (sub, 0.75), sub), ("div", (sub * 3, 2.0), sub * 2), ("div", (-sub, 3.0), -0.0),
              ("sub", (tiny, sub), tiny - sub), ("add", (-tiny, sub), sub - tiny),
              ("sqrt", (sub,), math.sqrt(sub)) if fmt.width == 64 else ("mul", (sub, 1.0), sub)]
    for op, args, want in cases:
        if op == "fma" and fmt.width == 16:
            continue
        operands = [_value_codes([a], fmt) for a in args]
        got = run(op, *operands)
        assert_same(got, run(op, *operands, engine="core"), f"{fmt.name} {op}{args}", *operands)
        code = int(got.bits[0])
        if want == "nan":
            assert code == nan, (op, args, hex(code))
        else:
            value = got.to_float()[0]
            assert value == want and math.copysign(1, value) == math.copysign(1, want), (op, args, value)


def test_payload_and_sign_of_nan_operands_are_dropped():
    payloads = np.array([0x7C01, 0xFC01, 0x7E00, 0xFE00, 0x7FFF, 0xFFFF, 0x7D55], np.uint64)
    x = q(payloads, F16)
    one = q([0x3C00] * payloads.size, F16)
    for op in BINARY:
        assert [int(c) for c in run(op, x, one).bits] == [0x7E00] * payloads.size
        assert [int(c) for c in run(op, one, x).bits] == [0x7E00] * payloads.size
    wide = q([0x7F800001, 0xFFC00000, 0xFFFFFFFF, 0x7FA00000], F32)
    assert [int(c) for c in run("sqrt", wide).bits] == [0x7FC00000] * 4
    assert [int(c) for c in run("add", wide, q([0] * 4, F16), out=F64).bits] == \
        [0x7FF8000000000000] * 4


# ---------------------------------------------------------------- shapes
def test_broadcasting_scalars_strides_and_empty():
    rng = np.random.default_rng(7)
    x = fxsim.asarray(rng.normal(size=(3, 50)).astype(np.float32))
    y = fxsim.asarray(rng.normal(size=(50, 3)).astype(np.float32)).T     # not contiguous
    h = fxsim.asarray(rng.normal(size=(1, 50)).astype(np.float16))
    for op in BINARY:
        for a, b in ((x, y), (x, h), (h, x), (x, x[0]), (h, h.T)):
            got = run(op, a, b)
            assert_same(got, run(op, a, b, engine="core"), op, a, b)
        got = FX[op](x, 2.5)
        assert_same(got, run(op, x, 2.5, engine="core"), op, x)
    empty = fxsim.asarray(np.zeros((0, 4), np.float16))
    assert run("add", empty, empty).shape == (0, 4)
    scalar = fxsim.asarray(np.float32(2.0))
    root = run("sqrt", scalar)
    assert root.shape == () and int(root.bits) == int(np.sqrt(np.float32(2.0)).view(np.uint32))


# ---------------------------------------------------------------- the FPU's mode
@pytest.mark.parametrize("slot, value", [(2, 0.0), (1, 0.0), (4, 2.0 ** -23)],
                         ids=["ftz", "daz", "rounding"])
def test_a_non_default_fpu_sends_the_call_to_the_core(monkeypatch, slot, value):
    """A probe whose answers look like flush-to-zero (the smallest normal
    times 1/2 is 0), denormals-are-zero (the smallest subnormal times 1 is 0)
    or rounding upward (1 + 2**-24 is not 1): every result comes from the
    core."""
    real = elementwise.fpu_probe

    def probe(dtype):
        p = real(dtype).copy()
        p[slot] = value
        return p

    monkeypatch.setattr(elementwise, "fpu_probe", probe)
    x = q(hard_codes(F32)[:, None], F32)
    y = q(hard_codes(F32)[None, :], F32)
    with engine_calls() as calls:
        got = fxsim.mul(x, y)
    assert calls["hardware"] == 1 and calls["core"] == 1
    assert calls["status"][0].all()
    with monkeypatch.context() as mp:
        mp.setattr(ops, "hardware_plan", lambda *a: None)
        assert_same(got, fxsim.mul(x, y), "mul under a failing probe", x, y)


def _libm():
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    name = ctypes.util.find_library("m") or "libm.so.6"  # fenv.h's functions live in libm
    try:
        libc = ctypes.CDLL(name)
        libc.fesetenv, libc.fesetround  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def fpu_environment(libc, setup):
    """Run the body with this thread's floating-point environment changed by
    ``setup(libc)``; restore glibc's default (FE_DFL_ENV) afterwards."""
    try:
        setup(libc)
        yield
    finally:
        libc.fesetenv(ctypes.c_void_p(-1))  # FE_DFL_ENV


FE_UPWARD = 0x800
MXCSR_FTZ_DAZ = 0x8040  # bits 15 (flush to zero) and 6 (denormals are zero)


def _set_ftz_daz(libm):
    """glibc x86-64: fenv_t is the x87 environment (28 bytes) then MXCSR."""
    env = (ctypes.c_uint32 * 8)()
    assert libm.fegetenv(env) == 0 and env[7] & 0x1F80 == 0x1F80  # exceptions masked: MXCSR
    env[7] |= MXCSR_FTZ_DAZ
    assert libm.fesetenv(env) == 0


@pytest.mark.parametrize("mode", ["ftz-daz", "upward"])
def test_a_real_non_default_fpu_sends_the_call_to_the_core(mode):
    """This thread's MXCSR switched to flush-to-zero + denormals-are-zero (or
    its rounding to upward) through glibc, as some libraries do: the
    kernel's probe sees it and the core computes every result."""
    libc = _libm()
    if libc is None:
        pytest.skip("needs glibc on x86-64 to switch the FPU's mode")
    x = q(hard_codes(F32)[:, None], F32)
    y = q(hard_codes(F32)[None, :], F32)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ops, "hardware_plan", lambda *a: None)
        want = {op: FX[op](x, y) for op in BINARY}
    if mode == "ftz-daz":
        setup = _set_ftz_daz
    else:
        setup = lambda lib: lib.fesetround(FE_UPWARD)  # noqa: E731
    got, switched = {}, None
    with jit.exact_threads(1), fpu_environment(libc, setup):
        # numpy computes on this thread too: did the switch take effect?
        tiny, one, eps = np.float32(2.0 ** -149), np.float32(1.0), np.float32(2.0 ** -24)
        switched = (tiny * one == 0) if mode == "ftz-daz" else (one + eps != one)
        if switched:
            with engine_calls() as calls:
                got = {op: FX[op](x, y) for op in BINARY}
    if not switched:
        pytest.skip("the C library did not switch this thread's FPU mode")
    assert calls["hardware"] == len(BINARY) and calls["core"] == len(BINARY)
    assert all(s.all() for s in calls["status"])
    for op in BINARY:
        assert_same(got[op], want[op], f"{op} with the FPU in mode {mode}", x, y)


def test_default_fpu_passes_the_probe_on_every_thread():
    """In the default environment no chunk reports a non-default mode, on
    the calling thread and on the pool's threads."""
    x = fxsim.asarray(np.arange(3 * jit.CHUNK + 5, dtype=np.float32))
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        with jit.exact_threads(threads), engine_calls() as calls:
            fxsim.add(x, x)
        assert calls["core"] == 0 and not calls["status"][0].any()


# ---------------------------------------------------------------- threads
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("fmt, op", [(F32, "div"), (F16, "add"), (F64, "fma"), (F16, "sqrt")],
                         ids=lambda v: getattr(v, "name", v))
def test_one_and_two_threads_agree(fmt, op):
    rng = np.random.default_rng(22)
    n = 5 * jit.CHUNK + 123
    hard = hard_codes(fmt)
    operands = []
    for _ in range(ARITY[op]):
        codes = rng.integers(0, 1 << fmt.width, n, dtype=np.uint64) if fmt.width < 64 else \
            rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
        codes[::7] = rng.choice(hard, codes[::7].size)
        operands.append(q(codes, fmt))
    results = []
    for threads in (1, 2):
        with jit.exact_threads(threads):
            results.append(run(op, *operands))
            if threads == 2:
                assert jit.last_threads() == 2
    assert_same(results[1], results[0], f"{fmt.name} {op} on 2 threads vs 1", *operands)
    assert_same(results[0], run(op, *operands, engine="core"), f"{fmt.name} {op} vs core",
                *operands)
