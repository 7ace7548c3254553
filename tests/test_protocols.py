"""numpy's protocols on QArrays (fxsim.protocols): numpy calls that fxsim
computes give fxsim's answer -- checked against the fxsim function they are
documented to be and, for values, against reference/ -- and every other one
raises a TypeError that says how to decode first."""
import math
import operator

import numpy as np
import pytest

import fxsim
import reference as ref
import reference.arith as ra
from tests.oracle import ref_format

E4M3 = fxsim.format("float8_e4m3fn")


def all_pairs(fmt):
    """QArrays a, b holding every pair of codes of an 8-bit format."""
    codes = np.arange(1 << fmt.width, dtype=np.uint8)
    a, b = np.meshgrid(codes, codes, indexing="ij")
    return fxsim.from_bits(a.ravel(), fmt), fxsim.from_bits(b.ravel(), fmt)


def ref_value(code, fmt):
    """reference.decode as a Fraction, or a float for NaN/inf (None: NaN)."""
    sign, mag = ref.decode(int(code), ref_format(fmt))
    if mag == "nan":
        return None
    return sign * math.inf if mag == "inf" else sign * mag


def test_np_add_is_the_correctly_rounded_sum_for_every_e4m3fn_pair():
    a, b = all_pairs(E4M3)
    got = np.add(a, b)
    assert isinstance(got, fxsim.QArray) and got.fmt == E4M3
    rf = ref_format(E4M3)
    values = [ref_value(c, E4M3) for c in range(256)]
    cache = {}
    want = np.empty(a.size, np.uint64)
    for i, (x, y) in enumerate(zip(a.bits.tolist(), b.bits.tolist())):
        vx, vy = values[x], values[y]
        exact = None if vx is None or vy is None else vx + vy
        if exact:  # finite and nonzero: one rounding of the exact sum (cached per value)
            if exact not in cache:
                cache[exact] = ref.encode(exact, rf)
            want[i] = cache[exact]
        else:  # NaN operands and zero sums: the sign rules of reference.arith
            want[i] = ra.add(x, rf, y, rf, rf)
    bad = np.flatnonzero(got.bits != want)
    assert not bad.size, f"{bad.size} pairs differ, first codes {a.bits[bad[0]]:#x}, {b.bits[bad[0]]:#x}"
    # the numpy call is the fxsim call and the operator, bit for bit
    assert np.array_equal(got.bits, fxsim.add(a, b).bits)
    assert np.array_equal(got.bits, (a + b).bits)


@pytest.mark.parametrize("ufunc,fx", [(np.subtract, fxsim.subtract), (np.multiply, fxsim.multiply),
                                      (np.divide, fxsim.divide), (np.true_divide, fxsim.divide)])
@pytest.mark.parametrize("name", ["float8_e5m2", "float8_e4m3fnuz", "float4_e2m1fn"])
def test_binary_ufuncs_are_fxsims_for_every_pair(ufunc, fx, name):
    fmt = fxsim.format(name)
    a, b = all_pairs(fmt)
    if not fmt.has_nan and ufunc is not np.subtract:  # 0 * inf-free formats: x/0 has no code
        keep = fxsim.decode(b.bits, fmt) != 0
        a, b = a[keep], b[keep]
    got = ufunc(a, b)
    assert got.fmt == fmt and np.array_equal(got.bits, fx(a, b).bits)


def test_sqrt_of_every_e4m3fn_code_against_reference():
    q = fxsim.from_bits(np.arange(256, dtype=np.uint8), E4M3)
    got = np.sqrt(q)
    rf = ref_format(E4M3)
    assert got.fmt == E4M3
    assert got.bits.tolist() == [ra.sqrt(c, rf, rf) for c in range(256)]


def test_unary_exact_ufuncs():
    q = fxsim.from_bits(np.arange(256, dtype=np.uint8), E4M3)
    assert np.array_equal(np.negative(q).bits, fxsim.negative(q).bits)
    assert np.array_equal(np.absolute(q).bits, fxsim.absolute(q).bits)
    assert np.array_equal(np.abs(q).bits, q.bits & 0x7F)  # e4m3fn: clear the sign bit
    assert np.positive(q) is q
    s = fxsim.from_bits(np.arange(256, dtype=np.uint8), "s8.3")
    neg = np.negative(s)  # fixed point grows one bit, exactly
    assert neg.fmt == fxsim.FixedFormat(9, 3)
    assert np.array_equal(neg.to_float(), -s.to_float())  # fixed point has no -0


def test_fixed_point_add_is_exact_and_grown():
    a, b = all_pairs(fxsim.format("s8.2"))
    got = np.add(a, b)
    assert got.fmt == fxsim.add(a, b).fmt == fxsim.FixedFormat(9, 2)
    assert np.array_equal(got.to_float(), a.to_float() + b.to_float())  # exact in float64


def test_comparisons_are_exact_and_plain_bool_arrays():
    a, b = all_pairs(E4M3)
    values = [ref_value(c, E4M3) for c in range(256)]
    va = [values[c] for c in a.bits.tolist()]
    vb = [values[c] for c in b.bits.tolist()]
    for ufunc, op in [(np.equal, operator.eq), (np.not_equal, operator.ne), (np.less, operator.lt),
                      (np.less_equal, operator.le), (np.greater, operator.gt),
                      (np.greater_equal, operator.ge)]:
        got = ufunc(a, b)
        assert type(got) is np.ndarray and got.dtype == bool
        want = [op(x, y) if x is not None and y is not None else op is operator.ne
                for x, y in zip(va, vb)]
        assert got.tolist() == want, ufunc.__name__
    # a numpy array on the left: the reflected comparison of the same values
    x = np.array([0.25, 1.0, 1.0625, -np.inf, np.nan])
    q = fxsim.asarray([0.25, 1.0, 1.0, 448.0, 1.0], E4M3)
    assert np.less(x, q).tolist() == [False, False, False, True, False]
    assert (x >= q).tolist() == [True, True, True, False, False]
    assert (x == q).tolist() == [True, True, False, False, False]
    with pytest.raises(TypeError, match="cannot compare"):
        np.equal(q, "text")


def _ref_matmul(a, b, fmt):
    rf = ref_format(fmt)
    return np.array(ref.matmul(a.bits.tolist(), rf, b.bits.tolist(), rf, out=rf), np.uint64)


def test_matmul_and_operator_against_reference():
    rng = np.random.default_rng(7)
    a = fxsim.asarray(rng.normal(size=(5, 17)), E4M3)
    b = fxsim.asarray(rng.normal(size=(17, 3)), E4M3)
    want = _ref_matmul(a, b, E4M3)
    for got in (a @ b, np.matmul(a, b), np.dot(a, b), fxsim.matmul(a, b)):
        assert got.fmt == E4M3 and np.array_equal(got.bits, want)
    x = rng.normal(size=(2, 5))  # a numpy operand is read exactly (float64 -> the wider format)
    assert np.array_equal((x @ a).bits, fxsim.matmul(x, a).bits)
    assert (x @ a).fmt == fxsim.formats.float64


def test_sum_against_reference_and_keepdims():
    rng = np.random.default_rng(3)
    q = fxsim.asarray(rng.normal(size=(4, 24)) * 8, E4M3)
    rf = ref_format(E4M3)
    one = [[int(fxsim.encode(1.0, E4M3))]] * 24
    want = np.array([ref.matmul([row], rf, one, rf, out=rf)[0][0] for row in q.bits.tolist()])
    for got in (np.sum(q, axis=1), q.sum(axis=1), np.add.reduce(q, axis=1), fxsim.sum(q, axis=1)):
        assert got.fmt == E4M3 and np.array_equal(got.bits, want)
    assert np.sum(q, axis=1, keepdims=True).shape == (4, 1)
    assert q.sum(keepdims=True).shape == (1, 1)
    assert np.array_equal(np.add.reduce(q).bits, fxsim.sum(q, axis=0).bits)  # numpy's default axis
    assert np.array_equal(np.sum(q).bits, fxsim.sum(q).bits)
    assert np.array_equal(q.sum(out="float32").bits, fxsim.sum(q, out="float32").bits)
    s = fxsim.asarray([100, 100, 100], "int8")
    assert q.sum().fmt == E4M3 and s.sum().fmt == fxsim.FixedFormat(10, 0)  # exact, grown
    assert int(s.sum().to_float()) == 300


def test_dot_shapes():
    rng = np.random.default_rng(5)
    v = fxsim.asarray(rng.normal(size=9), E4M3)
    assert np.array_equal(np.dot(v, v).bits, fxsim.dot(v, v).bits)
    m = fxsim.asarray(rng.normal(size=(4, 9)), E4M3)
    assert np.array_equal(np.dot(m, v).bits, fxsim.matmul(m, v).bits)
    two = fxsim.asarray(2.0, E4M3)
    assert np.array_equal(np.dot(two, v).bits, fxsim.multiply(two, v).bits)
    with pytest.raises(TypeError, match="fxsim.matmul"):
        np.dot(m.reshape(2, 2, 9), fxsim.asarray(rng.normal(size=(2, 9, 2)), E4M3))


@pytest.mark.parametrize("func,args", [
    (np.reshape, ((3, 4),)), (np.transpose, ()), (np.swapaxes, (0, 1)), (np.moveaxis, (0, -1)),
    (np.ravel, ()), (np.squeeze, ()), (np.expand_dims, (1,)), (np.flip, ()), (np.copy, ()),
    (np.broadcast_to, ((2, 4, 3),)), (np.atleast_3d, ()),
])
def test_shape_functions_move_codes(func, args):
    q = fxsim.from_bits(np.arange(12, dtype=np.uint8).reshape(4, 3), E4M3)
    got = func(q, *args)
    assert isinstance(got, fxsim.QArray) and got.fmt == E4M3
    assert np.array_equal(got.bits, func(q.bits, *args))
    assert np.shape(q) == (4, 3) and np.ndim(q) == 2 and np.size(q) == 12


def test_concatenate_and_stack():
    q = fxsim.from_bits(np.arange(6, dtype=np.uint8).reshape(2, 3), E4M3)
    assert np.array_equal(np.concatenate([q, q], axis=1).bits, np.concatenate([q.bits] * 2, axis=1))
    assert np.array_equal(np.concatenate([q, q], axis=None).bits, np.arange(12) % 6)
    assert np.array_equal(np.stack([q, q], axis=1).bits, np.stack([q.bits] * 2, axis=1))
    with pytest.raises(ValueError, match="cast first"):
        np.concatenate([q, q.astype("float8_e5m2")])
    with pytest.raises(TypeError, match="QArrays only"):
        np.stack([q, q.bits])


@pytest.mark.parametrize("call", [
    lambda q: np.exp(q), lambda q: np.mean(q), lambda q: np.add.accumulate(q),
    lambda q: np.add(q, q, out=np.empty(3)), lambda q: np.sum(q, dtype=np.float32),
    lambda q: np.floor_divide(q, q), lambda q: np.where(q > 0, q, q), lambda q: np.maximum(q, q),
])
def test_everything_else_is_refused_with_how_to_decode(call):
    q = fxsim.asarray([1.0, 2.0, 3.0], E4M3)
    with pytest.raises(TypeError) as err:
        call(q)
    text = str(err.value)
    assert "numpy.asarray(q)" in text or "out= is a format" in text


def test_astype_is_cast():
    q = fxsim.from_bits(np.arange(256, dtype=np.uint8), E4M3)
    finite = ~np.isnan(q.to_float())
    q = q[finite]
    for mode in ("nearest_even", "toward_zero", "up"):
        got = q.astype("float4_e2m1fn", rounding=mode)
        assert np.array_equal(got.bits, fxsim.cast(q, "float4_e2m1fn", mode).bits)
        rf = ref_format(fxsim.format("float4_e2m1fn"))
        want = [ref.encode(ref_value(c, E4M3) if c & 0x7F else math.copysign(0.0, -(c >> 7)),
                           rf, mode) for c in q.bits.tolist()]
        assert got.bits.tolist() == want
    with pytest.raises(OverflowError, match="overflows format s8.0"):
        q.astype("int8", overflow="raise")  # 448 > 127
    assert q.astype(np.float16).fmt == fxsim.formats.float16  # a numpy dtype names a format


def test_asarray_gives_exact_float64_and_rounds_what_float64_cannot_hold():
    q = fxsim.from_bits(np.arange(256, dtype=np.uint8), E4M3)
    want = [ref_value(c, E4M3) for c in range(256)]
    got = np.asarray(q)
    assert got.dtype == np.float64
    assert all((w is None and g != g) or (w is not None and g == w) for g, w in zip(got, want))
    assert np.signbit(got[0x80])  # -0 kept
    wide = fxsim.from_bits(np.array([(1 << 62) + 1, (1 << 53) + 3], np.uint64), "s64.0")
    assert np.asarray(wide).tolist() == [float(1 << 62), float((1 << 53) + 4)]  # nearest even
    huge = fxsim.from_bits(np.array([1, 255], np.uint8), fxsim.FixedFormat(8, -1100))
    assert np.asarray(huge).tolist() == [math.inf, -math.inf]
