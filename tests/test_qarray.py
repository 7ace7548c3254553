"""QArray: codes + format, numpy-like shape behaviour, exact comparisons,
operators, and the errors users meet."""
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim import ops


def test_construction_and_views():
    x = np.array([[1.0, -2.5, 0.25], [448.0, -0.0, 3.0]])
    q = fxsim.asarray(x, "float8_e4m3fn")
    assert q.shape == (2, 3) and q.ndim == 2 and q.size == 6 and len(q) == 2
    assert q.bits.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(q), x)
    np.testing.assert_array_equal(q.to_float(), x)
    assert q.bits[1, 1] == 0x80  # -0 kept
    for view in (q[0], q[:, 1:], q.T, q.reshape(3, 2), q.transpose(1, 0), q.ravel(), q[1, 2]):
        assert view.fmt == q.fmt
    np.testing.assert_array_equal(q.T.to_float(), x.T)
    np.testing.assert_array_equal(q.reshape(3, 2).to_float(), x.reshape(3, 2))
    assert float(q[1, 2]) == 3.0
    both = fxsim.concatenate([q, q[:1]])
    assert both.shape == (3, 3) and both.fmt == q.fmt
    np.testing.assert_array_equal(both.to_float(), np.concatenate([x, x[:1]]))
    same = fxsim.from_bits(q.bits, "float8_e4m3fn")
    assert (same == q).all()
    assert fxsim.asarray(q) is q


def test_from_numpy_is_exact_and_repr_names_the_format():
    h = np.array([1.0009765625, 65504.0], np.float16)
    q = fxsim.asarray(h)
    assert q.fmt == fxsim.format("float16")
    np.testing.assert_array_equal(q.bits, h.view(np.uint16))
    assert "float16" in repr(q) and "1.0009765625" in repr(q)
    wide = fxsim.asarray([Fraction(1, 3)], "s100.90")
    assert "s100.90" in repr(wide) and "/" in repr(wide)  # exact, as a Fraction
    assert fxsim.asarray(np.array([3, -4], np.int16)).fmt == fxsim.format("s16.0")


def test_bad_bits_and_formats_are_named():
    with pytest.raises(ValueError, match=r"code 256 at index \(1,\).*float8_e4m3fn"):
        fxsim.from_bits([1, 256], "float8_e4m3fn")
    with pytest.raises(ValueError, match="index"):
        fxsim.from_bits([-1], "s8.4")
    with pytest.raises(ValueError, match="concatenate.*format"):
        fxsim.concatenate([fxsim.asarray([1.0], "float16"), fxsim.asarray([1.0], "bfloat16")])
    q = fxsim.asarray([1.0, 2.0], "float16")
    with pytest.raises(ValueError, match="same format"):
        q[0] = 3.0


def test_comparisons_are_exact():
    a = fxsim.asarray([1.0, np.nan, -0.0, 2.0], "float16")
    b = fxsim.asarray([1.0, np.nan, 0.0, 3.0], "bfloat16")
    np.testing.assert_array_equal(a == b, [True, False, True, False])
    np.testing.assert_array_equal(a != b, [False, True, False, True])
    np.testing.assert_array_equal(a < b, [False, False, False, True])
    np.testing.assert_array_equal(a >= 1.0, [True, False, False, True])
    # beyond float64: 2**-200 apart, equal as float64 but not as values
    f = fxsim.FixedFormat(260, 250)
    x = fxsim.from_bits([1 << 250, (1 << 250) + 1], f)
    assert (x == 1).tolist() == [True, False]
    assert (x[1] > x[0]).item()
    assert (x > Fraction(1)).tolist() == [False, True]


def test_operators_use_the_wider_format_and_default_mode():
    h = fxsim.asarray([1.0, 3.0], "float16")
    e = fxsim.asarray([0.5, 0.125], "float8_e4m3fn")
    assert (h + e).fmt == fxsim.format("float16")  # float16 holds every e4m3fn value
    np.testing.assert_array_equal((h * e).to_float(), [0.5, 0.375])
    b = fxsim.asarray([1.0], "bfloat16")
    common = ops.result_format(h.fmt, b.fmt)
    assert (common.exp, common.man) == (8, 10)
    assert (h[:1] + b).fmt == common
    assert (h / 3).to_float()[0] == np.float16(1 / 3)
    assert (2 * h).to_float().tolist() == [2.0, 6.0]
    np.testing.assert_array_equal((-h).to_float(), [-1.0, -3.0])
    np.testing.assert_array_equal(abs(-h).to_float(), [1.0, 3.0])


def test_python_scalars_must_be_exact_in_the_format():
    q = fxsim.asarray([1.0], "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"0\.1 is not exactly representable.*float8_e4m3fn"):
        q + 0.1
    s = fxsim.asarray([1.5], "s8.4")
    assert (s + 1).fmt == fxsim.format("s9.4")
    with pytest.raises(ValueError, match="not exactly representable"):
        s * 1000
    with pytest.raises(ValueError, match="out="):
        s / s


def test_fixed_negative_of_the_minimum_grows():
    q = fxsim.from_bits([0x80], "s8.0")
    assert (-q).fmt == fxsim.format("s9.0") and (-q).to_float()[0] == 128
    u = fxsim.from_bits([255], "u8.0")
    assert (-u).to_float()[0] == -255 and (-u).fmt.signed


def test_float_negative_keeps_nan_and_fnuz_zero():
    z = fxsim.from_bits([0x00, 0x80, 0x01], "float8_e4m3fnuz")  # 0, NaN, tiny
    assert (-z).bits.tolist() == [0x00, 0x80, 0x81]
    assert abs(fxsim.from_bits([0x81, 0x80], "float8_e4m3fnuz")).bits.tolist() == [0x01, 0x80]


def test_op_errors_name_op_format_mode_and_index():
    a = fxsim.asarray([1.0, np.inf], "float16")
    b = fxsim.asarray([1.0, np.inf], "float16")
    with pytest.raises(ValueError, match=r"sub\(.*\) at index \(1,\) is NaN.*float6_e3m2fn.*"
                                         r"rounding=nearest_even"):
        fxsim.sub(a, b, out="float6_e3m2fn")
    with pytest.raises(OverflowError, match=r"add\(.*\) at index \(0,\) overflows format s4.2"):
        fxsim.add(fxsim.asarray([1.5], "s8.4"), fxsim.asarray([1.5], "s8.4"), out="s4.2",
                  overflow="raise")
    with pytest.raises(ValueError, match="infinite.*s8.4"):
        fxsim.div(fxsim.asarray([1.0], "float16"), fxsim.asarray([0.0], "float16"), out="s8.4")
    with pytest.raises(ValueError, match="overflow='wrap' is not available"):
        fxsim.add(a, b, overflow="wrap")
    with pytest.raises(ValueError, match="unknown rounding|rounding"):
        fxsim.mul(a, b, rounding="nearest")
    with pytest.raises(ValueError, match="broadcast|shape"):
        fxsim.add(fxsim.asarray([1.0, 2.0], "float16"), fxsim.asarray([1.0, 2.0, 3.0], "float16"))


def test_x_minus_x_signs_and_default_nan():
    x = fxsim.asarray([1.5, -2.0], "float16")
    assert (x - x).bits.tolist() == [0, 0]
    assert fxsim.sub(x, x, rounding="down").bits.tolist() == [0x8000, 0x8000]
    inf = fxsim.asarray([np.inf], "float16")
    assert (inf - inf).bits.tolist() == [0x7E00]  # the positive default NaN


def test_engines_and_table_agree_on_a_sample(python_engine):
    """The table path (narrow operands), the kernel (via a wide output that
    has no table) and the Python engine give the same codes."""
    rng = np.random.default_rng(5)
    fmt = fxsim.format("float8_e5m2")
    a = fxsim.from_bits(rng.integers(0, 256, 2000), fmt)
    b = fxsim.from_bits(rng.integers(0, 256, 2000), fmt)
    for op in (fxsim.add, fxsim.mul, fxsim.div):
        table = op(a, b, out=fmt, rounding="nearest_away")
        padded = np.stack([b.bits, b.bits])  # same operands, 2-d: still the table
        assert (op(a, fxsim.from_bits(padded, fmt), out=fmt, rounding="nearest_away").bits
                == table.bits).all()
        with pytest.MonkeyPatch.context() as mp:
            python_engine(mp)
            python = op(a, b, out=fmt, rounding="nearest_away")
        assert (python.bits == table.bits).all()
        wide_b = fxsim.cast(b, "float16")  # float16 x e5m2 pairs: too wide for a table
        assert (op(a, wide_b, out=fmt, rounding="nearest_away").bits == table.bits).all()


def test_error_names_the_values_of_broadcast_operands():
    a = fxsim.asarray(np.array([[1.0], [448.0]]), "float8_e4m3fn")
    b = fxsim.asarray(np.array([[0.5, 2.0]]), "float8_e4m3fn")
    with pytest.raises(OverflowError,
                       match=r"mul\(448 \(float8_e4m3fn\), 2 \(float8_e4m3fn\)\) at index \(1, 1\)"):
        fxsim.multiply(a, b, overflow="raise")


# ------------------------------------------------------------ read-only codes
def test_codes_are_read_only():
    q = fxsim.asarray([0.5, 1.0, -2.0, 6.0], "float4_e2m1fn")
    before = q.bits.tolist()
    with pytest.raises(ValueError, match="read-only"):
        q.bits[0] = 255
    with pytest.raises(ValueError, match="read-only"):
        q.bits.view(np.int8)[0] = -1
    with pytest.raises(ValueError, match="read-only"):
        q.bits.reshape(2, 2)[0, 0] = 15
    with pytest.raises(ValueError, match="read-only"):
        q.bits[...] |= 0xF0
    with pytest.raises(ValueError):
        q.bits.flags.writeable = True  # a view of read-only codes cannot be unlocked
    with pytest.raises(ValueError, match="read-only"):
        np.copyto(q.bits, 255)
    for derived in (q[1:], q.reshape(2, 2), q.T, q.ravel(), q.copy(), q[np.array([0, 2])]):
        with pytest.raises(ValueError, match="read-only"):
            derived.bits.reshape(-1)[0] = 255
    assert q.bits.tolist() == before
    mine = q.bits.copy()  # a copy is the caller's own: writing it leaves q alone
    mine[0] = 255
    assert q.bits.tolist() == before
    with pytest.raises(ValueError, match=r"from_bits: code 255 at index \(0,\).*float4_e2m1fn"):
        fxsim.QArray.from_bits(mine, q.fmt)


def test_from_bits_checks_the_width_and_copies():
    codes = np.array([[1, 2], [3, 16]], np.uint8)
    with pytest.raises(ValueError, match=r"code 16 at index \(1, 1\).*2\*\*4.*float4_e2m1fn"):
        fxsim.QArray.from_bits(codes, "float4_e2m1fn")
    with pytest.raises(ValueError, match=r"code 300 at index \(2,\).*float8_e4m3fn"):
        fxsim.from_bits(np.array([0, 1, 300, 400], np.uint16), "float8_e4m3fn")
    with pytest.raises(ValueError, match=r"code -1 at index \(0,\).*s8.4"):
        fxsim.QArray.from_bits([-1], "s8.4")
    codes[1, 1] = 15
    q = fxsim.QArray.from_bits(codes, "float4_e2m1fn")
    assert isinstance(q, fxsim.QArray) and q.bits.tolist() == [[1, 2], [3, 15]]
    codes[0, 0] = 7  # the QArray holds its own copy
    assert q.bits[0, 0] == 1
    wide = fxsim.QArray.from_bits([1 << 99], "s100.0")
    with pytest.raises(ValueError, match="read-only"):
        wide.bits[0] = 1 << 100


def test_numpy_input_is_copied():
    x = np.array([1.0, 2.0], np.float16)
    q = fxsim.asarray(x)  # no format: the float16 bit patterns themselves
    x[0] = np.float16(np.inf)
    assert q.to_float().tolist() == [1.0, 2.0]


def test_setitem_makes_new_codes_and_shape_ops_still_work():
    q = fxsim.asarray([1.0, 2.0, 3.0, 4.0], "float16")
    view = q[:2]
    q[1:3] = fxsim.asarray([-1.0, -2.0], "float16")
    assert q.to_float().tolist() == [1.0, -1.0, -2.0, 4.0]
    assert view.to_float().tolist() == [1.0, 2.0]  # made before: keeps the old codes
    with pytest.raises(ValueError, match="read-only"):
        q.bits[0] = 0
    r = q.reshape(2, 2)
    assert r.T.to_float().tolist() == [[1.0, -2.0], [-1.0, 4.0]]
    assert (q + q).to_float().tolist() == [2.0, -2.0, -4.0, 8.0]
    assert fxsim.concatenate([q, r.ravel()]).shape == (8,)


def test_pickled_codes_stay_read_only():
    import pickle
    q = fxsim.asarray([[1.5, -2.0]], "float8_e4m3fn")
    p = pickle.loads(pickle.dumps(q))
    assert (p == q).all() and p.fmt == q.fmt
    with pytest.raises(ValueError, match="read-only"):
        p.bits[0, 0] = 255


def test_files_are_written_from_read_only_codes(tmp_path):
    q = fxsim.asarray(np.linspace(-3, 3, 6).reshape(2, 3), "float8_e4m3fn")
    fxsim.io.write_memh(tmp_path / "q.memh", q)
    back = fxsim.io.read_memh(tmp_path / "q.memh", q.fmt, shape=q.shape)
    assert back.bits.tolist() == q.bits.tolist()
    fxsim.io.write_npz(tmp_path / "q.npz", {"q": q})
    arrays, _ = fxsim.io.read_npz(tmp_path / "q.npz")
    assert arrays["q"].bits.tolist() == q.bits.tolist()
    with pytest.raises(ValueError, match="read-only"):
        arrays["q"].bits[0, 0] = 0
    dut = fxsim.from_bits(q.bits ^ np.uint8([[0, 0, 4], [0, 0, 0]]), q.fmt)
    assert "(0, 2)" in str(fxsim.io.diff(q, dut))
