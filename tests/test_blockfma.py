"""fxsim.matmul(..., order=BlockFMA(...)) against reference/blockfma.py (the
pure-Python exact oracle), on random and adversarial data, across the whole
accepted parameter range; the wider exact paths, thread independence, the
teaching view and the argument checks."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
from fxsim import linalg_units
from fxsim._kernels import jit
from fxsim.array import wrap_codes
from fxsim.linalg import UNITS, BlockFMA
from reference import blockfma as ref

E4, E5, F32 = "float8_e4m3fn", "float8_e5m2", "float32"
FORMATS = (E4, E5)
NAN_CODES = {E4: (0x7F, 0xFF), E5: (0x7D, 0x7E, 0xFF)}
INF_CODES = {E4: (), E5: (0x7C, 0xFC)}
#: adversarial FP8 codes: +-0, least subnormals, largest subnormal, least
#: normal, 1, largest values, of both signs
SPECIAL = {E4: (0x00, 0x80, 0x01, 0x81, 0x07, 0x87, 0x08, 0x88, 0x38, 0xB8, 0x7E, 0xFE, 0x7D),
           E5: (0x00, 0x80, 0x01, 0x81, 0x03, 0x83, 0x04, 0x84, 0x3C, 0xBC, 0x7B, 0xFB, 0x7A)}
#: float32 c patterns: +-0, least subnormal, largest subnormal, least normal,
#: 1, -2**20, 2**-140, huge, largest finite
C_SPECIAL = (0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
             0x3F800000, 0xC9800000, 0x01800000, 0x7E000000, 0x7F7FFFFF, 0xFF7FFFFF)
C_NONFINITE = (0x7FC00000, 0x7F800000, 0xFF800000, 0xFF800001)


def as_tuple(unit):
    return (unit.n, unit.frac, unit.frac_out, unit.min_exp, unit.late_c, unit.promote)


def finite_codes(rng, shape, fmt):
    c = rng.integers(0, 256, shape).astype(np.uint8)
    bad = np.isin(c, NAN_CODES[fmt] + INF_CODES[fmt])
    c[bad] = rng.integers(0, 0x70, int(bad.sum()))
    return c


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


UNIT_CASES = list(UNITS.values()) + [BlockFMA(2, 13, 13, 120), BlockFMA(3, 40, 1, 170, late_c=True),
    BlockFMA(2, 1, 23, 1000),
    BlockFMA(3, 2, 1, -20), BlockFMA(1, 1, 1, 0), BlockFMA(5, 40, 23, -160, late_c=True, promote=7),
    BlockFMA(4, 13, 13, -132, promote=6), BlockFMA(7, 30, 5, -10, late_c=True),
    BlockFMA(2, 8, 23, 20), BlockFMA(64, 24, 23, -160, promote=3)]


@pytest.mark.parametrize("unit", UNIT_CASES, ids=str)
@pytest.mark.parametrize("fa,fb", [(E4, E4), (E5, E4), (E4, E5), (E5, E5)])
def test_random_against_reference(unit, fa, fb):
    rng = np.random.default_rng([18, unit.n, unit.frac, FORMATS.index(fa), FORMATS.index(fb)])
    k = 2 * unit.n + 3 if unit.n < 40 else 70                  # K not a multiple of n
    a, b = finite_codes(rng, (3, k), fa), finite_codes(rng, (k, 4), fb)
    cbits = rng.integers(0, 2 ** 32, (3, 4), dtype=np.uint64).astype(np.uint32)
    cbits[(cbits & 0x7F800000) == 0x7F800000] = 0x3F800000
    cbits[0, :] = C_SPECIAL[:4]
    run_both(unit, a, fa, b, fb, cbits)
    run_both(unit, a, fa, b, fb, None)


@pytest.mark.parametrize("unit", UNIT_CASES, ids=str)
def test_adversarial_values(unit):
    """Subnormals, signed zeros, extremes, huge/tiny mixes; c of every kind."""
    rng = np.random.default_rng([19, unit.n])
    for fa, fb in ((E4, E5), (E5, E5), (E4, E4)):
        k = 37
        a = rng.choice(np.array(SPECIAL[fa], np.uint8), (len(C_SPECIAL), k))
        b = rng.choice(np.array(SPECIAL[fb], np.uint8), (k, 5))
        cbits = np.repeat(np.array(C_SPECIAL, np.uint32)[:, None], 5, axis=1)
        run_both(unit, a, fa, b, fb, cbits)


@pytest.mark.parametrize("unit", [UNITS["hopper_fp8"], UNITS["b200_fp8"],
                                  BlockFMA(2, 13, 13, -132), BlockFMA(3, 5, 3, -132, promote=4)],
                         ids=str)
def test_cancellation_across_blocks(unit):
    """Blocks whose results cancel exactly, leaving what truncation kept."""
    x = fxsim.asarray([448, 2.0 ** -9, -448, 2.0 ** -6, 1.5, -1.5, 0.0, -0.0] * 5, E4).bits
    y = fxsim.asarray([1, 1, 1, 0.5, 2, 2, 1, 1] * 5, E4).bits
    a = np.stack([x, x[::-1], np.roll(x, 3)])
    b = np.stack([y, y[::-1], np.roll(y, 1)], axis=1)
    for cbits in (None, np.uint32([[0x80000000] * 3] * 3), np.uint32([[0x43E00000] * 3] * 3)):
        run_both(unit, a, E4, b, E4, cbits)


@pytest.mark.parametrize("k", [0, 1, 2, 31, 32, 33])
def test_short_and_empty_reductions(k):
    rng = np.random.default_rng([20, k])
    for unit in (UNITS["hopper_fp8"], UNITS["b200_fp8"], UNITS["hopper_fp8_promote128"]):
        a, b = finite_codes(rng, (2, k), E4), finite_codes(rng, (k, 3), E5)
        cbits = np.uint32([[0x80000000, 0x00000001, 0x3F800000], [0, 0xBF800000, 0x00400000]])
        run_both(unit, a, E4, b, E5, cbits)
        run_both(unit, a, E4, b, E5)


@pytest.mark.parametrize("unit", [BlockFMA(4, 13, 23, -160), BlockFMA(4, 40, 23, -160, promote=3),
                                  BlockFMA(2, 13, 5, -150), BlockFMA(3, 1, 23, 127),
                                  BlockFMA(3, 40, 23, 300), BlockFMA(1, 2, 3, -160, late_c=True)],
                         ids=str)
def test_alignment_exponent_extremes(unit):
    """E far below the products' range (a subnormal c alone sets it, down to
    -149, or min_exp -160) and far above (min_exp up to 300, c near 2**127)."""
    zero, tiny, one = 0x00, 0x01, 0x38
    a = np.uint8([[zero, zero, zero, zero], [tiny, zero, tiny, zero], [one, tiny, zero, one]] * 3)
    b = np.uint8([[zero, one, tiny], [one, one, one], [tiny, one, zero], [one, zero, one]])
    cbits = np.uint32([[0x00000001, 0x00000003, 0x80400001], [0x007FFFFF, 0x00800000, 0x00000002],
                       [0x7F7FFFFF, 0xFEFFFFFF, 0x3F800000]] * 3)
    run_both(unit, a, E4, b, E4, cbits)
    run_both(unit, a, E4, b, E5, cbits)


def test_k0_returns_c_unchanged():
    a = wrap_codes(np.zeros((2, 0), np.uint8), fxsim.format(E4))
    b = wrap_codes(np.zeros((0, 2), np.uint8), fxsim.format(E4))
    c = wrap_codes(np.uint32([[0x80000000, 1], [0x3F800000, 0]]), fxsim.format(F32))
    assert np.array_equal(fxsim.matmul(a, b, c, order=UNITS["hopper_fp8"]).bits, c.bits)
    assert not fxsim.matmul(a, b, order=UNITS["b200_fp8"]).bits.any()


@pytest.mark.parametrize("unit", [UNITS["hopper_fp8"], UNITS["b200_fp8"],
                                  UNITS["hopper_fp8_promote128"]], ids=str)
def test_nonfinite_inputs(unit):
    rng = np.random.default_rng(21)
    for fa, fb in ((E5, E5), (E4, E5), (E5, E4)):
        a, b = finite_codes(rng, (6, 9), fa), finite_codes(rng, (9, 6), fb)
        specials_a = NAN_CODES[fa] + INF_CODES[fa] + (0x00, 0x80)
        specials_b = NAN_CODES[fb] + INF_CODES[fb] + (0x00, 0x80)
        for i in range(5):
            a[i, rng.integers(0, 9)] = rng.choice(specials_a)
            b[rng.integers(0, 9), i] = rng.choice(specials_b)
        cbits = rng.choice(np.array(C_NONFINITE + C_SPECIAL, np.uint32), (6, 6))
        run_both(unit, a, fa, b, fb, cbits)
    # infinities of both signs, inf * 0, inf against c
    inf, ninf, one = 0x7C, 0xFC, 0x3C
    a = np.uint8([[inf, ninf], [inf, 0x00], [inf, one], [one, one]])
    b = np.uint8([[one, one], [one, 0x80]]).T.copy()
    got = run_both(unit, a, E5, b, E5, np.uint32([[0, 0], [0, 0], [0xFF800000, 0x7F800000],
                                                  [0x7FC00000, 0]]))
    assert got.bits[0, 0] == 0x7FC00000 and got.bits[3, 0] == 0x7FC00000


@given(st.data())
def test_hypothesis_whole_parameter_range(data):
    """Custom units across the accepted range, arbitrary codes (NaNs and
    infinities included) and c patterns, against the reference."""
    unit = BlockFMA(n=data.draw(st.integers(1, 70)), frac=data.draw(st.integers(1, 40)),
                    frac_out=data.draw(st.integers(1, 23)),
                    min_exp=data.draw(st.one_of(st.integers(-160, 40), st.integers(40, 400))),
                    late_c=data.draw(st.booleans()),
                    promote=data.draw(st.one_of(st.none(), st.integers(1, 80))))
    fa, fb = data.draw(st.sampled_from(FORMATS)), data.draw(st.sampled_from(FORMATS))
    m, k = data.draw(st.integers(1, 3)), data.draw(st.integers(0, 40))
    n = data.draw(st.integers(1, 3))
    code = st.integers(0, 255)
    special = data.draw(st.booleans())
    if special:
        code = st.sampled_from(SPECIAL[fa] + SPECIAL[fb])
    a = np.array(data.draw(st.lists(code, min_size=m * k, max_size=m * k)), np.uint8).reshape(m, k)
    b = np.array(data.draw(st.lists(code, min_size=k * n, max_size=k * n)), np.uint8).reshape(k, n)
    cb = data.draw(st.one_of(st.none(), st.lists(
        st.one_of(st.sampled_from(C_SPECIAL + C_NONFINITE), st.integers(0, 2 ** 32 - 1)),
        min_size=m * n, max_size=m * n)))
    run_both(unit, a, fa, b, fb, None if cb is None else np.uint32(cb).reshape(m, n))


def test_wide_binary64_sum_path():
    """frac = 40, blocks of 3000 products at the top of their binades: the
    block sums pass 2**53 and are truncated to 53 bits before the final
    truncation (the int64 'wide' lanes)."""
    unit = BlockFMA(3000, 40, 23, -160)
    lanes32, wide, python = linalg_units.plan(unit, 3000)
    assert (lanes32, wide, python) == (False, True, False)
    top = fxsim.asarray([1.875], E4).bits[0]
    a = np.full((1, 3000), top, np.uint8)
    a[0, ::7] = fxsim.asarray([1.75], E4).bits[0]
    b = np.full((3000, 2), top, np.uint8)
    b[::5, 1] = fxsim.asarray([-0.013671875], E4).bits[0]
    run_both(unit, a, E4, b, E4, np.uint32([[0x4B000001, 0x3F800000]]))


@pytest.mark.parametrize("limits,plan", [((8, 53, 63), (False, False, False)),
                                         ((31, 10, 63), (True, True, False)),
                                         ((31, 10, 16), (True, True, True))],
                         ids=["int64-lanes", "wide", "python-ints"])
def test_each_exact_path_against_reference(monkeypatch, limits, plan):
    """The lanes plan() picks for long blocks, reached on small data by
    lowering its limits: int64 lanes, int64 sums truncated to 53 bits, and
    the Python-integer engine."""
    monkeypatch.setattr(linalg_units, "INT32_BITS", limits[0])
    monkeypatch.setattr(linalg_units, "FLOAT_BITS", limits[1])
    monkeypatch.setattr(linalg_units, "INT64_BITS", limits[2])
    rng = np.random.default_rng([22, *limits])
    assert linalg_units.plan(BlockFMA(5, 13, 13, -132), 17) == plan
    for unit in (BlockFMA(5, 13, 13, -132), BlockFMA(4, 25, 23, -133, late_c=True, promote=9),
                 BlockFMA(1, 3, 2, -160, promote=2)):
        a, b = finite_codes(rng, (3, 17), E4), finite_codes(rng, (17, 3), E5)
        a[0, :6] = np.uint8(SPECIAL[E4][:6])
        cbits = np.uint32([[0x80000000, 1, 0x3F800000], [0, 0x49800000, 0x007FFFFF],
                           [0x7F7FFFFF, 0xBF800000, 0x00800000]])
        run_both(unit, a, E4, b, E5, cbits)
        run_both(unit, np.zeros((2, 0), np.uint8), E4, np.zeros((0, 3), np.uint8), E5,
                 cbits[:2])


def test_result_does_not_depend_on_threads():
    rng = np.random.default_rng(23)
    a = wrap_codes(finite_codes(rng, (40, 100), E4), fxsim.format(E4))
    b = wrap_codes(finite_codes(rng, (100, 600), E5), fxsim.format(E5))  # two column tiles
    threads = min(2, jit.pool_size())
    for unit in (UNITS["hopper_fp8"], UNITS["b200_fp8"], UNITS["hopper_fp8_promote128"]):
        with jit.exact_threads(1):
            one = fxsim.matmul(a, b, order=unit)
        with jit.exact_threads(threads):
            two = fxsim.matmul(a, b, order=unit)
            assert jit.last_threads() == threads
        assert np.array_equal(one.bits, two.bits)
    sample = ref.matmul(a.bits[:2].tolist(), E4, b.bits[:, ::97].tolist(), E5, None,
                        as_tuple(unit))
    assert np.array_equal(two.bits[:2, ::97], np.array(sample, np.uint32))


def test_presets_as_published():
    assert UNITS["ada_fp8"] == BlockFMA(16, 13, 13, -132)
    assert UNITS["hopper_fp8"] == BlockFMA(32, 13, 13, -132)
    assert UNITS["hopper_fp8_promote128"] == BlockFMA(32, 13, 13, -132, promote=128)
    assert UNITS["b200_fp8"] == BlockFMA(32, 25, 23, -133, late_c=True)
    for name in UNITS:
        note = linalg_units.UNIT_NOTES[name]
        assert note["source"] and note["maturity"]
    assert "experimental" in linalg_units.UNIT_NOTES["b200_fp8"]["maturity"]
    assert fxsim.linalg.BlockFMA is linalg_units.BlockFMA and fxsim.linalg.UNITS is UNITS


@pytest.mark.parametrize("kwargs,err", [
    (dict(n=0, frac=13, frac_out=13, min_exp=-132), "n must be >= 1"),
    (dict(n=2, frac=0, frac_out=13, min_exp=-132), "frac must be from 1 to 40"),
    (dict(n=2, frac=41, frac_out=13, min_exp=-132), "frac must be from 1 to 40"),
    (dict(n=2, frac=13, frac_out=24, min_exp=-132), "frac_out must be from 1 to 23"),
    (dict(n=2, frac=13, frac_out=0, min_exp=-132), "frac_out must be from 1 to 23"),
    (dict(n=2, frac=13, frac_out=13, min_exp=-161), "min_exp must be >= -160"),
    (dict(n=2, frac=13, frac_out=13, min_exp=-132, promote=0), "promote must be >= 1"),
])
def test_unit_validation(kwargs, err):
    with pytest.raises(ValueError, match=err):
        BlockFMA(**kwargs)


def test_unit_types():
    with pytest.raises(TypeError, match="n must be an int"):
        BlockFMA(2.0, 13, 13, -132)
    with pytest.raises(TypeError, match="frac must be an int"):
        BlockFMA(2, True, 13, -132)
    with pytest.raises(TypeError, match="late_c must be True or False"):
        BlockFMA(2, 13, 13, -132, late_c=1)
    with pytest.raises(TypeError, match="promote must be an int"):
        BlockFMA(2, 13, 13, -132, promote=1.5)


def test_matmul_refuses_what_the_model_does_not_define():
    e4 = fxsim.asarray(np.ones((2, 3)), E4)
    unit = UNITS["hopper_fp8"]
    with pytest.raises(ValueError, match="bfloat16"):
        fxsim.matmul(fxsim.asarray(np.ones((2, 3)), "bfloat16"), e4.T, order=unit)
    with pytest.raises(TypeError, match="QArray"):
        fxsim.matmul(np.ones((2, 3)), e4.T, order=unit)
    with pytest.raises(ValueError, match="mul must be None"):
        fxsim.matmul(e4, e4.T, mul="float16", acc="float32", order=unit)
    with pytest.raises(ValueError, match="acc must be None or float32, got bfloat16"):
        fxsim.matmul(e4, e4.T, acc="bfloat16", order=unit)
    with pytest.raises(ValueError, match="out must be None or float32, got float16"):
        fxsim.matmul(e4, e4.T, out="float16", order=unit)
    with pytest.raises(ValueError, match="rounding must be 'nearest_even'"):
        fxsim.matmul(e4, e4.T, rounding="toward_zero", order=unit)
    with pytest.raises(ValueError, match="c must be None or a float32 QArray, got float16"):
        fxsim.matmul(e4, e4.T, fxsim.asarray(np.ones((2, 2)), "float16"), order=unit)
    with pytest.raises(ValueError, match="does not broadcast"):
        fxsim.matmul(e4, e4.T, fxsim.asarray(np.ones((3, 3)), F32), order=unit)
    with pytest.raises(ValueError, match="must be 2-d"):
        fxsim.matmul(e4.reshape(1, 2, 3), e4.T, order=unit)
    with pytest.raises(ValueError, match="reduction lengths differ"):
        fxsim.matmul(e4, e4, order=unit)
    # consistent formats are accepted; c broadcasts
    got = fxsim.matmul(e4, e4.T, fxsim.asarray(np.ones(2), F32), acc="float32", out="float32",
                       order=unit)
    assert np.array_equal(got.to_float(), np.full((2, 2), 4.0))


@pytest.mark.parametrize("unit,a,b,c", [
    (UNITS["hopper_fp8"], [448, 2.0 ** -9, -3.5, 0.001], [1, 1, 0.75, 1.25], 0.3),
    (UNITS["b200_fp8"], [1, 2.0 ** -9, -2.5], [1, 1, 0.125], -0.0),
    (UNITS["ada_fp8"], [0.0, -0.0], [1, 2], None),
    (BlockFMA(4, 2, 1, -6), [1.75, 0.875, 3.0e-3], [1, 1, 1], 1e-30),
    (BlockFMA(4, 3, 2, -132, late_c=True), [1.75, 0.875], [1, -1], 2.0 ** 20),
])
def test_teaching_view_matches_matmul(unit, a, b, c):
    text = linalg_units.explain_block(unit, a, b, c)
    qa, qb = fxsim.asarray(a, E4), fxsim.asarray(b, E4)
    qc = None if c is None else fxsim.asarray([[c]], F32)
    want = fxsim.matmul(qa.reshape(1, -1), qb.reshape(-1, 1), qc, order=unit).bits[0, 0]
    assert text.splitlines()[-1].endswith(f"(float32 0x{int(want):08X})")
    assert "alignment exponent E =" in text and "dropped" in text


def test_teaching_view_errors():
    with pytest.raises(ValueError, match="one block"):
        linalg_units.explain_block(BlockFMA(2, 13, 13, -132), [1, 2, 3], [1, 2, 3])
    with pytest.raises(TypeError, match="BlockFMA"):
        linalg_units.explain_block(16, [1], [1])
    with pytest.raises(ValueError, match="finite"):
        linalg_units.explain_block(UNITS["hopper_fp8"], [1], [1], float("inf"))
