"""Hypothesis: random formats, operands and modes through every operation,
against reference.arith (and exact Fraction arithmetic for fixed growth).

Both engines are checked on every example: the default dispatch (the
64-bit Numba kernel, or a table of its answers for narrow operands) and the
Python-int engine (forced by patching the dispatcher's plan).
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fxsim
import reference as ref
import reference.arith as ra
from oracle import ref_format
from test_hypothesis import float_formats

MODES = [m.value for m in fxsim.Rounding]
ARITY = {"add": 2, "sub": 2, "mul": 2, "div": 2, "fma": 3, "sqrt": 1}
FX = {"add": fxsim.add, "sub": fxsim.sub, "mul": fxsim.mul, "div": fxsim.div, "fma": fxsim.fma,
      "sqrt": fxsim.sqrt}

operand_fixed = st.builds(fxsim.FixedFormat, word=st.integers(1, 70), frac=st.integers(-8, 70),
                          signed=st.booleans())
operand_formats = st.one_of(float_formats(), float_formats(), operand_fixed)
out_formats = st.one_of(float_formats(), float_formats(), operand_fixed)


@st.composite
def codes(draw, fmt, n):
    """Codes biased toward the interesting ones: zeros, the ends, specials."""
    top = (1 << fmt.width) - 1
    sign = 1 << (fmt.width - 1)
    special = [0, 1, top, top - 1, sign, sign + 1, sign - 1, sign - 2]
    return [draw(st.one_of(st.integers(0, top), st.sampled_from([c for c in special
                                                                 if 0 <= c <= top])))
            for _ in range(n)]


def _reference(op, operands, out, mode, overflow, r, R):
    """Expected codes, or the exception class of the first failing element."""
    rout = ref_format(out)
    results = []
    for i in range(len(operands[0][1])):
        args = []
        for fmt, cs in operands:
            args += [cs[i], ref_format(fmt)]
        try:
            results.append(getattr(ra, op)(*args, rout, mode, overflow, r=r[i], R=R))
        except (ValueError, OverflowError) as e:
            return type(e)
    return results


@given(data=st.data(), op=st.sampled_from(list(ARITY)), mode=st.sampled_from(MODES))
def test_op_matches_reference(data, op, mode, python_engine):
    n = 6
    fmts = [data.draw(operand_formats, label=f"operand {k}") for k in range(ARITY[op])]
    out = data.draw(out_formats, label="out")
    overflow = data.draw(st.sampled_from([o.value for o in out.overflows]), label="overflow")
    operands = [(f, data.draw(codes(f, n))) for f in fmts]
    stochastic = mode.startswith("stochastic")
    R = data.draw(st.integers(1, 40)) if stochastic else 32
    r = [data.draw(st.integers(0, (1 << R) - 1)) for _ in range(n)] if stochastic else [0] * n
    expected = _reference(op, operands, out, mode, overflow, r, R)
    qs = [fxsim.from_bits(np.array(cs, dtype=object), f) for f, cs in operands]
    kwargs = dict(out=out, rounding=mode, overflow=overflow)
    if stochastic:
        kwargs.update(random=np.array(r, dtype=np.uint64), random_bits=R)
    with pytest.MonkeyPatch.context() as mp:
        for engine in ("dispatch", "python"):
            if engine == "python":
                python_engine(mp)
            if isinstance(expected, type):
                with pytest.raises(expected):
                    FX[op](*qs, **kwargs)
                continue
            got = [int(c) for c in FX[op](*qs, **kwargs).bits]
            assert got == expected, (op, engine, [f.name for f in fmts], out.name, mode, overflow,
                                     operands, r, R)


# ---------------------------------------------------------------- fixed point
def _values(q):
    return [v for v in q.to_exact().reshape(-1)]


fixed_any = st.builds(fxsim.FixedFormat, word=st.integers(1, 100), frac=st.integers(-20, 100),
                      signed=st.booleans())


@given(data=st.data(), fa=fixed_any, fb=fixed_any, op=st.sampled_from(["add", "sub", "mul"]))
def test_fixed_growth_is_exact(data, fa, fb, op):
    a = fxsim.from_bits(np.array(data.draw(codes(fa, 5)), dtype=object), fa)
    b = fxsim.from_bits(np.array(data.draw(codes(fb, 5)), dtype=object), fb)
    got = FX[op](a, b)
    # the documented growth rule
    if op == "mul":
        assert (got.fmt.word, got.fmt.frac) == (fa.word + fb.word, fa.frac + fb.frac)
    else:
        frac = max(fa.frac, fb.frac)
        assert got.fmt.frac == frac
        signed = fa.signed or fb.signed or op == "sub"
        assert got.fmt.signed == signed
        mixed = fa.signed or fb.signed  # an unsigned operand then needs a sign bit
        ia = fa.word - fa.frac + (mixed and not fa.signed)
        ib = fb.word - fb.frac + (mixed and not fb.signed)
        assert got.fmt.word - frac == max(ia, ib) + 1
    exact = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y}[op]
    assert _values(got) == [exact(x, y) for x, y in zip(_values(a), _values(b))]


@given(data=st.data(), fa=fixed_any)
def test_fixed_negative_absolute_sum(data, fa):
    a = fxsim.from_bits(np.array(data.draw(codes(fa, 7)), dtype=object), fa)
    values = _values(a)
    assert _values(-a) == [-v for v in values]
    assert _values(abs(a)) == [abs(v) for v in values]
    total = fxsim.sum(a)
    assert total.to_exact()[()] == sum(values)
    assert total.fmt.word == fa.word + 3 and total.fmt.frac == fa.frac  # ceil(log2(7)) = 3


@given(data=st.data(), fa=fixed_any, fb=fixed_any)
def test_fixed_dot_is_exact(data, fa, fb):
    a = fxsim.from_bits(np.array(data.draw(codes(fa, 6)), dtype=object).reshape(2, 3), fa)
    b = fxsim.from_bits(np.array(data.draw(codes(fb, 3)), dtype=object), fb)
    got = fxsim.dot(a, b)
    va, vb = a.to_exact(), b.to_exact()
    assert list(got.to_exact()) == [sum(va[i, k] * vb[k] for k in range(3)) for i in range(2)]


@given(data=st.data(), fa=operand_formats, out=out_formats,
       mode=st.sampled_from([m for m in MODES if not m.startswith("stochastic")]))
def test_float_sum_rounds_once(data, fa, out, mode):
    a = fxsim.from_bits(np.array(data.draw(codes(fa, 5)), dtype=object), fa)
    values = []
    for c in a.bits:
        sign, mag = ref.decode(int(c), ref_format(fa))
        values.append(None if isinstance(mag, str) else sign * mag)
    if None in values or not fa.is_float:
        return  # specials: see test_sum_specials
    try:
        expected = ref.encode(sum(values), ref_format(out), mode)
    except (ValueError, OverflowError) as e:
        with pytest.raises(type(e)):
            fxsim.sum(a, out=out, rounding=mode)
        return
    if sum(values) == 0:
        return  # the sign of an exact zero: test_sum_specials
    assert int(fxsim.sum(a, out=out, rounding=mode).bits) == expected


def test_sum_specials():
    f16 = fxsim.format("float16")
    q = fxsim.asarray(np.array([np.inf, 1.0, -np.inf], np.float16))
    assert np.isnan(fxsim.sum(q).to_float())
    assert fxsim.sum(q[:2]).to_float() == np.inf
    zeros = fxsim.asarray(np.array([-0.0, -0.0], np.float16))
    assert np.signbit(fxsim.sum(zeros).to_float())
    mixed = fxsim.asarray(np.array([1.0, -1.0], np.float16))
    assert not np.signbit(fxsim.sum(mixed).to_float())
    assert np.signbit(fxsim.sum(mixed, rounding="down").to_float())
    assert fxsim.sum(mixed, out=f16).fmt == f16


@given(data=st.data(), fa=st.one_of(operand_formats, fixed_any), out=st.one_of(out_formats, fixed_any),
       mode=st.sampled_from(MODES))
def test_cast_matches_reference(data, fa, out, mode):
    a = fxsim.from_bits(np.array(data.draw(codes(fa, 5)), dtype=object), fa)
    overflow = data.draw(st.sampled_from([o.value for o in out.overflows]))
    stochastic = mode.startswith("stochastic")
    R = data.draw(st.integers(1, 20)) if stochastic else 32
    r = [data.draw(st.integers(0, (1 << R) - 1)) for _ in range(5)] if stochastic else [0] * 5
    expected = []
    for c, ri in zip(a.bits, r):
        sign, mag = ref.decode(int(c), ref_format(fa))
        # a cast keeps the sign of a NaN (as encode does)
        x = math.copysign(math.nan, sign) if mag == "nan" else \
            (sign * math.inf if mag == "inf" else sign * mag)
        if mag == 0 and sign < 0:
            x = -0.0
        try:
            expected.append(ref.encode(x, ref_format(out), mode, overflow, r=ri, R=R))
        except (ValueError, OverflowError) as e:
            expected = type(e)
            break
    kwargs = dict(random=np.array(r, dtype=np.uint64), random_bits=R) if stochastic else {}
    if isinstance(expected, type):
        with pytest.raises(expected):
            fxsim.cast(a, out, mode, overflow, **kwargs)
    else:
        assert [int(c) for c in fxsim.cast(a, out, mode, overflow, **kwargs).bits] == expected
