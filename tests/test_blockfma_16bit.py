"""BlockFMA units on 16-bit (float16, bfloat16) and TF32 (e8m10) operands:
the published presets of Khattak & Mikaitis' models against their sources,
Fasi, Higham, Mikaitis & Pranesh's V100 and T4/A100 test vectors, and
fxsim.matmul against reference/blockfma.py (the pure-Python exact oracle) on
random and adversarial data, custom units across the parameter range,
non-finite inputs, overflow, and the argument checks."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
from fxsim import linalg_units
from fxsim.array import wrap_codes
from fxsim.linalg import UNITS, BlockFMA
from reference import blockfma as ref

H, BF, TF, F32 = "float16", "bfloat16", "e8m10", "float32"
WIDE = (H, BF, TF)
PRESETS16 = ("v100_fp16", "a100_fp16", "a100_bf16", "a100_tf32", "h100_fp16", "h100_bf16",
             "h100_tf32", "b200_fp16")
#: float32 c patterns: +-0, least and largest subnormals, least normal, 1,
#: -2**20, 2**-124, huge, largest finite
C_SPECIAL = (0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
             0x3F800000, 0xC9800000, 0x01800000, 0x7E000000, 0x7F7FFFFF, 0xFF7FFFFF)


def as_tuple(unit):
    return (unit.n, unit.frac, unit.frac_out, unit.min_exp, unit.late_c, unit.promote)


def dtype(fmt):
    return np.uint16 if fxsim.format(fmt).width == 16 else np.uint32


def special_codes(fmt):
    """+-0, least subnormal, largest subnormal, least normal, 1, 1 + ulp,
    largest finite, a mid value, of both signs."""
    f = fxsim.format(fmt)
    p, width = f.man, f.width
    sign = 1 << (width - 1)
    top = ((1 << f.exp) - 2) << p | ((1 << p) - 1)
    one = f.bias << p
    pos = [0, 1, (1 << p) - 1, 1 << p, one, one + 1, top, one - (3 << p) + 5]
    return np.array(pos + [c | sign for c in pos], dtype(fmt))


def finite_codes(rng, shape, fmt, spread=6):
    """Random finite codes: mostly values 2**-spread .. 2**spread, some
    anywhere in the format (subnormals, huge values), some zeros."""
    f = fxsim.format(fmt)
    p = f.man
    e = rng.integers(f.bias - spread, f.bias + spread, shape)
    codes = (rng.integers(0, 2, shape) << (f.width - 1)) | (e << p) | rng.integers(0, 1 << p, shape)
    wild = rng.random(shape) < 0.15
    anyc = rng.integers(0, 1 << f.width, shape)
    anyc = np.where((anyc >> p) & ((1 << f.exp) - 1) == (1 << f.exp) - 1, 0, anyc)
    codes = np.where(wild, anyc, codes)
    codes = np.where(rng.random(shape) < 0.1, 0, codes)
    return codes.astype(dtype(fmt))


def run_both(unit, a, fa, b, fb, cbits=None):
    qa, qb = wrap_codes(a, fxsim.format(fa)), wrap_codes(b, fxsim.format(fb))
    qc = None if cbits is None else wrap_codes(np.asarray(cbits, np.uint32), fxsim.format(F32))
    got = fxsim.matmul(qa, qb, qc, order=unit)
    assert got.fmt == fxsim.format(F32) and got.shape == (a.shape[0], b.shape[1])
    want = ref.matmul(a.tolist(), fa, b.tolist(), fb, None if cbits is None else
                      np.asarray(cbits, np.uint32).tolist(), as_tuple(unit), b.shape[1])
    want = np.array(want, np.uint32).reshape(got.shape)
    bad = np.argwhere(got.bits != want)
    assert bad.size == 0, (f"{unit} {fa}x{fb}: {len(bad)} mismatches, first at {bad[0]}: "
                           f"fxsim 0x{int(got.bits[tuple(bad[0])]):08X} "
                           f"reference 0x{int(want[tuple(bad[0])]):08X}")
    return got


def c_random(rng, shape):
    cbits = rng.integers(0, 2 ** 32, shape, dtype=np.uint64).astype(np.uint32)
    cbits[(cbits & 0x7F800000) == 0x7F800000] = 0x3F800000
    cbits.reshape(-1)[:4] = C_SPECIAL[:4]
    return cbits


# ---------------------------------------------------------------- presets and sources
def test_presets_as_published():
    """Khattak & Mikaitis' MATLAB models (github.com/north-numerical-computing/
    MATLAB-tensor-core, models/*TC.m): n = 'def_params.fma', frac = 23 +
    'def_params.neab', 'rz' to binary32: frac_out = 23, early c."""
    want = {"v100_fp16": (4, 23, -160), "a100_fp16": (8, 24, -160), "a100_bf16": (8, 24, -160),
            "a100_tf32": (4, 24, -160), "h100_fp16": (16, 25, -133),
            "h100_bf16": (16, 25, -133), "h100_tf32": (8, 25, -133),
            "b200_fp16": (16, 25, -133)}
    for name, (n, frac, min_exp) in want.items():
        assert UNITS[name] == BlockFMA(n, frac, 23, min_exp), name
        note = linalg_units.UNIT_NOTES[name]
        assert "MATLAB-tensor-core" in note["source"] and "published" in note["maturity"]
        assert f"def_params.fma = {n}" in note["source"] or f"fma={n}" in note["source"]
        assert f"def_params.neab = {frac - 23}" in note["source"]
    assert set(linalg_units.UNIT_INPUTS) == set(PRESETS16)
    assert {linalg_units.UNIT_INPUTS[p] for p in PRESETS16} == set(WIDE)
    for left_out in ("t4_fp16", "b200_bf16", "b200_tf32"):
        assert left_out not in UNITS


# ---------------------------------------------------------------- published test vectors
def tc(unit, av, bv, c=0.0, k=16, fmt=H):
    """One output of a 1 x k x 1 product on float16 (or fmt) values (the
    suites run 16 x 16 x 16 wmma products with the unused entries 0),
    checked against the reference too; returns the float value."""
    av = list(av) + [0.0] * (k - len(av))
    bv = list(bv) + [0.0] * (k - len(bv))
    a = fxsim.asarray(np.array([av]), fmt)
    b = fxsim.asarray(np.array(bv).reshape(k, 1), fmt)
    assert np.array_equal(a.to_float().ravel(), np.array(av)), f"not {fmt} values"
    cq = fxsim.asarray(np.array([[c]]), F32)
    assert cq.to_float()[0, 0] == c, "not a float32 value"
    got = run_both(unit, a.bits, fmt, b.bits, fmt, cq.bits)
    return float(got.to_float()[0, 0])


t = 2.0 ** -24            # the least float16 subnormal
below1_16 = 1 - 2.0 ** -11


def test_fasi_et_al_v100_vectors():
    """The PASS conditions, binary32 mode, of Fasi, Higham, Mikaitis &
    Pranesh's V100 suite (github.com/north-numerical-computing/
    tensor-cores-numerical-behavior, tc_test_numerics-V100.cu; PeerJ CS
    7:e330, 2021), whose README states what they show: 'Tensor cores do not
    implement guard digits', 'use round-down for positive values', 'use
    round-up for negative values', 'accumulate partial sums on the largest
    element in absolute value'.  Each value below is the test's condition."""
    u = UNITS["v100_fp16"]
    # A. subnormals
    assert tc(u, [t], [4]) == 2.0 ** -22
    assert tc(u, [], [], 2.0 ** -149) == 2.0 ** -149
    assert tc(u, [2.0 ** -14], [0.5]) != 0
    assert tc(u, [2.0 ** -14], [1], -(2.0 ** -15)) != 0
    # B. products exact; accumulation in binary32; sum from the largest
    assert tc(u, [below1_16], [below1_16]) == 1 - 2.0 ** -10 + 2.0 ** -22
    assert tc(u, [below1_16] * 4, [below1_16] * 4) == 4 * (1 - 2.0 ** -10 + 2.0 ** -22)
    assert tc(u, [1] * 4, [t] * 4, 1.0) == 1
    for j in range(4):
        b = [t] * 4
        b[j] = 1
        assert tc(u, [1] * 4, b, t) == 1
    # C. rounding: round down positive, round up negative
    assert tc(u, [1] * 4, [2, 3 * t]) == 2
    assert tc(u, [1] * 4, [-2, -3 * t]) == -2
    # D1. no guard digits in the alignment
    assert tc(u, [1], [1], -(1 - 2.0 ** -24)) == 2.0 ** -23
    # D2, D3. normalisation in addition and subtraction
    assert tc(u, [1] * 4, [t] * 4, 1 - 2.0 ** -24) == 1 + 2.0 ** -23
    assert tc(u, [1, 1], [1, -t], -1 + 2.0 ** -24) == 2.0 ** -23
    # D4. carry-out bits; the third bit (8 exactly: Valpey, Li, Pai &
    # Gopalakrishnan, arXiv 2502.15999, 'their 5-term accumulator requires 3
    # extra carry-out bits for full accuracy'); round down / up in normalisation
    for i in range(4):
        b = [1.0] * 4
        b[i] = 2.0 ** -23
        assert tc(u, [1] * 4, b, 1 + 2.0 ** -22 + 2.0 ** -23) == 4 + 2.0 ** -21
    assert tc(u, [1] * 4, [1, 1.5, 1.75, 1.875], 1.875) == 8
    assert tc(u, [1] * 4, [1] * 4, 1 + 2.0 ** -22 + 2.0 ** -23) == 5
    assert tc(u, [1] * 4, [-1] * 4, -1 - 2.0 ** -22 - 2.0 ** -23) == -5
    # D5. not monotonic
    partial = tc(u, [1] * 4, [t] * 4, 1 - 2.0 ** -24)
    assert tc(u, [1] * 4, [t] * 4, 1.0) < partial


def test_fasi_et_al_a100_vectors():
    """The PASS conditions, binary32 mode, of the same suite's T4/A100
    binary16 tests (tc_test_numerics-T4-A100-binary16.cu): one extra
    alignment bit (the guard-digit test expects 2**-24) and a normalisation
    test whose sum cancels to 0."""
    u = UNITS["a100_fp16"]
    assert tc(u, [t], [4]) == 2.0 ** -22
    assert tc(u, [below1_16] * 4, [below1_16] * 4) == 4 * (1 - 2.0 ** -10 + 2.0 ** -22)
    assert tc(u, [0.5] * 4, [t] * 4, 1.0) == 1
    for j in range(4):
        a, b = [0.5] * 4, [t] * 4
        a[j], b[j] = 1, 1
        assert tc(u, a, b, t) == 1
    assert tc(u, [1] * 4, [2, 3 * t]) == 2
    assert tc(u, [1] * 4, [-2, -3 * t]) == -2
    assert tc(u, [1], [1], -(1 - 2.0 ** -24)) == 2.0 ** -24
    assert tc(u, [1] * 4, [t] * 4, 1 - 2.0 ** -24) == 1 + 2.0 ** -23
    assert tc(u, [1, 1], [1, -t], -1 + 2.0 ** -24) == 0.0
    for i in range(4):
        b = [1.0] * 4
        b[i] = 2.0 ** -23
        assert tc(u, [1] * 4, b, 1 + 2.0 ** -22 + 2.0 ** -23) == 4 + 2.0 ** -21
    assert tc(u, [1] * 4, [1, 1.5, 1.75, 1.875], 1.875) == 8
    assert tc(u, [1] * 4, [1] * 4, 1 + 2.0 ** -22 + 2.0 ** -23) == 5
    assert tc(u, [1] * 4, [-1] * 4, -1 - 2.0 ** -22 - 2.0 ** -23) == -5
    partial = tc(u, [0.5] * 4, [t, t, t, 3 * t], 1 - 2.0 ** -24)
    assert tc(u, [0.5] * 4, [t, t, t, 3 * t], 1.0) < partial


def shared_a100_vectors(run):
    """Sections C and D of the suite's A100 bfloat16 and TF32 tests (the
    same vectors and PASS conditions in both files)."""
    assert run([1] * 4, [2, 3 * t]) == 2
    assert run([1] * 4, [-2, -3 * t]) == -2
    assert run([1], [1], -(1 - 2.0 ** -24)) == 2.0 ** -24
    assert run([1] * 4, [t] * 4, 1 - 2.0 ** -24) == 1 + 2.0 ** -23
    assert run([1, 1], [1, -t], -1 + 2.0 ** -24) == 0.0
    for i in range(4):
        b = [1.0] * 4
        b[i] = 2.0 ** -23
        assert run([1] * 4, b, 1 + 2.0 ** -22 + 2.0 ** -23) == 4 + 2.0 ** -21
    assert run([1] * 4, [1, 1.5, 1.75, 1.875], 1.875) == 8
    assert run([1] * 4, [1] * 4, 1 + 2.0 ** -22 + 2.0 ** -23) == 5
    assert run([1] * 4, [-1] * 4, -1 - 2.0 ** -22 - 2.0 ** -23) == -5
    partial = run([0.5] * 4, [t, t, t, 3 * t], 1 - 2.0 ** -24)
    assert run([0.5] * 4, [t, t, t, 3 * t], 1.0) < partial


def test_fasi_et_al_a100_bf16_and_tf32_vectors():
    """The PASS conditions of the suite's A100 bfloat16 and TF32 tests
    (tc_test_numerics-A100-bf16.cu, tc_test_numerics-A100-tf32.cu: 16 x 16 x
    16 and 16 x 16 x 8 wmma products; 2**-24 is a normal number in both)."""
    def bf(av, bv, c=0.0):
        return tc(UNITS["a100_bf16"], av, bv, c, fmt=BF)

    def tf(av, bv, c=0.0):
        return tc(UNITS["a100_tf32"], av, bv, c, k=8, fmt=TF)
    below1 = 1 - 2.0 ** -8
    assert bf([2.0 ** -126], [0.5]) == 2.0 ** -127
    assert bf([2.0 ** -126], [1], -(2.0 ** -127)) == 2.0 ** -127
    assert bf([below1], [below1]) == 1 - 2.0 ** -7 + 2.0 ** -16
    assert bf([below1] * 4, [below1] * 4) == 4 * (1 - 2.0 ** -7 + 2.0 ** -16)
    assert bf([0.5] * 4, [t] * 4, 1.0) == 1
    shared_a100_vectors(bf)
    shared_a100_vectors(tf)


def test_the_vectors_tell_v100_from_a100():
    """The guard-digit vector separates the two presets (as it separates
    the GPUs); the later presets keep one more bit still."""
    got = {name: tc(UNITS[name], [1], [1], -(1 - 2.0 ** -24)) for name in
           ("v100_fp16", "a100_fp16", "h100_fp16", "b200_fp16")}
    assert got == {"v100_fp16": 2.0 ** -23, "a100_fp16": 2.0 ** -24, "h100_fp16": 2.0 ** -24,
                   "b200_fp16": 2.0 ** -24}
    # block boundaries: 1 - 1 cancels in the first V100 block of 4, so 2**-25
    # (k = 4) is aligned alone in the next; in one A100 block of 8 it meets
    # the exponent 0 of the 1s and truncates away (grid 2**-24)
    assert tc(UNITS["v100_fp16"], [1, 1, 0, 0, 0.5], [1, -1, 0, 0, t]) == 2.0 ** -25
    assert tc(UNITS["a100_fp16"], [1, 1, 0, 0, 0.5], [1, -1, 0, 0, t]) == 0.0
    # the A100 vectors pin frac = 24: 23 fails the guard-digit vector (above),
    # 25 the monotonicity vector (the c = 1 result is no longer smaller)
    u25 = BlockFMA(8, 25, 23, -160)
    assert tc(u25, [0.5] * 4, [t, t, t, 3 * t], 1.0) == tc(u25, [0.5] * 4, [t, t, t, 3 * t],
                                                            1 - 2.0 ** -24)


# ---------------------------------------------------------------- against the oracle
@pytest.mark.parametrize("name", PRESETS16)
def test_presets_random_against_reference(name):
    unit, fmt = UNITS[name], linalg_units.UNIT_INPUTS[name]
    rng = np.random.default_rng([16, PRESETS16.index(name)])
    k = 3 * unit.n + 3                                   # K not a multiple of n
    a, b = finite_codes(rng, (3, k), fmt), finite_codes(rng, (k, 5), fmt)
    run_both(unit, a, fmt, b, fmt, c_random(rng, (3, 5)))
    run_both(unit, a, fmt, b, fmt, None)


@pytest.mark.parametrize("name", PRESETS16)
def test_presets_adversarial_against_reference(name):
    """Subnormals, signed zeros, extremes (overflow for 8-bit exponents),
    huge/tiny mixes, cancellation; c of every kind."""
    unit, fmt = UNITS[name], linalg_units.UNIT_INPUTS[name]
    rng = np.random.default_rng([17, PRESETS16.index(name)])
    k = 2 * unit.n + 1
    sp = special_codes(fmt)
    a = rng.choice(sp, (len(C_SPECIAL), k))
    b = rng.choice(sp, (k, 4))
    cbits = np.repeat(np.array(C_SPECIAL, np.uint32)[:, None], 4, axis=1)
    run_both(unit, a, fmt, b, fmt, cbits)
    # cancellation across blocks: x, then -x, then small values
    x = finite_codes(rng, (2, unit.n), fmt, spread=2)
    sign = np.array(1 << (fxsim.format(fmt).width - 1), dtype(fmt))
    small = finite_codes(rng, (2, 3), fmt, spread=1) & ~sign
    a = np.concatenate([x, x ^ sign, small], axis=1)
    b = np.full((a.shape[1], 1), special_codes(fmt)[4])   # 1.0
    run_both(unit, a, fmt, b, fmt, np.array([[0x80000000], [0x3F800000]], np.uint32))


UNIT_CASES = [BlockFMA(1, 1, 1, -160), BlockFMA(3, 40, 23, -160), BlockFMA(2, 2, 5, 20),
              BlockFMA(5, 24, 23, -126, late_c=True), BlockFMA(4, 25, 23, -133, promote=6),
              BlockFMA(7, 13, 13, -10, late_c=True, promote=5), BlockFMA(64, 30, 23, 1000),
              BlockFMA(2, 40, 1, -140, promote=3)]


@pytest.mark.parametrize("unit", UNIT_CASES, ids=str)
@pytest.mark.parametrize("fmt", WIDE)
def test_custom_units_against_reference(unit, fmt):
    rng = np.random.default_rng([18, UNIT_CASES.index(unit), WIDE.index(fmt)])
    k = 2 * unit.n + 3 if unit.n < 40 else 70
    a, b = finite_codes(rng, (2, k), fmt), finite_codes(rng, (k, 3), fmt)
    run_both(unit, a, fmt, b, fmt, c_random(rng, (2, 3)))


@given(st.data())
def test_hypothesis_against_reference(data):
    fmt = data.draw(st.sampled_from(WIDE))
    unit = BlockFMA(data.draw(st.integers(1, 6)), data.draw(st.integers(1, 40)),
                    data.draw(st.integers(1, 23)), data.draw(st.integers(-160, 40)),
                    late_c=data.draw(st.booleans()),
                    promote=data.draw(st.one_of(st.none(), st.integers(1, 9))))
    k = data.draw(st.integers(0, 13))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    a, b = finite_codes(rng, (2, k), fmt), finite_codes(rng, (k, 2), fmt)
    run_both(unit, a, fmt, b, fmt, c_random(rng, (2, 2)) if data.draw(st.booleans()) else None)


def test_nonfinite_inputs():
    """NaN codes, infinities (of a and b and c): the IEEE value of
    c + sum(a*b), as the reference computes it."""
    unit = UNITS["h100_fp16"]
    for fmt in WIDE:
        f = fxsim.format(fmt)
        inf = ((1 << f.exp) - 1) << f.man
        nan = inf | 1
        sign = 1 << (f.width - 1)
        one = f.bias << f.man
        a = np.array([[inf, one, 0], [inf, inf | sign, one], [nan, one, one], [one, 0, one],
                      [0, one, one]], dtype(fmt))
        b = np.array([[one, one], [one, 0], [one, inf]], dtype(fmt)).reshape(3, 2)
        c = np.array([[0, 0x7FC00000], [0xFF800000, 0], [0, 0], [0x7F800000, 0xFF800000],
                      [0x3F800000, 0]], np.uint32)
        got = run_both(unit, a, fmt, b, fmt, c)
        assert np.isnan(got.to_float()[0, 1]) and np.isnan(got.to_float()[2, 0])


def test_overflow_is_infinite_and_stays():
    """bfloat16 products reach 2**256: a block result >= 2**128 is +-inf;
    later early-c blocks keep it; a late-c addition of -inf gives NaN."""
    big = fxsim.asarray(np.array([[2.0 ** 127] * 3 + [1.0] * 4]), BF)
    col = fxsim.asarray(np.array([[2.0 ** 127]] * 3 + [[1.0]] * 4), BF)
    for unit in (BlockFMA(2, 24, 23, -160), BlockFMA(2, 24, 23, -160, late_c=True),
                 BlockFMA(2, 24, 23, -160, promote=3)):
        got = run_both(unit, big.bits, BF, col.bits, BF)
        assert got.to_float()[0, 0] == np.inf
    neg = fxsim.asarray(np.array([[-(2.0 ** 127)] * 2 + [2.0 ** 127] * 2]), BF)
    col = fxsim.asarray(np.array([[2.0 ** 127]] * 4), BF)
    got = run_both(BlockFMA(2, 24, 23, -160, late_c=True), neg.bits, BF, col.bits, BF)
    assert np.isnan(got.to_float()[0, 0])


def test_wide_path_leaves_fp8_alone_and_k_zero():
    e4 = fxsim.asarray(np.ones((2, 3)), "float8_e4m3fn")
    assert fxsim.matmul(e4, e4.T, order=UNITS["v100_fp16"]).to_float().tolist() == [[3, 3], [3, 3]]
    h = fxsim.asarray(np.zeros((2, 0)), H)
    c = wrap_codes(np.array([[0x80000000, 1], [0x3F800000, 0]], np.uint32), fxsim.format(F32))
    got = fxsim.matmul(h, fxsim.asarray(np.zeros((0, 2)), H), c, order=UNITS["a100_fp16"])
    assert np.array_equal(got.bits, c.bits)


def test_refuses_what_the_sources_do_not_define():
    h = fxsim.asarray(np.ones((2, 3)), H)
    with pytest.raises(ValueError, match="got a float16, b bfloat16"):
        fxsim.matmul(h, fxsim.asarray(np.ones((3, 2)), BF), order=UNITS["a100_fp16"])
    with pytest.raises(ValueError, match="got a float8_e4m3fn, b float16"):
        fxsim.matmul(fxsim.asarray(np.ones((2, 3)), "float8_e4m3fn"), h.T,
                     order=UNITS["a100_fp16"])
    with pytest.raises(ValueError, match="got a float32, b float32"):
        f = fxsim.asarray(np.ones((2, 3)), F32)
        fxsim.matmul(f, f.T, order=UNITS["a100_fp16"])
    with pytest.raises(ValueError, match="below 2\\*\\*62"):
        fxsim.matmul(fxsim.asarray(np.ones((1, 2 ** 20)), H),
                     fxsim.asarray(np.ones((2 ** 20, 1)), H), order=BlockFMA(2 ** 20, 40, 23, -160))


def test_explain_block_on_float16():
    unit = UNITS["v100_fp16"]
    text = linalg_units.explain_block(unit, [1.0, 2.0 ** -24], [1.0, 1.0], 1 - 2.0 ** -24,
                                      fa=H, fb=H)
    got = tc(unit, [1.0, 2.0 ** -24], [1.0, 1.0], 1 - 2.0 ** -24)
    assert f"block result = {got!r}" in text and "E = max(products 0" in text
    with pytest.raises(ValueError, match="float16"):
        linalg_units.explain_block(unit, [1.0], [1.0], fa=H, fb=BF)


def test_reference_codes_round_trip():
    """The oracle's encoder and decoder agree on every float16 code and on
    samples of bfloat16 and e8m10 (the hand-derived cases use them)."""
    for fmt, codes in ((H, range(0, 1 << 16, 7)), (BF, range(0, 1 << 16, 251)),
                       (TF, range(0, 1 << 19, 4099))):
        for code in codes:
            kind, s, m, e, p = ref.decode_fp8(code, fmt)
            if kind != "num" or (m == 0 and s):
                continue
            v = (-1) ** s * Fraction(m) * Fraction(2) ** (e - p)
            assert ref.code_of(v, fmt) == code
    assert ref.decode_fp8(0x0001, H) == ("num", 0, 1, -14, 10)
    assert ref.decode_fp8(0x3C00, H) == ("num", 0, 1024, 0, 10)
    assert ref.decode_fp8(0x0001, BF) == ("num", 0, 1, -126, 7)
    assert ref.decode_fp8(0x3FC00, TF)[0] == "inf" and ref.decode_fp8(0x3FC01, TF)[0] == "nan"


def test_subnormal_c_with_tiny_products():
    """The corner where the two stored versions of the authors' generic
    model differ (see UNIT_NOTES): c = 2**-149 (a float32 subnormal) and
    three bfloat16 products 1.5 * 2**-75 * 2**-75 = 0.75 * 2**-149.  This
    model aligns to floor(log2 c) = -149 (E = -149, grid 2**-173): the sum
    3.25 * 2**-149 truncates to 3 * 2**-149.  Aligning to c's exponent field
    (-126, grid 2**-150) would truncate each product to 2**-150: 2 * 2**-149."""
    a = fxsim.asarray(np.array([[1.5 * 2.0 ** -75] * 3]), BF)
    b = fxsim.asarray(np.array([[2.0 ** -75]] * 3), BF)
    c = np.array([[1]], np.uint32)
    got = run_both(UNITS["a100_bf16"], a.bits, BF, b.bits, BF, c)
    assert got.bits[0, 0] == 3
